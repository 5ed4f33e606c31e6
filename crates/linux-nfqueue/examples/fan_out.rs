// SPDX-License-Identifier: MIT OR Apache-2.0
//! Several queues, one socket and one thread each, one shared handler ([`FanOut`]): the way to
//! use more than one core.
//!
//! The rule spreads packets over queues 0 to 3:
//!
//! ```sh
//! iptables -A INPUT -j NFQUEUE --queue-balance 0:3 --queue-bypass
//! # or: nft add rule inet filter input queue num 0-3 bypass
//! cargo run --example fan_out -- [FIRST] [COUNT] [SECONDS] [QUEUES]
//! ```
//!
//! `FIRST` (default 0) and `QUEUES` (default 4) give the range the rule balances over. The
//! program ends after `COUNT` packets in total or `SECONDS` seconds (0 = no limit), then prints
//! one `queue N: M packets` line per queue and `total T` as its last line.
//!
//! How the kernel picks the queue: `--queue-balance` hashes the source and destination
//! addresses (and the protocol), **not the ports**, so all traffic between two hosts lands on
//! one queue. Add `--queue-cpu-fanout` (nft: `queue flags bypass,fanout to 0-3`) to pick the
//! queue by the CPU that handles the packet instead; with it, pinning each worker to a CPU (the
//! `pin` argument of [`FanOut::start`]) keeps a packet on one core.

mod common;

use common::arg;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use linux_nfqueue::{Config, FanOut};

const USAGE: &str = "usage: fan_out [FIRST] [COUNT] [SECONDS] [QUEUES]";

fn main() -> Result<(), linux_nfqueue::Error> {
    let first: u16 = arg(1, 0, USAGE);
    let count: u64 = arg(2, 0, USAGE);
    let seconds: u64 = arg(3, 0, USAGE);
    let queues: u16 = arg(4, 4, USAGE).max(1);
    let Some(last) = first.checked_add(queues - 1) else {
        eprintln!("the queue range ends past 65535; {USAGE}");
        std::process::exit(2)
    };

    // One counter per queue and a total. The handler runs on every worker thread at once, so
    // whatever it shares must be `Sync`: atomics here, no lock on the per-packet path.
    let per_queue: Arc<Vec<AtomicU64>> =
        Arc::new((first..=last).map(|_| AtomicU64::new(0)).collect());
    let total = Arc::new(AtomicU64::new(0));

    let handler = {
        let per_queue = Arc::clone(&per_queue);
        let total = Arc::clone(&total);
        move |packet: linux_nfqueue::Packet<'_>| {
            let slot = usize::from(packet.queue() - first);
            if let Err(e) = packet.accept() {
                eprintln!("verdict failed: {e}");
            }
            per_queue[slot].fetch_add(1, Ordering::Relaxed);
            total.fetch_add(1, Ordering::Relaxed);
        }
    };
    // Every queue is bound before any worker starts: a queue number held by another process
    // fails here, with nothing left bound. Workers are pinned to CPUs round-robin.
    let fan = FanOut::start(Config::new(first), first..=last, true, handler)?;
    eprintln!("serving queues {first} to {last}");

    // Wait for the limits; the workers do the work.
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let enough = count > 0 && total.load(Ordering::Relaxed) >= count;
        let late = seconds > 0 && started.elapsed() >= Duration::from_secs(seconds);
        if enough || late || fan.any_finished() {
            break;
        }
    }
    fan.stop();
    // Each worker sends its pending verdicts and unbinds its queue as it ends.
    let result = fan.join();

    for (i, n) in per_queue.iter().enumerate() {
        println!(
            "queue {}: {} packets",
            usize::from(first) + i,
            n.load(Ordering::Relaxed)
        );
    }
    println!("total {}", total.load(Ordering::Relaxed));
    result
}
