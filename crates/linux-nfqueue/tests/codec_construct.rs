// SPDX-License-Identifier: MIT OR Apache-2.0
//! Constructed packet messages for what the capture kernel could not send (bridge family with
//! VLAN and L2HDR, conntrack, secctx, cgroup classid, netdev and ARP hooks) and for malformed
//! input. Built with `to_ne_bytes`, so these run on any byte order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use linux_nfqueue::wire::consts::*;
use linux_nfqueue::wire::{
    CtInfo, CtStatus, DecodeErrorKind, ErrorMsg, Family, Hook, Message, NlMsg, NlMsgIter,
    PacketView, Vlan,
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

fn msg(ty: u16, family: u8, queue: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = attrs.concat();
    let len = 20 + body.len();
    let mut m = u32::try_from(len).unwrap().to_ne_bytes().to_vec();
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&[0; 10]);
    m.push(family);
    m.push(0);
    m.extend_from_slice(&queue.to_be_bytes());
    m.extend_from_slice(&body);
    m
}

fn hdr(id: u32, proto: u16, hook: u8) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&proto.to_be_bytes());
    v.push(hook);
    nla(NFQA_PACKET_HDR, &v)
}

fn be32(ty: u16, v: u32) -> Vec<u8> {
    nla(ty, &v.to_be_bytes())
}

#[test]
fn bridge_packet_with_vlan_l2hdr_and_the_rest() {
    let l2 = [
        0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x81, 0x00, 0x20, 0x0a, 0x08, 0x00,
    ];
    let mut vlan = nla(NFQA_VLAN_PROTO, &0x8100u16.to_be_bytes());
    vlan.extend(nla(NFQA_VLAN_TCI, &0x200au16.to_be_bytes()));
    let mut ts = 1_700_000_000u64.to_be_bytes().to_vec();
    ts.extend_from_slice(&123_456u64.to_be_bytes());
    let mut hw = 6u16.to_be_bytes().to_vec();
    hw.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 1, 0, 0]);
    let b = msg(
        NFQ_TYPE_PACKET,
        NFPROTO_BRIDGE,
        7,
        &[
            hdr(9, 0x8100, 0),
            be32(NFQA_IFINDEX_INDEV, 4),
            be32(NFQA_IFINDEX_PHYSINDEV, 5),
            be32(NFQA_IFINDEX_OUTDEV, 6),
            be32(NFQA_IFINDEX_PHYSOUTDEV, 8),
            be32(NFQA_MARK, 0xdead_beef),
            be32(NFQA_PRIORITY, 6),
            nla(NFQA_HWADDR, &hw),
            nla(NFQA_VLAN | NLA_F_NESTED, &vlan),
            nla(NFQA_L2HDR, &l2),
            nla(NFQA_TIMESTAMP, &ts),
            be32(NFQA_UID, 1000),
            be32(NFQA_GID, 100),
            be32(NFQA_CGROUP_CLASSID, 0x0010_0001),
            nla(NFQA_SECCTX, b"system_u:object_r:packet_t:s0\0"),
            be32(NFQA_SKB_INFO, NFQA_SKB_CSUM_NOTVERIFIED),
            nla(99, b"future"),
            nla(NFQA_PAYLOAD, &[0xaa; 7]),
        ],
    );
    let p = PacketView::parse_bytes(&b).unwrap();
    assert_eq!(p.family(), Family::Bridge);
    assert_eq!(p.hook(), Hook::PreRouting);
    assert_eq!((p.queue(), p.id(), p.hw_protocol()), (7, 9, 0x8100));
    assert_eq!(
        (p.indev(), p.physindev(), p.outdev(), p.physoutdev()),
        (Some(4), Some(5), Some(6), Some(8))
    );
    assert_eq!(p.mark(), Some(0xdead_beef));
    assert_eq!(p.priority(), Some(6));
    assert_eq!(p.hw_addr(), Some(&[2u8, 0, 0, 0, 0, 1][..]));
    let v = p.vlan().unwrap();
    assert_eq!(
        v,
        Vlan {
            proto: 0x8100,
            tci: 0x200a
        }
    );
    assert_eq!((v.id(), v.pcp(), v.dei()), (10, 1, false));
    assert_eq!(p.l2hdr(), Some(&l2[..]));
    let t = p.timestamp().unwrap();
    assert_eq!((t.secs, t.usecs), (1_700_000_000, 123_456));
    assert_eq!((p.uid(), p.gid()), (Some(1000), Some(100)));
    assert_eq!(p.cgroup_classid(), Some(0x0010_0001));
    assert_eq!(p.secctx(), Some(&b"system_u:object_r:packet_t:s0"[..]));
    assert!(p.skb_info().csum_not_verified());
    assert_eq!(p.payload(), Some(&[0xaa; 7][..]));
    assert_eq!(p.attr(99).unwrap().value(), b"future");
    assert_eq!(p.attrs().count(), 18);
    assert!(!p.is_truncated());
    assert_eq!(p.ct(), None);
}

