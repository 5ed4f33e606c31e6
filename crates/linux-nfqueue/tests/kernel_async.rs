// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of the tokio layer: a pipeline in which one task receives and many tasks judge
//! out of order, on current-thread and multi-thread runtimes, and the packet stream.
//!
//! A sandbox namespace belongs to a thread, so the queue is opened with `Config::netns_path`
//! (the runtime's threads stay outside) and traffic comes from a sandbox thread.

mod support;

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use linux_nfqueue::testkit::{RuleHandle, Sandbox, SinkReport};
use linux_nfqueue::tokio::AsyncQueue;
use linux_nfqueue::{Config, ErrorKind};
use support::{
    Jitter, WAIT, assert_rule_packets, collect_quiet, count_udp_input, join, queue_row, queue_udp,
    send_paced, udp_sink, v4,
};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout_at};

const PORT: u16 = 9999;
const QUEUE: u16 = 7;
const N: u64 = 300;

/// Rules for the sandbox's UDP traffic to `PORT`: (queue rule, INPUT counting rule).
fn rules(sb: &Sandbox) -> (RuleHandle<'_>, RuleHandle<'_>) {
    let queued = queue_udp(sb, QUEUE, PORT);
    let arrived = count_udp_input(sb, PORT);
    (queued, arrived)
}

/// Checks the outcome of `N` packets that each got one verdict.
fn check(sb: &Sandbox, queued: &RuleHandle<'_>, arrived: &RuleHandle<'_>, got: &SinkReport) {
    assert_eq!((got.distinct, got.duplicates), (N, 0), "{got:?}");
    assert_rule_packets(queued, N, "kernel: the queue rule");
    assert_rule_packets(arrived, N, "kernel: packets reaching INPUT");
    let row = queue_row(sb, QUEUE).expect("queue listed");
    assert_eq!(row.id_sequence, N as u32, "kernel: ids ({row:?})");
    assert_eq!(row.waiting, 0, "kernel: none left waiting ({row:?})");
}

/// One task receives and hands each packet's token to a new task, which answers it after a
/// random delay of up to 2 ms, so answers come out of order and from any worker thread.
async fn pipeline(seed: u64) {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let (queued, arrived) = rules(&sb);
    let mut sink = udp_sink(&sb, v4(PORT));
    let mut queue = AsyncQueue::open(Config::new(QUEUE).netns_path(sb.netns_path()))
        .expect("open the async queue for the sandbox");
    // The sender also reads the receiver, so the receiver's socket buffer cannot overflow.
    let sender = sb.spawn(move || {
        send_paced(&mut sink, v4(PORT), N, 32);
        collect_quiet(&mut sink);
        sink.into_report()
    });

    let deadline = Instant::now() + WAIT;
    let mut jitter = Jitter::new(seed);
    let mut judges = JoinSet::new();
    for i in 0..N {
        let packet = timeout_at(deadline, queue.recv())
            .await
            .unwrap_or_else(|_| panic!("only {i} of {N} packets arrived in time"))
            .expect("receive");
        let token = packet.into_token();
        let delay = Duration::from_micros(jitter.below(2000));
        judges.spawn(async move {
            sleep(delay).await;
            token.accept()
        });
    }
    while let Some(answer) = timeout_at(deadline, judges.join_next())
        .await
        .expect("the judging tasks finish in time")
    {
        answer.expect("a judging task").expect("accept");
    }
    let got = join(sender);

    let c = queue.counters();
    assert_eq!((c.received, c.verdicts), (N, N), "{c:?}");
    assert_eq!(
        c.default_verdicts + c.verdict_errors + c.packets_gone,
        0,
        "{c:?}"
    );
    check(&sb, &queued, &arrived, &got);
}

#[tokio::test(flavor = "current_thread")]
async fn pipeline_on_a_current_thread_runtime() {
    pipeline(0x5eed_0001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_on_a_multi_thread_runtime() {
    pipeline(0x5eed_0002).await;
}

/// The stream of owned packets, each judged on its own task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_stream_judged_on_tasks() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let (queued, arrived) = rules(&sb);
    let mut sink = udp_sink(&sb, v4(PORT));
    let queue = AsyncQueue::open(Config::new(QUEUE).netns_path(sb.netns_path()))
        .expect("open the async queue for the sandbox");
    let mut stream = queue.into_stream();
    // The sender also reads the receiver, so the receiver's socket buffer cannot overflow.
    let sender = sb.spawn(move || {
        send_paced(&mut sink, v4(PORT), N, 32);
        collect_quiet(&mut sink);
        sink.into_report()
    });

    let deadline = Instant::now() + WAIT;
    let mut judges = JoinSet::new();
    for i in 0..N {
        let next = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx));
        let packet = timeout_at(deadline, next)
            .await
            .unwrap_or_else(|_| panic!("only {i} of {N} packets arrived in time"))
            .expect("the stream ended early")
            .expect("receive");
        judges.spawn(async move {
            let view = packet.view().expect("the owned packet parses");
            assert!(
                view.payload().is_some_and(|p| p.len() == 60),
                "IPv4 + UDP + 32"
            );
            packet.accept()
        });
    }
    while let Some(answer) = timeout_at(deadline, judges.join_next())
        .await
        .expect("the judging tasks finish in time")
    {
        answer.expect("a judging task").expect("accept");
    }
    let got = join(sender);

    let c = stream.get_mut().counters();
    assert_eq!((c.received, c.verdicts), (N, N), "{c:?}");
    check(&sb, &queued, &arrived, &got);
}

/// `AsyncQueue::stop_handle` documents that it makes `recv` return `Closed`; a task waiting
/// for a packet that never comes must see that too, and promptly.
#[tokio::test(flavor = "current_thread")]
async fn stop_ends_a_waiting_recv() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let mut queue = AsyncQueue::open(Config::new(QUEUE).netns_path(sb.netns_path()))
        .expect("open the async queue for the sandbox");
    let stop = queue.stop_handle();
    tokio::spawn(async move {
        sleep(Duration::from_millis(50)).await;
        stop.stop();
    });
    let outcome = timeout_at(Instant::now() + Duration::from_secs(1), queue.recv())
        .await
        .map(|r| r.map(drop).map_err(|e| e.kind()));
    assert_eq!(
        outcome,
        Ok(Err(ErrorKind::Closed)),
        "recv().await on an idle queue did not end within a second of StopHandle::stop \
         (Err(Elapsed) means it was still waiting)"
    );
}
