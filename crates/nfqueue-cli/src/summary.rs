// SPDX-License-Identifier: MIT OR Apache-2.0
//! A one-glance summary of a queued packet (addresses, protocol, ports), decoded leniently so
//! that truncated captures and odd packets still give what can be read.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use etherparse::{EtherType, Ipv6ExtensionSlice, LaxNetSlice, LaxSlicedPacket};
use linux_nfqueue::Family;

/// What could be read from a packet. Every field is `None` when the bytes did not reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PacketSummary {
    /// Source address (the sender's protocol address for ARP).
    pub(crate) src: Option<IpAddr>,
    /// Destination address (the target's protocol address for ARP).
    pub(crate) dst: Option<IpAddr>,
    /// The IP protocol number of the transport (after IPv6 extension headers).
    pub(crate) proto: Option<u8>,
    /// Source port (TCP, UDP, UDP-Lite, SCTP, DCCP).
    pub(crate) sport: Option<u16>,
    /// Destination port.
    pub(crate) dport: Option<u16>,
    /// The packet is ARP.
    pub(crate) arp: bool,
}

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;

impl PacketSummary {
    /// Summarises a queued packet's payload.
    ///
    /// `payload` is what the kernel copied: the L3 packet for the IPv4, IPv6 and ARP families; for
    /// bridge and netdev, either the L3 packet or the Ethernet frame, told apart with
    /// `hw_protocol` (the EtherType from the packet header; 0 when unknown). Never fails: bytes
    /// that cannot be read give `None` fields.
    pub(crate) fn decode(family: Family, hw_protocol: u16, payload: &[u8]) -> Self {
        match family {
            Family::Ipv4 | Family::Ipv6 => from_ip(payload),
            Family::Arp => from_arp(payload),
            Family::Bridge | Family::Netdev | Family::Unspec | Family::Unknown(_) => {
                from_l2_or_l3(hw_protocol, payload)
            }
        }
    }

    /// The transport protocol for output; see [`ProtoName`].
    pub(crate) fn proto_name(&self) -> ProtoName {
        if self.arp {
            ProtoName::Named("arp")
        } else {
            match self.proto {
                None => ProtoName::Unknown,
                Some(p) => match ip_proto_name(p) {
                    Some(name) => ProtoName::Named(name),
                    None => ProtoName::Number(p),
                },
            }
        }
    }
}

/// A transport protocol as the output writes it: a name, a number, or unknown (`-`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtoName {
    /// A protocol with a short name (`tcp`, `udp`, `icmp`, `icmpv6`, ..., or `arp`).
    Named(&'static str),
    /// An IP protocol number without a name here.
    Number(u8),
    /// Nothing could be read.
    Unknown,
}

impl fmt::Display for ProtoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(name) => f.write_str(name),
            Self::Number(n) => write!(f, "{n}"),
            Self::Unknown => f.write_str("-"),
        }
    }
}

/// Short names of common IP protocols.
fn ip_proto_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        0 => "hopopt",
        1 => "icmp",
        2 => "igmp",
        4 => "ipip",
        6 => "tcp",
        17 => "udp",
        33 => "dccp",
        41 => "ipv6",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "icmpv6",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        132 => "sctp",
        136 => "udplite",
        _ => return None,
    })
}

/// Protocols whose header starts with a 16-bit source and destination port.
fn has_ports(proto: u8) -> bool {
    matches!(proto, 6 | 17 | 33 | 132 | 136)
}

fn from_ip(payload: &[u8]) -> PacketSummary {
    match LaxSlicedPacket::from_ip(payload) {
        Ok(packet) => from_net(packet.net.as_ref()),
        Err(_) => PacketSummary::default(),
    }
}

