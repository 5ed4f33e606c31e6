// SPDX-License-Identifier: MIT OR Apache-2.0
//! Tests for the checksum fix-ups: real queued packets, etherparse-built packets, error cases
//! and property tests.

use super::*;
use etherparse::{PacketBuilder, TcpOptionElement};
use proptest::prelude::*;

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0);
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

// Payloads of real queued packets, captured on Linux 6.18.44 in `unshare -n` with `lo` up and
//   iptables  -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 5
//   ip6tables -A OUTPUT -p tcp --dport 8888 -j NFQUEUE --queue-num 5
//   iptables  -A OUTPUT -p icmp -j NFQUEUE --queue-num 5
//   ip6tables -A OUTPUT -p icmpv6 --icmpv6-type echo-request -j NFQUEUE --queue-num 5
// by a Python AF_NETLINK script bound to queue 5 in copy-packet mode that printed the
// NFQA_PAYLOAD of each packet; the traffic was a UDP datagram "hello nfqueue" to
// 127.0.0.1:9999, a TCP connect to [::1]:8888 (a SYN with options) and ping sockets sending
// "ping4" and "ping6". Without the GSO flag the kernel completes checksums before queueing, so
// all of them are valid.
const REAL_UDP4: &str =
    "4500002951b540004011eb0c7f0000017f000001af23270f00153d4b68656c6c6f206e667175657565";
const REAL_TCP6_SYN: &str = "600ec9f4002806400000000000000000000000000000000100000000000000000000\
000000000001802e22b8cce5b8ac00000000a002ffc445e900000204ffc40402080add24029f000000000103030a";
const REAL_ICMP4: &str = "45000021fcb84000400140217f0000017f000001080068207d0d000170696e6734";
const REAL_ICMP6: &str = "6006ecaf000d3a40000000000000000000000000000000010000000000000000000000\
00000000018000edd57d0e000170696e6736";

/// Offsets of the IPv4 header checksum (if any) and the transport checksum field.
fn checksum_fields(packet: &[u8]) -> (Option<usize>, usize) {
    let layout = layout(packet, Lengths::FromHeader).unwrap();
    let l3 = (layout.version == 4).then_some(10);
    let l4 = match layout.protocol {
        PROTO_TCP => layout.l4 + 16,
        PROTO_UDP => layout.l4 + 6,
        _ => layout.l4 + 2,
    };
    (l3, l4)
}

/// Overwrites both checksum fields, fixes them, and expects the original bytes back.
fn corrupt_fix_compare(good: &[u8], junk: u16) {
    assert!(verify_checksums(good).unwrap(), "fixture must be valid");
    let (l3, l4) = checksum_fields(good);
    let mut bad = good.to_vec();
    let new_l4 = be16(good, l4) ^ junk.max(1);
    put_be16(&mut bad, l4, new_l4);
    let mut changed = ![0, 0xffff].contains(&new_l4);
    if let Some(l3) = l3 {
        let new_l3 = be16(good, l3).wrapping_add(junk.max(1));
        put_be16(&mut bad, l3, new_l3);
        changed |= ![0, 0xffff].contains(&new_l3);
    }
    // 0 and 0xffff are the same number in one's complement, and 0 means "none" for UDP.
    if changed {
        assert!(!verify_checksums(&bad).unwrap());
    }
    fix_checksums(&mut bad).unwrap();
    assert_eq!(bad, good);
}

#[test]
fn real_packets_verify_and_refix() {
    for (name, text) in [
        ("udp4", REAL_UDP4),
        ("tcp6", REAL_TCP6_SYN),
        ("icmp4", REAL_ICMP4),
        ("icmp6", REAL_ICMP6),
    ] {
        let packet = hex(text);
        assert!(verify_checksums(&packet).unwrap(), "{name}");
        check_rewrite_len(&packet).unwrap();
        for junk in [1, 0x00ff, 0xffff, 0x1234] {
            corrupt_fix_compare(&packet, junk);
        }
        // finalize_rewrite on an unchanged packet changes nothing.
        let mut again = packet.clone();
        let info = finalize_rewrite(&mut again).unwrap();
        assert_eq!(again, packet, "{name}");
        assert_eq!(info.len, packet.len());
    }
}