fn ip_nest(src: &[u8], dst: &[u8]) -> Vec<u8> {
    let (s, d) = if src.len() == 4 {
        (CTA_IP_V4_SRC, CTA_IP_V4_DST)
    } else {
        (CTA_IP_V6_SRC, CTA_IP_V6_DST)
    };
    let mut v = nla(s, src);
    v.extend(nla(d, dst));
    nla(CTA_TUPLE_IP | NLA_F_NESTED, &v)
}

#[test]
fn conntrack_nest_is_decoded() {
    let mut proto = nla(CTA_PROTO_NUM, &[6]);
    proto.extend(nla(CTA_PROTO_SRC_PORT, &40000u16.to_be_bytes()));
    proto.extend(nla(CTA_PROTO_DST_PORT, &8888u16.to_be_bytes()));
    let mut orig = ip_nest(&[10, 0, 0, 1], &[10, 0, 0, 2]);
    orig.extend(nla(CTA_TUPLE_PROTO | NLA_F_NESTED, &proto));
    let a6 = Ipv6Addr::LOCALHOST.octets();
    let mut icmp = nla(CTA_PROTO_NUM, &[58]);
    icmp.extend(nla(CTA_PROTO_ICMPV6_ID, &0x1234u16.to_be_bytes()));
    icmp.extend(nla(CTA_PROTO_ICMPV6_TYPE, &[129]));
    icmp.extend(nla(CTA_PROTO_ICMPV6_CODE, &[0]));
    let mut reply = ip_nest(&a6, &a6);
    reply.extend(nla(CTA_TUPLE_PROTO | NLA_F_NESTED, &icmp));
    reply.extend(nla(CTA_TUPLE_ZONE, &4u16.to_be_bytes()));
    let mut ct = nla(CTA_TUPLE_ORIG | NLA_F_NESTED, &orig);
    ct.extend(nla(CTA_TUPLE_REPLY | NLA_F_NESTED, &reply));
    ct.extend(nla(CTA_ZONE, &4u16.to_be_bytes()));
    ct.extend(be32(CTA_ID, 0x0102_0304));
    ct.extend(be32(CTA_STATUS, 0x19e));
    ct.extend(be32(CTA_TIMEOUT, 120));
    ct.extend(be32(CTA_USE, 2));
    ct.extend(be32(CTA_MARK, 0x42));
    ct.extend(nla(CTA_LABELS, &[0x0f; 16]));
    let b = msg(
        NFQ_TYPE_PACKET,
        NFPROTO_IPV4,
        1,
        &[
            hdr(3, 0x0800, 2),
            nla(NFQA_CT | NLA_F_NESTED, &ct),
            be32(NFQA_CT_INFO, 3),
        ],
    );
    let p = PacketView::parse_bytes(&b).unwrap();
    assert_eq!(p.ct_info(), Some(CtInfo::EstablishedReply));
    assert_eq!(p.ct_raw(), Some(&ct[..]));
    let c = p.ct().unwrap();
    assert_eq!(c.raw(), &ct[..]);
    assert_eq!(c.id(), Some(0x0102_0304));
    assert!(
        c.status()
            .unwrap()
            .contains(CtStatus::SEEN_REPLY | CtStatus::CONFIRMED)
    );
    assert_eq!(c.status().unwrap().bits(), 0x19e);
    assert_eq!(c.timeout(), Some(120));
    assert_eq!(c.use_count(), Some(2));
    assert_eq!(c.mark(), Some(0x42));
    assert_eq!(c.zone(), Some(4));
    assert_eq!(c.labels(), Some(&[0x0f; 16][..]));
    let o = c.orig().unwrap();
    assert_eq!(o.src, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
    assert_eq!(o.dst, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))));
    assert_eq!(
        (o.proto, o.src_port, o.dst_port),
        (Some(6), Some(40000), Some(8888))
    );
    assert_eq!((o.icmp_id, o.zone), (None, None));
    let r = c.reply().unwrap();
    assert_eq!(r.src, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(r.dst, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(
        (r.proto, r.icmp_id, r.icmp_type, r.icmp_code, r.zone),
        (Some(58), Some(0x1234), Some(129), Some(0), Some(4))
    );
    // Attribute offsets point back into the datagram.
    let first = c.attrs().next().unwrap().unwrap();
    assert_eq!(&b[first.offset() + 4..][..4], &orig[..4]);
}

#[test]
fn hooks_follow_the_family() {
    for (fam, raw, hook) in [
        (NFPROTO_NETDEV, 0, Hook::Ingress),
        (NFPROTO_NETDEV, 1, Hook::Egress),
        (NFPROTO_ARP, 0, Hook::ArpIn),
        (NFPROTO_ARP, 1, Hook::ArpOut),
        (NFPROTO_ARP, 2, Hook::ArpForward),
        (NFPROTO_IPV6, 4, Hook::PostRouting),
        (NFPROTO_BRIDGE, 2, Hook::Forward),
        (NFPROTO_ARP, 3, Hook::Unknown(3)),
        (99, 1, Hook::Unknown(1)),
    ] {
        let b = msg(NFQ_TYPE_PACKET, fam, 0, &[hdr(1, 0x0806, raw)]);
        let p = PacketView::parse_bytes(&b).unwrap();
        assert_eq!(p.hook(), hook);
        assert_eq!(u8::from(p.family()), fam);
        assert_eq!(p.hook().raw(), raw);
    }
}

#[test]
fn hw_addr_is_clamped_and_duplicates_take_the_last() {
    let mut hw = 20u16.to_be_bytes().to_vec();
    hw.extend_from_slice(&[0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    let b = msg(
        NFQ_TYPE_PACKET,
        NFPROTO_IPV4,
        0,
        &[
            hdr(1, 0x0800, 1),
            nla(NFQA_HWADDR, &hw),
            be32(NFQA_MARK, 1),
            be32(NFQA_MARK, 2),
        ],
    );
    let p = PacketView::parse_bytes(&b).unwrap();
    assert_eq!(p.hw_addr(), Some(&[1u8, 2, 3, 4, 5, 6, 7, 8][..]));
    assert_eq!(p.mark(), Some(2), "last one wins, as in nla_parse");
}

#[test]
fn malformed_packets_give_precise_errors() {
    // MARK with 3 bytes: the attribute at offset 32 (20 + 12 for PACKET_HDR).
    let b = msg(
        NFQ_TYPE_PACKET,
        NFPROTO_IPV4,
        0,
        &[hdr(1, 0x0800, 3), nla(NFQA_MARK, &[0, 0, 1])],
    );
    let e = PacketView::parse_bytes(&b).unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::BadAttributeLength);
    assert_eq!((e.offset(), e.attr()), (32, Some(NFQA_MARK)));
    assert!(e.to_string().contains("byte 32"));

    // PACKET_HDR of 6 bytes.
    let b = msg(NFQ_TYPE_PACKET, 2, 0, &[nla(NFQA_PACKET_HDR, &[0; 6])]);
    let e = PacketView::parse_bytes(&b).unwrap_err();
    assert_eq!(
        (e.kind(), e.attr()),
        (DecodeErrorKind::BadAttributeLength, Some(1))
    );

    // No PACKET_HDR.
    let b = msg(NFQ_TYPE_PACKET, 2, 0, &[be32(NFQA_MARK, 1)]);
    let e = PacketView::parse_bytes(&b).unwrap_err();
    assert_eq!(
        (e.kind(), e.attr()),
        (DecodeErrorKind::MissingAttribute, Some(1))
    );

    // Not a packet.
    let b = msg(NFQ_TYPE_VERDICT, 2, 0, &[hdr(1, 0x800, 1)]);
    let e = PacketView::parse_bytes(&b).unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::WrongMessageType);

    // nfgenmsg cut short.
    let mut b = msg(NFQ_TYPE_PACKET, 2, 0, &[]);
    b.truncate(18);
    b[..4].copy_from_slice(&18u32.to_ne_bytes());
    let e = PacketView::parse_bytes(&b).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (DecodeErrorKind::Truncated, 16));

    // nla_len pointing past the message.
    let mut b = msg(NFQ_TYPE_PACKET, 2, 0, &[hdr(1, 0x800, 1)]);
    b[20..22].copy_from_slice(&200u16.to_ne_bytes());
    let e = PacketView::parse_bytes(&b).unwrap_err();
    assert_eq!(
        (e.kind(), e.offset(), e.attr()),
        (DecodeErrorKind::BadAttributeLength, 20, Some(1))
    );

    // An empty buffer.
    assert_eq!(
        PacketView::parse_bytes(&[]).unwrap_err().kind(),
        DecodeErrorKind::Truncated
    );
}

