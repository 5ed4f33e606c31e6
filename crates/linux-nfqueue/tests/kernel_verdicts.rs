// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of the plain verdicts: accept, drop and mark, over UDP (IPv4 and IPv6) and ICMP,
//! checked against the kernel's rule counters and its queue table.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use linux_nfqueue::testkit::{Chain, CountRule, Protocol, QueueRule, Sandbox, Table};
use linux_nfqueue::{Config, Family, Hook, Verdict, VerdictAttrs};
use support::{
    UdpPath, WAIT, assert_delivered_once, assert_no_verdict_failures, assert_rule_packets, join,
    open_in, queue_row, queue_udp, receive_in_background, serve_in_background, udp_path, udp_sink,
    v4, v6,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 5;

#[test]
fn accept_delivers_every_udp_packet_exactly_once() {
    const N: u64 = 200;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let UdpPath {
        queued,
        arrived,
        sink,
    } = udp_path(&sb, QUEUE, PORT);
    let receiver = receive_in_background(sink, N);
    let queue = open_in(&sb, Config::new(QUEUE));
    let portid = queue.portid();

    let server = serve_in_background(queue, N, WAIT, |p| {
        assert_eq!(p.hook(), Hook::LocalOut, "queued on OUTPUT");
        assert_eq!(p.family(), Family::Ipv4);
        p.accept().expect("accept");
    });
    let sent = sb.send_udp(v4(PORT), N, 64, WAIT).expect("send");
    assert_eq!(
        sent.sent, N,
        "the sender could not send everything: {sent:?}"
    );
    let (queue, served) = join(server);
    assert_eq!(served, N, "the handler saw {served} of {N} packets");

    let got = join(receiver);
    assert_eq!(got.datagrams, N, "datagrams delivered: {got:?}");
    assert_eq!(got.distinct, N, "distinct datagrams delivered: {got:?}");
    assert_eq!(got.duplicates, 0, "duplicates: {got:?}");
    assert_rule_packets(&queued, N, "kernel: packets sent to the queue");
    assert_rule_packets(&arrived, N, "kernel: packets reaching INPUT");
    let c = queue.counters();
    assert_eq!(c.received, N, "library: received ({c:?})");
    assert_eq!(c.verdicts, N, "library: verdicts ({c:?})");
    assert_eq!(c.default_verdicts, 0, "{c:?}");
    assert_no_verdict_failures(&c);
    let row = queue_row(&sb, QUEUE).expect("queue listed in /proc");
    assert_eq!(row.portid, portid, "{row:?}");
    assert_eq!(
        row.id_sequence, N as u32,
        "kernel: ids handed out ({row:?})"
    );
    assert_eq!(row.waiting, 0, "kernel: nothing left waiting ({row:?})");
    assert_eq!(row.queue_dropped + row.user_dropped, 0, "{row:?}");
}

#[test]
fn drop_delivers_nothing() {
    const N: u64 = 50;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let UdpPath {
        queued,
        arrived,
        mut sink,
    } = udp_path(&sb, QUEUE, PORT);
    let queue = open_in(&sb, Config::new(QUEUE));

    let server = serve_in_background(queue, N, WAIT, |p| p.drop().expect("drop"));
    let sent = sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    assert_eq!(sent.sent + sent.refused, N, "{sent:?}");
    let (queue, served) = join(server);
    assert_eq!(served, N);
    support::collect_quiet(&mut sink);

    assert_eq!(sink.report().datagrams, 0, "dropped packets arrived");
    assert_rule_packets(&queued, N, "kernel: packets sent to the queue");
    assert_rule_packets(&arrived, 0, "kernel: packets reaching INPUT");
    assert_eq!(queue.counters().verdicts, N);
    let row = queue_row(&sb, QUEUE).expect("queue listed in /proc");
    assert_eq!(row.waiting, 0, "{row:?}");
}

#[test]
fn accept_delivers_ipv6_udp() {
    const N: u64 = 100;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = sb
        .install(
            &QueueRule::new(Chain::Output, QUEUE)
                .ipv6()
                .udp()
                .dport(PORT),
        )
        .expect("install the IPv6 queue rule");
    let arrived = sb
        .install_count(&CountRule::new(Chain::Input).ipv6().udp().dport(PORT))
        .expect("install the IPv6 INPUT counting rule");
    let mut sink = udp_sink(&sb, v6(PORT));
    let queue = open_in(&sb, Config::new(QUEUE));

    let server = serve_in_background(queue, N, WAIT, |p| {
        assert_eq!(p.family(), Family::Ipv6);
        let payload = p.payload().expect("packet copied");
        assert_eq!(payload[0] >> 4, 6, "an IPv6 header");
        assert_eq!(payload[6], 17, "next header UDP");
        p.accept().expect("accept");
    });
    let sent = sb.send_udp(v6(PORT), N, 64, WAIT).expect("send");
    assert_eq!(sent.sent, N, "{sent:?}");
    let (queue, served) = join(server);
    assert_eq!(served, N);
    support::wait_for(&mut sink, N);
    support::collect_quiet(&mut sink);

    assert_delivered_once(&sink, N);
    assert_rule_packets(&queued, N, "kernel: packets sent to the queue");
    assert_rule_packets(&arrived, N, "kernel: packets reaching INPUT");
    assert_eq!(queue.counters().verdicts, N);
}

#[test]
fn one_ping_on_output_needs_two_verdicts() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = sb
        .install(&QueueRule::new(Chain::Output, QUEUE).protocol(Protocol::Icmp))
        .expect("install the ICMP queue rule");
    let queue = open_in(&sb, Config::new(QUEUE));
    let types = Arc::new(Mutex::new(Vec::new()));
    let seen = types.clone();

    // The echo request and the echo reply are both generated locally, so both pass OUTPUT.
    let server = serve_in_background(queue, 2, WAIT, move |p| {
        let ip = p.payload().expect("packet copied");
        assert_eq!(ip[9], 1, "protocol ICMP");
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        seen.lock().unwrap().push(ip[ihl]);
        p.accept().expect("accept");
    });
    let report = sb
        .ping(IpAddr::V4(Ipv4Addr::LOCALHOST), 1, WAIT)
        .expect("ping");
    let (queue, served) = join(server);

    assert_eq!(
        report.received, 1,
        "the echo reply did not come back: {report:?}"
    );
    assert_eq!(served, 2, "verdicts needed for one ping");
    assert_eq!(
        *types.lock().unwrap(),
        [8, 0],
        "echo request, then echo reply"
    );
    assert_rule_packets(&queued, 2, "kernel: packets sent to the queue");
    assert_eq!(queue.counters().verdicts, 2);
}

