// SPDX-License-Identifier: MIT OR Apache-2.0
//! Malformed kernel messages as fixtures: impossible message and attribute lengths, headers
//! cut short, every fixed-size attribute one byte short, unknown message and attribute types,
//! garbage and very deep nesting inside `NFQA_CT` and `NFQA_VLAN`, odd error messages. Each
//! gives a precise error or a harmless `None`, never a panic, and every walk ends.
//!
//! (`codec_construct.rs` has the first malformed cases; `codec_props.rs` and the fuzz targets
//! throw random bytes. These are the named edge cases in between.)

use linux_nfqueue::wire::consts::*;
use linux_nfqueue::wire::{
    AttrIter, ConfigMsgView, DecodeErrorKind, ErrorMsg, Family, Hook, Message, NlMsg, NlMsgIter,
    PacketView, VerdictMsgView,
};

fn nla(ty: u16, val: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(val.len() + 4).unwrap().to_ne_bytes().to_vec();
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(val);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// An attribute header with any `nla_len`, followed by `val` as is.
fn raw_nla(len: u16, ty: u16, val: &[u8]) -> Vec<u8> {
    let mut v = len.to_ne_bytes().to_vec();
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(val);
    v
}

fn header(len: u32, ty: u16) -> Vec<u8> {
    let mut m = len.to_ne_bytes().to_vec();
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&[0; 10]);
    m
}

fn msg(ty: u16, family: u8, queue: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = attrs.concat();
    let mut m = header(u32::try_from(20 + body.len()).unwrap(), ty);
    m.push(family);
    m.push(0);
    m.extend_from_slice(&queue.to_be_bytes());
    m.extend_from_slice(&body);
    m
}

fn hdr(id: u32) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&0x0800u16.to_be_bytes());
    v.push(3);
    nla(NFQA_PACKET_HDR, &v)
}

fn packet(attrs: &[Vec<u8>]) -> Vec<u8> {
    msg(NFQ_TYPE_PACKET, NFPROTO_IPV4, 0, attrs)
}

/// Every message of `buf`, and every attribute of each, walked to the end: no panic, and the
/// walks end within a bound set by the buffer's size. Returns (messages, errors).
fn walk_all(buf: &[u8]) -> (usize, usize) {
    let (mut msgs, mut errors) = (0, 0);
    for m in NlMsgIter::new(buf) {
        msgs += 1;
        assert!(msgs <= buf.len() / 16 + 1, "the message walk does not end");
        let Ok(m) = m else {
            errors += 1;
            continue;
        };
        let mut attrs = 0;
        for a in AttrIter::new(m.payload(), m.offset() + 16) {
            attrs += 1;
            assert!(
                attrs <= buf.len() / 4 + 1,
                "the attribute walk does not end"
            );
            if a.is_err() {
                errors += 1;
            }
        }
        if Message::parse(m).is_err() {
            errors += 1;
        }
    }
    (msgs, errors)
}

#[test]
fn impossible_message_lengths_are_errors_and_end_the_walk() {
    // nlmsg_len 0 (the classic endless loop), 1..15, and past the end of the buffer.
    for len in [0u32, 1, 4, 15, 17, 1000, u32::MAX] {
        let mut buf = header(len, NLMSG_DONE);
        buf.extend_from_slice(&header(16, NLMSG_DONE)); // a good message after it
        let mut it = NlMsgIter::new(&buf);
        let first = it.next().expect("one item");
        if len == 17 {
            // 17 fits (it covers one byte of the next header); the walk then goes on at 20
            // and finds 12 bytes: too short for a header.
            let m = first.expect("a 17-byte message fits in the buffer");
            assert_eq!(m.bytes().len(), 17);
            let e = it.next().expect("a second item").unwrap_err();
            assert_eq!(e.kind(), DecodeErrorKind::Truncated, "len {len}");
        } else {
            let e = first.unwrap_err();
            assert_eq!(e.kind(), DecodeErrorKind::BadMessageLength, "len {len}");
            assert_eq!(e.offset(), 0);
        }
        assert!(it.next().is_none(), "len {len}: the iterator is not fused");
        assert!(it.next().is_none());
        walk_all(&buf);
    }
}

#[test]
fn headers_cut_short_are_truncated() {
    let full = header(16, NLMSG_DONE);
    for cut in 1..16 {
        let e = NlMsgIter::new(&full[..cut]).next().unwrap().unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::Truncated, "{cut} bytes");
        assert_eq!(
            PacketView::parse_bytes(&full[..cut]).unwrap_err().kind(),
            e.kind()
        );
    }
    // A packet message cut inside nfgenmsg, inside PACKET_HDR's header, inside its value.
    let p = packet(&[hdr(1)]);
    for cut in [17, 19, 21, 26] {
        let mut b = p[..cut].to_vec();
        b[..4].copy_from_slice(&u32::try_from(cut).unwrap().to_ne_bytes());
        assert!(PacketView::parse_bytes(&b).is_err(), "cut at {cut}");
        walk_all(&b);
    }
}

