// SPDX-License-Identifier: MIT OR Apache-2.0
//! `nfqueue bench` as a process (root only; the test kit's skip rules apply, so with
//! `NFQUEUE_REQUIRE_KERNEL_TESTS=1` these tests must run): every phase prints a non-zero
//! rate, `--json` and `--packets` work, and Ctrl-C ends it early with its namespace removed.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::Sandbox;

const BIN: &str = env!("CARGO_BIN_EXE_nfqueue");
/// Far above what a one-second run takes (about 6 s), to stay clear of a slow, busy machine.
const LIMIT: Duration = Duration::from_secs(180);

/// Whether this machine can run the benchmark (it makes sandboxes the same way).
fn can_run() -> bool {
    Sandbox::new_or_skip().is_some()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the nfqueue binary starts")
}

/// Waits for `child` within `limit` (killing it after that) and collects its output.
fn finish(mut child: Child, limit: Duration) -> Output {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let status = child.wait().unwrap();
            panic!("nfqueue bench did not finish within {limit:?} ({status})");
        }
        thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_clean_success(out: &Output) -> String {
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for bad in ["panicked", "internal error", "error:"] {
        assert!(!stderr.contains(bad), "stderr mentions {bad:?}:\n{stderr}");
    }
    stdout
}

/// The first number after `label` on the line that starts with it (commas removed).
fn first_number(stdout: &str, label: &str) -> Option<f64> {
    let line = stdout.lines().find(|l| l.starts_with(label))?;
    let rest = &line[label.len()..];
    rest.split_whitespace()
        .next()?
        .replace([',', '+'], "")
        .parse()
        .ok()
}

/// Namespaces the benchmark process `pid` made that still exist.
fn leftover_namespaces(pid: u32) -> Vec<String> {
    let prefix = format!("nfqtk-{pid}-");
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_phase_prints_a_rate() {
    if !can_run() {
        return;
    }
    let child = spawn(&["bench", "--duration", "1"]);
    let pid = child.id();
    let out = finish(child, LIMIT);
    let stdout = assert_clean_success(&out);
    for label in [
        "per-packet verdicts",
        "batched verdicts",
        "GSO, F_GSO (16 x 64)",
    ] {
        let rate = first_number(&stdout, label)
            .unwrap_or_else(|| panic!("no rate for {label:?} in:\n{stdout}"));
        assert!(rate > 0.0, "{label}: {rate}\n{stdout}");
    }
    for label in [
        "without the rule",
        "through the queue, per-packet verdicts",
        "through the queue, batched verdicts",
    ] {
        let round_trips = first_number(&stdout, label)
            .unwrap_or_else(|| panic!("no latency line {label:?} in:\n{stdout}"));
        assert!(round_trips > 0.0, "{label}\n{stdout}");
    }
    assert!(stdout.contains("user-space share"), "{stdout}");
    // Progress goes to a terminal only; stderr is a pipe here.
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert!(leftover_namespaces(pid).is_empty());
}

#[test]
fn json_and_a_packet_bound() {
    if !can_run() {
        return;
    }
    let child = spawn(&["bench", "--duration", "1", "--packets", "20000", "--json"]);
    let out = finish(child, LIMIT);
    let stdout = assert_clean_success(&out);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    let phases = v["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 3, "{stdout}");
    for p in phases {
        assert!(p["verdicted_per_s"].as_f64().unwrap() > 0.0, "{p}");
        let sent = p["generator"]["datagrams"].as_u64().unwrap();
        assert!(sent <= 20_000, "{p}");
        let share = p["user_space_share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&share), "{p}");
    }
    assert!(v["baseline_latency"]["p50_us"].as_f64().unwrap() > 0.0);
    assert_eq!(v["interrupted"], serde_json::Value::Bool(false));
}

#[test]
fn ctrl_c_ends_early_and_removes_the_namespace() {
    if !can_run() {
        return;
    }
    let child = spawn(&["bench", "--duration", "30"]);
    let pid = child.id();
    // Into the first throughput phase (the baseline ping-pong takes well under a second).
    thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = finish(child, LIMIT);
    let took = started.elapsed();
    let stdout = assert_clean_success(&out);
    assert!(took < Duration::from_secs(20), "took {took:?} after SIGINT");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(leftover_namespaces(pid).is_empty());
}
