// SPDX-License-Identifier: MIT OR Apache-2.0
//! Netfilter hooks, whose numbers depend on the family.

use super::consts::{
    NF_ARP_FORWARD, NF_ARP_IN, NF_ARP_OUT, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT,
    NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NF_NETDEV_EGRESS, NF_NETDEV_INGRESS,
};
use super::family::Family;

/// The hook a packet was queued from (`nfqnl_msg_packet_hdr.hook`), decoded with its family.
///
/// IPv4, IPv6 and bridge use the `NF_INET_*` numbers (bridge's `NF_BR_*` are the same),
/// netdev uses `NF_NETDEV_*` and ARP uses `NF_ARP_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    /// `NF_INET_PRE_ROUTING` (0).
    #[doc(alias = "NF_INET_PRE_ROUTING")]
    PreRouting,
    /// `NF_INET_LOCAL_IN` (1).
    #[doc(alias = "NF_INET_LOCAL_IN")]
    LocalIn,
    /// `NF_INET_FORWARD` (2).
    #[doc(alias = "NF_INET_FORWARD")]
    Forward,
    /// `NF_INET_LOCAL_OUT` (3).
    #[doc(alias = "NF_INET_LOCAL_OUT")]
    LocalOut,
    /// `NF_INET_POST_ROUTING` (4).
    #[doc(alias = "NF_INET_POST_ROUTING")]
    PostRouting,
    /// `NF_NETDEV_INGRESS` (0, netdev family).
    #[doc(alias = "NF_NETDEV_INGRESS")]
    Ingress,
    /// `NF_NETDEV_EGRESS` (1, netdev family).
    #[doc(alias = "NF_NETDEV_EGRESS")]
    Egress,
    /// `NF_ARP_IN` (0, ARP family).
    #[doc(alias = "NF_ARP_IN")]
    ArpIn,
    /// `NF_ARP_OUT` (1, ARP family).
    #[doc(alias = "NF_ARP_OUT")]
    ArpOut,
    /// `NF_ARP_FORWARD` (2, ARP family).
    #[doc(alias = "NF_ARP_FORWARD")]
    ArpForward,
    /// A number this family does not define (or a family without known hooks).
    Unknown(u8),
}

impl Hook {
    /// Decodes `raw` for `family`.
    pub const fn from_raw(family: Family, raw: u8) -> Self {
        match family {
            Family::Ipv4 | Family::Ipv6 | Family::Bridge => match raw {
                NF_INET_PRE_ROUTING => Self::PreRouting,
                NF_INET_LOCAL_IN => Self::LocalIn,
                NF_INET_FORWARD => Self::Forward,
                NF_INET_LOCAL_OUT => Self::LocalOut,
                NF_INET_POST_ROUTING => Self::PostRouting,
                n => Self::Unknown(n),
            },
            Family::Netdev => match raw {
                NF_NETDEV_INGRESS => Self::Ingress,
                NF_NETDEV_EGRESS => Self::Egress,
                n => Self::Unknown(n),
            },
            Family::Arp => match raw {
                NF_ARP_IN => Self::ArpIn,
                NF_ARP_OUT => Self::ArpOut,
                NF_ARP_FORWARD => Self::ArpForward,
                n => Self::Unknown(n),
            },
            Family::Unspec | Family::Unknown(_) => Self::Unknown(raw),
        }
    }

    /// The number on the wire.
    pub const fn raw(self) -> u8 {
        match self {
            Self::PreRouting => NF_INET_PRE_ROUTING,
            Self::LocalIn => NF_INET_LOCAL_IN,
            Self::Forward => NF_INET_FORWARD,
            Self::LocalOut => NF_INET_LOCAL_OUT,
            Self::PostRouting => NF_INET_POST_ROUTING,
            Self::Ingress => NF_NETDEV_INGRESS,
            Self::Egress => NF_NETDEV_EGRESS,
            Self::ArpIn => NF_ARP_IN,
            Self::ArpOut => NF_ARP_OUT,
            Self::ArpForward => NF_ARP_FORWARD,
            Self::Unknown(n) => n,
        }
    }

    /// Name as iptables/nft spell it: "prerouting", "input", "forward", "output",
    /// "postrouting", "ingress", "egress", "arp-in", "arp-out", "arp-forward" or "unknown".
    pub const fn name(self) -> &'static str {
        match self {
            Self::PreRouting => "prerouting",
            Self::LocalIn => "input",
            Self::Forward => "forward",
            Self::LocalOut => "output",
            Self::PostRouting => "postrouting",
            Self::Ingress => "ingress",
            Self::Egress => "egress",
            Self::ArpIn => "arp-in",
            Self::ArpOut => "arp-out",
            Self::ArpForward => "arp-forward",
            Self::Unknown(_) => "unknown",
        }
    }
}

impl core::fmt::Display for Hook {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unknown(n) => write!(f, "unknown({n})"),
            h => f.write_str(h.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trips_for_every_family() {
        for fam in 0..=u8::MAX {
            let family = Family::from(fam);
            for raw in 0..=u8::MAX {
                assert_eq!(Hook::from_raw(family, raw).raw(), raw);
            }
        }
        assert_eq!(Hook::from_raw(Family::Ipv4, 3), Hook::LocalOut);
        assert_eq!(Hook::from_raw(Family::Netdev, 1), Hook::Egress);
        assert_eq!(Hook::from_raw(Family::Arp, 2).name(), "arp-forward");
        assert_eq!(Hook::from_raw(Family::Bridge, 5), Hook::Unknown(5));
    }
}