#[test]
fn real_packet_rewrite_matches_kernel_rules() {
    // Replace "hello nfqueue" with a longer payload and finish it.
    let mut packet = hex(REAL_UDP4);
    packet.truncate(28);
    packet.extend_from_slice(b"rewritten by nfqueue");
    let info = finalize_rewrite(&mut packet).unwrap();
    assert_eq!(
        info,
        RewriteInfo {
            ip_version: 4,
            transport_offset: 20,
            protocol: PROTO_UDP,
            len: 48
        }
    );
    assert_eq!(be16(&packet, 2), 48);
    assert_eq!(be16(&packet, 24), 28);
    assert!(verify_checksums(&packet).unwrap());
    // Same result as etherparse builds from scratch (same addresses, ports, id, flags, ttl).
    let sliced = etherparse::SlicedPacket::from_ip(&packet).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = sliced.net else {
        panic!("not ipv4")
    };
    assert_eq!(ip.header().header_checksum(), {
        let mut h = ip.header().to_header();
        h.header_checksum = h.calc_header_checksum();
        h.header_checksum
    });
    let Some(etherparse::TransportSlice::Udp(udp)) = sliced.transport else {
        panic!("not udp")
    };
    let expected = udp
        .to_header()
        .calc_checksum_ipv4(&ip.header().to_header(), udp.payload())
        .unwrap();
    assert_eq!(udp.checksum(), expected);
}

#[test]
fn ipv4_header_reference_vector() {
    // The classic example header: checksum 0xb861.
    let mut header = hex("450000730000400040110000c0a80001c0a800c7");
    fix_ipv4_header_checksum(&mut header).unwrap();
    assert_eq!(be16(&header, 10), 0xb861);
    assert!(verify_ipv4_header_checksum(&header).unwrap());
    header[8] = 63;
    assert!(!verify_ipv4_header_checksum(&header).unwrap());
}

#[test]
fn ipv4_header_with_options_uses_ihl() {
    // IHL 6: a 4-byte option (NOP NOP NOP EOL) belongs to the header checksum, and UDP starts
    // at byte 24.
    let mut packet = hex("4600002000000000401100000102030405060708010101000035003500080000");
    fix_checksums(&mut packet).unwrap();
    assert!(verify_checksums(&packet).unwrap());
    let header_sum = be16(&packet, 10);
    // A byte after the header does not change the header checksum.
    packet[30] = 0xff;
    fix_ipv4_header_checksum(&mut packet).unwrap();
    assert_eq!(be16(&packet, 10), header_sum);
    assert!(!verify_l4_checksum(&packet).unwrap());
    // An option byte does.
    packet[22] = 7;
    assert!(!verify_ipv4_header_checksum(&packet).unwrap());
    fix_ipv4_header_checksum(&mut packet).unwrap();
    assert_ne!(be16(&packet, 10), header_sum);
    let info = finalize_rewrite(&mut packet).unwrap();
    assert_eq!(info.transport_offset, 24);
    assert!(verify_checksums(&packet).unwrap());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    TcpWithOptions,
    Udp,
    Icmp,
}

