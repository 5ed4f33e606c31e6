// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of a queue's life: a busy queue number gives a clear error (to a second socket
//! and to a second process), closing or dropping the queue unbinds it, and binding again in
//! the same process works, with ids starting again at 1. The socket does not leak into child
//! processes, and a killed owner frees its queue at once.

mod support;

use std::io::{self, BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::mpsc;

use linux_nfqueue::testkit::Sandbox;
use linux_nfqueue::{Config, ErrorKind, Queue};
use support::{
    WAIT, assert_rule_packets, join, open_in, queue_row, queue_udp, serve, serve_in_background,
    udp_sink, v4,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 5;

/// Set in the environment of the helper process that
/// [`a_second_process_gets_queue_busy_naming_the_owner`]
/// starts: the queue number to bind.
const CHILD_ENV: &str = "NFQUEUE_KERNEL_TEST_BIND_QUEUE";
/// The line the helper process prints its outcome on.
const CHILD_TAG: &str = "bind-outcome:";
/// Set in the environment of the helper process that
/// [`a_killed_owner_frees_its_queue_at_once`] starts: the queue to bind and hold a packet of.
const HOLD_ENV: &str = "NFQUEUE_KERNEL_TEST_HOLD_QUEUE";

#[test]
fn a_second_socket_gets_queue_busy_naming_the_owner() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let first = open_in(&sb, Config::new(QUEUE));

    let err = sb
        .run(|| Queue::open(Config::new(QUEUE)))
        .expect_err("a second socket bound a busy queue");
    assert_eq!(err.kind(), ErrorKind::QueueBusy, "{err:?}");
    assert_eq!(err.owner_portid(), Some(first.portid()), "{err:?}");
    assert_eq!(err.queue(), Some(QUEUE));
    let text = err.to_string();
    assert!(
        text.contains(&format!("queue {QUEUE}")),
        "names the queue: {text}"
    );
    assert!(
        text.contains(&first.portid().to_string()),
        "names the owner: {text}"
    );
    let io: io::Error = err.into();
    assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);

    // The owner is unaffected.
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    assert_eq!(row.portid, first.portid(), "kernel: owner ({row:?})");
    let server = serve_in_background(first, 3, WAIT, |p| p.accept().expect("accept"));
    sb.send_udp(v4(PORT), 3, 16, WAIT).expect("send");
    assert_eq!(join(server).1, 3);
    support::wait_for(&mut sink, 3);
    assert_eq!(sink.report().distinct, 3);
}

/// Runs in the helper process only (it does nothing in a normal test run): binds the queue
/// named by [`CHILD_ENV`] and prints the outcome on one line; or, with [`HOLD_ENV`], binds the
/// queue, takes one packet without answering it and waits to be killed.
#[test]
fn helper_process_binds_a_queue_when_asked() {
    if let Ok(queue) = std::env::var(HOLD_ENV) {
        let mut q = Queue::open(Config::new(queue.parse().expect("a queue number")))
            .expect("the helper binds the queue");
        println!("{CHILD_TAG} bound portid={}", q.portid());
        let mut held = Vec::new();
        serve(&mut q, 1, WAIT, |p| held.push(p.into_token()));
        println!("{CHILD_TAG} holding {}", held.len());
        // The test kills this process long before.
        std::thread::sleep(2 * WAIT);
        return;
    }
    let Ok(queue) = std::env::var(CHILD_ENV) else {
        return;
    };
    let queue: u16 = queue.parse().expect("a queue number");
    match Queue::open(Config::new(queue)) {
        Ok(q) => println!("{CHILD_TAG} bound portid={}", q.portid()),
        Err(e) => println!(
            "{CHILD_TAG} kind={:?} owner={:?} message={e}",
            e.kind(),
            e.owner_portid()
        ),
    }
}

