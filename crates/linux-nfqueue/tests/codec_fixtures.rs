// SPDX-License-Identifier: MIT OR Apache-2.0
//! Parses every datagram the Linux 6.18 kernel sent during capture and checks every field.
//!
//! The fixtures were captured with `tools/capture/capture.py`; each `.hex` file in
//! `tests/fixtures/` says how (namespace setup, rule, traffic, socket options). Their host-order
//! fields come from an x86_64 kernel, so this file runs on little-endian targets only.
#![cfg(target_endian = "little")]

#[path = "fixtures/mod.rs"]
mod fixtures;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use linux_nfqueue::wire::consts::*;
use linux_nfqueue::wire::{
    ErrorMsg, Family, Hook, Message, NlMsgHeader, NlMsgIter, PacketView, SkbInfo, Timestamp,
};

/// Parses a fixture that must hold exactly one message, a packet.
fn packet(bytes: &[u8]) -> PacketView<'_> {
    let msgs: Vec<_> = NlMsgIter::new(bytes).collect();
    assert_eq!(msgs.len(), 1, "one message per datagram");
    let msg = msgs[0].expect("framing");
    assert_eq!(msg.offset(), 0);
    assert_eq!(
        msg.bytes().len(),
        bytes.len(),
        "nlmsg_len covers the datagram"
    );
    match Message::parse(msg).expect("parse") {
        Message::Packet(p) => {
            // Kernel packets carry seq 0, pid 0, flags 0 and nfgenmsg version 0.
            let h = p.header();
            assert_eq!(
                h,
                NlMsgHeader {
                    len: u32::try_from(bytes.len()).unwrap(),
                    ty: 0x0300,
                    flags: 0,
                    seq: 0,
                    pid: 0
                }
            );
            assert_eq!(p.nfgen().version, 0);
            assert_eq!(p.bytes(), bytes);
            assert_eq!(PacketView::parse_bytes(bytes).unwrap().id(), p.id());
            p
        }
        other => panic!("expected a packet, got {other:?}"),
    }
}

/// Checks the attribute types present, in wire order, and that every accessor of an absent
/// attribute returns `None` (or the empty value).
fn check_attrs(p: &PacketView<'_>, kinds: &[u16]) {
    let got: Vec<u16> = p.attrs().map(|a| a.unwrap().kind()).collect();
    assert_eq!(got, kinds, "attribute types in order");
    let has = |k| kinds.contains(&k);
    assert_eq!(p.mark().is_some(), has(NFQA_MARK));
    assert_eq!(p.timestamp().is_some(), has(NFQA_TIMESTAMP));
    assert_eq!(p.indev().is_some(), has(NFQA_IFINDEX_INDEV));
    assert_eq!(p.outdev().is_some(), has(NFQA_IFINDEX_OUTDEV));
    assert_eq!(p.physindev().is_some(), has(NFQA_IFINDEX_PHYSINDEV));
    assert_eq!(p.physoutdev().is_some(), has(NFQA_IFINDEX_PHYSOUTDEV));
    assert_eq!(p.hw_addr().is_some(), has(NFQA_HWADDR));
    assert_eq!(p.payload().is_some(), has(NFQA_PAYLOAD));
    assert_eq!(p.ct().is_some(), has(NFQA_CT));
    assert_eq!(p.ct_raw().is_some(), has(NFQA_CT));
    assert_eq!(p.ct_info().is_some(), has(NFQA_CT_INFO));
    assert_eq!(p.cap_len().is_some(), has(NFQA_CAP_LEN));
    assert_eq!(p.is_truncated(), has(NFQA_CAP_LEN));
    if !has(NFQA_SKB_INFO) {
        assert_eq!(p.skb_info(), SkbInfo::default());
    }
    assert_eq!(p.exp_raw().is_some(), has(NFQA_EXP));
    assert_eq!(p.uid().is_some(), has(NFQA_UID));
    assert_eq!(p.gid().is_some(), has(NFQA_GID));
    assert_eq!(p.secctx().is_some(), has(NFQA_SECCTX));
    assert_eq!(p.vlan().is_some(), has(NFQA_VLAN));
    assert_eq!(p.l2hdr().is_some(), has(NFQA_L2HDR));
    assert_eq!(p.priority().is_some(), has(NFQA_PRIORITY));
    assert_eq!(p.cgroup_classid().is_some(), has(NFQA_CGROUP_CLASSID));
    // The first attribute is always PACKET_HDR and the payload, if any, is last.
    assert_eq!(kinds.first(), Some(&NFQA_PACKET_HDR));
    if let Some(pos) = kinds.iter().position(|&k| k == NFQA_PAYLOAD) {
        assert_eq!(pos, kinds.len() - 1);
    }
}

