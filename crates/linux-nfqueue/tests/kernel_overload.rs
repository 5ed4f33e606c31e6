// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of overload: a sender far faster than a deliberately slow handler, against a
//! small receive buffer or a short kernel queue. The handler keeps running through the
//! `ENOBUFS` storm, every packet is accounted for (judged + queue-dropped + user-dropped ==
//! sent, from the kernel's own counters), fail-open lets the overflow through, and afterwards
//! every new packet flows again.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::Sandbox;
use linux_nfqueue::{Config, Counters, ErrorKind, OverrunPolicy, Queue, QueueStats};
use support::{
    WAIT, count_udp_input, join, open_in, queue_row, queue_udp, udp_sink, v4, wait_until,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 7;
/// Datagrams in the storm.
const STORM: u64 = 20_000;
/// What the slow handler spends on each packet during the storm.
const SLOW: Duration = Duration::from_micros(300);
/// Datagrams sent one by one after the storm.
const AFTER: u64 = 100;

/// How the test's handler meets the queue.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Loop {
    /// `Queue::run` with a handler: what most users write.
    Run,
    /// A hand-written `recv` loop that counts the overrun errors it is given.
    Recv,
}

/// What a storm left behind.
#[derive(Debug)]
struct Outcome {
    /// Datagrams the sender handed to the kernel.
    sent: u64,
    /// Packets that matched the queue rule (kernel).
    queued: u64,
    /// Packets that reached INPUT (kernel), storm only.
    delivered: u64,
    /// Packets the handler judged during the storm.
    judged: u64,
    /// `QueueOverrun` errors `recv` returned to the loop.
    reported: u64,
    /// The kernel's row after the storm settled.
    row: QueueStats,
    /// The library's counters at the end (storm and recovery).
    counters: Counters,
    /// How long the storm took, from the first send to the settled accounting.
    took: Duration,
}

/// Sends [`STORM`] datagrams at full speed through a queue opened with `config`, served by a
/// handler that sleeps [`SLOW`] per packet; waits until the kernel's counters account for
/// every datagram; then makes the handler fast and sends [`AFTER`] datagrams one at a time,
/// each of which must be judged within [`WAIT`].
fn storm(config: Config, how: Loop) -> Option<Outcome> {
    let sb = Sandbox::new_or_skip()?;
    let queued = queue_udp(&sb, QUEUE, PORT);
    let arrived = count_udp_input(&sb, PORT);
    // Something listens on the port (so no ICMP errors), but never reads.
    let _sink = udp_sink(&sb, v4(PORT));
    let queue = open_in(&sb, config);
    let stop = queue.stop_handle();
    let judged = Arc::new(AtomicU64::new(0));
    let slow = Arc::new(AtomicBool::new(true));
    let reported = Arc::new(AtomicU64::new(0));
    let worker = {
        let (judged, slow, reported) = (judged.clone(), slow.clone(), reported.clone());
        thread::spawn(move || serve(queue, how, &judged, &slow, &reported))
    };

    let started = Instant::now();
    let sent = sb
        .send_udp(v4(PORT), STORM, 32, WAIT)
        .expect("send the storm");
    let sent = sent.sent + sent.refused;
    assert_eq!(sent, STORM, "the sender was cut short");
    // Settled: nothing waits, and every datagram is judged, dropped by the kernel, or (with
    // fail-open) delivered without us.
    let settled = wait_until(2 * WAIT, || {
        let row = queue_row(&sb, QUEUE).expect("queue bound");
        let dropped = u64::from(row.queue_dropped) + u64::from(row.user_dropped);
        row.waiting == 0
            && (judged.load(Ordering::SeqCst) + dropped == sent
                || arrived.packets().expect("read the INPUT counter") == sent)
    });
    let took = started.elapsed();
    let row = queue_row(&sb, QUEUE).expect("queue bound");
    let storm_judged = judged.load(Ordering::SeqCst);
    assert!(
        settled,
        "the accounting never added up: sent {sent}, judged {storm_judged}, {row:?}"
    );
    let delivered = arrived.packets().expect("read the INPUT counter");
    let storm_queued = queued.packets().expect("read the queue rule counter");

    // After the storm: a fast handler, and every new packet judged.
    slow.store(false, Ordering::SeqCst);
    for i in 1..=AFTER {
        let r = sb.send_udp(v4(PORT), 1, 32, WAIT).expect("send");
        assert_eq!(r.sent, 1);
        assert!(
            wait_until(WAIT, || judged.load(Ordering::SeqCst) == storm_judged + i),
            "packet {i} after the storm was not judged: {:?}",
            queue_row(&sb, QUEUE)
        );
    }
    let after = queue_row(&sb, QUEUE).expect("queue bound");
    assert_eq!(
        (after.queue_dropped, after.user_dropped),
        (row.queue_dropped, row.user_dropped),
        "kernel: drops after the storm"
    );
    assert_eq!(after.waiting, 0, "kernel: {after:?}");
    stop.stop();
    let counters = join(worker);
    Some(Outcome {
        sent,
        queued: storm_queued,
        delivered,
        judged: storm_judged,
        reported: reported.load(Ordering::SeqCst),
        row,
        counters,
        took,
    })
}

