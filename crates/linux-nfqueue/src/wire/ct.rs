// SPDX-License-Identifier: MIT OR Apache-2.0
//! Conntrack data nested in `NFQA_CT` (`CTA_*` attributes), decoded on demand.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::attr::{Attr, AttrIter};
use super::bytes::array;
use super::consts::*;

/// A view over the `CTA_*` attributes inside `NFQA_CT`.
///
/// Every accessor walks the nested attributes when called; a malformed nested attribute ends
/// the walk, so the accessor returns `None` rather than failing the packet.
#[doc(alias = "NFQA_CT")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtView<'a> {
    raw: &'a [u8],
    offset: usize,
}

impl<'a> CtView<'a> {
    /// Wraps the value of an `NFQA_CT` attribute whose header sits at `offset`.
    pub const fn new(raw: &'a [u8], offset: usize) -> Self {
        Self { raw, offset }
    }

    /// The nested attribute bytes.
    pub const fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Every `CTA_*` attribute, in order.
    pub fn attrs(&self) -> AttrIter<'a> {
        AttrIter::new(self.raw, self.offset.saturating_add(NLA_HDRLEN))
    }

    /// The first `CTA_*` attribute of type `kind`.
    pub fn attr(&self, kind: u16) -> Option<Attr<'a>> {
        self.attrs().find(kind)
    }

    /// `CTA_ID`: the conntrack entry id.
    #[doc(alias = "CTA_ID")]
    pub fn id(&self) -> Option<u32> {
        self.attr(CTA_ID)?.be32()
    }

    /// `CTA_STATUS`: `IPS_*` bits.
    #[doc(alias = "CTA_STATUS")]
    pub fn status(&self) -> Option<CtStatus> {
        self.attr(CTA_STATUS)?.be32().map(CtStatus::from_bits)
    }

    /// `CTA_MARK`: the connection mark.
    #[doc(alias = "CTA_MARK")]
    pub fn mark(&self) -> Option<u32> {
        self.attr(CTA_MARK)?.be32()
    }

    /// `CTA_ZONE`: the conntrack zone.
    #[doc(alias = "CTA_ZONE")]
    pub fn zone(&self) -> Option<u16> {
        self.attr(CTA_ZONE)?.be16()
    }

    /// `CTA_TIMEOUT`: seconds until the entry expires.
    #[doc(alias = "CTA_TIMEOUT")]
    pub fn timeout(&self) -> Option<u32> {
        self.attr(CTA_TIMEOUT)?.be32()
    }

    /// `CTA_USE`: reference count.
    #[doc(alias = "CTA_USE")]
    pub fn use_count(&self) -> Option<u32> {
        self.attr(CTA_USE)?.be32()
    }

    /// `CTA_LABELS`: the label bit set (16 bytes on current kernels).
    #[doc(alias = "CTA_LABELS")]
    pub fn labels(&self) -> Option<&'a [u8]> {
        Some(self.attr(CTA_LABELS)?.value())
    }

    /// `CTA_TUPLE_ORIG`: the original-direction tuple.
    #[doc(alias = "CTA_TUPLE_ORIG")]
    pub fn orig(&self) -> Option<CtTuple> {
        self.attr(CTA_TUPLE_ORIG).map(|a| CtTuple::parse(a.value()))
    }

    /// `CTA_TUPLE_REPLY`: the reply-direction tuple.
    #[doc(alias = "CTA_TUPLE_REPLY")]
    pub fn reply(&self) -> Option<CtTuple> {
        self.attr(CTA_TUPLE_REPLY)
            .map(|a| CtTuple::parse(a.value()))
    }
}

/// A conntrack tuple (`CTA_TUPLE_*` nest). Fields absent in the nest are `None`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CtTuple {
    /// `CTA_IP_V4_SRC` or `CTA_IP_V6_SRC`.
    pub src: Option<IpAddr>,
    /// `CTA_IP_V4_DST` or `CTA_IP_V6_DST`.
    pub dst: Option<IpAddr>,
    /// `CTA_PROTO_NUM`: the IP protocol number.
    pub proto: Option<u8>,
    /// `CTA_PROTO_SRC_PORT`.
    pub src_port: Option<u16>,
    /// `CTA_PROTO_DST_PORT`.
    pub dst_port: Option<u16>,
    /// `CTA_PROTO_ICMP_ID` or `CTA_PROTO_ICMPV6_ID`.
    pub icmp_id: Option<u16>,
    /// `CTA_PROTO_ICMP_TYPE` or `CTA_PROTO_ICMPV6_TYPE`.
    pub icmp_type: Option<u8>,
    /// `CTA_PROTO_ICMP_CODE` or `CTA_PROTO_ICMPV6_CODE`.
    pub icmp_code: Option<u8>,
    /// `CTA_TUPLE_ZONE`.
    pub zone: Option<u16>,
}

impl CtTuple {
    /// Decodes the inside of a tuple nest, skipping what it does not know and stopping at the
    /// first malformed attribute.
    pub fn parse(nest: &[u8]) -> Self {
        let mut t = Self::default();
        for a in AttrIter::new(nest, 0).map_while(Result::ok) {
            match a.kind() {
                CTA_TUPLE_IP => t.parse_ip(a),
                CTA_TUPLE_PROTO => t.parse_proto(a),
                CTA_TUPLE_ZONE => t.zone = a.be16(),
                _ => {}
            }
        }
        t
    }