/// The attributes of a packet queued on OUTPUT with its payload copied.
const OUTPUT_ATTRS: &[u16] = &[NFQA_PACKET_HDR, NFQA_IFINDEX_OUTDEV, NFQA_PAYLOAD];

/// The attributes of a packet queued on arrival, with its payload copied.
const ARRIVAL_ATTRS: &[u16] = &[
    NFQA_PACKET_HDR,
    NFQA_IFINDEX_INDEV,
    NFQA_HWADDR,
    NFQA_PAYLOAD,
];

/// [`packet`], then [`check_attrs`] with `kinds`, then the packet header: queue, packet id and
/// hook, and the hardware protocol.
fn queued<'a>(
    bytes: &'a [u8],
    kinds: &[u16],
    (queue, id, hook): (u16, u32, Hook),
    hw_protocol: u16,
) -> PacketView<'a> {
    let p = packet(bytes);
    check_attrs(&p, kinds);
    assert_eq!((p.queue(), p.id(), p.hook()), (queue, id, hook));
    assert_eq!(p.hw_protocol(), hw_protocol);
    p
}

/// Checks an IPv4 header inside a payload and returns the L4 bytes.
fn ipv4(payload: &[u8], proto: u8, src: [u8; 4], dst: [u8; 4]) -> &[u8] {
    assert_eq!(payload[0], 0x45, "IPv4, 20-byte header");
    assert_eq!(payload[9], proto);
    assert_eq!(
        Ipv4Addr::from(<[u8; 4]>::try_from(&payload[12..16]).unwrap()),
        Ipv4Addr::from(src)
    );
    assert_eq!(
        Ipv4Addr::from(<[u8; 4]>::try_from(&payload[16..20]).unwrap()),
        Ipv4Addr::from(dst)
    );
    &payload[20..]
}

fn udp(l4: &[u8], dport: u16, data: &[u8]) {
    assert_eq!(u16::from_be_bytes([l4[2], l4[3]]), dport);
    assert_eq!(
        usize::from(u16::from_be_bytes([l4[4], l4[5]])),
        8 + data.len()
    );
    assert_eq!(&l4[8..], data);
}

const LO: [u8; 4] = [127, 0, 0, 1];

#[test]
fn pkt_udp4_output_hello() {
    let b = fixtures::get("pkt_udp4_output_hello");
    assert_eq!(b.len(), 77, "unaligned final message");
    let p = queued(&b, OUTPUT_ATTRS, (5, 1, Hook::LocalOut), 0x0800);
    assert_eq!(p.family(), Family::Ipv4);
    assert_eq!(p.hook_raw(), 3);
    assert_eq!(p.outdev(), Some(1));
    let payload = p.payload().unwrap();
    assert_eq!(payload.len(), 33);
    udp(ipv4(payload, 17, LO, LO), 9999, b"hello");
}

#[test]
fn pkt_udp4_output_id2() {
    let b = fixtures::get("pkt_udp4_output_id2");
    let p = queued(&b, OUTPUT_ATTRS, (5, 2, Hook::LocalOut), 0x0800);
    assert_eq!(p.outdev(), Some(1));
    udp(ipv4(p.payload().unwrap(), 17, LO, LO), 9999, b"world!!");
}

#[test]
fn pkt_udp4_mark_prio_uid() {
    let b = fixtures::get("pkt_udp4_mark_prio_uid");
    let p = queued(
        &b,
        &[
            NFQA_PACKET_HDR,
            NFQA_IFINDEX_OUTDEV,
            NFQA_MARK,
            NFQA_PRIORITY,
            NFQA_UID,
            NFQA_GID,
            NFQA_PAYLOAD,
        ],
        (5, 1, Hook::LocalOut),
        0x0800,
    );
    assert_eq!(p.family(), Family::Ipv4);
    assert_eq!(p.outdev(), Some(1));
    assert_eq!(p.mark(), Some(0x2a));
    assert_eq!(p.priority(), Some(3));
    assert_eq!(p.uid(), Some(1234));
    assert_eq!(p.gid(), Some(2345));
    udp(ipv4(p.payload().unwrap(), 17, LO, LO), 9999, b"marked");
}

