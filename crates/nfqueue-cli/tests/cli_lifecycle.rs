// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of how `nfqueue` starts and ends as a process: a busy queue is a one-line
//! runtime error naming the queue and its owner, SIGTERM and SIGINT end `run` with status 0,
//! the summary and the queue unbound, a killed `run` frees its queue for a new one at once,
//! a missing CAP_NET_ADMIN is named, and `nfqueue demo` passes and leaves no namespace.

mod cli_support;

use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::{WAIT, run_in, start, start_in, v4};
use linux_nfqueue::testkit::{Chain, QueueRule, Sandbox};

/// A second `nfqueue run` on a queue the first one holds: exit 1, exactly one stderr line that
/// starts with the tool's prefix, names the queue and says who holds it. The first keeps it.
#[test]
fn busy_queue_is_one_clear_error_line() {
    const Q: u16 = 120;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let mut first = start_in(&sb, &["run", "-q", "120", "--timeout", "20"]);
    first.wait_bound(&sb, Q);
    let owner = sb
        .queue_counters(Q)
        .expect("read the queue table")
        .expect("queue bound")
        .portid;

    let second = run_in(&sb, &["run", "-q", "120"]);
    assert_eq!(second.code(), 1, "{second:?}");
    second.assert_no_panic();
    let lines: Vec<&str> = second.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line:\n{}", second.stderr);
    let line = lines[0];
    assert!(line.starts_with("nfqueue: error: "), "{line}");
    assert!(line.contains("queue 120"), "names the queue: {line}");
    assert!(
        line.contains("bound by another"),
        "says another socket holds it: {line}"
    );
    assert!(
        line.contains(&format!("port id {owner}")),
        "names the owner: {line}"
    );
    assert!(
        !line.to_lowercase().contains("permission denied"),
        "not a permission problem: {line}"
    );
    assert!(second.stdout.is_empty(), "{}", second.stdout);

    let row = sb.queue_counters(Q).unwrap().expect("still bound");
    assert_eq!(
        row.portid, owner,
        "kernel: the first process keeps the queue"
    );
    let out = first.signal_and_finish("TERM");
    out.assert_success();
    assert!(
        out.summary().starts_with("0 packets judged"),
        "{}",
        out.stderr
    );
}

/// Runs `nfqueue run` until `signal`, after three packets: status 0, the three lines, the
/// summary, and the queue unbound, all within a second of the signal.
fn ends_cleanly_on(signal: &str, queue: u16, port: u16) {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, queue).udp().dport(port))
        .expect("install the queue rule");
    let mut sink = sb.udp_sink(v4(port)).expect("bind the receiver");
    let q = queue.to_string();
    let mut proc = start_in(&sb, &["run", "-q", &q]);
    proc.wait_bound(&sb, queue);
    sb.send_udp(v4(port), 3, 16, WAIT).expect("send");
    assert!(
        sink.wait_for(3, WAIT).expect("receive"),
        "the three datagrams were not accepted"
    );
    assert!(!proc.has_exited(), "nfqueue ended before the signal");

    let asked = Instant::now();
    let out = proc.signal_and_finish(signal);
    let took = asked.elapsed();
    out.assert_success();
    out.assert_no_panic();
    assert!(took < Duration::from_secs(1), "SIG{signal}: took {took:?}");
    assert!(
        out.summary().starts_with("3 packets judged"),
        "SIG{signal}: {}",
        out.stderr
    );
    assert_eq!(out.lines().len(), 3, "{}", out.stdout);
    let row = sb.queue_counters(queue).expect("read the queue table");
    assert_eq!(row, None, "SIG{signal}: queue {queue} still bound");
}

#[test]
fn sigterm_exits_zero_with_the_summary_and_unbinds() {
    ends_cleanly_on("TERM", 121, 9501);
}

#[test]
fn sigint_exits_zero_with_the_summary_and_unbinds() {
    ends_cleanly_on("INT", 122, 9502);
}

