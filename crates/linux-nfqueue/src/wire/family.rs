// SPDX-License-Identifier: MIT OR Apache-2.0
//! Netfilter protocol families (`NFPROTO_*`) as carried in `nfgenmsg`.

use super::consts::{
    NFPROTO_ARP, NFPROTO_BRIDGE, NFPROTO_IPV4, NFPROTO_IPV6, NFPROTO_NETDEV, NFPROTO_UNSPEC,
};

/// The protocol family of a queued packet (`nfgen_family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// `NFPROTO_UNSPEC` (0): used in requests.
    #[doc(alias = "NFPROTO_UNSPEC")]
    #[default]
    Unspec,
    /// `NFPROTO_IPV4` (2).
    #[doc(alias = "NFPROTO_IPV4")]
    Ipv4,
    /// `NFPROTO_ARP` (3).
    #[doc(alias = "NFPROTO_ARP")]
    Arp,
    /// `NFPROTO_NETDEV` (5): netdev ingress/egress.
    #[doc(alias = "NFPROTO_NETDEV")]
    Netdev,
    /// `NFPROTO_BRIDGE` (7): the payload is the L2 frame.
    #[doc(alias = "NFPROTO_BRIDGE")]
    Bridge,
    /// `NFPROTO_IPV6` (10).
    #[doc(alias = "NFPROTO_IPV6")]
    Ipv6,
    /// Any other value, kept as sent.
    Unknown(u8),
}

impl Family {
    /// Lowercase name: "ipv4", "ipv6", "bridge", "arp", "netdev", "unspec" or "unknown".
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unspec => "unspec",
            Self::Ipv4 => "ipv4",
            Self::Arp => "arp",
            Self::Netdev => "netdev",
            Self::Bridge => "bridge",
            Self::Ipv6 => "ipv6",
            Self::Unknown(_) => "unknown",
        }
    }
}

impl From<u8> for Family {
    fn from(v: u8) -> Self {
        match v {
            NFPROTO_UNSPEC => Self::Unspec,
            NFPROTO_IPV4 => Self::Ipv4,
            NFPROTO_ARP => Self::Arp,
            NFPROTO_NETDEV => Self::Netdev,
            NFPROTO_BRIDGE => Self::Bridge,
            NFPROTO_IPV6 => Self::Ipv6,
            n => Self::Unknown(n),
        }
    }
}

impl From<Family> for u8 {
    fn from(f: Family) -> Self {
        match f {
            Family::Unspec => NFPROTO_UNSPEC,
            Family::Ipv4 => NFPROTO_IPV4,
            Family::Arp => NFPROTO_ARP,
            Family::Netdev => NFPROTO_NETDEV,
            Family::Bridge => NFPROTO_BRIDGE,
            Family::Ipv6 => NFPROTO_IPV6,
            Family::Unknown(n) => n,
        }
    }
}

impl core::fmt::Display for Family {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unknown(n) => write!(f, "unknown({n})"),
            k => f.write_str(k.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossless() {
        for v in 0..=u8::MAX {
            assert_eq!(u8::from(Family::from(v)), v);
        }
        assert_eq!(Family::from(10).name(), "ipv6");
        assert_eq!(Family::from(1), Family::Unknown(1));
    }
}
