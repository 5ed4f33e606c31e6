// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests with TCP through the queue: every segment of a connection (both directions) is
//! judged once and the stream arrives byte-exact, also for 20 MB; and GSO packets larger than
//! the MTU arrive whole only with `Config::gso`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::{Chain, QueueRule, Sandbox, TransferReport};
use linux_nfqueue::{Config, Counters};
use support::{WAIT, join, open_in, queue_row, v4, wait_until, watchdog};

const PORT: u16 = 8888;
const QUEUE: u16 = 8;

/// What the handler saw of the packets.
#[derive(Debug, Default)]
struct Seen {
    packets: AtomicU64,
    largest: AtomicU64,
    gso: AtomicU64,
    not_accepted: AtomicU64,
}

/// Queues every TCP packet of the sandbox (both directions pass OUTPUT on loopback), runs a
/// transfer of `bytes` through the queue, and checks that the kernel queued exactly the packets
/// the handler judged. Returns the transfer report, what the handler saw, the counters and the
/// packets the queue rule matched.
fn transfer(
    sb: &Sandbox,
    config: Config,
    bytes: u64,
    limit: Duration,
) -> (TransferReport, Arc<Seen>, Counters, u64) {
    let queued = sb
        .install(&QueueRule::new(Chain::Output, QUEUE).tcp())
        .expect("install the queue rule");
    let mut queue = open_in(sb, config);
    let stop = queue.stop_handle();
    let seen = Arc::new(Seen::default());
    let record = seen.clone();
    let runner = thread::spawn(move || {
        let _bound = watchdog(queue.stop_handle(), limit + WAIT);
        // `run` catches panics, so the handler only records; the test asserts afterwards.
        let result = queue.run(|p| {
            let len = p.payload().map_or(0, <[u8]>::len) as u64;
            record.packets.fetch_add(1, Ordering::Relaxed);
            record.largest.fetch_max(len, Ordering::Relaxed);
            if p.skb_info().gso() {
                record.gso.fetch_add(1, Ordering::Relaxed);
            }
            if p.accept().is_err() {
                record.not_accepted.fetch_add(1, Ordering::Relaxed);
            }
        });
        (queue, result)
    });
    let report = sb
        .tcp_transfer(v4(PORT), bytes, limit)
        .expect("TCP transfer");
    // The last ACKs and FINs may still be on their way through the queue: wait until the
    // handler has judged every packet the kernel queued (its id counter), and stays there.
    let handed_out = || u64::from(queue_row(sb, QUEUE).map_or(0, |r| r.id_sequence));
    let caught_up = || seen.packets.load(Ordering::Relaxed) == handed_out();
    let settled = wait_until(WAIT, caught_up) && {
        thread::sleep(Duration::from_millis(100));
        wait_until(WAIT, caught_up)
    };
    stop.stop();
    let (queue, result) = join(runner);
    result.expect("run ends cleanly");
    let c = queue.counters();
    let row = queue_row(sb, QUEUE).expect("queue listed");
    assert!(
        settled,
        "kernel queued {row:?}, the handler judged {seen:?}"
    );
    assert_eq!(
        seen.not_accepted.load(Ordering::Relaxed),
        0,
        "failed verdicts"
    );
    assert_eq!(
        c.received,
        u64::from(row.id_sequence),
        "kernel: ids ({row:?}, {c:?})"
    );
    assert_eq!(c.verdicts, c.received, "{c:?}");
    assert_eq!(
        c.default_verdicts + c.panics + c.verdict_errors + c.packets_gone,
        0,
        "{c:?}"
    );
    assert_eq!(row.waiting, 0, "kernel: none left waiting ({row:?})");
    // The rule counts each skb once; without the GSO flag the kernel segments a GSO skb after
    // the rule matched, so the queue may see more packets than the rule.
    let matched = queued.packets().unwrap();
    assert!(matched <= c.received, "rule matched {matched}, {c:?}");
    assert_eq!(row.queue_dropped + row.user_dropped, 0, "{row:?}");
    (report, seen, c, matched)
}

#[test]
fn tcp_connection_through_the_queue() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let (report, seen, _, _) = transfer(&sb, Config::new(QUEUE), 1 << 20, WAIT);
    assert!(
        report.matches(),
        "the stream arrived damaged or incomplete: {report:?}"
    );
    // At least the handshake, some data, the ACKs and the closing FINs.
    assert!(seen.packets.load(Ordering::Relaxed) >= 8, "{seen:?}");
}

#[test]
fn twenty_megabytes_arrive_byte_exact() {
    const BYTES: u64 = 20 << 20;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    // An Ethernet-sized MTU makes the kernel cut the stream into thousands of packets.
    sb.ip(&["link", "set", "lo", "mtu", "1500"])
        .expect("set the MTU");
    let started = Instant::now();
    let (report, seen, c, matched) = transfer(&sb, Config::new(QUEUE), BYTES, 2 * WAIT);
    assert!(
        report.matches(),
        "20 MB through the queue arrived damaged or incomplete: {report:?}"
    );
    assert_eq!(report.received.bytes, BYTES);
    assert!(c.received > 10_000, "packets judged: {c:?}");
    eprintln!(
        "20 MB through the queue: {} packets judged ({matched} matched by the rule), largest \
         {} bytes, {:?}",
        seen.packets.load(Ordering::Relaxed),
        seen.largest.load(Ordering::Relaxed),
        started.elapsed()
    );
}

/// With MTU 1500 on `lo`, TCP hands the stack GSO packets of up to 64 KiB. Without the GSO
/// flag the kernel segments them before queueing; with it they are queued whole.
fn gso_transfer(gso: bool) -> Option<Arc<Seen>> {
    let sb = Sandbox::new_or_skip()?;
    sb.ip(&["link", "set", "lo", "mtu", "1500"])
        .expect("set the MTU");
    let (report, seen, c, matched) = transfer(&sb, Config::new(QUEUE).gso(gso), 300 << 10, WAIT);
    assert!(report.matches(), "{report:?}");
    if gso {
        assert_eq!(
            matched, c.received,
            "with GSO the queue sees what the rule matched"
        );
    } else {
        assert!(
            matched < c.received,
            "the kernel segmented GSO packets: {matched} < {c:?}"
        );
    }
    Some(seen)
}

#[test]
fn gso_flag_queues_packets_larger_than_the_mtu() {
    let Some(seen) = gso_transfer(true) else {
        return;
    };
    assert!(
        seen.largest.load(Ordering::Relaxed) > 1500,
        "no packet above the MTU: {seen:?}"
    );
    assert!(
        seen.gso.load(Ordering::Relaxed) > 0,
        "no packet marked GSO: {seen:?}"
    );
}

#[test]
fn without_gso_no_packet_exceeds_the_mtu() {
    let Some(seen) = gso_transfer(false) else {
        return;
    };
    assert!(
        seen.largest.load(Ordering::Relaxed) <= 1500,
        "a packet above the MTU: {seen:?}"
    );
    assert_eq!(seen.gso.load(Ordering::Relaxed), 0, "{seen:?}");
}
