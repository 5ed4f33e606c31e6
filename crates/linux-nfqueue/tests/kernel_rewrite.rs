// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of payload rewriting: rewritten UDP datagrams (same length, longer, IPv6) arrive
//! rewritten when the checksums are recomputed, and rewrites the kernel would silently botch
//! are refused before they are sent.

mod support;

use std::sync::{Arc, Mutex};

use linux_nfqueue::checksum;
use linux_nfqueue::testkit::{Chain, CountRule, QueueRule, Sandbox};
use linux_nfqueue::{Config, ErrorKind, Verdict, VerdictAttrs};
use support::{
    UdpPath, WAIT, assert_rule_packets, count_udp_input, join, open_in, queue_udp,
    serve_in_background, udp_path, udp_sink, v4, v6,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 5;
const N: u64 = 20;
/// Bytes of each UDP payload sent: an 8-byte sequence number and 24 filler bytes.
const LEN: usize = 32;

/// Offset of the UDP payload in a queued packet without IP options or extension headers.
fn udp_data(ip: &[u8]) -> usize {
    if ip[0] >> 4 == 4 {
        usize::from(ip[0] & 0x0f) * 4 + 8
    } else {
        48
    }
}

/// Sends `N` datagrams to `dst` through a queue whose handler replaces each packet with
/// `rewrite(original)`; waits for them when they should be `delivered`; returns the payloads that arrived and the
/// INPUT rule's count.
fn run_rewrite(
    ipv6: bool,
    delivered: bool,
    per_packet: bool,
    rewrite: impl Fn(&[u8]) -> Vec<u8> + Send + 'static,
) -> Option<(Vec<Vec<u8>>, u64)> {
    let sb = Sandbox::new_or_skip()?;
    let (dst, queue_rule, count_rule) = if ipv6 {
        (
            v6(PORT),
            QueueRule::new(Chain::Output, QUEUE)
                .ipv6()
                .udp()
                .dport(PORT),
            CountRule::new(Chain::Input).ipv6().udp().dport(PORT),
        )
    } else {
        (
            v4(PORT),
            QueueRule::new(Chain::Output, QUEUE).udp().dport(PORT),
            CountRule::new(Chain::Input).udp().dport(PORT),
        )
    };
    sb.install(&queue_rule).expect("install the queue rule");
    let arrived = sb
        .install_count(&count_rule)
        .expect("install the counting rule");
    let mut sink = sb.udp_sink(dst).expect("bind the receiver");
    sink.keep_payloads(N as usize);
    let queue = open_in(&sb, Config::new(QUEUE).batch_verdicts(!per_packet));

    let server = serve_in_background(queue, N, WAIT, move |p| {
        let new = rewrite(p.payload().expect("packet copied"));
        p.verdict_with(Verdict::Accept, &VerdictAttrs::new().with_payload(&new))
            .expect("accept with a new payload");
    });
    sb.send_udp(dst, N, LEN, WAIT).expect("send");
    let (_queue, served) = join(server);
    assert_eq!(served, N);
    if delivered {
        support::wait_for(&mut sink, N);
    }
    support::collect_quiet(&mut sink);
    let payloads = sink.report().payloads.clone();
    Some((payloads, arrived.packets().unwrap()))
}

/// Keeps the sequence number, replaces the filler with `R`s and appends `extra` bytes of `+`,
/// then fixes lengths and checksums.
fn rewritten(original: &[u8], extra: usize) -> Vec<u8> {
    let data = udp_data(original);
    let mut new = original.to_vec();
    new[data + 8..].fill(b'R');
    new.resize(original.len() + extra, b'+');
    checksum::finalize_rewrite(&mut new).expect("fix the rewritten packet");
    assert!(checksum::verify_checksums(&new).unwrap());
    new
}

fn assert_rewritten(payloads: &[Vec<u8>], extra: usize) {
    assert_eq!(payloads.len() as u64, N, "rewritten datagrams delivered");
    let mut seqs: Vec<u64> = payloads
        .iter()
        .map(|p| {
            assert_eq!(p.len(), LEN + extra, "datagram length");
            assert!(
                p[8..LEN].iter().all(|&b| b == b'R'),
                "filler rewritten: {p:02x?}"
            );
            assert!(
                p[LEN..].iter().all(|&b| b == b'+'),
                "appended bytes: {p:02x?}"
            );
            u64::from_be_bytes(p[..8].try_into().unwrap())
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..N).collect::<Vec<_>>(),
        "every datagram exactly once"
    );
}

#[test]
fn rewritten_udp_payload_of_the_same_length_arrives_rewritten() {
    let Some((payloads, arrived)) = run_rewrite(false, true, false, |p| rewritten(p, 0)) else {
        return;
    };
    assert_rewritten(&payloads, 0);
    assert_eq!(arrived, N, "kernel: packets reaching INPUT");
}

/// Per-packet verdicts send the replacement straight from the handler's slice (a vectored
/// send with the padding as its own part); 3 extra bytes make the padding non-zero.
#[test]
fn per_packet_rewrite_with_padding_arrives_whole() {
    let Some((payloads, arrived)) = run_rewrite(false, true, true, |p| rewritten(p, 3)) else {
        return;
    };
    assert_rewritten(&payloads, 3);
    assert_eq!(arrived, N, "kernel: packets reaching INPUT");
}

#[test]
fn longer_udp_payload_arrives_whole() {
    let Some((payloads, arrived)) = run_rewrite(false, true, false, |p| rewritten(p, 100)) else {
        return;
    };
    assert_rewritten(&payloads, 100);
    assert_eq!(arrived, N, "kernel: packets reaching INPUT");
}

#[test]
fn rewritten_ipv6_udp_payload_arrives_rewritten() {
    let Some((payloads, arrived)) = run_rewrite(true, true, false, |p| rewritten(p, 16)) else {
        return;
    };
    assert_rewritten(&payloads, 16);
    assert_eq!(arrived, N, "kernel: packets reaching INPUT");
}

/// The kernel marks a replaced packet's checksum as not computed, so a stale UDP checksum gets
/// the datagram dropped by UDP after INPUT: what `checksum` exists to prevent.
#[test]
fn rewrite_with_a_stale_checksum_is_dropped_by_the_receiver() {
    let Some((payloads, arrived)) = run_rewrite(false, false, false, |p| {
        let mut new = p.to_vec();
        let data = udp_data(p);
        new[data + 8..].fill(b'R');
        new
    }) else {
        return;
    };
    assert_eq!(
        payloads.len(),
        0,
        "datagrams with a stale checksum were delivered"
    );
    assert_eq!(arrived, N, "kernel: the packets did reach INPUT");
}

/// A truncated packet (copy range smaller than the packet) must not be written back: the
/// kernel would cut the real packet to the copied bytes. The library refuses, and the packet
/// still gets a verdict: the one the caller gives after `try_verdict_with`, or the default
/// one after `verdict_with`.
#[test]
fn rewriting_a_truncated_packet_is_refused_and_the_packet_still_gets_a_verdict() {
    const BIG: usize = 200;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let arrived = count_udp_input(&sb, PORT);
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let queue = open_in(&sb, Config::new(QUEUE).copy_range(40));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();

    let server = serve_in_background(queue, N, WAIT, move |p| {
        assert!(p.is_truncated(), "a {BIG}-byte datagram with copy range 40");
        assert_eq!(
            p.cap_len(),
            Some(28 + BIG as u32),
            "CAP_LEN gives the real length"
        );
        assert_eq!(p.payload().map(<[u8]>::len), Some(40));
        let mut new = p.payload().unwrap().to_vec();
        new[30] ^= 0xff;
        let attrs = VerdictAttrs::new().with_payload(&new);
        let error = if p.id() % 2 == 0 {
            let (p, e) = p
                .try_verdict_with(Verdict::Accept, &attrs)
                .expect_err("a rewrite of a truncated packet was sent");
            p.accept().expect("accept unchanged");
            e
        } else {
            p.verdict_with(Verdict::Accept, &attrs)
                .expect_err("a rewrite of a truncated packet was sent")
        };
        seen.lock().unwrap().push(error.kind());
    });
    sb.send_udp(v4(PORT), N, BIG, WAIT).expect("send");
    let (queue, served) = join(server);
    assert_eq!(served, N);
    support::wait_for(&mut sink, N);
    support::collect_quiet(&mut sink);

    assert!(
        errors
            .lock()
            .unwrap()
            .iter()
            .all(|&k| k == ErrorKind::InvalidInput),
        "{:?}",
        errors.lock().unwrap()
    );
    let got = sink.report();
    assert_eq!(got.distinct, N, "every packet delivered: {got:?}");
    assert_eq!(
        got.bytes,
        N * BIG as u64,
        "delivered whole, not trimmed: {got:?}"
    );
    assert_rule_packets(&arrived, N, "kernel: packets reaching INPUT");
    let c = queue.counters();
    assert_eq!(c.verdicts, N, "{c:?}");
    assert_eq!(
        c.default_verdicts,
        N / 2,
        "the failed verdict_with calls: {c:?}"
    );
}

/// Sends 4 datagrams whose handler answers each with a 10-byte replacement, given by the
/// packet itself or (`via_token`) by a token on another thread. Hands how each `verdict_with`
/// call ended to `check_refused` (which asserts, with its own message, that every one was
/// refused), then asserts that all 4 were delivered by the default verdict (Accept) and
/// counted on INPUT.
fn short_replacements_are_refused(
    via_token: bool,
    check_refused: impl FnOnce(&[Result<(), ErrorKind>]),
) {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let UdpPath {
        arrived, mut sink, ..
    } = udp_path(&sb, QUEUE, PORT);
    let queue = open_in(&sb, Config::new(QUEUE));
    let outcome = Arc::new(Mutex::new(Vec::new()));
    let seen = outcome.clone();

    let server = serve_in_background(queue, 4, WAIT, move |p| {
        let short = p.payload().unwrap()[..10].to_vec();
        let r = if via_token {
            let token = p.into_token();
            std::thread::spawn(move || {
                token.verdict_with(Verdict::Accept, &VerdictAttrs::new().with_payload(&short))
            })
            .join()
            .expect("the answering thread")
        } else {
            p.verdict_with(Verdict::Accept, &VerdictAttrs::new().with_payload(&short))
        };
        seen.lock().unwrap().push(r.map_err(|e| e.kind()));
    });
    sb.send_udp(v4(PORT), 4, LEN, WAIT).expect("send");
    join(server);
    support::collect_quiet(&mut sink);

    check_refused(&outcome.lock().unwrap());
    assert_eq!(
        sink.report().distinct,
        4,
        "the packets got the default verdict, Accept"
    );
    assert_rule_packets(&arrived, 4, "kernel: packets reaching INPUT");
}

/// The kernel silently drops a packet whose replacement is shorter than its transport header
/// offset, and still acknowledges the verdict with success (the CVE-2022-36946 fix,
/// `protocol.md` §7). `Packet::verdict_with` documents that it refuses payloads the kernel
/// would silently drop; such a payload must come back as `InvalidInput`, and the packet must
/// get the default verdict (Accept) instead of vanishing.
#[test]
fn replacement_shorter_than_the_ip_header_is_refused() {
    short_replacements_are_refused(false, |outcome| {
        assert!(
            outcome.iter().all(|r| *r == Err(ErrorKind::InvalidInput)),
            "a 10-byte replacement for a UDP packet was sent to the kernel ({outcome:?}); the \
             kernel drops such a packet silently while acknowledging success, so verdict_with must \
             refuse it (checksum::check_rewrite_len knows how)"
        );
    });
}

/// The same refusal through a verdict token, the path for verdicts decided on other threads.
#[test]
fn a_token_refuses_a_replacement_shorter_than_the_ip_header() {
    short_replacements_are_refused(true, |outcome| {
        assert!(
            outcome.iter().all(|r| *r == Err(ErrorKind::InvalidInput)),
            "VerdictToken::verdict_with sent a 10-byte replacement for a UDP packet ({outcome:?}); \
             the kernel drops such a packet silently while acknowledging success"
        );
    });
}
