// SPDX-License-Identifier: MIT OR Apache-2.0
//! `NFQNL_MSG_PACKET`: a zero-copy view over one queued packet and its attributes.

use super::attr::{Attr, AttrIter};
use super::bytes::{read_be16, read_be32, read_be64, read_ne16};
use super::consts::*;
use super::ct::CtView;
use super::error::{DecodeError, DecodeErrorKind};
use super::family::Family;
use super::hook::Hook;
use super::meta::{CtInfo, SkbInfo, Timestamp, Vlan};
use super::nfgen::NfGenMsg;
use super::nlmsg::{NlMsg, NlMsgHeader, NlMsgIter};

/// Number of attribute slots the view keeps: types 0 to `NFQA_MAX`.
const SLOTS: usize = NFQA_MAX as usize + 1;

/// Offset of the first attribute: `nlmsghdr` plus `nfgenmsg`.
const ATTRS_AT: usize = NLMSG_HDRLEN + NFGENMSG_LEN;

/// Smallest value length accepted for each known attribute type; shorter is a decode error.
const MIN_LEN: [u8; SLOTS] = {
    let mut m = [0u8; SLOTS];
    m[NFQA_PACKET_HDR as usize] = 7;
    m[NFQA_MARK as usize] = 4;
    m[NFQA_TIMESTAMP as usize] = 16;
    m[NFQA_IFINDEX_INDEV as usize] = 4;
    m[NFQA_IFINDEX_OUTDEV as usize] = 4;
    m[NFQA_IFINDEX_PHYSINDEV as usize] = 4;
    m[NFQA_IFINDEX_PHYSOUTDEV as usize] = 4;
    m[NFQA_HWADDR as usize] = 12;
    m[NFQA_CT_INFO as usize] = 4;
    m[NFQA_CAP_LEN as usize] = 4;
    m[NFQA_SKB_INFO as usize] = 4;
    m[NFQA_UID as usize] = 4;
    m[NFQA_GID as usize] = 4;
    m[NFQA_PRIORITY as usize] = 4;
    m[NFQA_CGROUP_CLASSID as usize] = 4;
    m
};

/// A queued packet (`NFQNL_MSG_PACKET`), parsed in one pass without allocating.
///
/// The view borrows the receive buffer. Parsing checks the framing of every attribute and the
/// size of every fixed-size attribute, and remembers where each known attribute sits; the
/// accessors then read the bytes on demand. If an attribute repeats, the last one wins, as in
/// the kernel's `nla_parse`. No accessor panics, whatever the bytes.
///
/// Which attributes the kernel sends, and when, is listed on each accessor (see also the
/// project's `protocol.md` §5). The kernel writes them in this order: PACKET_HDR, INDEV /
/// PHYSINDEV, OUTDEV / PHYSOUTDEV, MARK, PRIORITY, HWADDR, VLAN, L2HDR, TIMESTAMP, UID, GID,
/// CGROUP_CLASSID, SECCTX, CT, CT_INFO, CAP_LEN, SKB_INFO, PAYLOAD.
#[derive(Clone, Copy)]
pub struct PacketView<'a> {
    bytes: &'a [u8],
    base: usize,
    family: u8,
    queue: u16,
    /// Offset (within `bytes`) of each known attribute's header; 0 means absent.
    at: [u32; SLOTS],
}

