// SPDX-License-Identifier: MIT OR Apache-2.0
//! An async pipeline on tokio (feature `tokio`): one task receives, many tasks decide, and
//! verdicts go back in whatever order the decisions finish.
//!
//! ```sh
//! iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! # or: nft add rule inet filter input udp dport 9999 queue num 0 bypass
//! cargo run --example async_pipeline --features tokio -- [QUEUE] [COUNT] [SECONDS] [MAX_LEN]
//! ```
//!
//! The policy: packets longer than `MAX_LEN` bytes (default 1000) are dropped, the rest
//! accepted, each after an asynchronous "lookup" (a short sleep standing in for a database or
//! a policy service). The program ends after `COUNT` packets or `SECONDS` seconds (0 = no
//! limit) and prints `accepted A dropped D` as its last line.
//!
//! How it fits together: the receiving task copies out what the decision needs, turns each
//! packet into a [`VerdictToken`] (owned, `Send`) and spawns a task with it; the receiver goes
//! straight back to receiving. Each task answers its token itself, with no lock and no channel
//! back to the receiver. A semaphore bounds the packets in flight: when it is exhausted the
//! receiver stops reading, the kernel queue fills up, and the kernel (not this program) decides
//! what happens to more packets (dropped, or accepted with `Config::fail_open`).

mod common;

use common::arg;
use std::sync::Arc;
use std::time::Duration;

use linux_nfqueue::tokio::AsyncQueue;
use linux_nfqueue::{Config, ErrorKind, Verdict, VerdictToken};
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

const USAGE: &str = "usage: async_pipeline [QUEUE] [COUNT] [SECONDS] [MAX_LEN]";

/// Packets being decided at once, at most.
const IN_FLIGHT: usize = 256;

/// What a decision needs to know about a packet: copied out, so the receive buffer is free
/// for the next packet.
struct Job {
    token: VerdictToken,
    len: usize,
}

#[tokio::main]
async fn main() -> Result<(), linux_nfqueue::Error> {
    let queue_num: u16 = arg(1, 0, USAGE);
    let count: u64 = arg(2, 0, USAGE);
    let seconds: u64 = arg(3, 0, USAGE);
    let max_len: usize = arg(4, 1000, USAGE);

    // Opens the socket non-blocking and registers it with this runtime.
    let mut queue = AsyncQueue::open(Config::new(queue_num))?;
    let deadline = (seconds > 0).then(|| Instant::now() + Duration::from_secs(seconds));
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut deciders = JoinSet::new();
    let mut tally = Tally::default();

    let mut received = 0u64;
    while count == 0 || received < count {
        let next = queue.recv();
        let packet = match deadline {
            Some(at) => match tokio::time::timeout_at(at, next).await {
                Ok(result) => result,
                Err(_elapsed) => break,
            },
            None => next.await,
        };
        let packet = match packet {
            Ok(packet) => packet,
            Err(e) if e.is_transient() => continue,
            Err(e) if e.kind() == ErrorKind::Closed => break,
            Err(e) => return Err(e),
        };
        let len = packet.payload().map_or(0, <[u8]>::len);
        // From here on the packet's verdict can be given from any task or thread. A token
        // dropped unanswered (say, its task panicked) sends the queue's default verdict.
        let job = Job {
            token: packet.into_token(),
            len,
        };
        received += 1;
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        deciders.spawn(async move {
            let verdict = decide(&job, max_len).await;
            let sent = job.token.verdict(verdict);
            drop(slot);
            (verdict, sent)
        });
        // Collect finished deciders as we go, so the set does not grow without bound.
        while let Some(done) = deciders.try_join_next() {
            tally.add(done);
        }
    }

    // Wait for the decisions still running. The queue must stay open until then: closing it
    // answers every packet still held by a token with the default verdict, whatever its
    // decision task would have said.
    while let Some(done) = deciders.join_next().await {
        tally.add(done);
    }
    eprintln!("library counters: {:?}", queue.counters());
    println!("accepted {} dropped {}", tally.accepted, tally.dropped);
    queue.into_inner().close()
}

/// The policy: drop packets longer than `max_len`, after an asynchronous lookup.
async fn decide(job: &Job, max_len: usize) -> Verdict {
    // Stand-in for asking something else. Different delays make verdicts leave out of order.
    let delay = Duration::from_millis(u64::from(job.token.id() % 4));
    tokio::time::sleep(delay).await;
    if job.len > max_len {
        Verdict::Drop
    } else {
        Verdict::Accept
    }
}

/// What the decision tasks did.
#[derive(Debug, Default)]
struct Tally {
    accepted: u64,
    dropped: u64,
}

impl Tally {
    /// Counts one finished decision task and reports a failure.
    fn add(&mut self, done: Result<(Verdict, linux_nfqueue::Result<()>), JoinError>) {
        match done {
            Ok((Verdict::Drop, Ok(()))) => self.dropped += 1,
            Ok((_, Ok(()))) => self.accepted += 1,
            Ok((_, Err(e))) => eprintln!("verdict failed: {e}"),
            // The token was dropped with its task, so the packet got the default verdict.
            Err(e) => eprintln!("a decision task failed: {e}"),
        }
    }
}