/// The handler thread: judges (slowly while `slow` is set) until stopped; returns the
/// library's counters.
fn serve(
    mut queue: Queue,
    how: Loop,
    judged: &AtomicU64,
    slow: &AtomicBool,
    reported: &AtomicU64,
) -> Counters {
    let guard = support::watchdog(queue.stop_handle(), 6 * WAIT);
    let handle = |p: linux_nfqueue::Packet<'_>| {
        if slow.load(Ordering::Relaxed) {
            thread::sleep(SLOW);
        }
        p.accept().expect("accept");
        judged.fetch_add(1, Ordering::SeqCst);
    };
    match how {
        Loop::Run => queue.run(handle).expect("run survives the storm"),
        Loop::Recv => loop {
            match queue.recv() {
                Ok(p) => handle(p),
                Err(e) if e.kind() == ErrorKind::QueueOverrun => {
                    reported.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) if e.kind() == ErrorKind::Closed => break,
                Err(e) if e.is_transient() => {}
                Err(e) => panic!("recv failed during the storm: {e}"),
            }
        },
    }
    drop(guard);
    queue.counters()
}

/// The checks every fail-closed storm must pass, whatever its bottleneck.
fn assert_accounted(o: &Outcome) {
    let row = &o.row;
    let (qd, ud) = (u64::from(row.queue_dropped), u64::from(row.user_dropped));
    assert_eq!(
        o.queued, o.sent,
        "kernel: the queue rule saw every datagram"
    );
    assert_eq!(
        o.judged + qd + ud,
        o.sent,
        "judged {} + queue-dropped {qd} + user-dropped {ud} != sent {}",
        o.judged,
        o.sent
    );
    // Ids go to every packet that got past the length check, including those the socket
    // then refused.
    assert_eq!(
        u64::from(row.id_sequence),
        o.judged + ud,
        "kernel: ids given ({row:?})"
    );
    assert_eq!(
        o.delivered, o.judged,
        "kernel: INPUT saw only judged packets"
    );
    assert!(o.judged < o.sent, "no overload happened: {o:?}");
    assert_eq!(
        o.counters.received,
        o.judged + AFTER,
        "library: received ({o:?})"
    );
    assert_eq!(o.counters.verdicts, o.counters.received, "library: {o:?}");
    assert_eq!(
        o.counters.packets_gone + o.counters.verdict_errors,
        0,
        "{o:?}"
    );
    eprintln!(
        "storm: sent {}, judged {}, queue-dropped {qd}, user-dropped {ud}, overruns {} \
         (reported {}), settled in {:?}",
        o.sent, o.judged, o.counters.overruns, o.reported, o.took
    );
}

/// A 16 KiB receive buffer (the kernel doubles it) holds a few dozen packets: the socket
/// overruns again and again. `Queue::run` goes on, the overruns are counted, and the kernel's
/// user-dropped counter accounts for the rest.
#[test]
fn enobufs_storm_is_survived_and_accounted_for() {
    let config = Config::new(QUEUE).recv_buffer(16 * 1024);
    let Some(o) = storm(config, Loop::Run) else {
        return;
    };
    assert_accounted(&o);
    assert!(o.row.user_dropped > 0, "kernel: no socket overrun ({o:?})");
    assert!(
        o.counters.overruns > 0,
        "library: overruns not counted ({o:?})"
    );
    assert_eq!(o.reported, 0, "Run never sees overrun errors");
}