#[test]
fn a_second_process_gets_queue_busy_naming_the_owner() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let first = open_in(&sb, Config::new(QUEUE));
    let me = std::env::current_exe().expect("the test binary's path");
    let out = sb
        .command(&me)
        .args([
            "--exact",
            "helper_process_binds_a_queue_when_asked",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, QUEUE.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("start the helper process with ip netns exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helper process failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once(CHILD_TAG).map(|(_, outcome)| outcome))
        .unwrap_or_else(|| panic!("no outcome from the helper process:\n{stdout}"));
    let portid = first.portid();
    assert!(line.contains("kind=QueueBusy"), "{line}");
    assert!(line.contains(&format!("owner=Some({portid})")), "{line}");
    assert!(
        line.contains(&format!("queue {QUEUE}")) && line.contains(&format!("port id {portid}")),
        "the message names the queue and its owner: {line}"
    );
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    assert_eq!(
        row.portid, portid,
        "kernel: the first owner keeps the queue ({row:?})"
    );
}

/// Holds one packet as a token, ends the queue with `end`, and checks that the queue is gone
/// from the kernel's table and the held packet got the default verdict (accept) first.
fn ending_unbinds(end: impl FnOnce(Queue)) {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let mut queue = open_in(&sb, Config::new(QUEUE));
    let row = queue_row(&sb, QUEUE).expect("queue listed after open");
    assert_eq!(row.portid, queue.portid());

    sb.send_udp(v4(PORT), 1, 16, WAIT).expect("send");
    let mut held = None;
    assert_eq!(
        serve(&mut queue, 1, WAIT, |p| held = Some(p.into_token())),
        1
    );
    assert_eq!(
        queue_row(&sb, QUEUE).unwrap().waiting,
        1,
        "kernel: one held"
    );

    end(queue);
    assert_eq!(
        queue_row(&sb, QUEUE),
        None,
        "kernel: the queue is still bound"
    );
    // Closing answered the held packet with the default verdict before unbinding; the
    // token's late default verdict finds no queue, which is harmless.
    drop(held);
    support::collect_quiet(&mut sink);
    assert_eq!(
        sink.report().datagrams,
        1,
        "the held packet did not get the default verdict on close"
    );
}

#[test]
fn close_unbinds_the_queue() {
    ending_unbinds(|q| q.close().expect("close"));
}

#[test]
fn dropping_the_queue_unbinds_it() {
    ending_unbinds(drop);
}

#[test]
fn rebinding_in_the_same_process_works_ten_times() {
    const ROUNDS: u64 = 10;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    for round in 1..=ROUNDS {
        let mut queue = open_in(&sb, Config::new(QUEUE));
        let row = queue_row(&sb, QUEUE).unwrap_or_else(|| panic!("round {round}: not bound"));
        assert_eq!(row.portid, queue.portid(), "round {round}: {row:?}");
        sb.send_udp(v4(PORT), 1, 16, WAIT).expect("send");
        let mut id = 0;
        let served = serve(&mut queue, 1, WAIT, |p| {
            id = p.id();
            p.accept().expect("accept");
        });
        assert_eq!(served, 1, "round {round}: no packet");
        assert_eq!(
            id, 1,
            "round {round}: ids start again at 1 after a new bind"
        );
        queue.close().expect("close");
        assert_eq!(queue_row(&sb, QUEUE), None, "round {round}: still bound");
    }
    support::wait_for(&mut sink, ROUNDS);
    support::collect_quiet(&mut sink);
    // Every round's sender starts its sequence numbers at 0, so count datagrams.
    assert_eq!(sink.report().datagrams, ROUNDS);
    assert_rule_packets(&queued, ROUNDS, "kernel: the queue rule");
}

/// The queue's socket is opened close-on-exec: a child process started while the queue is
/// open does not inherit it (an inherited socket would keep the queue bound after the owner
/// exits).
#[test]
fn the_socket_does_not_leak_into_child_processes() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queue = open_in(&sb, Config::new(QUEUE));
    let socket = std::fs::read_link(format!("/proc/self/fd/{}", queue.as_raw_fd()))
        .expect("read the queue's descriptor");
    let socket = socket.to_string_lossy().into_owned();
    assert!(socket.starts_with("socket:["), "{socket}");
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "for fd in /proc/self/fd/*; do readlink \"$fd\" || true; done",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run a child process");
    assert!(out.status.success(), "{out:?}");
    let child_fds = String::from_utf8_lossy(&out.stdout);
    assert!(
        child_fds.lines().all(|l| l != socket),
        "the child inherited the queue's socket {socket}:\n{child_fds}"
    );
}

/// A process killed with SIGKILL while it holds a packet: the kernel releases its queue (the
/// packet is dropped), and another process binds the same queue at once and serves traffic.
#[test]
fn a_killed_owner_frees_its_queue_at_once() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let me = std::env::current_exe().expect("the test binary's path");
    let mut child = sb
        .command(&me)
        .args([
            "--exact",
            "helper_process_binds_a_queue_when_asked",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_ENV, QUEUE.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the helper process with ip netns exec");
    let lines = {
        let stdout = child.stdout.take().expect("the helper's stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some((_, outcome)) = line.split_once(CHILD_TAG) {
                    if tx.send(outcome.trim().to_string()).is_err() {
                        break;
                    }
                }
            }
        });
        rx
    };
    let mut next = |what: &str| {
        lines.recv_timeout(WAIT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the helper process did not report {what}")
        })
    };
    let bound = next("binding");
    let owner: u32 = bound
        .strip_prefix("bound portid=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected helper output: {bound}"));
    sb.send_udp(v4(PORT), 1, 16, WAIT).expect("send");
    assert_eq!(next("holding"), "holding 1");
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    assert_eq!(
        (row.portid, row.waiting),
        (owner, 1),
        "kernel: held by the helper"
    );

    child.kill().expect("SIGKILL the helper");
    child.wait().expect("reap the helper");
    let mut queue = open_in(&sb, Config::new(QUEUE));
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    assert_eq!(
        (row.portid, row.waiting),
        (queue.portid(), 0),
        "kernel: ours, empty"
    );
    support::collect_quiet(&mut sink);
    assert_eq!(
        sink.report().datagrams,
        0,
        "the killed owner's packet was dropped"
    );

    sb.send_udp(v4(PORT), 3, 16, WAIT).expect("send");
    assert_eq!(
        serve(&mut queue, 3, WAIT, |p| p.accept().expect("accept")),
        3
    );
    support::wait_for(&mut sink, 3);
    assert_eq!(sink.report().datagrams, 3);
}
