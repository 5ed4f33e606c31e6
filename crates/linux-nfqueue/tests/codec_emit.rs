// SPDX-License-Identifier: MIT OR Apache-2.0
//! Byte-exact checks of the encoders against requests the Linux 6.18 kernel accepted.
//!
//! `tools/capture/capture.py` sent each `emit_*` fixture, as produced by this crate's encoder
//! (through `tools/capture/encoder`, checked against the script's own `struct.pack` bytes), to
//! the kernel and recorded its answer
//! (in the fixture's comments: "kernel answer: NLMSG_ERROR error 0", packet delivered, ...).
//! Here the Rust encoders must produce exactly those bytes, and the read-back views must
//! recover every field. Host-order headers make these little-endian only.
#![cfg(target_endian = "little")]

#[path = "fixtures/mod.rs"]
mod fixtures;

use linux_nfqueue::wire::consts::*;
use linux_nfqueue::wire::{
    ConfigCmd, ConfigFlags, ConfigMsgView, ConfigRequest, CopyMode, CtUpdate, MessageBuffer,
    NlMsgIter, Verdict, VerdictAttrs, VerdictMsgView, batch_verdict_len, config_len,
    encode_batch_verdict, encode_config, encode_verdict, encode_verdict_head, verdict_len,
};

const ACK: u16 = NLM_F_ACK;

/// Encodes into a 0xa5-filled buffer (so forgotten bytes show) and compares with the fixture.
fn check(name: &str, f: impl FnOnce(&mut [u8]) -> usize) -> Vec<u8> {
    let want = fixtures::get(name);
    let notes = fixtures::notes(name);
    assert!(
        notes.contains("kernel answer: NLMSG_ERROR error"),
        "{name} records the kernel's answer"
    );
    assert!(
        notes.contains("bytes from the Rust encoder"),
        "{name} was sent as produced by this crate's encoder"
    );
    let mut out = vec![0xa5u8; 200];
    let n = f(&mut out);
    assert_eq!(&out[..n], &want[..], "{name}");
    assert!(
        out[n..].iter().all(|&b| b == 0xa5),
        "{name}: wrote past its length"
    );
    want
}

fn config_view(b: &[u8]) -> ConfigMsgView {
    ConfigMsgView::parse(NlMsgIter::new(b).next().unwrap().unwrap()).unwrap()
}

fn verdict_view(b: &[u8]) -> VerdictMsgView<'_> {
    VerdictMsgView::parse(NlMsgIter::new(b).next().unwrap().unwrap()).unwrap()
}

fn cfg(name: &str, seq: u32, queue: u16, req: ConfigRequest) -> ConfigMsgView {
    let b = check(name, |out| {
        let n = encode_config(out, seq, ACK, queue, &req).unwrap();
        assert_eq!(n, config_len(&req));
        n
    });
    assert!(fixtures::notes(name).contains("error 0") || !name.contains("bind_packet"));
    let v = config_view(&b);
    assert_eq!(v.header().seq, seq);
    assert_eq!(v.header().flags, NLM_F_REQUEST | NLM_F_ACK);
    assert_eq!(v.header().pid, 0);
    assert_eq!(v.queue(), queue);
    assert_eq!(v.family(), 0);
    assert_eq!(v.cmd(), req.cmd);
    if req.cmd.is_some() {
        assert_eq!(v.cmd_pf(), Some(0));
    }
    assert_eq!(v.params(), req.params);
    assert_eq!(v.maxlen(), req.queue_maxlen);
    assert_eq!(v.flags(), req.flags.map(|f| f.0));
    assert_eq!(v.mask(), req.flags.map(|f| f.1));
    v
}

#[test]
fn emit_configs() {
    let bind = ConfigRequest::bind()
        .with_params(CopyMode::Packet, 0xffff)
        .with_queue_maxlen(1024);
    cfg("emit_config_bind_packet", 1, 5, bind);
    cfg(
        "emit_config_bind_uidgid",
        1,
        5,
        bind.with_flags(ConfigFlags::UID_GID, ConfigFlags::UID_GID),
    );
    cfg(
        "emit_config_bind_gso",
        1,
        8,
        ConfigRequest::bind()
            .with_params(CopyMode::Packet, 128)
            .with_queue_maxlen(1024)
            .with_flags(
                ConfigFlags::GSO | ConfigFlags::FAIL_OPEN,
                ConfigFlags::GSO | ConfigFlags::FAIL_OPEN,
            ),
    );
    cfg(
        "emit_config_bind_range64",
        1,
        5,
        ConfigRequest::bind()
            .with_params(CopyMode::Packet, 64)
            .with_queue_maxlen(16),
    );
    cfg(
        "emit_config_params_meta",
        3,
        5,
        ConfigRequest::new().with_params(CopyMode::Meta, 0),
    );
    cfg("emit_config_bind_again", 9, 5, ConfigRequest::bind());
    cfg(
        "emit_config_flags_conntrack",
        11,
        5,
        ConfigRequest::new().with_flags(ConfigFlags::CONNTRACK, ConfigFlags::CONNTRACK),
    );
    let v = cfg("emit_config_unbind", 12, 5, ConfigRequest::unbind());
    assert_eq!(v.cmd(), Some(ConfigCmd::Unbind));
    cfg("emit_config_unbind_again", 13, 5, ConfigRequest::unbind());
    // What the kernel said about each, as recorded at capture time.
    for (name, err) in [
        ("emit_config_bind_packet", 0),
        ("emit_config_bind_uidgid", 0),
        ("emit_config_bind_gso", 0),
        ("emit_config_bind_range64", 0),
        ("emit_config_params_meta", 0),
        ("emit_config_unbind", 0),
        ("emit_config_bind_again", -16),
        ("emit_config_flags_conntrack", -95),
        ("emit_config_unbind_again", -19),
    ] {
        let notes = fixtures::notes(name);
        assert!(
            notes.contains(&format!("kernel answer: NLMSG_ERROR error {err} ")),
            "{name}: {notes}"
        );
    }
}

