// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of several queues: `FanOut` over a `--queue-balance 0:1` rule with many flows
//! uses both queues and judges every packet once, and one socket can serve several queue
//! numbers with ids kept per queue.

mod support;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::{Chain, QueueRule, Sandbox};
use linux_nfqueue::{Config, FanOut};
use support::{
    WAIT, assert_rule_packets, collect_quiet, open_in, queue_row, send_udp_from, serve, udp_seq,
    udp_sink, v4, wait_for, wait_until,
};

const PORT: u16 = 9999;

#[test]
fn fanout_over_a_balanced_rule_uses_both_queues_and_judges_each_packet_once() {
    // The balance hash covers the addresses, not the ports: many flows need many sources.
    const SOURCES: u64 = 16;
    const PER_SOURCE: u64 = 20;
    const N: u64 = SOURCES * PER_SOURCE;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = sb
        .install(&QueueRule::balance(Chain::Output, 0, 1).udp().dport(PORT))
        .expect("install the --queue-balance 0:1 rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let judged = Arc::new(Mutex::new(Vec::new()));
    let record = judged.clone();
    let fan = sb
        .run(|| {
            FanOut::start(Config::new(0), 0..=1, false, move |p| {
                let seq = udp_seq(p.payload().expect("packet copied"));
                record.lock().unwrap().push((p.queue(), seq));
                p.accept().expect("accept");
            })
        })
        .expect("start the fan-out over queues 0 and 1");
    assert_eq!(fan.queues().collect::<Vec<_>>(), [0, 1]);

    // Four sources at a time, then wait for their datagrams: the receiver's socket buffer
    // holds only about 250.
    sb.run(|| {
        for i in 0..SOURCES {
            let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8));
            send_udp_from(src, v4(PORT), i * 1000, PER_SOURCE, 32);
            if i % 4 == 3 {
                assert!(
                    wait_for(&mut sink, (i + 1) * PER_SOURCE),
                    "{:?}",
                    sink.report()
                );
            }
        }
    });
    let total = |fan: &FanOut| fan.counters().iter().map(|(_, c)| c.verdicts).sum::<u64>();
    let done = wait_until(WAIT, || total(&fan) == N);
    let counters = fan.counters();
    let asked = Instant::now();
    fan.stop();
    fan.join().expect("the workers end cleanly");
    let took = asked.elapsed();
    collect_quiet(&mut sink);
    let got = sink.report();

    assert!(done, "judged {counters:?}");
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    for (q, c) in &counters {
        assert!(c.received > 0, "queue {q} got no packet: {counters:?}");
        assert_eq!(c.verdicts, c.received, "{counters:?}");
        let row = queue_row(&sb, *q);
        assert_eq!(row, None, "kernel: queue {q} still bound after join");
    }
    let judged = judged.lock().unwrap().clone();
    let seqs: HashSet<u64> = judged.iter().map(|&(_, s)| s).collect();
    assert_eq!(judged.len() as u64, N, "packets judged");
    assert_eq!(seqs.len() as u64, N, "each packet judged once");
    // One source and destination pair is one flow, and a flow always lands on the same queue.
    let mut per_source: HashMap<u64, HashSet<u16>> = HashMap::new();
    for &(q, s) in &judged {
        per_source.entry(s / 1000).or_default().insert(q);
    }
    assert!(
        per_source.values().all(|qs| qs.len() == 1),
        "a flow was split over queues: {per_source:?}"
    );
    assert_eq!((got.distinct, got.duplicates), (N, 0), "{got:?}");
    assert_rule_packets(&queued, N, "kernel: the balance rule");
}

#[test]
fn fanout_kernel_counters_match_per_queue() {
    const N: u64 = 64;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::balance(Chain::Output, 2, 3).udp().dport(PORT))
        .expect("install the --queue-balance 2:3 rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let fan = sb
        .run(|| FanOut::start(Config::new(0), 2..=3, true, |p| p.accept().expect("accept")))
        .expect("start the fan-out over queues 2 and 3, pinned");
    sb.run(|| {
        for i in 0..8u64 {
            let src = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + i as u8));
            send_udp_from(src, v4(PORT), i * 1000, N / 8, 16);
        }
    });
    support::wait_for(&mut sink, N);
    // While the workers still run, each queue's row in /proc matches its library counters.
    let counters = fan.counters();
    for (q, c) in &counters {
        let row = queue_row(&sb, *q).expect("queue bound while the workers run");
        assert_eq!(
            u64::from(row.id_sequence),
            c.received,
            "kernel vs library: {row:?} {c:?}"
        );
        assert_eq!(row.waiting, 0, "{row:?}");
    }
    assert_eq!(counters.iter().map(|(_, c)| c.received).sum::<u64>(), N);
    fan.stop();
    fan.join().expect("the workers end cleanly");
}

#[test]
fn one_socket_serves_two_queues_with_ids_per_queue() {
    const N: u64 = 20;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 10).udp().dport(PORT))
        .expect("install the rule for queue 10");
    sb.install(&QueueRule::new(Chain::Output, 11).udp().dport(PORT + 1))
        .expect("install the rule for queue 11");
    let mut sink10 = sb.udp_sink(v4(PORT)).expect("bind a receiver");
    let mut sink11 = sb.udp_sink(v4(PORT + 1)).expect("bind a receiver");
    let mut queue = open_in(&sb, Config::new(10).also_queue(11));
    let bound: Vec<u16> = queue.granted_flags().iter().map(|&(q, _)| q).collect();
    assert_eq!(bound, [10, 11]);

    sb.send_udp(v4(PORT), N, 16, WAIT).expect("send");
    sb.send_udp(v4(PORT + 1), N, 16, WAIT).expect("send");
    let mut ids: HashMap<u16, Vec<u32>> = HashMap::new();
    let served = serve(&mut queue, 2 * N, WAIT, |p| {
        ids.entry(p.queue()).or_default().push(p.id());
        p.accept().expect("accept");
    });
    support::wait_for(&mut sink10, N);
    support::wait_for(&mut sink11, N);
    support::collect_quiet(&mut sink10);

    assert_eq!(served, 2 * N);
    let expected: Vec<u32> = (1..=N as u32).collect();
    assert_eq!(ids.get(&10), Some(&expected), "queue 10's ids");
    assert_eq!(ids.get(&11), Some(&expected), "queue 11's ids");
    assert_eq!(sink10.report().distinct, N);
    assert_eq!(sink11.report().distinct, N);
    for q in [10, 11] {
        let row = queue_row(&sb, q).expect("queue listed");
        assert_eq!(
            row.portid,
            queue.portid(),
            "kernel: one socket owns both ({row:?})"
        );
        assert_eq!(row.id_sequence, N as u32, "{row:?}");
        assert_eq!(row.waiting, 0, "{row:?}");
    }
    let c = queue.counters();
    assert_eq!((c.received, c.verdicts), (2 * N, 2 * N), "{c:?}");
    queue.close().expect("close unbinds both");
    assert_eq!((queue_row(&sb, 10), queue_row(&sb, 11)), (None, None));
}