#[test]
fn pkt_udp4_caplen64() {
    let b = fixtures::get("pkt_udp4_caplen64");
    let p = queued(
        &b,
        &[
            NFQA_PACKET_HDR,
            NFQA_IFINDEX_OUTDEV,
            NFQA_CAP_LEN,
            NFQA_PAYLOAD,
        ],
        (5, 1, Hook::LocalOut),
        0x0800,
    );
    assert_eq!(p.outdev(), Some(1));
    assert_eq!(p.cap_len(), Some(228), "20 IP + 8 UDP + 200 data");
    assert!(p.is_truncated());
    let payload = p.payload().unwrap();
    assert_eq!(payload.len(), 64);
    let l4 = ipv4(payload, 17, LO, LO);
    assert_eq!(u16::from_be_bytes([l4[4], l4[5]]), 208);
    assert_eq!(&l4[8..], &(0u8..36).collect::<Vec<_>>()[..]);
}

#[test]
fn pkt_udp4_meta() {
    let b = fixtures::get("pkt_udp4_meta");
    let p = queued(
        &b,
        &[NFQA_PACKET_HDR, NFQA_IFINDEX_OUTDEV, NFQA_SKB_INFO],
        (5, 2, Hook::LocalOut),
        0x0800,
    );
    assert_eq!(p.outdev(), Some(1));
    assert!(!p.is_truncated());
    // COPY_META skips the checksum completion, so the partial UDP checksum is reported.
    let s = p.skb_info();
    assert_eq!(s.bits(), 1);
    assert!(s.csum_not_ready() && !s.gso() && !s.csum_not_verified());
}

#[test]
fn pkt_udp4_input_lo() {
    let b = fixtures::get("pkt_udp4_input_lo");
    let p = queued(&b, ARRIVAL_ATTRS, (5, 1, Hook::LocalIn), 0x0800);
    assert_eq!(p.hook().name(), "input");
    assert_eq!(p.indev(), Some(1));
    assert_eq!(p.hw_addr(), Some(&[0u8; 6][..]), "lo has an all-zero MAC");
    udp(ipv4(p.payload().unwrap(), 17, LO, LO), 9999, b"in");
}

#[test]
fn pkt_udp4_input_tstamp() {
    let b = fixtures::get("pkt_udp4_input_tstamp");
    let p = queued(
        &b,
        &[
            NFQA_PACKET_HDR,
            NFQA_IFINDEX_INDEV,
            NFQA_HWADDR,
            NFQA_TIMESTAMP,
            NFQA_PAYLOAD,
        ],
        (5, 2, Hook::LocalIn),
        0x0800,
    );
    assert_eq!(p.indev(), Some(1));
    assert_eq!(p.hw_addr(), Some(&[0u8; 6][..]));
    let ts = p.timestamp().unwrap();
    assert_eq!(
        ts,
        Timestamp {
            secs: 0x6b09_2631,
            usecs: 0xa5f65
        }
    );
    assert_eq!(
        ts.to_system_time(),
        Some(SystemTime::UNIX_EPOCH + Duration::new(0x6b09_2631, 0xa5f65 * 1000))
    );
    udp(ipv4(p.payload().unwrap(), 17, LO, LO), 9999, b"stamped");
}

#[test]
fn pkt_udp4_veth_prerouting() {
    let b = fixtures::get("pkt_udp4_veth_prerouting");
    let p = queued(&b, ARRIVAL_ATTRS, (5, 1, Hook::PreRouting), 0x0800);
    assert_eq!(p.hook().name(), "prerouting");
    assert_eq!(p.indev(), Some(2));
    assert_eq!(p.hw_addr(), Some(&[2u8, 0, 0, 0, 0, 0x0a][..]));
    let l4 = ipv4(p.payload().unwrap(), 17, [10, 99, 0, 1], [10, 99, 0, 2]);
    assert_eq!(u16::from_be_bytes([l4[0], l4[1]]), 7777);
    udp(l4, 9999, b"over veth");
}

