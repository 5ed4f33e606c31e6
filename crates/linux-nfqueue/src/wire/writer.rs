// SPDX-License-Identifier: MIT OR Apache-2.0
//! A bounds-checked cursor that writes netlink headers and attributes into caller storage.

use super::bytes::align4;
use super::consts::{NFGENMSG_LEN, NLA_HDRLEN, NLMSG_HDRLEN};
use super::error::EncodeError;
use super::nfgen::NfGenMsg;
use super::nlmsg::NlMsgHeader;

/// Writes sequentially into a slice; every write is checked and fails with `BufferTooSmall`
/// instead of panicking. Callers size the slice first, so the checks never fire in practice.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn too_small(&self, n: usize) -> EncodeError {
        EncodeError::BufferTooSmall {
            needed: self.pos.saturating_add(n),
            available: self.buf.len(),
        }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(EncodeError::MessageTooLarge)?;
        let Some(dst) = self.buf.get_mut(self.pos..end) else {
            return Err(self.too_small(bytes.len()));
        };
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn zeros(&mut self, n: usize) -> Result<(), EncodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(EncodeError::MessageTooLarge)?;
        let Some(dst) = self.buf.get_mut(self.pos..end) else {
            return Err(self.too_small(n));
        };
        dst.fill(0);
        self.pos = end;
        Ok(())
    }

    /// Writes `nlmsghdr` (pid 0) and `nfgenmsg` (AF_UNSPEC, version 0, `res_id`).
    pub(crate) fn headers(
        &mut self,
        len: usize,
        ty: u16,
        flags: u16,
        seq: u32,
        res_id: u16,
    ) -> Result<(), EncodeError> {
        let len = u32::try_from(len).map_err(|_| EncodeError::MessageTooLarge)?;
        let h = NlMsgHeader {
            len,
            ty,
            flags,
            seq,
            pid: 0,
        };
        self.put(&h.to_bytes())?;
        let g = NfGenMsg {
            family: 0,
            version: 0,
            res_id,
        };
        self.put(&g.to_bytes())
    }

    /// Writes an attribute header announcing `value_len` bytes of value.
    pub(crate) fn attr_header(&mut self, ty: u16, value_len: usize) -> Result<(), EncodeError> {
        let len = value_len
            .checked_add(NLA_HDRLEN)
            .and_then(|l| u16::try_from(l).ok())
            .ok_or(EncodeError::PayloadTooLarge { len: value_len })?;
        self.put(&len.to_ne_bytes())?;
        self.put(&ty.to_ne_bytes())
    }

    /// Writes a whole attribute: header, value, zero padding to 4 bytes.
    pub(crate) fn attr(&mut self, ty: u16, value: &[u8]) -> Result<(), EncodeError> {
        self.attr_header(ty, value.len())?;
        self.put(value)?;
        self.zeros(pad(value.len()))
    }

    pub(crate) fn attr_be32(&mut self, ty: u16, v: u32) -> Result<(), EncodeError> {
        self.attr(ty, &v.to_be_bytes())
    }
}

/// Padding bytes after a value of `len` bytes.
pub(crate) const fn pad(len: usize) -> usize {
    align4(len).wrapping_sub(len) & 3
}

/// Bytes an attribute with a `len`-byte value takes, padding included.
pub(crate) const fn attr_space(len: usize) -> usize {
    align4(NLA_HDRLEN.saturating_add(len))
}

/// `nlmsghdr` plus `nfgenmsg`.
pub(crate) const HEADERS_LEN: usize = NLMSG_HDRLEN + NFGENMSG_LEN;