#[test]
fn offsets_count_from_the_datagram_start() {
    let first = msg(NLMSG_DONE, 0, 0, &[]);
    let second = msg(
        NFQ_TYPE_PACKET,
        2,
        0,
        &[hdr(1, 0x0800, 3), nla(NFQA_MARK, &[1])],
    );
    let mut buf = first.clone();
    buf.extend_from_slice(&second);
    let msgs: Vec<_> = NlMsgIter::new(&buf).map(Result::unwrap).collect();
    assert!(matches!(Message::parse(msgs[0]), Ok(Message::Done)));
    let e = Message::parse(msgs[1]).unwrap_err();
    assert_eq!(e.offset(), first.len() + 32);
}

#[test]
fn error_messages_with_missing_parts() {
    let mut b = msg(NLMSG_ERROR, 0, 0, &[]);
    b.truncate(16);
    b.extend_from_slice(&(-2i32).to_ne_bytes());
    b[..4].copy_from_slice(&20u32.to_ne_bytes());
    let m = NlMsg::parse(&b, 0).unwrap();
    let e = ErrorMsg::parse(m).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (DecodeErrorKind::Truncated, 20));
    // Extended-ack flag with no room for TLVs: accessors just say None.
    let mut b = 36u32.to_ne_bytes().to_vec();
    b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
    b.extend_from_slice(&(NLM_F_ACK_TLVS).to_ne_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&(-22i32).to_ne_bytes());
    b.extend_from_slice(&u32::MAX.to_ne_bytes()); // absurd echoed length
    b.extend_from_slice(&[0; 12]);
    let e = ErrorMsg::parse(NlMsg::parse(&b, 0).unwrap()).unwrap();
    assert_eq!(e.errno(), 22);
    assert_eq!(e.echoed_payload(), &[] as &[u8]);
    assert_eq!(e.ext_ack_msg(), None);
    assert_eq!(e.ext_ack_offset(), None);
}
