// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of queues in another network namespace, opened from a thread that stays
//! outside it (`Config::netns_path`, `Config::netns`, `Config::netns_fd`).

mod support;

use std::fs::File;
use std::os::unix::fs::MetadataExt;

use linux_nfqueue::testkit::Sandbox;
use linux_nfqueue::{Config, ErrorKind, Queue};
use support::{
    UdpPath, WAIT, assert_rule_packets, join, queue_row, serve_in_background, udp_path, v4,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 5;
const N: u64 = 30;

/// The inode of the calling thread's network namespace.
fn my_netns() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net")
        .expect("read this thread's namespace")
        .ino()
}

/// Opens a queue for the sandbox with `config` from this thread, which must stay in its own
/// namespace, and checks that the queue serves the sandbox's traffic.
fn serves_from_outside(sb: &Sandbox, config: Config) {
    let UdpPath {
        queued,
        arrived,
        mut sink,
    } = udp_path(sb, QUEUE, PORT);

    let before = my_netns();
    let queue = Queue::open(config).expect("open the queue for the sandbox");
    assert_eq!(
        my_netns(),
        before,
        "opening the queue moved the calling thread"
    );
    let row = queue_row(sb, QUEUE).expect("kernel: the queue is bound in the sandbox");
    assert_eq!(row.portid, queue.portid(), "{row:?}");

    let server = serve_in_background(queue, N, WAIT, |p| p.accept().expect("accept"));
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let (queue, served) = join(server);
    support::wait_for(&mut sink, N);
    support::collect_quiet(&mut sink);

    assert_eq!(served, N);
    assert_eq!(sink.report().distinct, N, "{:?}", sink.report());
    assert_rule_packets(&queued, N, "kernel: the queue rule");
    assert_rule_packets(&arrived, N, "kernel: packets reaching INPUT");
    assert_eq!(queue.counters().verdicts, N);
    assert_eq!(queue_row(sb, QUEUE).unwrap().id_sequence, N as u32);
    queue.close().expect("close");
    assert_eq!(queue_row(sb, QUEUE), None, "kernel: unbound in the sandbox");
    assert_eq!(my_netns(), before, "the calling thread moved");
}

#[test]
fn netns_path_serves_the_namespace_from_outside() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    serves_from_outside(&sb, Config::new(QUEUE).netns_path(sb.netns_path()));
}

#[test]
fn named_netns_serves_the_namespace_from_outside() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    serves_from_outside(&sb, Config::new(QUEUE).netns(sb.name()));
}

#[test]
fn netns_fd_serves_the_namespace_from_outside() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let fd = File::open(sb.netns_path()).expect("open the namespace file");
    serves_from_outside(&sb, Config::new(QUEUE).netns_fd(fd.into()));
}

#[test]
fn a_missing_namespace_is_a_clear_error() {
    let before = my_netns();
    let err = Queue::open(Config::new(QUEUE).netns("nfq-no-such-namespace"))
        .expect_err("opened a queue in a namespace that does not exist");
    assert_eq!(my_netns(), before);
    let text = err.to_string();
    assert!(
        text.contains("namespace"),
        "the message says what failed: {text}"
    );
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err:?}");
}

/// A second bind through `netns_path` must be told that the queue is busy, like a second bind
/// from inside the namespace: the owner is in the namespace's `/proc` table.
#[test]
fn busy_queue_in_another_namespace_names_its_owner() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let config = Config::new(QUEUE).netns_path(sb.netns_path());
    let first = Queue::open(config.clone()).expect("first bind");
    let err = Queue::open(config).expect_err("a second socket bound a busy queue");
    assert_eq!(
        (err.kind(), err.owner_portid()),
        (ErrorKind::QueueBusy, Some(first.portid())),
        "binding a busy queue of another namespace from outside it: {err}"
    );
}

/// `Queue::stats` reports the queue's own row, also when the queue lives in another namespace
/// than the calling thread.
#[test]
fn stats_of_a_queue_in_another_namespace() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queue =
        Queue::open(Config::new(QUEUE).netns_path(sb.netns_path())).expect("open the queue");
    let stats = queue.stats().expect("read the statistics");
    let row = queue_row(&sb, QUEUE).expect("kernel: bound in the sandbox");
    assert_eq!(
        stats,
        [row],
        "Queue::stats read the calling thread's namespace, not the queue's"
    );
}
