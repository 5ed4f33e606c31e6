// SPDX-License-Identifier: MIT OR Apache-2.0
//! Property tests: parsing never panics or loops, and emit-then-parse gives back what was
//! emitted.

#[path = "fixtures/mod.rs"]
mod fixtures;

use linux_nfqueue::wire::consts::*;
use linux_nfqueue::wire::{
    AttrIter, ConfigCmd, ConfigFlags, ConfigMsgView, ConfigRequest, CopyMode, CtUpdate,
    EncodeError, ErrorMsg, Message, MessageBuffer, NlMsgIter, PacketView, Verdict, VerdictAttrs,
    VerdictMsgView, encode_batch_verdict, encode_config, encode_verdict, encode_verdict_head,
    verdict_len,
};
use proptest::prelude::*;

/// Calls every accessor; returns a number so nothing is optimised away.
fn touch_packet(p: &PacketView<'_>) -> usize {
    let mut n = 0usize;
    n += usize::from(p.queue()) + p.id() as usize + usize::from(p.hw_protocol());
    n += p.family().name().len() + p.hook().name().len() + usize::from(p.hook().raw());
    n += p.mark().is_some() as usize
        + p.timestamp()
            .map_or(0, |t| t.to_system_time().is_some() as usize);
    n += [p.indev(), p.outdev(), p.physindev(), p.physoutdev()]
        .iter()
        .flatten()
        .count();
    n += p.hw_addr().map_or(0, <[u8]>::len) + p.payload().map_or(0, <[u8]>::len);
    if let Some(ct) = p.ct() {
        n += ct.id().is_some() as usize
            + ct.status().map_or(0, |s| s.bits() as usize & 1)
            + ct.mark().is_some() as usize
            + ct.zone().is_some() as usize
            + ct.timeout().is_some() as usize
            + ct.use_count().is_some() as usize
            + ct.labels().map_or(0, <[u8]>::len)
            + ct.orig().map_or(0, |t| t.proto.is_some() as usize)
            + ct.reply().map_or(0, |t| t.src.is_some() as usize)
            + ct.raw().len();
        n += ct.attrs().take(10_000).count();
    }
    n += p.ct_raw().map_or(0, <[u8]>::len) + p.ct_info().map_or(0, |c| u32::from(c) as usize);
    n += p.cap_len().is_some() as usize + p.is_truncated() as usize;
    n += p.skb_info().bits() as usize & 7;
    n += p.exp_raw().map_or(0, <[u8]>::len);
    n += p.uid().is_some() as usize + p.gid().is_some() as usize;
    n += p.secctx().map_or(0, <[u8]>::len);
    n += p.vlan().map_or(0, |v| usize::from(v.id()));
    n += p.l2hdr().map_or(0, <[u8]>::len);
    n += p.priority().is_some() as usize + p.cgroup_classid().is_some() as usize;
    n += p.attrs().take(100_000).count();
    n += format!("{p:?}").len();
    n
}

fn touch_error(e: &ErrorMsg<'_>) -> usize {
    (e.errno() as usize)
        .wrapping_add(e.is_ack() as usize)
        .wrapping_add(e.request().len as usize)
        .wrapping_add(e.seq() as usize)
        .wrapping_add(e.capped() as usize)
        .wrapping_add(e.echoed_payload().len())
        .wrapping_add(e.ext_ack_msg().map_or(0, <[u8]>::len))
        .wrapping_add(e.ext_ack_offset().unwrap_or(0) as usize)
}

/// Everything a receive loop would do with a datagram; asserts termination bounds.
fn walk(buf: &[u8]) {
    let mut count = 0;
    let mut it = NlMsgIter::new(buf);
    for m in it.by_ref() {
        count += 1;
        assert!(count <= buf.len() / 16 + 1, "iterator must advance");
        let Ok(m) = m else { continue };
        assert!(m.offset() + m.bytes().len() <= buf.len());
        let attrs = AttrIter::new(m.payload(), m.offset() + 16);
        assert!(attrs.take(buf.len()).count() <= buf.len() / 4 + 1);
        match Message::parse(m) {
            Ok(Message::Packet(p)) => {
                touch_packet(&p);
            }
            Ok(Message::Error(e)) => {
                touch_error(&e);
            }
            Ok(Message::Done | Message::Other(_)) | Err(_) => {}
        }
        let _ = PacketView::parse(m).map(|p| touch_packet(&p));
        let _ = VerdictMsgView::parse(m).map(|v| (v.verdict(), v.ct_update(), v.payload()));
        let _ = ConfigMsgView::parse(m).map(|c| (c.cmd(), c.params(), c.flags()));
    }
    assert!(it.next().is_none(), "fused");
}

