// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of the verdicts that send a packet around again: REPEAT with a mark that breaks
//! the loop, requeue to another queue, and requeue to a queue nobody listens on (with and
//! without bypass).

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use linux_nfqueue::testkit::{Chain, CountRule, QueueRule, Sandbox};
use linux_nfqueue::{Config, Verdict, VerdictAttrs};
use support::{
    QUIET, WAIT, assert_delivered_once, assert_no_verdict_failures, assert_rule_packets,
    count_udp_input, join, open_in, queue_row, serve, serve_in_background, udp_seq, udp_sink, v4,
};

const PORT: u16 = 9999;
const N: u64 = 50;

#[test]
fn repeat_with_a_mark_passes_the_queue_once() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    // iptables -A OUTPUT -p udp --dport 9999 -m mark ! --mark 1 -j NFQUEUE --queue-num 5
    let queued = sb
        .install(
            &QueueRule::new(Chain::Output, 5)
                .udp()
                .dport(PORT)
                .skip_if_mark(1),
        )
        .expect("install the queue rule");
    let marked = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(PORT).mark(1))
        .expect("install the counting rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let mut queue = open_in(&sb, Config::new(5));
    let seqs = Arc::new(Mutex::new(Vec::new()));
    let seen = seqs.clone();

    let sender = sb.spawn(|| support::send_udp_from(v4(0).ip(), v4(PORT), 0, N, 32));
    let served = serve(&mut queue, N, WAIT, |p| {
        seen.lock().unwrap().push(udp_seq(p.payload().unwrap()));
        p.verdict_with(Verdict::Repeat, &VerdictAttrs::new().with_mark(1))
            .expect("repeat with mark 1");
    });
    join(sender);
    assert_eq!(served, N);
    // Nothing may come back a second time.
    let again = serve(&mut queue, 1, QUIET, |p| p.accept().expect("accept"));
    support::wait_for(&mut sink, N);
    support::collect_quiet(&mut sink);

    assert_eq!(again, 0, "a repeated packet was queued again");
    let distinct: HashSet<u64> = seqs.lock().unwrap().iter().copied().collect();
    assert_eq!(distinct.len() as u64, N, "the handler saw each packet once");
    assert_delivered_once(&sink, N);
    assert_rule_packets(&queued, N, "kernel: the queue rule matched once each");
    assert_rule_packets(&marked, N, "kernel: marked packets on INPUT");
    let row = queue_row(&sb, 5).expect("queue 5 listed");
    assert_eq!(
        row.id_sequence, N as u32,
        "kernel: ids handed out ({row:?})"
    );
    assert_eq!(queue.counters().verdicts, N);
}

#[test]
fn requeue_moves_packets_to_another_queue_with_their_mark() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = sb
        .install(&QueueRule::new(Chain::Output, 5).udp().dport(PORT))
        .expect("install the queue rule");
    let arrived = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(PORT).mark(0x77))
        .expect("install the counting rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let first = open_in(&sb, Config::new(5));
    let second = open_in(&sb, Config::new(6));

    let hop = serve_in_background(first, N, WAIT, |p| {
        p.verdict_with(
            Verdict::Queue {
                num: 6,
                bypass: false,
            },
            &VerdictAttrs::new().with_mark(0x77),
        )
        .expect("requeue to 6");
    });
    let marks = Arc::new(Mutex::new(Vec::new()));
    let seen = marks.clone();
    let last = serve_in_background(second, N, WAIT, move |p| {
        seen.lock().unwrap().push(p.mark());
        p.accept().expect("accept");
    });
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let (first, hopped) = join(hop);
    let (second, judged) = join(last);
    support::wait_for(&mut sink, N);
    support::collect_quiet(&mut sink);

    assert_eq!(
        (hopped, judged),
        (N, N),
        "packets seen by queue 5 and queue 6"
    );
    assert!(
        marks.lock().unwrap().iter().all(|m| *m == Some(0x77)),
        "queue 6 saw the mark set by queue 5's verdict: {:?}",
        marks.lock().unwrap()
    );
    assert_delivered_once(&sink, N);
    assert_rule_packets(&queued, N, "kernel: the queue rule");
    assert_rule_packets(&arrived, N, "kernel: marked packets on INPUT");
    let (r5, r6) = (queue_row(&sb, 5).unwrap(), queue_row(&sb, 6).unwrap());
    assert_eq!(r5.id_sequence, N as u32, "kernel: queue 5 ids ({r5:?})");
    assert_eq!(r6.id_sequence, N as u32, "kernel: queue 6 ids ({r6:?})");
    assert_eq!(r5.waiting + r6.waiting, 0);
    assert_eq!(first.counters().verdicts, N);
    assert_eq!(second.counters().received, N);
}

/// Requeues every packet to queue 77, which nobody binds; returns (delivered, INPUT count).
fn requeue_to_unbound(bypass: bool) -> Option<(u64, u64)> {
    let sb = Sandbox::new_or_skip()?;
    let queued = sb
        .install(&QueueRule::new(Chain::Output, 5).udp().dport(PORT))
        .expect("install the queue rule");
    let arrived = count_udp_input(&sb, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let queue = open_in(&sb, Config::new(5));

    let server = serve_in_background(queue, N, WAIT, move |p| {
        p.verdict(Verdict::Queue { num: 77, bypass })
            .expect("requeue to 77");
    });
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let (queue, served) = join(server);
    assert_eq!(served, N);
    if bypass {
        support::wait_for(&mut sink, N);
    }
    support::collect_quiet(&mut sink);

    assert_rule_packets(&queued, N, "kernel: the queue rule");
    assert_eq!(queue_row(&sb, 77), None, "kernel: queue 77 is not bound");
    let c = queue.counters();
    assert_eq!(c.verdicts, N, "{c:?}");
    assert_no_verdict_failures(&c);
    let got = sink.report();
    assert_eq!(got.duplicates, 0, "{got:?}");
    Some((got.distinct, arrived.packets().unwrap()))
}

#[test]
fn requeue_with_bypass_to_an_unbound_queue_accepts() {
    let Some((delivered, arrived)) = requeue_to_unbound(true) else {
        return;
    };
    assert_eq!(delivered, N, "bypass: accepted");
    assert_eq!(arrived, N, "kernel: packets reaching INPUT");
}

#[test]
fn requeue_without_bypass_to_an_unbound_queue_drops() {
    let Some((delivered, arrived)) = requeue_to_unbound(false) else {
        return;
    };
    assert_eq!(delivered, 0, "no bypass: dropped");
    assert_eq!(arrived, 0, "kernel: packets reaching INPUT");
}