impl<'a> PacketView<'a> {
    /// Parses a packet message. Fails if the type is not `0x0300`, `nfgenmsg` is cut short,
    /// an attribute is malformed or shorter than its fixed size, or `NFQA_PACKET_HDR` is
    /// missing.
    pub fn parse(msg: NlMsg<'a>) -> Result<Self, DecodeError> {
        let base = msg.offset();
        if msg.header().ty != NFQ_TYPE_PACKET {
            return Err(DecodeError::new(DecodeErrorKind::WrongMessageType, base));
        }
        let bytes = msg.bytes();
        let nfg = bytes
            .get(NLMSG_HDRLEN..)
            .and_then(NfGenMsg::parse)
            .ok_or(DecodeError::new(
                DecodeErrorKind::Truncated,
                base.saturating_add(NLMSG_HDRLEN),
            ))?;
        let attrs = bytes.get(ATTRS_AT..).unwrap_or(&[]);
        let mut at = [0u32; SLOTS];
        for a in AttrIter::new(attrs, base.saturating_add(ATTRS_AT)) {
            let a = a?;
            let k = usize::from(a.kind());
            if let (Some(slot), Some(&min)) = (at.get_mut(k), MIN_LEN.get(k)) {
                if a.value().len() < usize::from(min) {
                    return Err(DecodeError::with_attr(
                        DecodeErrorKind::BadAttributeLength,
                        a.offset(),
                        a.kind(),
                    ));
                }
                let rel = a.offset().saturating_sub(base);
                *slot = u32::try_from(rel).unwrap_or(0);
            }
        }
        if at[usize::from(NFQA_PACKET_HDR)] == 0 {
            return Err(DecodeError::with_attr(
                DecodeErrorKind::MissingAttribute,
                base,
                NFQA_PACKET_HDR,
            ));
        }
        Ok(Self {
            bytes,
            base,
            family: nfg.family,
            queue: nfg.res_id,
            at,
        })
    }

    /// Parses the first message of `buf` as a packet (a received datagram holds one).
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Self, DecodeError> {
        match NlMsgIter::new(buf).next() {
            Some(m) => Self::parse(m?),
            None => Err(DecodeError::new(DecodeErrorKind::Truncated, 0)),
        }
    }

