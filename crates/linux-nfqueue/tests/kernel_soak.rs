// SPDX-License-Identifier: MIT OR Apache-2.0
//! Soak: millions of packets through one queue, every packet judged exactly once (by sequence
//! number, against a bitmap), the kernel's counters in agreement, and resident memory flat.
//!
//! The CI version sends up to 1 million packets within 15 seconds. The long version is
//! ignored by default; run it with
//!
//! ```text
//! NFQUEUE_SOAK_PACKETS=5000000 cargo test --release -p linux-nfqueue --all-features \
//!     --test kernel_soak -- --ignored --nocapture
//! ```
//!
//! (`NFQUEUE_SOAK_SECONDS` bounds its sending time, 600 by default.) It prints the resident
//! set size after 100 000 packets and at the end.

mod support;

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::Sandbox;
use linux_nfqueue::{Config, Counters};
use support::{
    assert_rule_packets, count_udp_input, join, open_in, queue_row, queue_udp, udp_seq, udp_sink,
    v4, wait_until,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 3;
/// Packets in flight at most (sent, not yet judged): well under the queue length (1024) and
/// the receive buffer, so nothing is lost and any loss is a bug.
const WINDOW: u64 = 256;
/// When the first resident-set reading is taken: past start-up, buffers all in use.
const WARM: u64 = 100_000;
/// Allowed growth of the resident set between the warm reading and the end.
const FLAT: u64 = 2 * 1024 * 1024;

/// This process's resident set size in bytes (`VmRSS` of `/proc/self/status`).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kb * 1024
}

/// What the handler saw.
struct Judged {
    /// Bit `s` is set until sequence number `s` is judged.
    pending: Vec<u64>,
    duplicates: u64,
    out_of_range: u64,
    /// Resident set after [`WARM`] packets, and at the end.
    rss_warm: u64,
    rss_end: u64,
    /// Resident set at every millionth packet.
    samples: Vec<(u64, u64)>,
    counters: Counters,
}

#[derive(Debug)]
struct Report {
    sent: u64,
    judged: u64,
    took: Duration,
    rss_warm: u64,
    rss_end: u64,
    samples: Vec<(u64, u64)>,
}