#[test]
fn many_tiny_messages_and_trailing_garbage() {
    let mut buf = Vec::new();
    for _ in 0..1000 {
        buf.extend_from_slice(&header(16, NLMSG_NOOP));
    }
    buf.extend_from_slice(&[0xff; 7]);
    let items: Vec<_> = NlMsgIter::new(&buf).collect();
    assert_eq!(items.len(), 1001);
    assert!(items[..1000].iter().all(Result::is_ok));
    assert!(items[1000].is_err());
    assert_eq!(walk_all(&buf), (1001, 1));
}

#[test]
fn impossible_attribute_lengths_are_errors_and_end_the_walk() {
    // nla_len 0 (endless-loop bait), 1..3, past the message, 0xffff.
    for (len, tail) in [
        (0u16, &[][..]),
        (1, &[]),
        (3, &[]),
        (9, &[0u8; 4][..]),
        (0xffff, &[0u8; 8][..]),
    ] {
        let b = msg(
            NFQ_TYPE_PACKET,
            2,
            0,
            &[hdr(1), raw_nla(len, NFQA_MARK, tail)],
        );
        let e = PacketView::parse_bytes(&b).unwrap_err();
        assert_eq!(
            (e.kind(), e.offset(), e.attr()),
            (DecodeErrorKind::BadAttributeLength, 32, Some(NFQA_MARK)),
            "nla_len {len}"
        );
        let mut it = AttrIter::new(&b[20..], 20);
        assert!(it.next().unwrap().is_ok(), "PACKET_HDR");
        assert!(it.next().unwrap().is_err(), "nla_len {len}");
        assert!(it.next().is_none(), "nla_len {len}: not fused");
        walk_all(&b);
    }
    // Two or three stray bytes after the last attribute: too short for a header.
    let mut b = packet(&[hdr(1)]);
    b.extend_from_slice(&[4, 0]);
    let len = u32::try_from(b.len()).unwrap();
    b[..4].copy_from_slice(&len.to_ne_bytes());
    let e = PacketView::parse_bytes(&b).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (DecodeErrorKind::Truncated, 32));
}

#[test]
fn every_fixed_size_attribute_one_byte_short() {
    let fixed = [
        (NFQA_PACKET_HDR, 7),
        (NFQA_MARK, 4),
        (NFQA_TIMESTAMP, 16),
        (NFQA_IFINDEX_INDEV, 4),
        (NFQA_IFINDEX_OUTDEV, 4),
        (NFQA_IFINDEX_PHYSINDEV, 4),
        (NFQA_IFINDEX_PHYSOUTDEV, 4),
        (NFQA_HWADDR, 12),
        (NFQA_CT_INFO, 4),
        (NFQA_CAP_LEN, 4),
        (NFQA_SKB_INFO, 4),
        (NFQA_UID, 4),
        (NFQA_GID, 4),
        (NFQA_PRIORITY, 4),
        (NFQA_CGROUP_CLASSID, 4),
    ];
    for (ty, size) in fixed {
        let short = vec![0xa5u8; size - 1];
        let attrs = if ty == NFQA_PACKET_HDR {
            vec![nla(ty, &short)]
        } else {
            vec![hdr(9), nla(ty, &short)]
        };
        let e = PacketView::parse_bytes(&packet(&attrs)).unwrap_err();
        assert_eq!(
            (e.kind(), e.attr()),
            (DecodeErrorKind::BadAttributeLength, Some(ty)),
            "attribute {ty} with {} bytes",
            size - 1
        );
        assert!(e.to_string().contains("attribute"), "{e}");
        // Exactly the size (or longer) is fine.
        let ok = [hdr(9), nla(ty, &vec![0; size]), nla(ty, &vec![0; size + 5])];
        let ok = if ty == NFQA_PACKET_HDR {
            &ok[1..]
        } else {
            &ok[..]
        };
        assert!(
            PacketView::parse_bytes(&packet(ok)).is_ok(),
            "attribute {ty}"
        );
    }
}

