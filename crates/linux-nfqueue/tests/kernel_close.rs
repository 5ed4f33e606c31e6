// SPDX-License-Identifier: MIT OR Apache-2.0
//! A clean close leaves nothing in the kernel: packets waiting in the socket and packets held
//! by tokens get the default verdict instead of being dropped by the unbind.

use std::net::SocketAddr;
use std::time::Duration;

use linux_nfqueue::testkit::{Chain, QueueRule, Sandbox};
use linux_nfqueue::{Config, Queue, Verdict};

const SENT: u64 = 10;
const HELD: usize = 3;

fn close_answers_everything(default: Verdict, want_delivered: u64) {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 9).udp().dport(9999))
        .unwrap();
    let dst: SocketAddr = "127.0.0.1:9999".parse().unwrap();
    let mut sink = sb.udp_sink(dst).unwrap();
    let mut queue = Queue::open(
        Config::new(9)
            .netns_path(sb.netns_path())
            .default_verdict(default),
    )
    .unwrap();
    sb.send_udp(dst, SENT, 16, Duration::from_secs(5)).unwrap();
    // Hold three packets as tokens; leave the other seven unread in the socket.
    let tokens: Vec<_> = (0..HELD)
        .map(|_| queue.recv().unwrap().into_token())
        .collect();
    let waiting = sb.queue_counters(9).unwrap().expect("queue bound").waiting;
    assert_eq!(
        waiting, SENT as u32,
        "all packets wait in the kernel before close"
    );
    queue.close().unwrap();
    let _ = sink.wait_for(want_delivered.max(1), Duration::from_secs(2));
    assert_eq!(sink.report().datagrams, want_delivered);
    assert!(sb.queue_counters(9).unwrap().is_none(), "queue still bound");
    // Answering a token after the close is a harmless no-op.
    for t in tokens {
        t.accept().unwrap();
    }
}

#[test]
fn close_accepts_waiting_and_held_packets_by_default() {
    close_answers_everything(Verdict::Accept, SENT);
}

#[test]
fn close_drops_them_when_the_default_is_drop() {
    close_answers_everything(Verdict::Drop, 0);
}
