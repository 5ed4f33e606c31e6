// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `nfqueue` binary as a process: usage errors exit 2 without a panic, help exits 0, and
//! `stats` works.

mod cli_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{nfqueue, text};

/// Checks a usage error: status 2, the tool's error prefix, a pointer to the help, no panic.
fn assert_usage_error(args: &[&str], expect_in_message: &str) {
    let out = nfqueue(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("nfqueue: error: "),
        "{args:?}: stderr does not start with the prefix: {stderr}"
    );
    assert!(
        stderr.contains("--help") || stderr.contains("Usage:"),
        "{args:?}: no usage hint: {stderr}"
    );
    assert!(
        stderr.contains(expect_in_message),
        "{args:?}: {expect_in_message:?} missing: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
}

#[test]
fn unknown_flag() {
    assert_usage_error(&["run", "-q", "1", "--bogus"], "--bogus");
    assert_usage_error(&["--bogus"], "--bogus");
    assert_usage_error(&["stats", "--verdict", "drop"], "--verdict");
}

#[test]
fn unknown_subcommand() {
    assert_usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn missing_queue() {
    assert_usage_error(&["run"], "--queue");
    assert_usage_error(&["run", "--verdict", "drop"], "--queue");
    assert_usage_error(&["run", "-q"], "--queue");
}

#[test]
fn bad_queue_numbers() {
    assert_usage_error(&["run", "-q", "5-3"], "backwards");
    assert_usage_error(&["run", "-q", "70000"], "0 to 65535");
    assert_usage_error(&["run", "-q", "0-70000"], "0 to 65535");
    assert_usage_error(&["run", "-q", "x"], "not a queue number");
    assert_usage_error(&["run", "-q", "-1"], "--queue");
    assert_usage_error(&["run", "-q", "1-"], "missing");
}

#[test]
fn bad_verdicts() {
    assert_usage_error(&["run", "-q", "1", "--verdict", "queue:"], "missing");
    assert_usage_error(
        &["run", "-q", "1", "--verdict", "queue:x"],
        "not a queue number",
    );
    assert_usage_error(&["run", "-q", "1", "--verdict", "stolen"], "NF_STOLEN");
    assert_usage_error(&["run", "-q", "1", "--verdict", "queue:1:fast"], "bypass");
    assert_usage_error(&["run", "-q", "1", "--verdict", "allow"], "not a verdict");
}

#[test]
fn bad_numbers() {
    assert_usage_error(&["run", "-q", "1", "--mark", "x"], "not a number");
    assert_usage_error(&["run", "-q", "1", "--mark", "0x1ffffffff"], "too large");
    assert_usage_error(&["run", "-q", "1", "--connmark", "-1"], "-1");
    assert_usage_error(&["run", "-q", "1", "--count", "0"], "at least 1");
    assert_usage_error(&["run", "-q", "1", "--timeout", "soon"], "seconds");
    assert_usage_error(&["run", "-q", "1", "--max-queue-len", "0"], "at least 1");
    assert_usage_error(&["run", "-q", "1", "--copy-range", "big"], "not a number");
    assert_usage_error(&["run", "-q", "1", "--netns", "../x"], "namespace");
    assert_usage_error(&["bench", "--queues", "0"], "--queues");
    assert_usage_error(&["stats", "--interval", "0"], "--interval");
}

#[test]
fn conflicting_options() {
    assert_usage_error(&["run", "-q", "1", "--quiet", "--json"], "--json");
    assert_usage_error(&["stats", "--count", "3"], "--watch");
}

#[test]
fn no_arguments_shows_help_as_usage_error() {
    let out = nfqueue::<&str>(&[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Usage: nfqueue"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn help_exits_zero() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["run", "--help"],
        &["stats", "-h"],
    ] {
        let out = nfqueue(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = text(&out.stdout);
        assert!(stdout.contains("Usage: nfqueue"), "{args:?}: {stdout}");
    }
    let run_help = text(&nfqueue(&["run", "--help"]).stdout);
    for option in [
        "--queue",
        "--verdict",
        "--mark",
        "--connmark",
        "--count",
        "--timeout",
        "--quiet",
        "--json",
        "--pcap",
        "--fail-open",
        "--gso",
        "--conntrack",
        "--uid-gid",
        "--max-queue-len",
        "--copy-range",
        "--netns",
        "--no-batch",
        "queue:M:bypass",
        "Examples:",
    ] {
        assert!(run_help.contains(option), "run --help lacks {option}");
    }
    let version = nfqueue(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(text(&version.stdout).starts_with("nfqueue "));
}

/// Whether this machine's kernel has the queue table and we may read it.
fn proc_table_readable() -> bool {
    std::fs::read("/proc/net/netfilter/nfnetlink_queue").is_ok()
}

#[test]
fn stats_prints_the_table() {
    let out = nfqueue(&["stats"]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    if !proc_table_readable() {
        // No module or no permission: a one-line runtime error.
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.starts_with("nfqueue: error: cannot read the kernel's queue table"));
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        if !Path::new("/proc/net/netfilter/nfnetlink_queue").exists() {
            assert!(stderr.contains("modprobe nfnetlink_queue"), "{stderr}");
        }
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let header = stdout.lines().next().unwrap();
    for column in [
        "queue",
        "portid",
        "waiting",
        "copy mode",
        "copy range",
        "queue dropped",
        "user dropped",
        "last id",
    ] {
        assert!(header.contains(column), "{header}");
    }
}

#[test]
fn stats_watch_counts_refreshes() {
    if !proc_table_readable() {
        eprintln!("skipped: the nfnetlink_queue table is not readable here");
        return;
    }
    let out = nfqueue(&["stats", "--watch", "--count", "2", "--interval", "0.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("queued/s").count(), 2, "{stdout}");
    // Not a terminal: no screen clearing.
    assert!(!stdout.contains('\x1b'));
}

#[test]
fn stats_watch_ends_on_sigterm_and_sigint() {
    if !proc_table_readable() {
        eprintln!("skipped: the nfnetlink_queue table is not readable here");
        return;
    }
    for signal in ["-TERM", "-INT"] {
        let child = Command::new(env!("CARGO_BIN_EXE_nfqueue"))
            .args(["stats", "--watch"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Let it install its handlers and print once.
        std::thread::sleep(Duration::from_millis(300));
        // The shell's built-in kill: no dependency on a kill binary being installed.
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill {signal} {}", child.id()))
            .status()
            .expect("sh runs");
        assert!(status.success());
        let start = Instant::now();
        let out = child.wait_with_output().unwrap();
        assert!(start.elapsed() < Duration::from_secs(2), "slow to stop");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{signal}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("queued/s"));
    }
}