#[test]
fn unknown_types_are_skipped_or_passed_through() {
    // Attribute types the kernel does not (yet) send, with and without flag bits, some empty,
    // some odd-sized, around a normal packet.
    let b = packet(&[
        nla(0, &[1, 2, 3]),
        hdr(5),
        nla(23, &[0; 9]),
        nla(0x3fff, &[]),
        nla(NFQA_MARK | NLA_F_NET_BYTEORDER, &7u32.to_be_bytes()),
        nla(200 | NLA_F_NESTED, &nla(1, &[0; 3])),
        nla(NFQA_PAYLOAD, &[0x45; 5]),
    ]);
    let p = PacketView::parse_bytes(&b).expect("unknown attributes are skipped");
    assert_eq!(p.id(), 5);
    assert_eq!(p.mark(), Some(7), "flag bits are masked off");
    assert_eq!(p.payload(), Some(&[0x45; 5][..]));
    assert_eq!(p.attrs().count(), 7);
    assert!(p.attr(0x3fff).is_some());

    // Odd families and hooks are named as such, not refused.
    let mut odd = msg(
        NFQ_TYPE_PACKET,
        255,
        65535,
        &[nla(NFQA_PACKET_HDR, &[0, 0, 0, 1, 0, 0, 250])],
    );
    let p = PacketView::parse_bytes(&odd).unwrap();
    assert_eq!(p.queue(), 65535);
    assert!(
        matches!(p.family(), Family::Unknown(255)),
        "{:?}",
        p.family()
    );
    assert!(matches!(p.hook(), Hook::Unknown(250)), "{:?}", p.hook());
    // An unknown nfgenmsg version is ignored like the kernel's other spare fields.
    odd[17] = 9;
    assert!(PacketView::parse_bytes(&odd).is_ok());

    // Unknown message types are handed over untouched; the walk goes on past them.
    let mut buf = Vec::new();
    for ty in [NLMSG_NOOP, NLMSG_OVERRUN, 0x0305, 0x1234, 0xffff] {
        buf.extend_from_slice(&msg(ty, 0, 0, &[nla(1, &[1])]));
    }
    buf.extend_from_slice(&packet(&[hdr(6)]));
    let kinds: Vec<_> = NlMsgIter::new(&buf)
        .map(|m| Message::parse(m.unwrap()).unwrap())
        .collect();
    assert_eq!(kinds.len(), 6);
    assert!(kinds[..5].iter().all(|m| matches!(m, Message::Other(_))));
    assert!(matches!(kinds[5], Message::Packet(p) if p.id() == 6));
}

#[test]
fn garbage_inside_nests_gives_none() {
    let garbage: [&[u8]; 5] = [
        &[],
        &[0xff],
        &[0, 0, 0, 0],         // nla_len 0
        &[200, 0, 1, 0, 1, 2], // nla_len past the nest
        &[5, 0, 0x01, 0x80, 1, 0, 0, 0, 2, 0],
    ];
    for g in garbage {
        let b = packet(&[
            hdr(1),
            nla(NFQA_VLAN | NLA_F_NESTED, g),
            nla(NFQA_CT | NLA_F_NESTED, g),
        ]);
        let p = PacketView::parse_bytes(&b).expect("nests are decoded lazily");
        assert_eq!(p.vlan(), None, "{g:?}");
        let ct = p.ct().expect("the CT nest is there");
        assert_eq!(
            (ct.id(), ct.mark(), ct.zone(), ct.timeout(), ct.use_count()),
            (None, None, None, None, None),
            "{g:?}"
        );
        assert!(ct.status().is_none() && ct.labels().is_none(), "{g:?}");
        // A tuple nest that is garbage inside reads as a tuple with nothing in it.
        for t in [ct.orig(), ct.reply()].into_iter().flatten() {
            assert_eq!(
                (t.src, t.dst, t.proto, t.src_port),
                (None, None, None, None)
            );
        }
        assert!(ct.attrs().count() <= 2, "{g:?}");
    }

    // A VLAN nest with a one-byte TCI; a CT nest whose fixed fields are short and whose
    // tuples hold garbage.
    let b = packet(&[
        hdr(1),
        nla(
            NFQA_VLAN | NLA_F_NESTED,
            &[nla(NFQA_VLAN_PROTO, &[0x81, 0]), nla(NFQA_VLAN_TCI, &[5])].concat(),
        ),
        nla(
            NFQA_CT | NLA_F_NESTED,
            &[
                nla(CTA_ID, &[1, 2]),
                nla(CTA_MARK, &[]),
                nla(CTA_STATUS, &[1]),
                nla(CTA_TUPLE_ORIG | NLA_F_NESTED, &[0xff; 3]),
                nla(
                    CTA_TUPLE_REPLY | NLA_F_NESTED,
                    &nla(CTA_TUPLE_IP | NLA_F_NESTED, &nla(CTA_IP_V4_SRC, &[10, 0])),
                ),
            ]
            .concat(),
        ),
    ]);
    let p = PacketView::parse_bytes(&b).unwrap();
    assert_eq!(p.vlan(), None, "one-byte TCI");
    let ct = p.ct().unwrap();
    assert_eq!((ct.id(), ct.mark(), ct.status()), (None, None, None));
    let orig = ct.orig().expect("the tuple nest is present");
    assert_eq!((orig.src, orig.dst, orig.proto), (None, None, None));
    let reply = ct.reply().expect("the tuple nest is present");
    assert_eq!(reply.src, None, "a two-byte IPv4 address");
}

