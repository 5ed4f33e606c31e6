// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of "exactly one verdict per packet" when the handler does not give one: dropped
//! packets and tokens get the default verdict, a panic in `Queue::run` still answers the
//! packet, `StopHandle` ends the loop, and tokens answered out of order on other threads.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::Sandbox;
use linux_nfqueue::{Config, Verdict, VerdictToken};
use support::{
    UdpPath, WAIT, assert_delivered_once, assert_no_verdict_failures, assert_none_waiting,
    assert_rule_packets, join, open_in, serve_in_background, udp_path, v4,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 5;
const N: u64 = 60;

/// Sends `N` datagrams through a queue with `default`, whose handler answers nothing itself:
/// it drops the packet handle, or (`on_other_thread`) turns it into a token dropped there.
/// Returns (datagrams delivered, INPUT count).
fn unanswered(default: Verdict, on_other_thread: bool) -> Option<(u64, u64)> {
    let sb = Sandbox::new_or_skip()?;
    let UdpPath {
        queued,
        arrived,
        mut sink,
    } = udp_path(&sb, QUEUE, PORT);
    let queue = open_in(&sb, Config::new(QUEUE).default_verdict(default));

    let (tx, rx) = mpsc::channel::<VerdictToken>();
    let dropper = thread::spawn(move || rx.into_iter().map(drop).count() as u64);
    let server = serve_in_background(queue, N, WAIT, move |p| {
        if on_other_thread {
            tx.send(p.into_token()).expect("hand the token over");
        } else {
            drop(p);
        }
    });
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let (queue, served) = join(server);
    let dropped_elsewhere = join(dropper);
    assert_eq!(served, N);
    if on_other_thread {
        assert_eq!(dropped_elsewhere, N, "tokens dropped on the other thread");
    }
    if default == Verdict::Accept {
        support::wait_for(&mut sink, N);
    }
    support::collect_quiet(&mut sink);

    let c = queue.counters();
    assert_eq!(c.default_verdicts, N, "library: default verdicts ({c:?})");
    assert_eq!(c.verdicts, N, "library: verdicts ({c:?})");
    assert_no_verdict_failures(&c);
    assert_rule_packets(&queued, N, "kernel: the queue rule");
    assert_none_waiting(&sb, QUEUE);
    let got = sink.report();
    assert_eq!(got.duplicates, 0, "{got:?}");
    Some((got.distinct, arrived.packets().unwrap()))
}

/// [`unanswered`], then checks that `expected` datagrams were delivered and counted on INPUT.
fn check_unanswered(default: Verdict, on_other_thread: bool, expected: u64) {
    let Some((delivered, arrived)) = unanswered(default, on_other_thread) else {
        return;
    };
    assert_eq!(
        (delivered, arrived),
        (expected, expected),
        "(delivered, kernel INPUT count)"
    );
}

#[test]
fn dropped_packet_gets_the_default_accept() {
    check_unanswered(Verdict::Accept, false, N);
}

#[test]
fn dropped_packet_gets_the_default_drop() {
    check_unanswered(Verdict::Drop, false, 0);
}

#[test]
fn token_dropped_on_another_thread_gets_the_default_accept() {
    check_unanswered(Verdict::Accept, true, N);
}

#[test]
fn token_dropped_on_another_thread_gets_the_default_drop() {
    check_unanswered(Verdict::Drop, true, 0);
}

/// Every other packet makes the handler panic; `run` catches it, the packet gets the default
/// verdict, and the loop keeps serving. `StopHandle::stop` then ends `run` cleanly within a
/// second.
#[test]
fn a_panicking_handler_still_answers_and_run_keeps_serving() {
    const MARKER: &str = "deliberate panic in a kernel test handler";
    support::quiet_panics(MARKER);
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let UdpPath {
        arrived, mut sink, ..
    } = udp_path(&sb, QUEUE, PORT);
    let mut queue = open_in(&sb, Config::new(QUEUE));
    let stop = queue.stop_handle();
    let guard = support::watchdog(queue.stop_handle(), 2 * WAIT);

    let runner = thread::spawn(move || {
        let result = queue.run(|p| {
            if p.id() % 2 == 0 {
                panic!("{MARKER}");
            }
            p.accept().expect("accept");
        });
        (queue, result)
    });
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    support::wait_for(&mut sink, N);

    let asked = Instant::now();
    stop.stop();
    let (queue, result) = join(runner);
    let took = asked.elapsed();
    drop(guard);
    result.expect("run ends with Ok after stop");
    assert!(took < Duration::from_secs(1), "run took {took:?} to stop");
    support::collect_quiet(&mut sink);

    let c = queue.counters();
    assert_eq!(c.panics, N / 2, "library: panics caught ({c:?})");
    assert_eq!(
        c.default_verdicts,
        N / 2,
        "library: default verdicts ({c:?})"
    );
    assert_eq!((c.received, c.verdicts), (N, N), "{c:?}");
    assert_delivered_once(&sink, N);
    assert_rule_packets(&arrived, N, "kernel: packets reaching INPUT");
    assert_none_waiting(&sb, QUEUE);
}

/// The receiving thread hands tokens round-robin to four threads, which answer them in
/// batches of up to eight in reverse order while the receiver keeps receiving.
#[test]
fn tokens_answered_out_of_order_by_four_threads() {
    const N: u64 = 400;
    const WORKERS: usize = 4;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let UdpPath {
        queued,
        arrived,
        mut sink,
    } = udp_path(&sb, QUEUE, PORT);
    let queue = open_in(&sb, Config::new(QUEUE));

    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (tx, rx) = mpsc::channel::<VerdictToken>();
        senders.push(tx);
        workers.push(thread::spawn(move || {
            let mut held = Vec::new();
            let mut answered = 0u64;
            let mut answer = |held: &mut Vec<VerdictToken>| {
                while let Some(token) = held.pop() {
                    token.accept().expect("accept from a worker");
                    answered += 1;
                }
            };
            loop {
                match rx.recv_timeout(Duration::from_millis(2)) {
                    Ok(token) => {
                        held.push(token);
                        if held.len() == 8 {
                            answer(&mut held);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => answer(&mut held),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            answer(&mut held);
            answered
        }));
    }
    let mut next = 0;
    let server = serve_in_background(queue, N, WAIT, move |p| {
        senders[next % WORKERS]
            .send(p.into_token())
            .expect("hand the token over");
        next += 1;
    });
    sb.run(|| support::send_paced(&mut sink, v4(PORT), N, 32));
    let (queue, served) = join(server);
    let answered: Vec<u64> = workers.into_iter().map(join).collect();
    assert_eq!(served, N);
    assert_eq!(
        answered.iter().sum::<u64>(),
        N,
        "answers per worker: {answered:?}"
    );
    support::collect_quiet(&mut sink);
    assert_delivered_once(&sink, N);
    assert_rule_packets(&queued, N, "kernel: the queue rule");
    assert_rule_packets(&arrived, N, "kernel: packets reaching INPUT");
    let c = queue.counters();
    assert_eq!((c.verdicts, c.default_verdicts), (N, 0), "{c:?}");
    assert_no_verdict_failures(&c);
    assert_none_waiting(&sb, QUEUE);
}
