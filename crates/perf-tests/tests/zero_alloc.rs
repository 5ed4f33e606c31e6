// SPDX-License-Identifier: MIT OR Apache-2.0
//! Zero heap allocations per packet in steady state, through a real kernel queue.
//!
//! The handler thread receives and accepts 100 000 UDP packets after a warm-up; the
//! allocations it makes meanwhile are counted by `allocation-counter`, which counts per
//! thread, so the traffic generator's own work does not mix in.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::{Chain, CountRule, QueueRule, Sandbox};
use linux_nfqueue::{Config, Queue};

const WARMUP: u64 = 2_000;
const MEASURED: u64 = 100_000;

fn run_case(batch: bool) {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 4).udp().dport(9999))
        .unwrap();
    let delivered = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(9999))
        .unwrap();
    let total = WARMUP + MEASURED;
    let mut queue = Queue::open(
        Config::new(4)
            .netns_path(sb.netns_path())
            .batch_verdicts(batch)
            .copy_range(256),
    )
    .unwrap();
    // The generator is paced by the handler through the queue length and the socket buffer;
    // packets the kernel drops meanwhile are simply not counted.
    let sender = sb.spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let payload = [7u8; 64];
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut sent = 0u64;
        while sent < total * 3 && Instant::now() < deadline {
            if s.send_to(&payload, "127.0.0.1:9999").is_ok() {
                sent += 1;
            }
            if sent % 256 == 0 {
                std::thread::yield_now();
            }
        }
    });
    let mut judged = 0u64;
    while judged < WARMUP {
        queue.recv().unwrap().accept().unwrap();
        judged += 1;
    }
    let info = allocation_counter::measure(|| {
        while judged < total {
            let packet = queue.recv().unwrap();
            assert!(packet.payload().is_some());
            packet.accept().unwrap();
            judged += 1;
        }
        queue.flush().unwrap();
    });
    let counters = queue.counters();
    drop(queue);
    sender.join().unwrap();
    eprintln!(
        "batch={batch}: {MEASURED} packets, {} allocations ({} bytes); counters {counters:?}",
        info.count_total, info.bytes_total
    );
    assert_eq!(
        info.count_total, 0,
        "the steady-state receive/verdict path allocated"
    );
    assert!(delivered.packets().unwrap() >= total);
}

#[test]
fn no_allocation_per_packet_with_batched_verdicts() {
    run_case(true);
}

#[test]
fn no_allocation_per_packet_with_per_packet_verdicts() {
    run_case(false);
}
