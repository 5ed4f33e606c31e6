// SPDX-License-Identifier: MIT OR Apache-2.0
//! `struct nfgenmsg`, the 4-byte header after `nlmsghdr` in every nfnetlink message.

use super::bytes::read_be16;
use super::consts::NFGENMSG_LEN;

/// `struct nfgenmsg { u8 nfgen_family; u8 version; be16 res_id; }`.
///
/// In NFQUEUE messages `res_id` is the queue number; it is stored here in host order.
///
/// ```
/// use linux_nfqueue::wire::NfGenMsg;
/// // family 10 (IPv6), version 0, res_id 0x0005 big-endian
/// let m = NfGenMsg::parse(&[10, 0, 0x00, 0x05]).unwrap();
/// assert_eq!((m.family, m.version, m.res_id), (10, 0, 5));
/// assert_eq!(m.to_bytes(), [10, 0, 0, 5]);
/// ```
#[doc(alias = "nfgenmsg")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NfGenMsg {
    /// `nfgen_family`: the packet's `NFPROTO_*` in packet messages; ignored in requests.
    pub family: u8,
    /// `version`: `NFNETLINK_V0` (0).
    pub version: u8,
    /// `res_id`: the queue number (big-endian on the wire, host order here).
    pub res_id: u16,
}

impl NfGenMsg {
    /// Size on the wire.
    pub const LEN: usize = NFGENMSG_LEN;

    /// Reads the first 4 bytes of `b`; `None` if it is shorter.
    pub fn parse(b: &[u8]) -> Option<Self> {
        Some(Self {
            family: *b.first()?,
            version: *b.get(1)?,
            res_id: read_be16(b, 2)?,
        })
    }

    /// The 4 wire bytes.
    pub fn to_bytes(&self) -> [u8; NFGENMSG_LEN] {
        let r = self.res_id.to_be_bytes();
        [self.family, self.version, r[0], r[1]]
    }
}