#[test]
fn very_deep_nesting_is_walked_without_recursion() {
    // 16 000 empty nests inside each other (the most a 16-bit nla_len allows), in NFQA_CT.
    const DEPTH: usize = 16_000;
    let mut nest: Vec<u8> = Vec::new();
    for _ in 0..DEPTH {
        let mut outer = u16::try_from(nest.len() + 4)
            .unwrap()
            .to_ne_bytes()
            .to_vec();
        outer.extend_from_slice(&(CTA_TUPLE_ORIG | NLA_F_NESTED).to_ne_bytes());
        outer.extend_from_slice(&nest);
        nest = outer;
    }
    let b = packet(&[
        hdr(1),
        raw_nla(u16::try_from(nest.len() + 4).unwrap(), NFQA_CT, &nest),
    ]);
    let p = PacketView::parse_bytes(&b).expect("parses");
    let ct = p.ct().expect("CT present");
    // The outermost tuple is read (what it yields from such bytes does not matter; only that
    // reading it ends).
    assert!(ct.orig().is_some());
    // Walk all the way down by hand.
    let mut depth = 0;
    let mut cur = ct.attrs().next().unwrap().unwrap();
    while let Some(Ok(inner)) = cur.nested().next() {
        cur = inner;
        depth += 1;
    }
    assert_eq!(depth, DEPTH - 1);
    walk_all(&b);
}

#[test]
fn odd_error_messages() {
    // errno i32::MIN (no overflow), a positive "errno", and an echoed length of 0.
    for raw in [i32::MIN, 5, 0] {
        let mut b = header(36, NLMSG_ERROR);
        b.extend_from_slice(&raw.to_ne_bytes());
        b.extend_from_slice(&header(0, NFQ_TYPE_VERDICT));
        let e = ErrorMsg::parse(NlMsg::parse(&b, 0).unwrap()).unwrap();
        assert_eq!(e.raw_error(), raw);
        let _ = (
            e.errno(),
            e.is_ack(),
            e.seq(),
            e.echoed_payload(),
            e.ext_ack_msg(),
        );
    }
    // Extended-ack TLVs that are garbage: no message, no offset.
    let mut b = header(44, NLMSG_ERROR);
    b[6..8].copy_from_slice(&(NLM_F_CAPPED | NLM_F_ACK_TLVS).to_ne_bytes());
    b.extend_from_slice(&(-22i32).to_ne_bytes());
    b.extend_from_slice(&header(20, NFQ_TYPE_CONFIG));
    b.extend_from_slice(&[0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff]);
    let e = ErrorMsg::parse(NlMsg::parse(&b, 0).unwrap()).unwrap();
    assert_eq!(e.errno(), 22);
    assert_eq!((e.ext_ack_msg(), e.ext_ack_offset()), (None, None));
    assert!(e.ext_ack_attrs().count() <= 1);
    // An error message with nothing after its header.
    let b = header(16, NLMSG_ERROR);
    let err = Message::parse(NlMsg::parse(&b, 0).unwrap()).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::Truncated);
}

#[test]
fn malformed_requests_are_errors_too() {
    // The request parsers (used by tests and tools that inspect what is sent) share the
    // framing checks: short VERDICT_HDR, short nfgenmsg, wrong type.
    let b = msg(NFQ_TYPE_VERDICT, 0, 1, &[nla(NFQA_VERDICT_HDR, &[0; 7])]);
    assert!(VerdictMsgView::parse(NlMsg::parse(&b, 0).unwrap()).is_err());
    let b = msg(NFQ_TYPE_VERDICT, 0, 1, &[raw_nla(2, NFQA_VERDICT_HDR, &[])]);
    assert!(VerdictMsgView::parse(NlMsg::parse(&b, 0).unwrap()).is_err());
    let mut b = header(18, NFQ_TYPE_CONFIG);
    b.extend_from_slice(&[0, 0]);
    assert!(ConfigMsgView::parse(NlMsg::parse(&b, 0).unwrap()).is_err());
    let b = msg(NFQ_TYPE_PACKET, 0, 1, &[hdr(1)]);
    let e = ConfigMsgView::parse(NlMsg::parse(&b, 0).unwrap()).unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::WrongMessageType);
}