    #[inline]
    fn value(&self, kind: u16) -> Option<&'a [u8]> {
        let off = usize::try_from(*self.at.get(usize::from(kind))?).ok()?;
        if off == 0 {
            return None;
        }
        let len = usize::from(read_ne16(self.bytes, off)?);
        self.bytes
            .get(off.checked_add(NLA_HDRLEN)?..off.checked_add(len)?)
    }

    #[inline]
    fn be32(&self, kind: u16) -> Option<u32> {
        read_be32(self.value(kind)?, 0)
    }

    #[inline]
    fn hdr(&self) -> &'a [u8] {
        self.value(NFQA_PACKET_HDR).unwrap_or(&[])
    }

    /// The netlink header (seq, pid and flags are 0 in kernel packets).
    pub fn header(&self) -> NlMsgHeader {
        NlMsgHeader::parse(self.bytes).unwrap_or_default()
    }

    /// The `nfgenmsg` header, `res_id` in host order.
    pub fn nfgen(&self) -> NfGenMsg {
        self.bytes
            .get(NLMSG_HDRLEN..)
            .and_then(NfGenMsg::parse)
            .unwrap_or_default()
    }

    /// The queue number (`nfgenmsg.res_id`). Always sent.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// The packet's protocol family (`nfgenmsg.nfgen_family`). Always sent.
    pub fn family(&self) -> Family {
        Family::from(self.family)
    }

    /// Packet id from `NFQA_PACKET_HDR`, per queue, starting at 1. Always sent.
    #[doc(alias = "packet_id")]
    pub fn id(&self) -> u32 {
        read_be32(self.hdr(), 0).unwrap_or(0)
    }

    /// EtherType from `NFQA_PACKET_HDR` (`skb->protocol`: 0x0800, 0x86dd, ...). Always sent.
    pub fn hw_protocol(&self) -> u16 {
        read_be16(self.hdr(), 4).unwrap_or(0)
    }

    /// The hook number as sent, before decoding with the family.
    pub fn hook_raw(&self) -> u8 {
        self.hdr().get(6).copied().unwrap_or(0)
    }

    /// The hook the packet was queued from, decoded with [`family`](Self::family). Always sent.
    pub fn hook(&self) -> Hook {
        Hook::from_raw(self.family(), self.hook_raw())
    }

    /// `NFQA_MARK`: skb->mark, sent only when it is non-zero.
    #[doc(alias = "NFQA_MARK")]
    pub fn mark(&self) -> Option<u32> {
        self.be32(NFQA_MARK)
    }

    /// `NFQA_TIMESTAMP`: sent at hooks up to FORWARD when the skb carries a timestamp (often
    /// only while some socket has timestamping enabled); never at OUTPUT.
    #[doc(alias = "NFQA_TIMESTAMP")]
    pub fn timestamp(&self) -> Option<Timestamp> {
        let v = self.value(NFQA_TIMESTAMP)?;
        Some(Timestamp {
            secs: read_be64(v, 0)?,
            usecs: read_be64(v, 8)?,
        })
    }

    /// `NFQA_IFINDEX_INDEV`: input interface index, when known (PREROUTING, INPUT, FORWARD).
    /// With br_netfilter this is the bridge.
    #[doc(alias = "NFQA_IFINDEX_INDEV")]
    pub fn indev(&self) -> Option<u32> {
        self.be32(NFQA_IFINDEX_INDEV)
    }

    /// `NFQA_IFINDEX_OUTDEV`: output interface index, when known (FORWARD, OUTPUT,
    /// POSTROUTING).
    #[doc(alias = "NFQA_IFINDEX_OUTDEV")]
    pub fn outdev(&self) -> Option<u32> {
        self.be32(NFQA_IFINDEX_OUTDEV)
    }

    /// `NFQA_IFINDEX_PHYSINDEV`: bridge port the packet came in on (br_netfilter only).
    #[doc(alias = "NFQA_IFINDEX_PHYSINDEV")]
    pub fn physindev(&self) -> Option<u32> {
        self.be32(NFQA_IFINDEX_PHYSINDEV)
    }

    /// `NFQA_IFINDEX_PHYSOUTDEV`: bridge port the packet leaves by (br_netfilter only).
    #[doc(alias = "NFQA_IFINDEX_PHYSOUTDEV")]
    pub fn physoutdev(&self) -> Option<u32> {
        self.be32(NFQA_IFINDEX_PHYSOUTDEV)
    }

    /// `NFQA_HWADDR`: source hardware address, `hw_addrlen` bytes clamped to 8. Sent when the
    /// input device has a parsable MAC header (all zeros on `lo`); absent at OUTPUT.
    #[doc(alias = "NFQA_HWADDR")]
    pub fn hw_addr(&self) -> Option<&'a [u8]> {
        let v = self.value(NFQA_HWADDR)?;
        let n = usize::from(read_be16(v, 0)?).min(8);
        v.get(4..4 + n)
    }

    /// `NFQA_PAYLOAD`: the packet (L3; L2 for the bridge family), at most `copy_range` bytes.
    /// Sent in COPY_PACKET mode when there is data; always the last attribute.
    #[doc(alias = "NFQA_PAYLOAD")]
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.value(NFQA_PAYLOAD)
    }

    /// `NFQA_CT` decoded lazily. Sent with the CONNTRACK config flag when the packet has a
    /// conntrack entry (needs the kernel's ctnetlink glue).
    #[doc(alias = "NFQA_CT")]
    pub fn ct(&self) -> Option<CtView<'a>> {
        let v = self.value(NFQA_CT)?;
        let off = usize::try_from(self.at[usize::from(NFQA_CT)]).ok()?;
        Some(CtView::new(v, self.base.saturating_add(off)))
    }

    /// The raw nested bytes of `NFQA_CT`.
    pub fn ct_raw(&self) -> Option<&'a [u8]> {
        self.value(NFQA_CT)
    }

    /// `NFQA_CT_INFO`: sent together with `NFQA_CT`.
    #[doc(alias = "NFQA_CT_INFO")]
    pub fn ct_info(&self) -> Option<CtInfo> {
        self.be32(NFQA_CT_INFO).map(CtInfo::from)
    }

    /// `NFQA_CAP_LEN`: the original packet length, sent only when the payload was truncated
    /// (longer than `copy_range`).
    #[doc(alias = "NFQA_CAP_LEN")]
    pub fn cap_len(&self) -> Option<u32> {
        self.be32(NFQA_CAP_LEN)
    }

    /// Whether the payload is shorter than the packet (CAP_LEN present and larger than the
    /// payload). Never send such a payload back in a verdict.
    pub fn is_truncated(&self) -> bool {
        match self.cap_len() {
            Some(c) => {
                let have = self.payload().map_or(0, <[u8]>::len);
                usize::try_from(c).map_or(true, |c| c > have)
            }
            None => false,
        }
    }

    /// `NFQA_SKB_INFO` bits; empty when absent. Bits other than CSUM_NOTVERIFIED need the GSO
    /// config flag.
    #[doc(alias = "NFQA_SKB_INFO")]
    pub fn skb_info(&self) -> SkbInfo {
        SkbInfo::from_bits(self.be32(NFQA_SKB_INFO).unwrap_or(0))
    }

    /// `NFQA_EXP` raw bytes; the kernel never sends it (verdict-only), kept for completeness.
    #[doc(alias = "NFQA_EXP")]
    pub fn exp_raw(&self) -> Option<&'a [u8]> {
        self.value(NFQA_EXP)
    }

    /// `NFQA_UID`: with the UID_GID flag, for packets of a local full socket.
    #[doc(alias = "NFQA_UID")]
    pub fn uid(&self) -> Option<u32> {
        self.be32(NFQA_UID)
    }

    /// `NFQA_GID`: same rules as [`uid`](Self::uid).
    #[doc(alias = "NFQA_GID")]
    pub fn gid(&self) -> Option<u32> {
        self.be32(NFQA_GID)
    }

    /// `NFQA_SECCTX`, one trailing NUL stripped: with the SECCTX flag, a socket and a non-zero
    /// secmark.
    #[doc(alias = "NFQA_SECCTX")]
    pub fn secctx(&self) -> Option<&'a [u8]> {
        let v = self.value(NFQA_SECCTX)?;
        Some(v.strip_suffix(&[0]).unwrap_or(v))
    }

    /// `NFQA_VLAN`: bridge-family packets with a VLAN tag. `None` unless both PROTO and TCI
    /// are present and well-formed.
    #[doc(alias = "NFQA_VLAN")]
    pub fn vlan(&self) -> Option<Vlan> {
        let v = self.value(NFQA_VLAN)?;
        let (mut proto, mut tci) = (None, None);
        for a in AttrIter::new(v, 0) {
            let a = a.ok()?;
            match a.kind() {
                NFQA_VLAN_PROTO => proto = a.be16(),
                NFQA_VLAN_TCI => tci = a.be16(),
                _ => {}
            }
        }
        Some(Vlan {
            proto: proto?,
            tci: tci?,
        })
    }

    /// `NFQA_L2HDR`: the MAC header, for bridge-family packets.
    #[doc(alias = "NFQA_L2HDR")]
    pub fn l2hdr(&self) -> Option<&'a [u8]> {
        self.value(NFQA_L2HDR)
    }

    /// `NFQA_PRIORITY`: skb->priority when non-zero (Linux 5.18+).
    #[doc(alias = "NFQA_PRIORITY")]
    pub fn priority(&self) -> Option<u32> {
        self.be32(NFQA_PRIORITY)
    }

    /// `NFQA_CGROUP_CLASSID`: net_cls classid of the socket when non-zero (Linux 6.4+).
    #[doc(alias = "NFQA_CGROUP_CLASSID")]
    pub fn cgroup_classid(&self) -> Option<u32> {
        self.be32(NFQA_CGROUP_CLASSID)
    }

    /// Every attribute in order, unknown ones included.
    pub fn attrs(&self) -> AttrIter<'a> {
        AttrIter::new(
            self.bytes.get(ATTRS_AT..).unwrap_or(&[]),
            self.base.saturating_add(ATTRS_AT),
        )
    }

    /// The first attribute of (masked) type `kind`, known or not.
    pub fn attr(&self, kind: u16) -> Option<Attr<'a>> {
        self.attrs().find(kind)
    }

    /// The whole message, `nlmsg_len` bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Offset of the message in the buffer it was parsed from.
    pub fn offset(&self) -> usize {
        self.base
    }
}

impl core::fmt::Debug for PacketView<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketView")
            .field("queue", &self.queue())
            .field("family", &self.family())
            .field("id", &self.id())
            .field("hw_protocol", &format_args!("{:#06x}", self.hw_protocol()))
            .field("hook", &self.hook())
            .field("mark", &self.mark())
            .field("indev", &self.indev())
            .field("outdev", &self.outdev())
            .field("payload_len", &self.payload().map(<[u8]>::len))
            .field("cap_len", &self.cap_len())
            .finish_non_exhaustive()
    }
}