#[test]
fn pkt_udp4_bridge_forward() {
    let b = fixtures::get("pkt_udp4_bridge_forward");
    let p = queued(
        &b,
        &[
            NFQA_PACKET_HDR,
            NFQA_IFINDEX_INDEV,
            NFQA_IFINDEX_PHYSINDEV,
            NFQA_IFINDEX_OUTDEV,
            NFQA_IFINDEX_PHYSOUTDEV,
            NFQA_HWADDR,
            NFQA_PAYLOAD,
        ],
        (5, 1, Hook::Forward),
        0x0800,
    );
    assert_eq!(
        p.family(),
        Family::Ipv4,
        "br_netfilter hands bridged IP to iptables"
    );
    assert_eq!(p.indev(), Some(2), "br0");
    assert_eq!(p.physindev(), Some(3), "p1");
    assert_eq!(p.outdev(), Some(2), "br0");
    assert_eq!(p.physoutdev(), Some(4), "p2");
    assert_eq!(p.hw_addr(), Some(&[2u8, 0, 0, 0, 1, 1][..]));
    udp(
        ipv4(p.payload().unwrap(), 17, [10, 98, 0, 1], [10, 98, 0, 2]),
        9999,
        b"bridged",
    );
}

#[test]
fn pkt_udp6_output() {
    let b = fixtures::get("pkt_udp6_output");
    let p = queued(&b, OUTPUT_ATTRS, (5, 1, Hook::LocalOut), 0x86dd);
    assert_eq!(p.family(), Family::Ipv6);
    assert_eq!(p.family().name(), "ipv6");
    assert_eq!(p.outdev(), Some(1));
    let v6 = p.payload().unwrap();
    assert_eq!(v6.len(), 40 + 8 + 3);
    assert_eq!(v6[0] >> 4, 6);
    assert_eq!(v6[6], 17, "next header UDP");
    let lo6 = Ipv6Addr::LOCALHOST.octets();
    assert_eq!(&v6[8..24], &lo6);
    assert_eq!(&v6[24..40], &lo6);
    udp(&v6[40..], 9999, b"six");
}

#[test]
fn pkt_icmp6_echo_request() {
    let b = fixtures::get("pkt_icmp6_echo_request");
    let p = queued(&b, OUTPUT_ATTRS, (5, 2, Hook::LocalOut), 0x86dd);
    assert_eq!(p.family(), Family::Ipv6);
    let v6 = p.payload().unwrap();
    assert_eq!(v6[6], 58, "ICMPv6");
    let icmp = &v6[40..];
    assert_eq!((icmp[0], icmp[1]), (128, 0), "echo request");
    assert_eq!(&icmp[4..6], &[0x12, 0x34]);
    assert_eq!(&icmp[8..], b"ping6");
}

#[test]
fn pkt_icmp4_echo_request_and_reply() {
    for (name, id, ty, code) in [
        ("pkt_icmp4_echo_request", 1, 8u8, 0u8),
        ("pkt_icmp4_echo_reply", 2, 0, 0),
    ] {
        let b = fixtures::get(name);
        let p = queued(&b, OUTPUT_ATTRS, (5, id, Hook::LocalOut), 0x0800);
        assert_eq!(p.outdev(), Some(1));
        let icmp = ipv4(p.payload().unwrap(), 1, LO, LO);
        assert_eq!((icmp[0], icmp[1]), (ty, code));
        assert_eq!(&icmp[4..6], &[0x42, 0x42]);
        assert_eq!(&icmp[8..], b"ping");
    }
}

#[test]
fn pkt_tcp4_syn() {
    let b = fixtures::get("pkt_tcp4_syn");
    let p = queued(&b, OUTPUT_ATTRS, (8, 1, Hook::LocalOut), 0x0800);
    let tcp = ipv4(p.payload().unwrap(), 6, LO, LO);
    assert_eq!(u16::from_be_bytes([tcp[0], tcp[1]]), 40000);
    assert_eq!(u16::from_be_bytes([tcp[2], tcp[3]]), 8888);
    assert_eq!(tcp[13], 0x02, "SYN only");
}

