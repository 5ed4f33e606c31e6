// SPDX-License-Identifier: MIT OR Apache-2.0
//! Caller-owned storage for `recvmmsg(2)`: N buffers plus the header arrays, built once.
#![allow(unsafe_code)]

use std::fmt;
use std::io;
use std::mem;
use std::os::fd::RawFd;

use libc::{c_int, c_uint, c_void};

use super::retry;
use super::socket::{Datagram, nl_addr};

/// Storage for one [`NetlinkSocket::recv_batch`](super::NetlinkSocket::recv_batch) call:
/// `count` buffers of `buf_size` bytes in one allocation, and the `mmsghdr`, `iovec` and
/// `sockaddr_nl` arrays that describe them. Built once, reused for every call: receiving
/// allocates nothing.
pub(crate) struct RecvBatch {
    buf_size: usize,
    /// Distance between buffer starts: `buf_size` rounded up to an odd number of 64-byte cache
    /// lines, so the buffers' first lines (where every message header is read) fall into
    /// different L1 cache sets instead of all sharing a few (a page-multiple stride would).
    stride: usize,
    storage: Box<[u8]>,
    addrs: Box<[libc::sockaddr_nl]>,
    iovecs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
    filled: usize,
}

// SAFETY: the raw pointers inside `iovecs` and `headers` only ever point into this batch's own
// heap allocations (`storage`, `addrs`, `iovecs`), which move with it; they are rewritten from
// `&mut self` before every use and never dereferenced by Rust code. Moving the batch to another
// thread therefore shares nothing.
unsafe impl Send for RecvBatch {}
// SAFETY: `&RecvBatch` only allows reading the received bytes and lengths; the pointers are used
// only through `&mut self`.
unsafe impl Sync for RecvBatch {}

impl RecvBatch {
    /// `count` buffers of `buf_size` bytes each. `count` is at least 1 and at most
    /// `c_uint::MAX`; `buf_size` at least 1.
    pub(crate) fn new(count: usize, buf_size: usize) -> Self {
        let count = count.clamp(1, c_uint::MAX as usize);
        let buf_size = buf_size.max(1);
        let lines = buf_size.div_ceil(64);
        let stride = (lines | 1) * 64;
        let total = count
            .checked_mul(stride)
            .expect("RecvBatch: count * buf_size overflows usize");
        let empty_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Self {
            buf_size,
            stride,
            storage: vec![0u8; total].into_boxed_slice(),
            addrs: vec![nl_addr(0); count].into_boxed_slice(),
            iovecs: vec![empty_iov; count].into_boxed_slice(),
            headers: (0..count).map(|_| zeroed_mmsghdr()).collect(),
            filled: 0,
        }
    }

    /// How many datagrams one call can receive.
    pub(crate) fn capacity(&self) -> usize {
        self.headers.len()
    }

    /// Size of each buffer.
    pub(crate) fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// How many datagrams the last call received.
    pub(crate) fn len(&self) -> usize {
        self.filled
    }

    /// Whether the last call received nothing (or no call was made yet).
    pub(crate) fn is_empty(&self) -> bool {
        self.filled == 0
    }

    /// Datagram `i` of the last call: its metadata and the stored bytes (`Datagram::len` of
    /// them; check [`Datagram::truncated`]).
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub(crate) fn datagram(&self, i: usize) -> (Datagram, &[u8]) {
        assert!(
            i < self.filled,
            "RecvBatch::datagram({i}) but the last call received {}",
            self.filled
        );
        let full_len = self.headers[i].msg_len as usize;
        let len = full_len.min(self.buf_size);
        let addr = &self.addrs[i];
        let start = i * self.stride;
        let meta = Datagram {
            len,
            full_len,
            sender_portid: addr.nl_pid,
            sender_groups: addr.nl_groups,
        };
        (meta, &self.storage[start..start + len])
    }

    /// Points every header at its buffer and address again, then calls `recvmmsg`.
    pub(super) fn recv_with(&mut self, fd: RawFd, flags: c_int) -> io::Result<usize> {
        self.filled = 0;
        let count = self.headers.len();
        let n = retry(|| {
            self.prepare();
            // SAFETY: `headers` holds `count` initialised mmsghdrs, each pointing (just set by
            // `prepare`) at one iovec describing a distinct `buf_size` slice of `storage` and at
            // one sockaddr_nl of `addrs`; all are owned by `self`, which is mutably borrowed for
            // the whole call, so nothing else reads or moves them. The kernel writes at most the
            // described lengths. A null timeout means none.
            unsafe {
                libc::recvmmsg(
                    fd,
                    self.headers.as_mut_ptr(),
                    count as c_uint,
                    flags as _,
                    std::ptr::null_mut(),
                )
            }
        })?;
        self.filled = usize::try_from(n).unwrap_or(0);
        Ok(self.filled)
    }

    fn prepare(&mut self) {
        let base = self.storage.as_mut_ptr();
        for (i, ((hdr, iov), addr)) in self
            .headers
            .iter_mut()
            .zip(self.iovecs.iter_mut())
            .zip(self.addrs.iter_mut())
            .enumerate()
        {
            // `wrapping_add` keeps this free of unsafe; the offset is in bounds by construction
            // (i < count, storage is count * stride long and buf_size <= stride).
            iov.iov_base = base.wrapping_add(i * self.stride).cast::<c_void>();
            iov.iov_len = self.buf_size;
            *addr = nl_addr(0);
            hdr.msg_hdr.msg_name = (addr as *mut libc::sockaddr_nl).cast::<c_void>();
            hdr.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            hdr.msg_hdr.msg_iov = iov as *mut libc::iovec;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
    }
}

fn zeroed_mmsghdr() -> libc::mmsghdr {
    // SAFETY: mmsghdr is a plain C struct of integers and raw pointers; all-zero bytes (null
    // pointers, zero lengths) are a valid value.
    unsafe { mem::zeroed() }
}

impl fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBatch")
            .field("capacity", &self.capacity())
            .field("buf_size", &self.buf_size)
            .field("stride", &self.stride)
            .field("filled", &self.filled)
            .finish()
    }
}