    fn parse_ip(&mut self, nest: Attr<'_>) {
        for a in nest.nested().map_while(Result::ok) {
            let v = a.value();
            match a.kind() {
                CTA_IP_V4_SRC => self.src = array::<4>(v, 0).map(|b| Ipv4Addr::from(b).into()),
                CTA_IP_V4_DST => self.dst = array::<4>(v, 0).map(|b| Ipv4Addr::from(b).into()),
                CTA_IP_V6_SRC => self.src = array::<16>(v, 0).map(|b| Ipv6Addr::from(b).into()),
                CTA_IP_V6_DST => self.dst = array::<16>(v, 0).map(|b| Ipv6Addr::from(b).into()),
                _ => {}
            }
        }
    }

    fn parse_proto(&mut self, nest: Attr<'_>) {
        for a in nest.nested().map_while(Result::ok) {
            match a.kind() {
                CTA_PROTO_NUM => self.proto = a.u8(),
                CTA_PROTO_SRC_PORT => self.src_port = a.be16(),
                CTA_PROTO_DST_PORT => self.dst_port = a.be16(),
                CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => self.icmp_id = a.be16(),
                CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => self.icmp_type = a.u8(),
                CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => self.icmp_code = a.u8(),
                _ => {}
            }
        }
    }
}

/// Conntrack status bits (`enum ip_conntrack_status`, `IPS_*`) from `CTA_STATUS`.
#[doc(alias = "ip_conntrack_status")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CtStatus(u32);

impl CtStatus {
    /// `IPS_EXPECTED`: an expected connection.
    pub const EXPECTED: Self = Self(1 << 0);
    /// `IPS_SEEN_REPLY`: traffic seen in both directions.
    pub const SEEN_REPLY: Self = Self(1 << 1);
    /// `IPS_ASSURED`: never expires early.
    pub const ASSURED: Self = Self(1 << 2);
    /// `IPS_CONFIRMED`: in the main table.
    pub const CONFIRMED: Self = Self(1 << 3);
    /// `IPS_SRC_NAT`.
    pub const SRC_NAT: Self = Self(1 << 4);
    /// `IPS_DST_NAT`.
    pub const DST_NAT: Self = Self(1 << 5);
    /// `IPS_SEQ_ADJUST`.
    pub const SEQ_ADJUST: Self = Self(1 << 6);
    /// `IPS_DYING`.
    pub const DYING: Self = Self(1 << 9);
    /// `IPS_FIXED_TIMEOUT`.
    pub const FIXED_TIMEOUT: Self = Self(1 << 10);
    /// `IPS_HELPER`.
    pub const HELPER: Self = Self(1 << 13);
    /// `IPS_OFFLOAD`.
    pub const OFFLOAD: Self = Self(1 << 14);

    /// Wraps raw bits.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for CtStatus {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(ty: u16, val: &[u8]) -> Vec<u8> {
        let mut v = u16::try_from(val.len() + 4).unwrap().to_ne_bytes().to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(val);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn decodes_a_ct_nest() {
        let mut ip = nla(CTA_IP_V4_SRC, &[10, 0, 0, 1]);
        ip.extend(nla(CTA_IP_V4_DST, &[10, 0, 0, 2]));
        let mut proto = nla(CTA_PROTO_NUM, &[17]);
        proto.extend(nla(CTA_PROTO_SRC_PORT, &[0x30, 0x39]));
        proto.extend(nla(CTA_PROTO_DST_PORT, &[0x27, 0x0f]));
        let mut tuple = nla(CTA_TUPLE_IP | NLA_F_NESTED, &ip);
        tuple.extend(nla(CTA_TUPLE_PROTO | NLA_F_NESTED, &proto));
        let mut ct = nla(CTA_TUPLE_ORIG | NLA_F_NESTED, &tuple);
        ct.extend(nla(CTA_ID, &7u32.to_be_bytes()));
        ct.extend(nla(CTA_STATUS, &10u32.to_be_bytes()));
        ct.extend(nla(CTA_MARK, &0x55u32.to_be_bytes()));
        ct.extend(nla(CTA_ZONE, &3u16.to_be_bytes()));
        ct.extend(nla(CTA_LABELS, &[1; 16]));
        let v = CtView::new(&ct, 0);
        let o = v.orig().unwrap();
        assert_eq!(o.src, Some(IpAddr::from([10, 0, 0, 1])));
        assert_eq!(o.dst, Some(IpAddr::from([10, 0, 0, 2])));
        assert_eq!(
            (o.proto, o.src_port, o.dst_port),
            (Some(17), Some(12345), Some(9999))
        );
        assert_eq!(v.reply(), None);
        assert_eq!(v.id(), Some(7));
        assert!(
            v.status()
                .unwrap()
                .contains(CtStatus::SEEN_REPLY | CtStatus::CONFIRMED)
        );
        assert_eq!(v.mark(), Some(0x55));
        assert_eq!(v.zone(), Some(3));
        assert_eq!(v.labels(), Some(&[1u8; 16][..]));
        assert_eq!(v.timeout(), None);
    }
}
