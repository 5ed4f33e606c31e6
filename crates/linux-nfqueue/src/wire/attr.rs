// SPDX-License-Identifier: MIT OR Apache-2.0
//! Netlink attributes (`struct nlattr` TLVs) and the iterator over them.

use super::bytes::{align4, read_be16, read_be32, read_be64, read_ne16};
use super::consts::{NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK};
use super::error::{DecodeError, DecodeErrorKind};

/// One attribute: a 4-byte host-order header (`nla_len`, `nla_type`) and its value.
///
/// ```text
/// 0        2         4
/// | len    | type    | value (len - 4 bytes) | padding to 4 |
/// ```
#[doc(alias = "nlattr")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    raw_type: u16,
    value: &'a [u8],
    offset: usize,
}

impl<'a> Attr<'a> {
    /// Builds an attribute from its parts; `offset` is where its header sits.
    pub const fn new(raw_type: u16, value: &'a [u8], offset: usize) -> Self {
        Self {
            raw_type,
            value,
            offset,
        }
    }

    /// The type with the `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` bits removed.
    pub const fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    /// The type as sent, flag bits included.
    pub const fn raw_type(&self) -> u16 {
        self.raw_type
    }

    /// Whether `NLA_F_NESTED` is set.
    pub const fn is_nested(&self) -> bool {
        self.raw_type & NLA_F_NESTED != 0
    }

    /// Whether `NLA_F_NET_BYTEORDER` is set.
    pub const fn is_net_byteorder(&self) -> bool {
        self.raw_type & NLA_F_NET_BYTEORDER != 0
    }

    /// The value: `nla_len - 4` bytes, without padding.
    pub const fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Offset of the attribute header from the start of the outer buffer.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The attributes nested in the value (whether or not `NLA_F_NESTED` is set).
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.value, self.offset.saturating_add(NLA_HDRLEN))
    }

    /// The value as a big-endian u16 if it has at least 2 bytes.
    pub fn be16(&self) -> Option<u16> {
        read_be16(self.value, 0)
    }

    /// The value as a big-endian u32 if it has at least 4 bytes.
    pub fn be32(&self) -> Option<u32> {
        read_be32(self.value, 0)
    }

    /// The value as a big-endian u64 if it has at least 8 bytes.
    pub fn be64(&self) -> Option<u64> {
        read_be64(self.value, 0)
    }

    /// The value as one byte if it has at least 1.
    pub fn u8(&self) -> Option<u8> {
        self.value.first().copied()
    }
}

/// Iterates over the attributes in a byte range.
///
/// Each item is checked: `nla_len` at least 4 and within the range. The first malformed
/// attribute yields one error, then the iterator returns `None` for good. Types are not
/// filtered: unknown attributes are yielded like known ones.
#[derive(Clone, Debug)]
pub struct AttrIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    done: bool,
}

impl<'a> AttrIter<'a> {
    /// Iterates over `buf`; `base_offset` is the offset of `buf[0]` in the outer buffer, used
    /// for [`Attr::offset`] and error offsets.
    pub const fn new(buf: &'a [u8], base_offset: usize) -> Self {
        Self {
            buf,
            pos: 0,
            base: base_offset,
            done: false,
        }
    }

    /// Finds the first attribute of (masked) type `kind`; `None` if absent or if a malformed
    /// attribute comes first.
    pub fn find(self, kind: u16) -> Option<Attr<'a>> {
        self.map_while(Result::ok).find(|a| a.kind() == kind)
    }

    fn fail(
        &mut self,
        kind: DecodeErrorKind,
        ty: Option<u16>,
    ) -> Option<Result<Attr<'a>, DecodeError>> {
        self.done = true;
        let at = self.base.saturating_add(self.pos);
        Some(Err(match ty {
            Some(t) => DecodeError::with_attr(kind, at, t),
            None => DecodeError::new(kind, at),
        }))
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, DecodeError>;

    #[inline]
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
        let (Some(len), Some(ty)) = (read_ne16(rest, 0), read_ne16(rest, 2)) else {
            return self.fail(DecodeErrorKind::Truncated, None);
        };
        let len = usize::from(len);
        let kind = ty & NLA_TYPE_MASK;
        if len < NLA_HDRLEN {
            return self.fail(DecodeErrorKind::BadAttributeLength, Some(kind));
        }
        let Some(value) = rest.get(NLA_HDRLEN..len) else {
            return self.fail(DecodeErrorKind::BadAttributeLength, Some(kind));
        };
        let attr = Attr::new(ty, value, self.base.saturating_add(self.pos));
        // The last attribute may lack its padding; stepping past the end just ends the walk.
        self.pos = self.pos.saturating_add(align4(len));
        Some(Ok(attr))
    }
}

impl core::iter::FusedIterator for AttrIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(len: u16, ty: u16, val: &[u8]) -> Vec<u8> {
        let mut v = len.to_ne_bytes().to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(val);
        v
    }

    #[test]
    fn walks_masks_and_keeps_unknown() {
        let mut b = nla(5, 3 | NLA_F_NESTED, &[1, 0, 0, 0]);
        b.extend(nla(8, 0x3fff | NLA_F_NET_BYTEORDER, &[0, 0, 0, 9]));
        b.extend(nla(6, 10, &[0xab, 0xcd]));
        let v: Vec<_> = AttrIter::new(&b, 100).map(Result::unwrap).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].kind(), 3);
        assert!(v[0].is_nested());
        assert_eq!(v[0].value(), &[1]);
        assert_eq!(v[0].offset(), 100);
        assert_eq!(v[1].kind(), 0x3fff);
        assert!(v[1].is_net_byteorder());
        assert_eq!(v[1].be32(), Some(9));
        assert_eq!(v[2].offset(), 116);
        assert_eq!(v[2].value(), &[0xab, 0xcd]);
        assert_eq!(AttrIter::new(&b, 0).find(10).unwrap().be16(), Some(0xabcd));
    }

    #[test]
    fn errors_fuse() {
        for bad in [nla(3, 1, &[]), nla(9, 1, &[0; 4]), vec![1, 0, 0]] {
            let mut it = AttrIter::new(&bad, 20);
            let e = it.next().unwrap().unwrap_err();
            assert_eq!(e.offset(), 20);
            assert!(it.next().is_none());
            assert!(it.next().is_none());
        }
        let b = nla(3, 7, &[]);
        let e = AttrIter::new(&b, 0).next().unwrap().unwrap_err();
        assert_eq!(e.kind(), DecodeErrorKind::BadAttributeLength);
        assert_eq!(e.attr(), Some(7));
    }
}