fn build(
    v6: bool,
    kind: Kind,
    src: [u8; 16],
    dst: [u8; 16],
    ports: (u16, u16),
    payload: &[u8],
) -> Vec<u8> {
    let ip = if v6 {
        PacketBuilder::ipv6(src, dst, 64)
    } else {
        let s: [u8; 4] = src[..4].try_into().unwrap();
        let d: [u8; 4] = dst[..4].try_into().unwrap();
        PacketBuilder::ipv4(s, d, 64)
    };
    let mut out = Vec::new();
    match kind {
        Kind::Tcp => ip
            .tcp(ports.0, ports.1, 0x0102_0304, 4096)
            .syn()
            .write(&mut out, payload)
            .unwrap(),
        Kind::TcpWithOptions => ip
            .tcp(ports.0, ports.1, 7, 512)
            .ack(99)
            .options(&[
                TcpOptionElement::MaximumSegmentSize(1460),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .unwrap()
            .write(&mut out, payload)
            .unwrap(),
        Kind::Udp => ip.udp(ports.0, ports.1).write(&mut out, payload).unwrap(),
        Kind::Icmp if v6 => ip
            .icmpv6_echo_request(ports.0, ports.1)
            .write(&mut out, payload)
            .unwrap(),
        Kind::Icmp => ip
            .icmpv4_echo_request(ports.0, ports.1)
            .write(&mut out, payload)
            .unwrap(),
    }
    out
}

const A4: [u8; 16] = [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const B4: [u8; 16] = [198, 51, 100, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

#[test]
fn etherparse_packets_all_kinds() {
    for v6 in [false, true] {
        let (a, b) = if v6 { (A6, B6) } else { (A4, B4) };
        for kind in [Kind::Tcp, Kind::TcpWithOptions, Kind::Udp, Kind::Icmp] {
            for len in [0, 1, 2, 3, 17, 1400] {
                let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let good = build(v6, kind, a, b, (40000, 9999), &payload);
                corrupt_fix_compare(&good, 0xbeef);
            }
        }
    }
}

#[test]
fn finalize_after_resize_matches_fresh_build() {
    for v6 in [false, true] {
        let (a, b) = if v6 { (A6, B6) } else { (A4, B4) };
        for kind in [Kind::Tcp, Kind::TcpWithOptions, Kind::Udp, Kind::Icmp] {
            let old = build(v6, kind, a, b, (1000, 2000), b"original payload bytes");
            let header_len = old.len() - 22;
            for new_len in [0usize, 4, 22, 23, 900] {
                let payload: Vec<u8> = (0..new_len).map(|i| i as u8 ^ 0x5a).collect();
                let mut packet = old[..header_len].to_vec();
                packet.extend_from_slice(&payload);
                let info = finalize_rewrite(&mut packet).unwrap();
                assert_eq!(info.ip_version, if v6 { 6 } else { 4 });
                assert_eq!(info.len, packet.len());
                let fresh = build(v6, kind, a, b, (1000, 2000), &payload);
                assert_eq!(packet, fresh, "v6={v6} {kind:?} len={new_len}");
            }
        }
    }
}

#[test]
fn udp_zero_checksum_rules() {
    // Find a payload whose UDP checksum comes out as zero: put the checksum of the packet with
    // a zero word back into that word, which makes the sum 0xffff.
    for v6 in [false, true] {
        let (a, b) = if v6 { (A6, B6) } else { (A4, B4) };
        let mut packet = build(v6, Kind::Udp, a, b, (5, 6), &[0, 0, 1, 2, 3, 4]);
        let l4 = if v6 { 40 } else { 20 };
        put_be16(&mut packet, l4 + 6, 0);
        let span = l4_span(&packet).unwrap();
        let word = finish(sum_bytes(&packet[span.start..span.end], span.pseudo));
        put_be16(&mut packet, l4 + 8, word);
        fix_l4_checksum(&mut packet).unwrap();
        assert_eq!(
            be16(&packet, l4 + 6),
            0xffff,
            "computed 0 is sent as 0xffff"
        );
        assert!(verify_l4_checksum(&packet).unwrap());

        // A zero field: "no checksum" over IPv4, invalid over IPv6.
        put_be16(&mut packet, l4 + 6, 0);
        assert_eq!(verify_l4_checksum(&packet).unwrap(), !v6);
        // fix always computes one.
        let mut other = build(v6, Kind::Udp, a, b, (5, 6), b"abc");
        put_be16(&mut other, l4 + 6, 0);
        fix_l4_checksum(&mut other).unwrap();
        assert_ne!(be16(&other, l4 + 6), 0);
        assert!(verify_l4_checksum(&other).unwrap());
    }
}

#[test]
fn udp_length_limits_coverage() {
    // Trailing bytes after the UDP length (inside the IP length) are not covered.
    let mut packet = build(false, Kind::Udp, A4, B4, (5, 6), b"abcd");
    let good = packet.clone();
    packet.extend_from_slice(&[9, 9, 9]);
    put_be16(&mut packet, 2, 35);
    fix_checksums(&mut packet).unwrap();
    assert_eq!(be16(&packet, 26), be16(&good, 26));
    // A UDP length beyond the IP packet.
    put_be16(&mut packet, 24, 40);
    assert_eq!(
        fix_l4_checksum(&mut packet),
        Err(ChecksumError::LengthMismatch {
            header: Header::Udp,
            claimed: 60,
            len: 35
        })
    );
    put_be16(&mut packet, 24, 7);
    assert_eq!(
        verify_l4_checksum(&packet),
        Err(ChecksumError::BadHeaderLength {
            header: Header::Udp,
            len: 7
        })
    );
}

#[test]
fn bytes_after_ip_length_are_ignored() {
    // Ethernet padding after a short packet does not change anything.
    let good = build(false, Kind::Tcp, A4, B4, (1, 2), b"");
    let mut padded = good.clone();
    padded.extend_from_slice(&[0xa5; 6]);
    assert!(verify_checksums(&padded).unwrap());
    put_be16(&mut padded, 36, 0);
    fix_checksums(&mut padded).unwrap();
    assert_eq!(&padded[..good.len()], &good[..]);
}

/// Inserts IPv6 extension headers (already chained, the last one's next header is set here)
/// between the fixed header and the transport header.
fn with_extensions(packet: &[u8], exts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = packet[..40].to_vec();
    let upper = packet[6];
    out[6] = exts[0].0;
    for (i, (_, body)) in exts.iter().enumerate() {
        let next = exts.get(i + 1).map_or(upper, |e| e.0);
        let mut body = body.clone();
        body[0] = next;
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(&packet[40..]);
    let plen = u16::try_from(out.len() - 40).unwrap();
    put_be16(&mut out, 4, plen);
    out
}

fn options_header(len_units: u8) -> Vec<u8> {
    let total = (usize::from(len_units) + 1) * 8;
    let mut body = vec![0u8; total];
    body[1] = len_units;
    // One PadN option filling the rest.
    body[2] = 1;
    body[3] = u8::try_from(total - 4).unwrap();
    body
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let plain = build(true, Kind::Udp, A6, B6, (53, 53), b"query");
    let mut routing = vec![0u8; 8];
    routing[1] = 0;
    routing[2] = 4; // segment routing, no segments left
    let good = with_extensions(
        &plain,
        &[
            (EXT_HOP_BY_HOP, options_header(0)),
            (EXT_DEST_OPTS, options_header(1)),
            (EXT_ROUTING, routing.clone()),
        ],
    );
    assert_eq!(good.len(), plain.len() + 8 + 16 + 8);
    // The pseudo-header does not include extension headers: the checksum is unchanged.
    corrupt_fix_compare(&good, 0x4242);
    let mut resized = good[..good.len() - 5].to_vec();
    resized.extend_from_slice(b"a longer query");
    let info = finalize_rewrite(&mut resized).unwrap();
    assert_eq!(info.transport_offset, 72);
    assert_eq!(info.protocol, PROTO_UDP);
    let fresh = build(true, Kind::Udp, A6, B6, (53, 53), b"a longer query");
    assert_eq!(&resized[72..], &fresh[40..]);

    // A routing header with segments left needs the final destination: refused.
    routing[3] = 1;
    let mut bad = with_extensions(&plain, &[(EXT_ROUTING, routing)]);
    assert_eq!(
        fix_l4_checksum(&mut bad),
        Err(ChecksumError::UnsupportedExtensionHeader {
            next_header: EXT_ROUTING
        })
    );
}

#[test]
fn ipv6_refusals() {
    let plain = build(true, Kind::Tcp, A6, B6, (1, 2), b"x");
    let mut frag = with_extensions(&plain, &[(EXT_FRAGMENT, vec![0; 8])]);
    assert_eq!(fix_l4_checksum(&mut frag), Err(ChecksumError::Fragment));
    assert_eq!(finalize_rewrite(&mut frag), Err(ChecksumError::Fragment));
    assert_eq!(check_rewrite_len(&frag), Ok(()));
    for next_header in [EXT_AH, EXT_ESP, EXT_MOBILITY, EXT_HIP, EXT_SHIM6, 253, 254] {
        let mut packet = plain.clone();
        packet[6] = next_header;
        let err = fix_checksums(&mut packet).unwrap_err();
        assert_eq!(
            err,
            ChecksumError::UnsupportedExtensionHeader { next_header }
        );
        assert!(err.to_string().contains("not supported"), "{err}");
    }
    // An extension header running past the end.
    let mut packet = with_extensions(&plain, &[(EXT_DEST_OPTS, options_header(0))]);
    packet[41] = 200;
    assert!(matches!(
        verify_checksums(&packet),
        Err(ChecksumError::Truncated {
            header: Header::Ipv6Extension,
            ..
        })
    ));
    // ICMP (v4) over IPv6 and ICMPv6 over IPv4 are not what the protocols allow.
    let mut packet = plain.clone();
    packet[6] = PROTO_ICMP;
    assert_eq!(
        fix_l4_checksum(&mut packet),
        Err(ChecksumError::UnsupportedProtocol { protocol: 1 })
    );
    let mut packet = build(false, Kind::Udp, A4, B4, (1, 2), b"x");
    packet[9] = PROTO_ICMPV6;
    assert_eq!(
        fix_l4_checksum(&mut packet),
        Err(ChecksumError::UnsupportedProtocol { protocol: 58 })
    );
}

#[test]
fn ipv4_fragments() {
    let mut packet = build(false, Kind::Udp, A4, B4, (1, 2), b"fragment");
    // More fragments: the first fragment.
    packet[6] = 0x20;
    assert_eq!(fix_l4_checksum(&mut packet), Err(ChecksumError::Fragment));
    assert_eq!(finalize_rewrite(&mut packet), Err(ChecksumError::Fragment));
    // The header checksum of a fragment can still be fixed.
    fix_ipv4_header_checksum(&mut packet).unwrap();
    assert!(verify_ipv4_header_checksum(&packet).unwrap());
    // A later fragment has no transport header, so a short one is fine for the kernel.
    packet[6] = 0x00;
    packet[7] = 0x10;
    packet.truncate(22);
    assert_eq!(check_rewrite_len(&packet), Ok(()));
    // ... but a short first fragment is not.
    packet[7] = 0;
    packet[6] = 0x20;
    assert!(matches!(
        check_rewrite_len(&packet),
        Err(ChecksumError::Truncated {
            header: Header::Udp,
            ..
        })
    ));
}

#[test]
fn rewrite_length_checks() {
    // The 10-byte "IP packet" that the kernel acks and drops.
    let mut tiny = build(false, Kind::Udp, A4, B4, (1, 2), b"");
    tiny.truncate(10);
    assert_eq!(
        check_rewrite_len(&tiny),
        Err(ChecksumError::Truncated {
            header: Header::Ipv4,
            needed: 20,
            len: 10
        })
    );
    // IP header complete, transport header not.
    let udp = build(false, Kind::Udp, A4, B4, (1, 2), b"");
    let err = check_rewrite_len(&udp[..27]).unwrap_err();
    assert_eq!(
        err,
        ChecksumError::Truncated {
            header: Header::Udp,
            needed: 28,
            len: 27
        }
    );
    assert!(err.to_string().contains("silently drop"), "{err}");
    assert_eq!(check_rewrite_len(&udp), Ok(()));
    // TCP options announced but not there.
    let tcp = build(true, Kind::TcpWithOptions, A6, B6, (1, 2), b"");
    assert_eq!(tcp.len(), 40 + 28);
    assert_eq!(
        check_rewrite_len(&tcp[..64]),
        Err(ChecksumError::Truncated {
            header: Header::Tcp,
            needed: 68,
            len: 64
        })
    );
    let mut bad_offset = tcp.clone();
    bad_offset[52] = 0x40;
    assert_eq!(
        check_rewrite_len(&bad_offset),
        Err(ChecksumError::BadHeaderLength {
            header: Header::Tcp,
            len: 16
        })
    );
    // The biggest payload a verdict carries, and one byte more.
    let mut big = build(
        false,
        Kind::Udp,
        A4,
        B4,
        (1, 2),
        &vec![0; MAX_REWRITE_LEN - 28],
    );
    assert_eq!(check_rewrite_len(&big), Ok(()));
    finalize_rewrite(&mut big).unwrap();
    assert!(verify_checksums(&big).unwrap());
    big.push(0);
    assert_eq!(
        check_rewrite_len(&big),
        Err(ChecksumError::TooLong {
            len: 65532,
            max: 65531
        })
    );
    assert_eq!(
        finalize_rewrite(&mut big),
        Err(ChecksumError::TooLong {
            len: 65532,
            max: 65531
        })
    );
    // Other protocols: only the IP header matters for the kernel.
    let mut gre = build(false, Kind::Udp, A4, B4, (1, 2), b"");
    gre[9] = 47;
    gre.truncate(20);
    assert_eq!(check_rewrite_len(&gre), Ok(()));
    assert_eq!(
        finalize_rewrite(&mut gre),
        Err(ChecksumError::UnsupportedProtocol { protocol: 47 })
    );
    // fix_lengths and the header checksum still serve such packets.
    gre.extend_from_slice(&[0; 4]);
    fix_lengths(&mut gre).unwrap();
    assert_eq!(be16(&gre, 2), 24);
}

#[test]
fn header_errors() {
    assert_eq!(fix_checksums(&mut []), Err(ChecksumError::Empty));
    assert_eq!(check_rewrite_len(&[]), Err(ChecksumError::Empty));
    assert_eq!(
        verify_checksums(&[0x50; 40]),
        Err(ChecksumError::NotIp { version: 5 })
    );
    let v6 = build(true, Kind::Udp, A6, B6, (1, 2), b"");
    assert_eq!(
        fix_ipv4_header_checksum(&mut v6.clone()),
        Err(ChecksumError::NotIpv4 { version: 6 })
    );
    assert_eq!(
        verify_checksums(&v6[..39]),
        Err(ChecksumError::Truncated {
            header: Header::Ipv6,
            needed: 40,
            len: 39
        })
    );
    let mut v4 = build(false, Kind::Udp, A4, B4, (1, 2), b"");
    v4[0] = 0x44;
    assert_eq!(
        fix_checksums(&mut v4),
        Err(ChecksumError::BadHeaderLength {
            header: Header::Ipv4,
            len: 16
        })
    );
    v4[0] = 0x4f;
    assert_eq!(
        fix_ipv4_header_checksum(&mut v4),
        Err(ChecksumError::Truncated {
            header: Header::Ipv4,
            needed: 60,
            len: 28
        })
    );
    v4[0] = 0x45;
    put_be16(&mut v4, 2, 29);
    let err = fix_checksums(&mut v4).unwrap_err();
    assert_eq!(
        err,
        ChecksumError::LengthMismatch {
            header: Header::Ipv4,
            claimed: 29,
            len: 28
        }
    );
    assert!(err.to_string().contains("finalize_rewrite"), "{err}");
    put_be16(&mut v4, 2, 19);
    assert!(matches!(
        fix_checksums(&mut v4),
        Err(ChecksumError::LengthMismatch { .. })
    ));
    let mut v6 = v6;
    put_be16(&mut v6, 4, 9);
    assert_eq!(
        verify_checksums(&v6),
        Err(ChecksumError::LengthMismatch {
            header: Header::Ipv6,
            claimed: 49,
            len: 48
        })
    );
    let io: std::io::Error = ChecksumError::Fragment.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn error_messages_read_well() {
    let cases = [
        (ChecksumError::Empty, "the packet is empty"),
        (
            ChecksumError::NotIp { version: 5 },
            "not an IP packet: the version field is 5, expected 4 or 6",
        ),
        (
            ChecksumError::TooLong {
                len: 70000,
                max: 65531,
            },
            "the packet is 70000 bytes long, more than the 65531 bytes allowed",
        ),
        (
            ChecksumError::UnsupportedProtocol { protocol: 132 },
            "no checksum support for IP protocol 132: only TCP, UDP, ICMP over IPv4 and ICMPv6 \
             over IPv6",
        ),
        (
            ChecksumError::Truncated {
                header: Header::Ipv4,
                needed: 20,
                len: 10,
            },
            "the packet is too short for its IPv4 header: it needs 20 bytes and has 10",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}

#[test]
fn fix_lengths_limits() {
    let mut v4 = vec![0u8; 65536];
    v4[0] = 0x45;
    v4[9] = 47;
    assert_eq!(
        fix_lengths(&mut v4),
        Err(ChecksumError::TooLong {
            len: 65536,
            max: 65535
        })
    );
    v4.pop();
    assert_eq!(fix_lengths(&mut v4), Ok(()));
    assert_eq!(be16(&v4, 2), 65535);
    let mut v6 = vec![0u8; 65575];
    v6[0] = 0x60;
    v6[6] = 59; // no next header
    assert_eq!(fix_lengths(&mut v6), Ok(()));
    assert_eq!(be16(&v6, 4), 65535);
    // A UDP header that does not fit is reported before anything is written.
    let mut short = build(false, Kind::Udp, A4, B4, (1, 2), b"");
    short.truncate(24);
    let before = short.clone();
    assert!(fix_lengths(&mut short).is_err());
    assert_eq!(short, before);
}

#[test]
fn sum_matches_simple_16_bit_sum() {
    let data: Vec<u8> = (0..1001u32).map(|i| (i * 37 % 251) as u8).collect();
    for len in 0..data.len() {
        let slice = &data[..len];
        let mut simple: u64 = 0;
        for pair in slice.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map_or(0, u64::from);
            simple += hi | lo;
        }
        assert_eq!(fold(sum_bytes(slice, 0)), fold(simple), "len {len}");
    }
}

fn kind_strategy() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Tcp),
        Just(Kind::TcpWithOptions),
        Just(Kind::Udp),
        Just(Kind::Icmp)
    ]
}

proptest! {
    #[test]
    fn fix_then_verify_always_holds(
        v6 in any::<bool>(),
        kind in kind_strategy(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        ports in any::<(u16, u16)>(),
        payload in proptest::collection::vec(any::<u8>(), 0..1600),
        junk in any::<(u16, u16)>(),
    ) {
        let good = build(v6, kind, src, dst, ports, &payload);
        let mut packet = good.clone();
        let (l3, l4) = checksum_fields(&packet);
        put_be16(&mut packet, l4, junk.0);
        if let Some(l3) = l3 {
            put_be16(&mut packet, l3, junk.1);
        }
        fix_checksums(&mut packet).unwrap();
        prop_assert!(verify_checksums(&packet).unwrap());
        prop_assert_eq!(&packet, &good);
    }

    #[test]
    fn finalize_then_verify_after_any_resize(
        v6 in any::<bool>(),
        kind in kind_strategy(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        new_payload in proptest::collection::vec(any::<u8>(), 0..300),
        junk in any::<[u8; 4]>(),
    ) {
        let (a, b) = if v6 { (A6, B6) } else { (A4, B4) };
        let old = build(v6, kind, a, b, (7, 8), &payload);
        let mut packet = old[..old.len() - payload.len()].to_vec();
        // Scribble on the length fields and the IPv4 header checksum.
        if v6 {
            packet[4] = junk[0];
            packet[5] = junk[1];
        } else {
            packet[2] = junk[0];
            packet[3] = junk[1];
            packet[10] = junk[2];
        }
        if kind == Kind::Udp {
            let l4 = if v6 { 40 } else { 20 };
            packet[l4 + 4] = junk[3];
        }
        packet.extend_from_slice(&new_payload);
        finalize_rewrite(&mut packet).unwrap();
        prop_assert!(verify_checksums(&packet).unwrap());
        prop_assert_eq!(packet, build(v6, kind, a, b, (7, 8), &new_payload));
    }

    #[test]
    fn never_panics_on_garbage(
        first in prop_oneof![Just(0x45u8), Just(0x46), Just(0x4f), Just(0x60), any::<u8>()],
        proto in prop_oneof![Just(6u8), Just(17), Just(1), Just(58), Just(0), Just(43), Just(60), Just(44), any::<u8>()],
        mut rest in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = vec![first];
        bytes.append(&mut rest);
        if bytes.len() > 9 {
            bytes[9] = proto;
        }
        if bytes.len() > 6 && first >> 4 == 6 {
            bytes[6] = proto;
        }
        let _ = check_rewrite_len(&bytes);
        let _ = verify_checksums(&bytes);
        let _ = verify_ipv4_header_checksum(&bytes);
        let _ = fix_checksums(&mut bytes.clone());
        let _ = fix_lengths(&mut bytes.clone());
        let mut fixed = bytes.clone();
        if finalize_rewrite(&mut fixed).is_ok() {
            prop_assert!(verify_checksums(&fixed).unwrap());
        }
        if fix_checksums(&mut bytes).is_ok() {
            prop_assert!(verify_checksums(&bytes).unwrap());
        }
    }
}