/// A queue of 16 packets with a roomy socket: the kernel drops the overflow as "queue full".
#[test]
fn queue_full_storm_is_survived_and_accounted_for() {
    let config = Config::new(QUEUE).max_queue_len(16);
    let Some(o) = storm(config, Loop::Run) else {
        return;
    };
    assert_accounted(&o);
    assert!(o.row.queue_dropped > 0, "kernel: queue never full ({o:?})");
}

/// With `OverrunPolicy::Report`, `recv` returns each overrun as a `QueueOverrun` error, and the
/// next `recv` works: the error is information, never the end of the queue.
#[test]
fn reported_overruns_reach_the_loop_and_receiving_goes_on() {
    let config = Config::new(QUEUE)
        .recv_buffer(16 * 1024)
        .overrun_policy(OverrunPolicy::Report);
    let Some(o) = storm(config, Loop::Recv) else {
        return;
    };
    assert_accounted(&o);
    assert!(o.reported > 0, "no overrun reported ({o:?})");
    assert_eq!(
        o.reported, o.counters.overruns,
        "every overrun reported once"
    );
}

/// With `OverrunPolicy::Suppress` (`NETLINK_NO_ENOBUFS`) the socket never signals overruns, but
/// the kernel still drops and counts: the accounting holds with zero overruns seen.
#[test]
fn suppressed_overruns_still_add_up_in_the_kernel() {
    let config = Config::new(QUEUE)
        .recv_buffer(16 * 1024)
        .overrun_policy(OverrunPolicy::Suppress);
    let Some(o) = storm(config, Loop::Recv) else {
        return;
    };
    assert_accounted(&o);
    assert_eq!(
        o.counters.overruns, 0,
        "overruns signalled despite NO_ENOBUFS"
    );
    assert_eq!(o.reported, 0);
    assert!(o.row.user_dropped > 0, "kernel: nothing dropped ({o:?})");
}

/// Fail-open under the same storms: the kernel accepts what neither the socket nor the queue
/// can take. Everything sent is delivered, far fewer are judged, the kernel drops nothing.
fn fail_open_storm(config: Config) -> Option<Outcome> {
    let o = storm(config.fail_open(true), Loop::Run)?;
    let row = &o.row;
    assert_eq!(
        o.queued, o.sent,
        "kernel: the queue rule saw every datagram"
    );
    assert_eq!(
        (row.queue_dropped, row.user_dropped),
        (0, 0),
        "kernel: fail-open dropped ({row:?})"
    );
    assert_eq!(
        o.delivered, o.sent,
        "kernel: INPUT saw every datagram ({o:?})"
    );
    assert!(o.judged < o.sent, "no overflow happened: {o:?}");
    assert!(o.judged > 0, "nothing was judged: {o:?}");
    assert_eq!(o.counters.verdicts, o.counters.received, "{o:?}");
    assert_eq!(o.counters.received, o.judged + AFTER, "library: {o:?}");
    eprintln!(
        "fail-open storm: sent {}, delivered {}, judged {}, accepted by the kernel {}, \
         overruns {}",
        o.sent,
        o.delivered,
        o.judged,
        o.delivered - o.judged,
        o.counters.overruns
    );
    Some(o)
}

#[test]
fn fail_open_accepts_a_socket_overrun() {
    let Some(o) = fail_open_storm(Config::new(QUEUE).recv_buffer(16 * 1024)) else {
        return;
    };
    // The socket still overran (the kernel says so), but nothing was lost.
    assert!(o.counters.overruns > 0, "library: no overrun seen ({o:?})");
    // Ids are given before the socket is tried, so every datagram got one.
    assert_eq!(u64::from(o.row.id_sequence), o.sent, "kernel: {:?}", o.row);
}

#[test]
fn fail_open_accepts_a_full_queue() {
    let Some(o) = fail_open_storm(Config::new(QUEUE).max_queue_len(16)) else {
        return;
    };
    // Packets turned away by a full queue get no id: only the judged ones have one.
    assert_eq!(
        u64::from(o.row.id_sequence),
        o.judged,
        "kernel: {:?}",
        o.row
    );
}
