// SPDX-License-Identifier: MIT OR Apache-2.0
//! Netlink message framing: `struct nlmsghdr` and the iterator over a datagram.

use super::bytes::{align4, read_ne16, read_ne32};
use super::consts::NLMSG_HDRLEN;
use super::error::{DecodeError, DecodeErrorKind};

/// `struct nlmsghdr`, in host byte order.
///
/// ```text
/// 0      4      6      8      12     16
/// | len  | type |flags | seq  | pid  |
/// ```
#[doc(alias = "nlmsghdr")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NlMsgHeader {
    /// `nlmsg_len`: header plus payload, without the padding that follows.
    pub len: u32,
    /// `nlmsg_type`: `NLMSG_*` or `(subsystem << 8) | message`.
    pub ty: u16,
    /// `nlmsg_flags`: `NLM_F_*`.
    pub flags: u16,
    /// `nlmsg_seq`: 0 in packets from the kernel; echoed in acks.
    pub seq: u32,
    /// `nlmsg_pid`: sender port id, 0 for the kernel.
    pub pid: u32,
}

impl NlMsgHeader {
    /// Size of the header on the wire.
    pub const LEN: usize = NLMSG_HDRLEN;

    /// Reads a header from the first 16 bytes of `b`; `None` if `b` is shorter.
    pub fn parse(b: &[u8]) -> Option<Self> {
        Some(Self {
            len: read_ne32(b, 0)?,
            ty: read_ne16(b, 4)?,
            flags: read_ne16(b, 6)?,
            seq: read_ne32(b, 8)?,
            pid: read_ne32(b, 12)?,
        })
    }

    /// The 16 header bytes in host order.
    pub fn to_bytes(&self) -> [u8; NLMSG_HDRLEN] {
        let mut b = [0u8; NLMSG_HDRLEN];
        b[0..4].copy_from_slice(&self.len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        b[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        b[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        b
    }
}

/// One netlink message inside a datagram: a checked header plus the bytes it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsg<'a> {
    header: NlMsgHeader,
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> NlMsg<'a> {
    /// Checks the message at the start of `b` (header present, `16 <= nlmsg_len <= b.len()`)
    /// and records `offset` as its position for error reports. Bytes past `nlmsg_len` are not
    /// part of the message.
    pub fn parse(b: &'a [u8], offset: usize) -> Result<Self, DecodeError> {
        let header =
            NlMsgHeader::parse(b).ok_or(DecodeError::new(DecodeErrorKind::Truncated, offset))?;
        let len = usize::try_from(header.len)
            .map_err(|_| DecodeError::new(DecodeErrorKind::BadMessageLength, offset))?;
        if len < NLMSG_HDRLEN {
            return Err(DecodeError::new(DecodeErrorKind::BadMessageLength, offset));
        }
        let bytes = b
            .get(..len)
            .ok_or(DecodeError::new(DecodeErrorKind::BadMessageLength, offset))?;
        Ok(Self {
            header,
            bytes,
            offset,
        })
    }

    /// The header.
    pub fn header(&self) -> NlMsgHeader {
        self.header
    }

    /// The bytes after the 16-byte header, up to `nlmsg_len`.
    pub fn payload(&self) -> &'a [u8] {
        self.bytes.get(NLMSG_HDRLEN..).unwrap_or(&[])
    }

    /// The whole message, header included, `nlmsg_len` bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Offset of the message in the buffer it was read from.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

/// Iterates over the netlink messages in a buffer.
///
/// Steps by the 4-aligned `nlmsg_len`, accepts an unaligned final message, and yields one
/// error and then `None` for good if a header is cut short or a length is impossible.
///
/// ```
/// use linux_nfqueue::wire::NlMsgIter;
/// // One NLMSG_DONE (type 3), 16 bytes, then 3 bytes that cannot be a header.
/// let mut buf = Vec::new();
/// buf.extend_from_slice(&16u32.to_ne_bytes()); // nlmsg_len
/// buf.extend_from_slice(&3u16.to_ne_bytes()); // nlmsg_type
/// buf.extend_from_slice(&[0; 10]); // flags, seq, pid
/// buf.extend_from_slice(&[1, 2, 3]);
/// let mut it = NlMsgIter::new(&buf);
/// assert_eq!(it.next().unwrap().unwrap().header().ty, 3);
/// assert!(it.next().unwrap().is_err());
/// assert!(it.next().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct NlMsgIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> NlMsgIter<'a> {
    /// Iterates over `buf`, reporting offsets relative to its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = Result<NlMsg<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = match self.buf.get(self.pos..) {
            Some(r) if !r.is_empty() => r,
            _ => {
                self.done = true;
                return None;
            }
        };
        match NlMsg::parse(rest, self.pos) {
            Ok(m) => {
                let step = align4(m.bytes.len());
                self.pos = self.pos.saturating_add(step);
                Some(Ok(m))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for NlMsgIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(len: u32, ty: u16, extra: &[u8]) -> Vec<u8> {
        let mut v = NlMsgHeader {
            len,
            ty,
            flags: 0,
            seq: 7,
            pid: 0,
        }
        .to_bytes()
        .to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn unaligned_last_message() {
        let mut b = msg(21, 0x300, &[0xa5; 5]);
        b.extend_from_slice(&[0, 0, 0]);
        let mut b2 = msg(17, 3, &[9]);
        let mut all = b.clone();
        all.append(&mut b2);
        let v: Vec<_> = NlMsgIter::new(&all).collect();
        assert_eq!(v.len(), 2);
        let m1 = v[0].unwrap();
        assert_eq!(m1.payload(), &[0xa5; 5]);
        let m2 = v[1].unwrap();
        assert_eq!(m2.offset(), 24);
        assert_eq!(m2.payload(), &[9]);
    }

    #[test]
    fn bad_lengths_stop_for_good() {
        let b = msg(15, 3, &[]);
        let mut it = NlMsgIter::new(&b);
        let e = it.next().unwrap().unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::BadMessageLength);
        assert!(it.next().is_none());
        let b = msg(17, 3, &[]);
        let e = NlMsgIter::new(&b).next().unwrap().unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::BadMessageLength);
        let e = NlMsgIter::new(&[1, 2, 3]).next().unwrap().unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::Truncated);
        assert!(NlMsgIter::new(&[]).next().is_none());
        let b = msg(u32::MAX, 3, &[]);
        assert!(NlMsgIter::new(&b).next().unwrap().is_err());
    }
}