#[test]
fn pkt_tcp4_gso() {
    let b = fixtures::get("pkt_tcp4_gso");
    let p = queued(
        &b,
        &[
            NFQA_PACKET_HDR,
            NFQA_IFINDEX_OUTDEV,
            NFQA_CAP_LEN,
            NFQA_SKB_INFO,
            NFQA_PAYLOAD,
        ],
        (8, 5, Hook::LocalOut),
        0x0800,
    );
    assert_eq!(p.outdev(), Some(1));
    let s = p.skb_info();
    assert_eq!(s.bits(), 3);
    assert!(s.gso() && s.csum_not_ready() && !s.csum_not_verified());
    assert_eq!(p.cap_len(), Some(62543), "the whole GSO skb");
    assert!(p.is_truncated());
    let payload = p.payload().unwrap();
    assert_eq!(payload.len(), 128);
    assert_eq!(
        u16::from_be_bytes([payload[2], payload[3]]),
        62543,
        "IP total length"
    );
    let tcp = ipv4(payload, 6, LO, LO);
    assert_eq!(u16::from_be_bytes([tcp[2], tcp[3]]), 8888);
    assert!(tcp[32..].iter().all(|&b| b == 0x5a), "the data written");
}

// ---- NLMSG_ERROR replies --------------------------------------------------------------------