/// Summarises an already sliced network layer.
fn from_net(net: Option<&LaxNetSlice<'_>>) -> PacketSummary {
    let mut summary = PacketSummary::default();
    let (payload, first_fragment) = match net {
        None => return summary,
        Some(LaxNetSlice::Ipv4(v4)) => {
            let header = v4.header();
            summary.src = Some(IpAddr::V4(header.source_addr()));
            summary.dst = Some(IpAddr::V4(header.destination_addr()));
            (v4.payload(), header.fragments_offset().value() == 0)
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let header = v6.header();
            summary.src = Some(IpAddr::V6(header.source_addr()));
            summary.dst = Some(IpAddr::V6(header.destination_addr()));
            let first = v6.extensions().clone().into_iter().all(|ext| match ext {
                Ipv6ExtensionSlice::Fragment(frag) => frag.fragment_offset().value() == 0,
                _ => true,
            });
            (v6.payload(), first)
        }
    };
    summary.proto = Some(payload.ip_number.0);
    // Read the ports straight from the bytes: works on truncated captures and first fragments,
    // where a full transport parse would give up.
    if has_ports(payload.ip_number.0) && first_fragment {
        if let [a, b, c, d, ..] = *payload.payload {
            summary.sport = Some(u16::from_be_bytes([a, b]));
            summary.dport = Some(u16::from_be_bytes([c, d]));
        }
    }
    summary
}