#[allow(clippy::too_many_arguments, reason = "test helper")]
fn verdict(
    name: &str,
    seq: u32,
    queue: u16,
    id: u32,
    v: Verdict,
    attrs: VerdictAttrs<'_>,
) -> Vec<u8> {
    let b = check(name, |out| {
        let n = encode_verdict(out, seq, ACK, queue, id, v, &attrs).unwrap();
        assert_eq!(n, verdict_len(&attrs));
        n
    });
    assert!(fixtures::notes(name).contains("kernel answer: NLMSG_ERROR error 0 "));
    let view = verdict_view(&b);
    assert!(!view.is_batch());
    assert_eq!(view.header().seq, seq);
    assert_eq!(view.header().flags, NLM_F_REQUEST | NLM_F_ACK);
    assert_eq!((view.queue(), view.id(), view.family()), (queue, id, 0));
    assert_eq!(view.verdict(), Some(v));
    assert_eq!(view.verdict_raw(), v.to_raw());
    assert_eq!(view.mark(), attrs.mark);
    assert_eq!(view.priority(), attrs.priority);
    assert_eq!(view.payload(), attrs.payload);
    assert_eq!(view.ct_update(), attrs.conntrack);
    b
}

#[test]
fn emit_verdicts() {
    verdict(
        "emit_verdict_accept",
        2,
        5,
        1,
        Verdict::Accept,
        VerdictAttrs::new(),
    );
    verdict(
        "emit_verdict_drop",
        3,
        5,
        2,
        Verdict::Drop,
        VerdictAttrs::new(),
    );
    verdict(
        "emit_verdict_mark_prio",
        2,
        5,
        1,
        Verdict::Accept,
        VerdictAttrs::new().with_mark(0x77).with_priority(5),
    );
    verdict(
        "emit_verdict_queue77_bypass",
        4,
        5,
        3,
        Verdict::Queue {
            num: 77,
            bypass: true,
        },
        VerdictAttrs::new(),
    );
    assert!(fixtures::notes("emit_verdict_queue77_bypass").contains("delivered"));
    assert!(fixtures::notes("emit_verdict_mark_prio").contains("counted 1 packet"));
}

#[test]
fn emit_verdict_payload_and_zero_copy_head() {
    let want = fixtures::get("emit_verdict_payload");
    // The replacement packet is the NFQA_PAYLOAD value the kernel accepted.
    let payload = &want[36..36 + 43];
    assert_eq!(&payload[payload.len() - 15..], b"PONG-REWRITTEN!");
    let attrs = VerdictAttrs::new().with_payload(payload);
    verdict("emit_verdict_payload", 2, 5, 1, Verdict::Accept, attrs);
    assert!(fixtures::notes("emit_verdict_payload").contains("PONG-REWRITTEN"));
    // head + payload + padding, as three iovecs, gives the same bytes.
    let mut head = [0xa5u8; 64];
    let (h, pad) = encode_verdict_head(&mut head, 2, ACK, 5, 1, Verdict::Accept, &attrs).unwrap();
    assert_eq!((h, pad), (36, 1));
    let mut joined = head[..h].to_vec();
    joined.extend_from_slice(payload);
    joined.extend(std::iter::repeat_n(0u8, pad));
    assert_eq!(joined, want);
}

