// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of what the queue settings do in the kernel (copy mode and range, queue length,
//! fail-open), and of packets flushed by a rule change while they wait: their late verdicts are
//! answered with ENOENT, which is reported and harmless.

mod support;

use linux_nfqueue::Config;
use linux_nfqueue::testkit::{Chain, QueueRule, Sandbox};
use support::{
    WAIT, add_unrelated_nft_table, drain, join, open_in, open_recording_errors, queue_row,
    queue_udp, serve, serve_in_background, udp_sink, v4, wait_until,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 5;

#[test]
fn copy_mode_and_range_reach_the_kernel() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    sb.install(
        &QueueRule::new(Chain::Output, QUEUE + 1)
            .udp()
            .dport(PORT + 1),
    )
    .expect("install the rule for queue 6");
    let meta = open_in(&sb, Config::new(QUEUE).metadata_only());
    let short = open_in(&sb, Config::new(QUEUE + 1).copy_range(64));
    let m = queue_row(&sb, QUEUE).expect("queue 5 listed");
    assert_eq!(
        (m.copy_mode, m.copy_range),
        (1, 0),
        "kernel: metadata only ({m:?})"
    );
    let s = queue_row(&sb, QUEUE + 1).expect("queue 6 listed");
    assert_eq!(
        (s.copy_mode, s.copy_range),
        (2, 64),
        "kernel: 64 bytes ({s:?})"
    );

    let meta = serve_in_background(meta, 1, WAIT, |p| {
        assert_eq!(p.payload(), None, "metadata only: no payload");
        assert_eq!(p.cap_len(), None, "never CAP_LEN in metadata mode");
        p.accept().expect("accept");
    });
    let short = serve_in_background(short, 1, WAIT, |p| {
        assert_eq!(p.payload().map(<[u8]>::len), Some(64));
        assert_eq!(p.cap_len(), Some(20 + 8 + 200), "the real length");
        p.accept().expect("accept");
    });
    sb.send_udp(v4(PORT), 1, 16, WAIT).expect("send");
    sb.send_udp(v4(PORT + 1), 1, 200, WAIT).expect("send");
    assert_eq!(join(meta).1, 1);
    assert_eq!(join(short).1, 1);
}

/// Sends four packets to a queue of length 2 that nobody reads yet; returns the kernel's row
/// and what was delivered before and after the two queued packets were accepted.
fn overflow(config: Config) -> Option<(linux_nfqueue::QueueStats, u64, u64)> {
    let sb = Sandbox::new_or_skip()?;
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let mut queue = open_in(&sb, config);
    sb.send_udp(v4(PORT), 4, 16, WAIT).expect("send");
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    support::collect_quiet(&mut sink);
    let early = sink.report().datagrams;
    assert_eq!(
        serve(&mut queue, 2, WAIT, |p| p.accept().expect("accept")),
        2
    );
    support::collect_quiet(&mut sink);
    let late = sink.report().datagrams - early;
    assert_eq!(
        queue.counters().received,
        2,
        "only the queued packets reached the socket"
    );
    Some((row, early, late))
}

#[test]
fn a_full_queue_drops_the_overflow() {
    let Some((row, early, late)) = overflow(Config::new(QUEUE).max_queue_len(2)) else {
        return;
    };
    assert_eq!(row.waiting, 2, "kernel: queued ({row:?})");
    assert_eq!(
        row.queue_dropped, 2,
        "kernel: dropped as queue full ({row:?})"
    );
    assert_eq!(
        (early, late),
        (0, 2),
        "(delivered before, after the verdicts)"
    );
}

#[test]
fn fail_open_accepts_the_overflow() {
    let Some((row, early, late)) = overflow(Config::new(QUEUE).max_queue_len(2).fail_open(true))
    else {
        return;
    };
    assert_eq!(row.waiting, 2, "kernel: queued ({row:?})");
    assert_eq!(row.queue_dropped, 0, "kernel: nothing dropped ({row:?})");
    assert_eq!(
        (early, late),
        (2, 2),
        "(accepted by the kernel, accepted by us)"
    );
}

#[test]
fn the_queue_length_can_change_at_run_time() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut queue = open_in(&sb, Config::new(QUEUE));
    queue
        .set_max_queue_len(QUEUE, 1)
        .expect("shorten the queue");
    sb.send_udp(v4(PORT), 3, 16, WAIT).expect("send");
    let row = queue_row(&sb, QUEUE).expect("queue listed");
    assert_eq!((row.waiting, row.queue_dropped), (1, 2), "kernel: {row:?}");
    assert_eq!(
        serve(&mut queue, 1, WAIT, |p| p.accept().expect("accept")),
        1
    );
}

/// Removing a netfilter hook anywhere in the namespace (here: deleting an unrelated nft table)
/// flushes every queue; the held packet is dropped, and its late verdict is answered with
/// ENOENT: counted, reported to the hook, and receiving goes on.
#[test]
fn a_rule_change_flushes_waiting_packets_and_late_verdicts_are_harmless() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let (mut queue, reported) = open_recording_errors(&sb, Config::new(QUEUE));
    add_unrelated_nft_table(&sb);

    sb.send_udp(v4(PORT), 1, 16, WAIT).expect("send");
    let mut held = None;
    assert_eq!(
        serve(&mut queue, 1, WAIT, |p| held = Some(p.into_token())),
        1
    );
    assert_eq!(queue_row(&sb, QUEUE).unwrap().waiting, 1, "kernel: held");
    sb.nft("delete table inet scratch\n")
        .expect("delete the unrelated table");
    assert_eq!(queue_row(&sb, QUEUE).unwrap().waiting, 0, "kernel: flushed");

    held.take()
        .unwrap()
        .accept()
        .expect("the late verdict is sent; the kernel answers ENOENT later");
    assert!(
        wait_until(WAIT, || {
            drain(&mut queue);
            queue.counters().packets_gone == 1
        }),
        "the late verdict's ENOENT was not counted: {:?}",
        queue.counters()
    );
    let errors = reported.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].errno, errors[0].batch), (libc::ENOENT, false));
    assert_eq!(queue.counters().verdict_errors, 0, "ENOENT is not an error");
    support::collect_quiet(&mut sink);
    assert_eq!(sink.report().datagrams, 0, "the flushed packet was dropped");

    // Receiving goes on.
    sb.send_udp(v4(PORT), 3, 16, WAIT).expect("send");
    assert_eq!(
        serve(&mut queue, 3, WAIT, |p| p.accept().expect("accept")),
        3
    );
    support::wait_for(&mut sink, 3);
    assert_eq!(sink.report().datagrams, 3);
}
