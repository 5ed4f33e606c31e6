// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of batch verdicts: the automatic coalescing of verdicts given on the receiving
//! thread, explicit `Queue::batch_verdict` with a mark, and a batch verdict the kernel answers
//! with ENOENT.

mod support;

use linux_nfqueue::testkit::{Chain, CountRule, Sandbox};
use linux_nfqueue::{Config, Verdict};
use support::{
    UdpPath, WAIT, assert_delivered_once, assert_none_waiting, assert_rule_packets, drain, open_in,
    open_recording_errors, queue_row, queue_udp, serve, udp_path, udp_sink, v4, wait_until,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 5;

#[test]
fn a_burst_is_answered_with_fewer_sends_than_verdicts() {
    const N: u64 = 150;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let UdpPath {
        arrived, mut sink, ..
    } = udp_path(&sb, QUEUE, PORT);
    let mut queue = open_in(&sb, Config::new(QUEUE));

    // The whole burst waits in the kernel before the first receive.
    let sent = sb.send_udp(v4(PORT), N, 16, WAIT).expect("send");
    assert_eq!(sent.sent, N, "{sent:?}");
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    assert_eq!(row.waiting, N as u32, "kernel: packets waiting ({row:?})");
    let served = serve(&mut queue, N, WAIT, |p| p.accept().expect("accept"));
    assert_eq!(served, N);
    support::wait_for(&mut sink, N);
    support::collect_quiet(&mut sink);

    let c = queue.counters();
    assert_eq!(c.verdicts, N, "{c:?}");
    assert!(
        c.verdict_sends < c.verdicts,
        "verdicts were not coalesced: {} sends for {} verdicts",
        c.verdict_sends,
        c.verdicts
    );
    assert_delivered_once(&sink, N);
    assert_rule_packets(&arrived, N, "kernel: packets reaching INPUT");
    assert_none_waiting(&sb, QUEUE);
}

/// Holds every packet as a token, answers them all with one batch verdict carrying a mark,
/// then drops the tokens: their default verdicts find the packets gone (ENOENT), which is
/// counted and harmless.
#[test]
fn explicit_batch_verdict_with_a_mark() {
    const N: u64 = 50;
    const MARK: u32 = 0x33;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let marked = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(PORT).mark(MARK))
        .expect("install the counting rule");
    let mut sink = udp_sink(&sb, v4(PORT));
    let mut queue = open_in(&sb, Config::new(QUEUE));

    sb.send_udp(v4(PORT), N, 16, WAIT).expect("send");
    let mut tokens = Vec::new();
    let mut last = 0;
    let served = serve(&mut queue, N, WAIT, |p| {
        last = p.id();
        tokens.push(p.into_token());
    });
    assert_eq!(served, N);
    assert_eq!(last, N as u32, "ids start at 1");
    assert_eq!(
        queue_row(&sb, QUEUE).unwrap().waiting,
        N as u32,
        "kernel: all held"
    );
    support::collect_quiet(&mut sink);
    assert_eq!(
        sink.report().datagrams,
        0,
        "nothing passes before the verdict"
    );

    queue
        .batch_verdict(QUEUE, last, Verdict::Accept, Some(MARK))
        .expect("batch verdict");
    support::wait_for(&mut sink, N);
    assert_rule_packets(&marked, N, "kernel: marked packets on INPUT");
    assert_none_waiting(&sb, QUEUE);

    drop(tokens);
    let gone = wait_until(WAIT, || {
        drain(&mut queue);
        queue.counters().packets_gone == N
    });
    support::collect_quiet(&mut sink);
    let c = queue.counters();
    assert!(
        gone,
        "the tokens' default verdicts should all find the packets gone: {c:?}"
    );
    assert_eq!(c.default_verdicts, N, "{c:?}");
    assert_eq!(c.verdict_errors, 0, "ENOENT is not an error: {c:?}");
    assert_delivered_once(&sink, N);
}

#[test]
fn a_batch_verdict_on_an_empty_queue_is_reported_and_receiving_goes_on() {
    const N: u64 = 10;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let (mut queue, reported) = open_recording_errors(&sb, Config::new(QUEUE));

    queue
        .batch_verdict(QUEUE, 100, Verdict::Accept, None)
        .expect("the batch verdict is sent; the kernel answers later");
    assert!(
        wait_until(WAIT, || {
            drain(&mut queue);
            !reported.lock().unwrap().is_empty()
        }),
        "the kernel's ENOENT never reached Config::on_verdict_error"
    );
    let errors = reported.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].id, errors[0].batch), (100, true), "{errors:?}");
    assert_eq!(errors[0].errno, libc::ENOENT, "{errors:?}");
    let c = queue.counters();
    assert_eq!((c.packets_gone, c.verdict_errors), (1, 0), "{c:?}");

    sb.send_udp(v4(PORT), N, 16, WAIT).expect("send");
    let served = serve(&mut queue, N, WAIT, |p| p.accept().expect("accept"));
    support::wait_for(&mut sink, N);
    assert_eq!(served, N, "receiving went on after the error");
    assert_eq!(sink.report().distinct, N);
}