#[test]
fn emit_verdict_ct_matches_ctnetlink_glue_parse() {
    let mut label = [0u8; 16];
    label[0] = 0x80;
    let mut mask = [0u8; 16];
    mask[0] = 0xff;
    let ct = CtUpdate::new().with_mark(1, 0xff).with_labels(label, mask);
    let b = verdict(
        "emit_verdict_ct",
        3,
        5,
        2,
        Verdict::Accept,
        VerdictAttrs::new().with_mark(5).with_conntrack(ct),
    );
    // Field by field, what net/netfilter/nf_conntrack_netlink.c reads in
    // ctnetlink_glue_parse(): nla_parse_nested_deprecated(cda, CTA_MAX, attr, ct_nla_policy)
    // with CTA_MARK and CTA_MARK_MASK as NLA_U32 (ctnetlink_change_mark: new =
    // (old & ~mask) ^ mark) and CTA_LABELS / CTA_LABELS_MASK as NLA_BINARY of at most 16
    // bytes, a multiple of 4, of equal length (ctnetlink_attach_labels).
    let view = verdict_view(&b);
    let nest = view.ct_raw().unwrap();
    let outer = linux_nfqueue::wire::AttrIter::new(&b[20..], 20)
        .map(Result::unwrap)
        .find(|a| a.kind() == NFQA_CT)
        .unwrap();
    assert!(outer.is_nested(), "NLA_F_NESTED set on NFQA_CT");
    assert_eq!(outer.raw_type(), NFQA_CT | NLA_F_NESTED);
    let inner: Vec<_> = linux_nfqueue::wire::AttrIter::new(nest, 0)
        .map(Result::unwrap)
        .map(|a| (a.raw_type(), a.value().to_vec()))
        .collect();
    assert_eq!(
        inner,
        vec![
            (CTA_MARK, 1u32.to_be_bytes().to_vec()),
            (CTA_MARK_MASK, 0xffu32.to_be_bytes().to_vec()),
            (CTA_LABELS, label.to_vec()),
            (CTA_LABELS_MASK, mask.to_vec()),
        ]
    );
    let notes = fixtures::notes("emit_verdict_ct");
    assert!(notes.contains("error 0") && notes.contains("delivered"));
}

#[test]
fn emit_batches() {
    for (name, seq, max_id, v, mark, prio) in [
        (
            "emit_batch_accept_mark",
            2,
            3,
            Verdict::Accept,
            Some(0x10),
            None,
        ),
        (
            "emit_batch_drop_prio_empty",
            3,
            10,
            Verdict::Drop,
            None,
            Some(1),
        ),
    ] {
        let b = check(name, |out| {
            let n = encode_batch_verdict(out, seq, ACK, 5, max_id, v, mark, prio).unwrap();
            assert_eq!(n, batch_verdict_len(mark, prio));
            n
        });
        let view = verdict_view(&b);
        assert!(view.is_batch());
        assert_eq!(
            (view.queue(), view.id(), view.verdict()),
            (5, max_id, Some(v))
        );
        assert_eq!((view.mark(), view.priority()), (mark, prio));
        assert_eq!(view.payload(), None);
    }
    assert!(fixtures::notes("emit_batch_accept_mark").contains("all 3 packets delivered"));
    assert!(fixtures::notes("emit_batch_drop_prio_empty").contains("error -2 "));
}

#[test]
fn unknown_attribute_in_a_request_is_skipped() {
    let b = fixtures::get("req_verdict_unknown_attr40");
    let v = verdict_view(&b);
    assert_eq!(
        (v.queue(), v.id(), v.verdict()),
        (5, 4, Some(Verdict::Accept))
    );
    assert_eq!(v.priority(), Some(7));
    assert_eq!(v.mark(), None);
    let kinds: Vec<u16> = linux_nfqueue::wire::AttrIter::new(&b[20..], 20)
        .map(|a| a.unwrap().kind())
        .collect();
    assert_eq!(kinds, [NFQA_VERDICT_HDR, 40, NFQA_PRIORITY]);
}

/// Several requests in one buffer: the same bytes as the fixtures, back to back.
#[test]
fn message_buffer_concatenates_fixtures() {
    let mut mb = MessageBuffer::with_capacity(512);
    let bind = ConfigRequest::bind()
        .with_params(CopyMode::Packet, 0xffff)
        .with_queue_maxlen(1024);
    mb.push_config(1, ACK, 5, &bind).unwrap();
    mb.push_verdict(2, ACK, 5, 1, Verdict::Accept, &VerdictAttrs::new())
        .unwrap();
    mb.push_batch_verdict(2, ACK, 5, 3, Verdict::Accept, Some(0x10), None)
        .unwrap();
    mb.push_verdict(
        2,
        ACK,
        5,
        1,
        Verdict::Accept,
        &VerdictAttrs::new().with_mark(0x77).with_priority(5),
    )
    .unwrap();
    let mut want = Vec::new();
    for n in [
        "emit_config_bind_packet",
        "emit_verdict_accept",
        "emit_batch_accept_mark",
        "emit_verdict_mark_prio",
    ] {
        want.extend(fixtures::get(n));
    }
    assert_eq!(mb.as_bytes(), &want[..]);
    assert_eq!(mb.message_count(), 4);
    assert_eq!(NlMsgIter::new(mb.as_bytes()).count(), 4);
}
