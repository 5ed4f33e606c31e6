// SPDX-License-Identifier: MIT OR Apache-2.0
//! Small packet metadata values: timestamp, VLAN tag, skb info bits, conntrack info.

use std::time::{Duration, SystemTime};

use super::consts::{
    IP_CT_ESTABLISHED, IP_CT_ESTABLISHED_REPLY, IP_CT_NEW, IP_CT_RELATED, IP_CT_RELATED_REPLY,
    NFQA_SKB_CSUM_NOTVERIFIED, NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO,
};

/// `nfqnl_msg_packet_timestamp`: when the skb was stamped (`NFQA_TIMESTAMP`).
#[doc(alias = "nfqnl_msg_packet_timestamp")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub secs: u64,
    /// Microseconds within the second.
    pub usecs: u64,
}

impl Timestamp {
    /// The same instant as a `SystemTime`; `None` if it does not fit (only for values no
    /// kernel sends).
    pub fn to_system_time(self) -> Option<SystemTime> {
        let micros = Duration::from_secs(self.usecs / 1_000_000)
            .checked_add(Duration::from_micros(self.usecs % 1_000_000))?;
        let d = Duration::from_secs(self.secs).checked_add(micros)?;
        SystemTime::UNIX_EPOCH.checked_add(d)
    }
}

/// The 802.1Q tag of a bridge-family packet (`NFQA_VLAN`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlan {
    /// `NFQA_VLAN_PROTO`: the TPID, e.g. 0x8100.
    #[doc(alias = "NFQA_VLAN_PROTO")]
    pub proto: u16,
    /// `NFQA_VLAN_TCI`: priority, drop-eligible bit and VLAN id.
    #[doc(alias = "NFQA_VLAN_TCI")]
    pub tci: u16,
}

impl Vlan {
    /// The 12-bit VLAN id.
    pub const fn id(self) -> u16 {
        self.tci & 0x0fff
    }

    /// The 3-bit priority code point.
    pub const fn pcp(self) -> u8 {
        (self.tci >> 13) as u8
    }

    /// The drop-eligible indicator.
    pub const fn dei(self) -> bool {
        self.tci & 0x1000 != 0
    }
}

/// `NFQA_SKB_INFO` bits; all clear when the attribute is absent.
#[doc(alias = "NFQA_SKB_INFO")]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SkbInfo(u32);

impl SkbInfo {
    /// Wraps raw bits.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw bits, unknown ones included.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// `NFQA_SKB_CSUMNOTREADY`: the checksum is left for offload; do not validate it.
    #[doc(alias = "NFQA_SKB_CSUMNOTREADY")]
    pub const fn csum_not_ready(self) -> bool {
        self.0 & NFQA_SKB_CSUMNOTREADY != 0
    }

    /// `NFQA_SKB_GSO`: a GSO super-packet, larger than the MTU (needs the GSO config flag).
    #[doc(alias = "NFQA_SKB_GSO")]
    pub const fn gso(self) -> bool {
        self.0 & NFQA_SKB_GSO != 0
    }

    /// `NFQA_SKB_CSUM_NOTVERIFIED`: the checksum has not been validated yet.
    #[doc(alias = "NFQA_SKB_CSUM_NOTVERIFIED")]
    pub const fn csum_not_verified(self) -> bool {
        self.0 & NFQA_SKB_CSUM_NOTVERIFIED != 0
    }
}

impl From<u32> for SkbInfo {
    fn from(b: u32) -> Self {
        Self(b)
    }
}

impl From<SkbInfo> for u32 {
    fn from(s: SkbInfo) -> Self {
        s.0
    }
}

impl core::fmt::Debug for SkbInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SkbInfo")
            .field("bits", &format_args!("{:#x}", self.0))
            .field("csum_not_ready", &self.csum_not_ready())
            .field("gso", &self.gso())
            .field("csum_not_verified", &self.csum_not_verified())
            .finish()
    }
}

/// `enum ip_conntrack_info` from `NFQA_CT_INFO`.
#[doc(alias = "NFQA_CT_INFO")]
#[doc(alias = "ip_conntrack_info")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CtInfo {
    /// `IP_CT_ESTABLISHED` (0), original direction.
    Established,
    /// `IP_CT_RELATED` (1), original direction.
    Related,
    /// `IP_CT_NEW` (2).
    New,
    /// `IP_CT_ESTABLISHED_REPLY` (3).
    EstablishedReply,
    /// `IP_CT_RELATED_REPLY` (4).
    RelatedReply,
    /// Any other value.
    Unknown(u32),
}

impl From<u32> for CtInfo {
    fn from(v: u32) -> Self {
        match v {
            IP_CT_ESTABLISHED => Self::Established,
            IP_CT_RELATED => Self::Related,
            IP_CT_NEW => Self::New,
            IP_CT_ESTABLISHED_REPLY => Self::EstablishedReply,
            IP_CT_RELATED_REPLY => Self::RelatedReply,
            n => Self::Unknown(n),
        }
    }
}

impl From<CtInfo> for u32 {
    fn from(c: CtInfo) -> Self {
        match c {
            CtInfo::Established => IP_CT_ESTABLISHED,
            CtInfo::Related => IP_CT_RELATED,
            CtInfo::New => IP_CT_NEW,
            CtInfo::EstablishedReply => IP_CT_ESTABLISHED_REPLY,
            CtInfo::RelatedReply => IP_CT_RELATED_REPLY,
            CtInfo::Unknown(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let v = Vlan {
            proto: 0x8100,
            tci: 0xb00a,
        };
        assert_eq!((v.id(), v.pcp(), v.dei()), (10, 5, true));
        let s = SkbInfo::from_bits(3);
        assert!(s.csum_not_ready() && s.gso() && !s.csum_not_verified());
        for n in [0, 4, 5, u32::MAX] {
            assert_eq!(u32::from(CtInfo::from(n)), n);
        }
        let t = Timestamp {
            secs: 1,
            usecs: 500_000,
        };
        assert_eq!(
            t.to_system_time().unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_millis(1500)
        );
        let huge = Timestamp {
            secs: u64::MAX,
            usecs: u64::MAX,
        };
        assert_eq!(huge.to_system_time(), None);
    }
}