fn fixture_bytes() -> impl Strategy<Value = Vec<u8>> {
    (0..fixtures::ALL.len()).prop_map(|i| fixtures::decode(fixtures::ALL[i].1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..400)) {
        walk(&buf);
    }

    /// Real datagrams with a few bytes changed, cut short, or concatenated.
    #[test]
    fn mutated_fixtures_never_panic(
        base in fixture_bytes(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        twice in any::<bool>(),
    ) {
        let mut b = base.clone();
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        let cut = cut.index(b.len() + 1);
        b.truncate(cut);
        if twice {
            let mut c = b.clone();
            while c.len() % 4 != 0 { c.push(0); }
            c.extend_from_slice(&base);
            walk(&c);
        }
        walk(&b);
    }
}

fn verdict_strategy() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        Just(Verdict::Drop),
        Just(Verdict::Accept),
        Just(Verdict::Repeat),
        Just(Verdict::Stop),
        (any::<u16>(), any::<bool>()).prop_map(|(num, bypass)| Verdict::Queue { num, bypass }),
    ]
}

fn ct_strategy() -> impl Strategy<Value = Option<CtUpdate>> {
    proptest::option::of(
        (
            proptest::option::of((any::<u32>(), any::<u32>())),
            proptest::option::of((any::<[u8; 16]>(), any::<[u8; 16]>())),
        )
            .prop_map(|(mark, labels)| {
                let mut c = CtUpdate::new();
                if let Some((v, m)) = mark {
                    c = c.with_mark(v, m);
                }
                if let Some((v, m)) = labels {
                    c = c.with_labels(v, m);
                }
                c
            }),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn verdict_round_trip(
        seq in any::<u32>(), flags in any::<u16>(), queue in any::<u16>(), id in any::<u32>(),
        v in verdict_strategy(),
        mark in proptest::option::of(any::<u32>()),
        priority in proptest::option::of(any::<u32>()),
        payload in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        ct in ct_strategy(),
    ) {
        let mut attrs = VerdictAttrs::new();
        attrs.mark = mark;
        attrs.priority = priority;
        attrs.payload = payload.as_deref();
        attrs.conntrack = ct;
        let len = verdict_len(&attrs);
        let mut out = vec![0xa5u8; len + 8];
        let n = encode_verdict(&mut out, seq, flags, queue, id, v, &attrs).unwrap();
        prop_assert_eq!(n, len);
        prop_assert_eq!(n % 4, 0);
        prop_assert!(out[n..].iter().all(|&b| b == 0xa5));
        let msgs: Vec<_> = NlMsgIter::new(&out[..n]).collect();
        prop_assert_eq!(msgs.len(), 1);
        let m = msgs[0].unwrap();
        prop_assert_eq!(m.header().len as usize, n);
        prop_assert_eq!(m.header().seq, seq);
        prop_assert_eq!(m.header().flags, flags | NLM_F_REQUEST);
        let view = VerdictMsgView::parse(m).unwrap();
        prop_assert_eq!(view.queue(), queue);
        prop_assert_eq!(view.id(), id);
        prop_assert_eq!(view.verdict(), Some(v));
        prop_assert_eq!(view.mark(), mark);
        prop_assert_eq!(view.priority(), priority);
        prop_assert_eq!(view.payload(), payload.as_deref());
        prop_assert_eq!(view.ct_update(), ct);
        prop_assert!(!view.is_batch());
        // The payload attribute, if any, is last, and nla_len excludes the padding.
        let last = AttrIter::new(&out[20..n], 20).map(Result::unwrap).last().unwrap();
        if let Some(p) = &payload {
            prop_assert_eq!(last.kind(), NFQA_PAYLOAD);
            prop_assert_eq!(last.value().len(), p.len());
        }
        // Head-only encoding agrees.
        let mut head = vec![0u8; n];
        let (h, pad) = encode_verdict_head(&mut head, seq, flags, queue, id, v, &attrs).unwrap();
        prop_assert_eq!(h + payload.as_ref().map_or(0, Vec::len) + pad, n);
        prop_assert_eq!(&head[..h], &out[..h]);
        // One byte short fails cleanly.
        let short = encode_verdict(&mut out[..n - 1], seq, flags, queue, id, v, &attrs);
        prop_assert!(matches!(short, Err(EncodeError::BufferTooSmall { .. })), "short buffer");
    }

    #[test]
    fn batch_round_trip(
        seq in any::<u32>(), queue in any::<u16>(), max_id in any::<u32>(),
        v in verdict_strategy(),
        mark in proptest::option::of(any::<u32>()),
        priority in proptest::option::of(any::<u32>()),
    ) {
        let mut out = [0u8; 64];
        let n = encode_batch_verdict(&mut out, seq, 0, queue, max_id, v, mark, priority).unwrap();
        let m = NlMsgIter::new(&out[..n]).next().unwrap().unwrap();
        let view = VerdictMsgView::parse(m).unwrap();
        prop_assert!(view.is_batch());
        prop_assert_eq!((view.queue(), view.id(), view.verdict()), (queue, max_id, Some(v)));
        prop_assert_eq!((view.mark(), view.priority()), (mark, priority));
    }

    #[test]
    fn config_round_trip(
        seq in any::<u32>(), queue in any::<u16>(),
        cmd in proptest::option::of(any::<u8>()),
        params in proptest::option::of((any::<u8>(), any::<u32>())),
        maxlen in proptest::option::of(any::<u32>()),
        fl in proptest::option::of((any::<u32>(), any::<u32>())),
    ) {
        let mut req = ConfigRequest::new();
        req.cmd = cmd.map(ConfigCmd::from);
        req.params = params.map(|(m, r)| (CopyMode::from(m), r));
        req.queue_maxlen = maxlen;
        req.flags = fl.map(|(v, m)| (ConfigFlags::from_bits_retain(v), ConfigFlags::from_bits_retain(m)));
        let mut out = [0u8; 64];
        let n = encode_config(&mut out, seq, NLM_F_ACK, queue, &req).unwrap();
        let m = NlMsgIter::new(&out[..n]).next().unwrap().unwrap();
        let v = ConfigMsgView::parse(m).unwrap();
        prop_assert_eq!(v.queue(), queue);
        prop_assert_eq!(v.cmd(), req.cmd);
        prop_assert_eq!(v.params(), req.params);
        prop_assert_eq!(v.maxlen(), maxlen);
        prop_assert_eq!(v.flags(), req.flags.map(|f| f.0));
        prop_assert_eq!(v.mask(), req.flags.map(|f| f.1));
    }

    /// Several messages in one buffer iterate back in order with their contents.
    #[test]
    fn message_buffer_round_trip(
        items in proptest::collection::vec(
            (0u8..3, any::<u32>(), verdict_strategy(), proptest::collection::vec(any::<u8>(), 0..40)),
            1..12,
        )
    ) {
        let mut mb = MessageBuffer::new();
        for (i, (kind, x, v, payload)) in items.iter().enumerate() {
            let seq = i as u32 + 1;
            match kind {
                0 => mb.push_verdict(seq, 0, 3, *x, *v, &VerdictAttrs::new().with_payload(payload)).unwrap(),
                1 => mb.push_batch_verdict(seq, 0, 3, *x, *v, Some(*x), None).unwrap(),
                _ => mb.push_config(seq, 0, 3, &ConfigRequest::new().with_queue_maxlen(*x)).unwrap(),
            }
        }
        prop_assert_eq!(mb.message_count(), items.len());
        prop_assert_eq!(mb.len() % 4, 0);
        let msgs: Vec<_> = NlMsgIter::new(mb.as_bytes()).map(Result::unwrap).collect();
        prop_assert_eq!(msgs.len(), items.len());
        for (i, (m, (kind, x, v, payload))) in msgs.iter().zip(&items).enumerate() {
            prop_assert_eq!(m.header().seq, i as u32 + 1);
            match kind {
                0 => {
                    let view = VerdictMsgView::parse(*m).unwrap();
                    prop_assert_eq!((view.id(), view.verdict(), view.payload()), (*x, Some(*v), Some(&payload[..])));
                }
                1 => {
                    let view = VerdictMsgView::parse(*m).unwrap();
                    prop_assert!(view.is_batch());
                    prop_assert_eq!((view.id(), view.mark()), (*x, Some(*x)));
                }
                _ => prop_assert_eq!(ConfigMsgView::parse(*m).unwrap().maxlen(), Some(*x)),
            }
        }
    }

    #[test]
    fn verdict_text_and_raw_round_trip(v in verdict_strategy(), junk in any::<u32>()) {
        prop_assert_eq!(v.to_string().parse::<Verdict>(), Ok(v));
        prop_assert_eq!(Verdict::from_raw(v.to_raw()), Some(v));
        // from_raw never panics and agrees with the kernel's code check.
        let code = junk & NF_VERDICT_MASK;
        prop_assert_eq!(Verdict::from_raw(junk).is_some(), code <= NF_MAX_VERDICT && code != NF_STOLEN);
    }
}