#[test]
fn mark_from_a_verdict_is_seen_by_a_later_mark_rule() {
    const N: u64 = 50;
    const MARK: u32 = 0x2a;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    // ACCEPT ends the OUTPUT chain, so the mark is checked on INPUT, where the looped-back
    // packet arrives with its mark.
    let marked = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(PORT).mark(MARK))
        .expect("install the mark counting rule");
    let unmarked = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(PORT).mark(0))
        .expect("install the unmarked counting rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let queue = open_in(&sb, Config::new(QUEUE));

    let server = serve_in_background(queue, N, WAIT, |p| {
        assert_eq!(p.mark(), None, "no mark before the verdict");
        p.verdict_with(Verdict::Accept, &VerdictAttrs::new().with_mark(MARK))
            .expect("accept with a mark");
    });
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    join(server);
    support::wait_for(&mut sink, N);

    assert_eq!(sink.report().distinct, N, "{:?}", sink.report());
    assert_rule_packets(&marked, N, "kernel: marked packets on INPUT");
    assert_rule_packets(&unmarked, 0, "kernel: unmarked packets on INPUT");
}

#[test]
fn accept_skips_the_rest_of_the_queueing_chain() {
    const N: u64 = 20;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let after = sb
        .install_count(&CountRule::new(Chain::Output).udp().dport(PORT))
        .expect("install a counting rule after the queue rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let queue = open_in(&sb, Config::new(QUEUE));

    let server = serve_in_background(queue, N, WAIT, |p| p.accept().expect("accept"));
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    join(server);
    support::wait_for(&mut sink, N);

    assert_eq!(sink.report().distinct, N);
    assert_rule_packets(
        &after,
        0,
        "kernel: a rule after the NFQUEUE rule in the same chain saw accepted packets",
    );
}

/// Queues in the mangle table's OUTPUT chain (priority -150) and counts in the filter table's
/// (priority 0): returns the filter count after `N` packets got `verdict`, and the deliveries.
fn later_table_sees(verdict: Verdict) -> Option<(u64, u64)> {
    const N: u64 = 20;
    let sb = Sandbox::new_or_skip()?;
    sb.install(
        &QueueRule::new(Chain::Output, QUEUE)
            .table(Table::Mangle)
            .udp()
            .dport(PORT),
    )
    .expect("install the mangle queue rule");
    let later = sb
        .install_count(&CountRule::new(Chain::Output).udp().dport(PORT))
        .expect("install the filter counting rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let queue = open_in(&sb, Config::new(QUEUE));
    let server = serve_in_background(queue, N, WAIT, move |p| {
        p.verdict(verdict).expect("verdict")
    });
    sb.send_udp(v4(PORT), N, 16, WAIT).expect("send");
    assert_eq!(join(server).1, N);
    support::wait_for(&mut sink, N);
    Some((later.packets().unwrap(), sink.report().distinct))
}

#[test]
fn accept_continues_with_the_next_table() {
    let Some((later, delivered)) = later_table_sees(Verdict::Accept) else {
        return;
    };
    assert_eq!(
        (later, delivered),
        (20, 20),
        "(kernel: filter OUTPUT count, delivered)"
    );
}

#[test]
fn stop_skips_the_later_tables() {
    let Some((later, delivered)) = later_table_sees(Verdict::Stop) else {
        return;
    };
    assert_eq!(
        (later, delivered),
        (0, 20),
        "(kernel: filter OUTPUT count, delivered)"
    );
}