fn soak(packets: u64, send_for: Duration) -> Option<Report> {
    let sb = Sandbox::new_or_skip()?;
    let queued = queue_udp(&sb, QUEUE, PORT);
    let arrived = count_udp_input(&sb, PORT);
    // A listener that never reads: accepted datagrams end in its full buffer, cheaply.
    let _sink = udp_sink(&sb, v4(PORT));
    let mut queue = open_in(&sb, Config::new(QUEUE));
    let stop = queue.stop_handle();
    let judged = Arc::new(AtomicU64::new(0));

    let words = usize::try_from(packets.div_ceil(64)).expect("fits");
    // Every page written now, so the bitmap does not grow the resident set later.
    let mut seen = Judged {
        pending: vec![u64::MAX; words],
        duplicates: 0,
        out_of_range: 0,
        rss_warm: 0,
        rss_end: 0,
        samples: Vec::with_capacity(64),
        counters: Counters::default(),
    };
    let handler = {
        let judged = judged.clone();
        thread::spawn(move || {
            let result = queue.run(|p| {
                let seq = udp_seq(p.payload().expect("the packet is copied"));
                p.accept().expect("accept");
                match seen.pending.get_mut((seq / 64) as usize) {
                    Some(word) if *word & (1 << (seq % 64)) != 0 => {
                        *word &= !(1 << (seq % 64));
                    }
                    Some(_) => seen.duplicates += 1,
                    None => seen.out_of_range += 1,
                }
                let n = judged.fetch_add(1, Ordering::Release) + 1;
                if n == WARM {
                    seen.rss_warm = rss();
                }
                if n % 1_000_000 == 0 && seen.samples.len() < seen.samples.capacity() {
                    seen.samples.push((n, rss()));
                }
            });
            result.expect("run ends cleanly");
            seen.rss_end = rss();
            seen.counters = queue.counters();
            seen
        })
    };

    let started = Instant::now();
    let sender = {
        let judged = judged.clone();
        sb.spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the sender");
            let deadline = Instant::now() + send_for;
            let mut payload = [0u8; 16];
            let mut sent = 0;
            while sent < packets && Instant::now() < deadline {
                if sent - judged.load(Ordering::Acquire) >= WINDOW {
                    thread::yield_now();
                    continue;
                }
                payload[..8].copy_from_slice(&sent.to_be_bytes());
                socket.send_to(&payload, v4(PORT)).expect("send");
                sent += 1;
            }
            sent
        })
    };
    let sent = join(sender);
    let all_judged = wait_until(Duration::from_secs(10), || {
        judged.load(Ordering::Acquire) >= sent
    });
    // Let the last verdicts go out (they are sent before the next receive blocks).
    let settled = wait_until(Duration::from_secs(5), || {
        queue_row(&sb, QUEUE).is_some_and(|r| r.waiting == 0)
    });
    let took = started.elapsed();
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    stop.stop();
    let seen = join(handler);
    let judged = judged.load(Ordering::Acquire);

    assert!(
        all_judged && settled,
        "sent {sent}, judged {judged}, {row:?}"
    );
    assert_eq!(judged, sent, "judged");
    assert_eq!(seen.duplicates, 0, "packets judged twice");
    assert_eq!(seen.out_of_range, 0, "sequence numbers never sent");
    let sent_words = (sent / 64) as usize;
    let missing = seen.pending[..sent_words]
        .iter()
        .map(|w| u64::from(w.count_ones()))
        .sum::<u64>()
        + seen.pending.get(sent_words).map_or(0, |w| {
            u64::from((w & ((1u64 << (sent % 64)) - 1)).count_ones())
        });
    assert_eq!(missing, 0, "sequence numbers never judged");
    let c = seen.counters;
    assert_eq!((c.received, c.verdicts), (sent, sent), "library: {c:?}");
    assert_eq!(
        (
            c.default_verdicts,
            c.overruns,
            c.packets_gone,
            c.verdict_errors,
            c.foreign,
            c.truncated,
            c.malformed,
            c.panics
        ),
        (0, 0, 0, 0, 0, 0, 0, 0),
        "library: {c:?}"
    );
    assert_eq!(
        (row.waiting, row.queue_dropped, row.user_dropped),
        (0, 0, 0),
        "kernel: {row:?}"
    );
    assert_eq!(u64::from(row.id_sequence), sent, "kernel: ids given");
    assert_rule_packets(&queued, sent, "kernel: the queue rule");
    assert_rule_packets(&arrived, sent, "kernel: reached INPUT");

    let report = Report {
        sent,
        judged,
        took,
        rss_warm: seen.rss_warm,
        rss_end: seen.rss_end,
        samples: seen.samples,
    };
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "soak: {} packets judged exactly once in {:.1} s ({:.0}/s); VmRSS {:.2} MiB after {WARM}, \
         {:.2} MiB at the end ({:+.3} MiB); per million: {:?}",
        report.judged,
        took.as_secs_f64(),
        report.judged as f64 / took.as_secs_f64(),
        mib(report.rss_warm),
        mib(report.rss_end),
        mib(report.rss_end) - mib(report.rss_warm),
        report
            .samples
            .iter()
            .map(|&(n, r)| format!("{}M {:.2} MiB", n / 1_000_000, mib(r)))
            .collect::<Vec<_>>()
    );
    if sent > WARM {
        assert!(
            report.rss_end <= report.rss_warm + FLAT,
            "resident memory grew from {} to {} bytes",
            report.rss_warm,
            report.rss_end
        );
    }
    Some(report)
}

/// The CI soak: up to a million packets, at most 15 seconds of sending.
#[test]
fn soak_short_every_packet_judged_once_memory_flat() {
    let Some(r) = soak(1_000_000, Duration::from_secs(15)) else {
        return;
    };
    assert!(
        r.sent > 2 * WARM,
        "too few packets for a soak: {} in {:?}",
        r.sent,
        r.took
    );
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

/// The long soak: `NFQUEUE_SOAK_PACKETS` (5 million by default) within
/// `NFQUEUE_SOAK_SECONDS` (600) of sending.
#[test]
#[ignore = "long: run with --ignored (see the module docs)"]
fn soak_long_every_packet_judged_once_memory_flat() {
    let packets = env_u64("NFQUEUE_SOAK_PACKETS", 5_000_000);
    let seconds = env_u64("NFQUEUE_SOAK_SECONDS", 600);
    let Some(r) = soak(packets, Duration::from_secs(seconds)) else {
        return;
    };
    assert_eq!(r.sent, packets, "the time limit cut the soak short");
}