/// Reads the IPv4 addresses of an ARP packet (hardware type any, protocol IPv4).
fn from_arp(payload: &[u8]) -> PacketSummary {
    let mut summary = PacketSummary {
        arp: true,
        ..PacketSummary::default()
    };
    // htype(2) ptype(2) hlen(1) plen(1) op(2) sha spa tha tpa
    let [_, _, p0, p1, hlen, plen, ..] = *payload else {
        return summary;
    };
    if u16::from_be_bytes([p0, p1]) != ETH_P_IPV4 || plen != 4 {
        return summary;
    }
    let hlen = usize::from(hlen);
    let spa = 8 + hlen;
    let tpa = spa + 4 + hlen;
    let addr = |at: usize| {
        payload
            .get(at..at + 4)
            .map(|b| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
    };
    summary.src = addr(spa);
    summary.dst = addr(tpa);
    summary
}

/// Bridge and netdev payloads: the L3 packet when it looks like the EtherType says, else an
/// Ethernet frame.
fn from_l2_or_l3(hw_protocol: u16, payload: &[u8]) -> PacketSummary {
    let version = payload.first().map(|b| b >> 4);
    match (hw_protocol, version) {
        (ETH_P_IPV4, Some(4)) | (ETH_P_IPV6, Some(6)) => return from_ip(payload),
        (ETH_P_ARP, _) if payload.starts_with(&[0, 1, 8, 0]) => return from_arp(payload),
        _ => {}
    }
    let Ok(frame) = LaxSlicedPacket::from_ethernet(payload) else {
        return PacketSummary::default();
    };
    if frame.net.is_some() {
        return from_net(frame.net.as_ref());
    }
    match frame.ether_payload() {
        Some(inner) if inner.ether_type == EtherType::ARP => from_arp(inner.payload),
        _ => PacketSummary::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use std::net::Ipv6Addr;

    fn udp4() -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(40000, 9999)
            .write(&mut out, &[0u8; 64])
            .unwrap();
        out
    }

    fn tcp6() -> Vec<u8> {
        let mut out = Vec::new();
        let a = Ipv6Addr::LOCALHOST.octets();
        PacketBuilder::ipv6(a, a, 64)
            .tcp(51000, 8888, 1, 100)
            .write(&mut out, b"GET /")
            .unwrap();
        out
    }

    #[test]
    fn udp_over_ipv4() {
        let s = PacketSummary::decode(Family::Ipv4, 0x0800, &udp4());
        assert_eq!(s.src, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(s.dst, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(s.proto, Some(17));
        assert_eq!((s.sport, s.dport), (Some(40000), Some(9999)));
        assert_eq!(s.proto_name().to_string(), "udp");
    }

    #[test]
    fn tcp_over_ipv6() {
        let s = PacketSummary::decode(Family::Ipv6, 0x86dd, &tcp6());
        assert_eq!(s.src, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(s.proto_name().to_string(), "tcp");
        assert_eq!((s.sport, s.dport), (Some(51000), Some(8888)));
    }

    #[test]
    fn icmp_has_no_ports() {
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .icmpv4_echo_request(1, 2)
            .write(&mut out, b"ping")
            .unwrap();
        let s = PacketSummary::decode(Family::Ipv4, 0, &out);
        assert_eq!(s.proto_name().to_string(), "icmp");
        assert_eq!((s.sport, s.dport), (None, None));
        let mut out = Vec::new();
        let a = Ipv6Addr::LOCALHOST.octets();
        PacketBuilder::ipv6(a, a, 64)
            .icmpv6_echo_request(1, 2)
            .write(&mut out, b"ping")
            .unwrap();
        assert_eq!(
            PacketSummary::decode(Family::Ipv6, 0, &out)
                .proto_name()
                .to_string(),
            "icmpv6"
        );
    }

    #[test]
    fn truncated_captures_keep_what_is_there() {
        let packet = tcp6();
        // Copy range 44: the IPv6 header and the ports only.
        let s = PacketSummary::decode(Family::Ipv6, 0, &packet[..44]);
        assert_eq!((s.sport, s.dport), (Some(51000), Some(8888)));
        // Copy range 42: addresses and protocol, no ports.
        let s = PacketSummary::decode(Family::Ipv6, 0, &packet[..42]);
        assert_eq!(s.proto, Some(6));
        assert!(s.src.is_some() && s.sport.is_none());
        // Less than an IP header: nothing, and no panic.
        for len in 0..packet.len() {
            let _ = PacketSummary::decode(Family::Ipv6, 0, &packet[..len]);
            let _ = PacketSummary::decode(Family::Ipv4, 0, &udp4()[..len.min(92)]);
            let _ = PacketSummary::decode(Family::Bridge, 0x86dd, &packet[..len]);
            let _ = PacketSummary::decode(Family::Arp, 0, &packet[..len]);
        }
        let s = PacketSummary::decode(Family::Ipv4, 0, &udp4()[..10]);
        assert_eq!(s, PacketSummary::default());
        assert_eq!(s.proto_name().to_string(), "-");
        assert_eq!(PacketSummary::decode(Family::Ipv4, 0, &[]), s);
    }

    #[test]
    fn fragments() {
        let mut first = udp4();
        first[6] = 0x20; // more fragments, offset 0
        let s = PacketSummary::decode(Family::Ipv4, 0, &first);
        assert_eq!(s.sport, Some(40000));
        let mut later = udp4();
        later[6] = 0x00;
        later[7] = 0x10; // offset 16 * 8
        let s = PacketSummary::decode(Family::Ipv4, 0, &later);
        assert_eq!(s.proto, Some(17));
        assert_eq!(s.sport, None);
    }

    #[test]
    fn bridge_frames_and_l3() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
            .udp(53, 5353)
            .write(&mut frame, b"x")
            .unwrap();
        let s = PacketSummary::decode(Family::Bridge, 0x0800, &frame);
        assert_eq!(s.src, Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1))));
        assert_eq!(s.dport, Some(5353));
        // The same packet without its Ethernet header.
        let s2 = PacketSummary::decode(Family::Bridge, 0x0800, &frame[14..]);
        assert_eq!(s, s2);
        let s3 = PacketSummary::decode(Family::Netdev, 0x0800, &frame[14..]);
        assert_eq!(s, s3);
    }

    fn arp_request() -> Vec<u8> {
        let mut p = vec![0, 1, 8, 0, 6, 4, 0, 1];
        p.extend_from_slice(&[2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        p
    }

    #[test]
    fn arp() {
        let s = PacketSummary::decode(Family::Arp, 0x0806, &arp_request());
        assert!(s.arp);
        assert_eq!(s.src, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
        assert_eq!(s.dst, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))));
        assert_eq!(s.proto, None);
        assert_eq!(s.proto_name().to_string(), "arp");
        let mut frame = vec![0xff; 6];
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        frame.extend_from_slice(&arp_request());
        assert_eq!(PacketSummary::decode(Family::Bridge, 0x0806, &frame), s);
        // Truncated: the target address is missing.
        let s = PacketSummary::decode(Family::Arp, 0, &arp_request()[..20]);
        assert!(s.src.is_some() && s.dst.is_none());
    }

    #[test]
    fn protocol_names() {
        let named = |p| {
            PacketSummary {
                proto: Some(p),
                ..Default::default()
            }
            .proto_name()
            .to_string()
        };
        assert_eq!(named(47), "gre");
        assert_eq!(named(132), "sctp");
        assert_eq!(named(253), "253");
    }
}