fn error(bytes: &[u8]) -> ErrorMsg<'_> {
    let msgs: Vec<_> = NlMsgIter::new(bytes).collect();
    assert_eq!(msgs.len(), 1);
    let msg = msgs[0].unwrap();
    assert_eq!(msg.header().ty, NLMSG_ERROR);
    match Message::parse(msg).unwrap() {
        Message::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// The portid the capture process had; the kernel addresses acks to it.
const CAPTURE_PORTID: u32 = 8974;

#[test]
fn ack_config_bind() {
    let b = fixtures::get("ack_config_bind");
    let e = error(&b);
    assert!(e.is_ack());
    assert_eq!(e.errno(), 0);
    assert_eq!(e.raw_error(), 0);
    assert!(e.capped(), "success acks are always capped");
    assert_eq!(e.msg().header().flags, NLM_F_CAPPED);
    assert_eq!(e.msg().header().seq, 1);
    assert_eq!(e.msg().header().pid, CAPTURE_PORTID);
    assert_eq!(
        e.request(),
        NlMsgHeader {
            len: 48,
            ty: 0x0302,
            flags: NLM_F_REQUEST | NLM_F_ACK,
            seq: 1,
            pid: 0
        }
    );
    assert_eq!(e.seq(), 1);
    assert_eq!(e.echoed_payload(), &[] as &[u8]);
    assert_eq!(e.ext_ack_msg(), None);
    assert_eq!(e.ext_ack_offset(), None);
    assert_eq!(b.len(), 36);
}

#[test]
fn ack_verdict_accept() {
    let b = fixtures::get("ack_verdict_accept");
    let e = error(&b);
    assert!(e.is_ack() && e.capped());
    assert_eq!(e.seq(), 2);
    assert_eq!(e.request().ty, 0x0301);
    assert_eq!(e.request().len, 32);
    assert_eq!(e.echoed_payload().len(), 0);
}

#[test]
fn err_enoent_full_echo() {
    let b = fixtures::get("err_enoent_full_echo");
    let e = error(&b);
    assert!(!e.is_ack());
    assert_eq!(e.errno(), 2);
    assert_eq!(e.raw_error(), -2);
    assert!(!e.capped());
    assert_eq!(e.msg().header().flags, 0);
    assert_eq!(
        e.request(),
        NlMsgHeader {
            len: 32,
            ty: 0x0301,
            flags: NLM_F_REQUEST,
            seq: 4,
            pid: 0
        }
    );
    // nfgenmsg (queue 5) + VERDICT_HDR {NF_ACCEPT, id 999}
    assert_eq!(
        e.echoed_payload(),
        &[0, 0, 0, 5, 12, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0x03, 0xe7][..]
    );
    assert_eq!(b.len(), 16 + 4 + 32, "errno + the whole request");
    assert_eq!(e.ext_ack_msg(), None);
}

#[test]
fn err_enoent_capped() {
    let b = fixtures::get("err_enoent_capped");
    let e = error(&b);
    assert_eq!(e.errno(), 2);
    assert!(e.capped());
    assert_eq!(e.seq(), 5);
    assert_eq!(
        e.request().len,
        32,
        "the original length, though only the header is echoed"
    );
    assert_eq!(e.echoed_payload(), &[] as &[u8]);
    assert_eq!(b.len(), 36);
}

#[test]
fn err_erange_extack_capped() {
    let b = fixtures::get("err_erange_extack_capped");
    let e = error(&b);
    assert_eq!(e.errno(), 34);
    assert!(e.capped());
    assert_eq!(e.msg().header().flags, NLM_F_CAPPED | NLM_F_ACK_TLVS);
    assert_eq!(e.seq(), 6);
    assert_eq!(e.request().len, 28);
    assert_eq!(e.echoed_payload(), &[] as &[u8]);
    assert_eq!(
        e.ext_ack_msg(),
        Some(&b"Attribute failed policy validation"[..])
    );
    assert_eq!(
        e.ext_ack_offset(),
        Some(20),
        "the CFG_CMD attribute after nlmsghdr+nfgenmsg"
    );
    let kinds: Vec<u16> = e.ext_ack_attrs().map(|a| a.unwrap().kind()).collect();
    assert_eq!(kinds, [NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS]);
}

#[test]
fn err_erange_extack_full() {
    let b = fixtures::get("err_erange_extack_full");
    let e = error(&b);
    assert_eq!(e.errno(), 34);
    assert!(!e.capped());
    assert_eq!(e.msg().header().flags, NLM_F_ACK_TLVS);
    assert_eq!(e.seq(), 7);
    // nfgenmsg + the 2-byte CFG_CMD (with its padding, as sent)
    assert_eq!(
        e.echoed_payload(),
        &[0, 0, 0, 5, 6, 0, 1, 0, 1, 0, 0, 0][..]
    );
    assert_eq!(
        e.ext_ack_msg(),
        Some(&b"Attribute failed policy validation"[..])
    );
    assert_eq!(e.ext_ack_offset(), Some(20));
}

#[test]
fn err_other_errnos() {
    for (name, errno, seq, req_ty, req_len, pid) in [
        ("err_einval_stolen", 22, 8, 0x0301, 32, CAPTURE_PORTID),
        ("err_ebusy_bind_again", 16, 9, 0x0302, 28, CAPTURE_PORTID),
        ("err_eperm_other_owner", 1, 10, 0x0302, 28, 3_488_773_293),
        (
            "err_eopnotsupp_conntrack",
            95,
            11,
            0x0302,
            36,
            CAPTURE_PORTID,
        ),
        ("err_enodev_unbind", 19, 13, 0x0302, 28, CAPTURE_PORTID),
        ("err_enoent_batch_empty", 2, 3, 0x0303, 40, 0),
    ] {
        let b = fixtures::get(name);
        let e = error(&b);
        assert_eq!(e.errno(), errno, "{name}");
        assert!(!e.is_ack() && !e.capped(), "{name}");
        assert_eq!(e.seq(), seq, "{name}");
        assert_eq!(e.msg().header().seq, seq, "{name}");
        if pid != 0 {
            assert_eq!(
                e.msg().header().pid,
                pid,
                "{name}: second socket gets a random portid"
            );
        }
        assert_eq!(e.request().ty, req_ty, "{name}");
        assert_eq!(e.request().len, req_len, "{name}");
        assert_eq!(e.request().flags, NLM_F_REQUEST | NLM_F_ACK, "{name}");
        assert_eq!(e.echoed_payload().len(), req_len as usize - 16, "{name}");
        assert_eq!(&e.echoed_payload()[..4], &[0, 0, 0, 5], "{name}: queue 5");
        assert_eq!(b.len(), 20 + req_len as usize, "{name}");
        assert!(e.ext_ack_msg().is_none());
    }
}

/// Every fixture, of any kind, goes through the generic path without error.
#[test]
fn every_fixture_parses() {
    assert!(fixtures::ALL.len() >= 20);
    for (name, text) in fixtures::ALL {
        let b = fixtures::decode(text);
        let notes = fixtures::notes(name);
        assert!(
            notes.contains("captured on Linux"),
            "{name} says how it was captured"
        );
        let mut n = 0;
        for m in NlMsgIter::new(&b) {
            let m = m.unwrap_or_else(|e| panic!("{name}: {e}"));
            Message::parse(m).unwrap_or_else(|e| panic!("{name}: {e}"));
            n += 1;
        }
        assert_eq!(n, 1, "{name}");
    }
}