/// The namespaces named after process `pid` by the testkit (`nfqtk-<pid>-<n>`).
fn namespaces_of(pid: u32) -> Vec<String> {
    let prefix = format!("nfqtk-{pid}-");
    std::fs::read_dir("/run/netns")
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// `nfqueue demo`: status 0, a summary, every check `ok` and none `FAIL`, and its private
/// namespace gone afterwards.
#[test]
fn demo_passes_and_leaves_no_namespace() {
    // The demo needs what a sandbox needs; this also skips (or fails in CI) the same way.
    let Some(_probe) = Sandbox::new_or_skip() else {
        return;
    };
    let mut cmd = Command::new(cli_support::BIN);
    cmd.arg("demo");
    let proc = start(cmd);
    let pid = proc.pid();
    let out = proc.finish(Duration::from_secs(30));
    out.assert_success();
    out.assert_no_panic();
    assert!(
        out.stdout.lines().any(|l| l.starts_with("judged ")),
        "no summary:\n{}",
        out.stdout
    );
    let checks: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL"))
        .collect();
    assert!(checks.len() >= 7, "too few checks:\n{}", out.stdout);
    assert!(
        checks.iter().all(|l| l.starts_with("ok ")),
        "a check failed:\n{}",
        out.stdout
    );
    assert!(out.stderr.contains("removed"), "{}", out.stderr);
    assert_eq!(namespaces_of(pid), Vec::<String>::new(), "left behind");
}

/// Without CAP_NET_ADMIN (`setpriv` to nobody with no capabilities) the bind fails with exit 1
/// and one line that names the capability and the queue, rather than a bare "permission
/// denied".
#[test]
fn without_cap_net_admin_the_error_names_the_capability() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let mut cmd = sb.command("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        cli_support::BIN,
        "run",
        "-q",
        "123",
    ]);
    let out = start(cmd).finish(WAIT);
    assert_eq!(
        out.code(),
        1,
        "(is the binary executable by nobody?) {out:?}"
    );
    out.assert_no_panic();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].starts_with("nfqueue: error: "), "{}", lines[0]);
    assert!(lines[0].contains("queue 123"), "{}", lines[0]);
    assert!(lines[0].contains("CAP_NET_ADMIN"), "{}", lines[0]);
    assert!(lines[0].contains("root"), "{}", lines[0]);
    let row = sb.queue_counters(123).expect("read the queue table");
    assert_eq!(row, None, "nothing was bound");
}

/// `nfqueue run` stopped (SIGSTOP) while it holds packets, then killed (SIGKILL): the kernel
/// drops its queue and the held packets, and a new `nfqueue run` binds the same queue at once
/// and judges new traffic.
#[test]
fn a_killed_run_frees_its_queue_for_a_new_one_at_once() {
    const Q: u16 = 124;
    const PORT: u16 = 9503;
    const HELD: u32 = 5;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, Q).udp().dport(PORT))
        .expect("install the queue rule");
    let mut sink = sb.udp_sink(v4(PORT)).expect("bind the receiver");
    let mut victim = start_in(&sb, &["run", "-q", "124"]);
    victim.wait_bound(&sb, Q);
    cli_support::send_signal(victim.pid(), "STOP");
    sb.send_udp(v4(PORT), u64::from(HELD), 16, WAIT)
        .expect("send");
    let held = linux_nfqueue::testkit::wait_until(WAIT, || {
        sb.queue_counters(Q)
            .ok()
            .flatten()
            .is_some_and(|r| r.waiting == HELD)
    });
    assert!(
        held,
        "kernel: the stopped process does not hold {HELD} packets"
    );
    let killed = victim.signal_and_finish("KILL");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(9),
        "{killed:?}"
    );
    assert!(
        linux_nfqueue::testkit::wait_until(WAIT, || matches!(sb.queue_counters(Q), Ok(None))),
        "kernel: the killed process's queue is still bound"
    );

    let started = Instant::now();
    let mut heir = start_in(&sb, &["run", "-q", "124", "--count", "3"]);
    heir.wait_bound(&sb, Q);
    let bound_in = started.elapsed();
    sb.send_udp(v4(PORT), 3, 16, WAIT).expect("send");
    let out = heir.finish(WAIT);
    out.assert_success();
    assert!(
        out.summary().starts_with("3 packets judged"),
        "{}",
        out.stderr
    );
    assert!(
        sink.wait_for(3, WAIT).expect("receive"),
        "new traffic does not flow"
    );
    sink.collect_for(cli_support::QUIET).expect("receive");
    assert_eq!(
        sink.report().datagrams,
        3,
        "the packets held by the killed process were delivered"
    );
    assert!(
        bound_in < Duration::from_secs(2),
        "binding took {bound_in:?}"
    );
}
