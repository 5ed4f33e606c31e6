// SPDX-License-Identifier: MIT OR Apache-2.0
//! `sendmmsg(2)` of many copies of one datagram on a connected socket, and the UDP socket
//! options a traffic generator needs (`UDP_SEGMENT` for GSO, `SO_SNDBUFFORCE`).
#![allow(unsafe_code)]

use std::fmt;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};

use libc::{c_int, c_uint, c_void};

use super::retry;

/// `UDP_SEGMENT` from `include/uapi/linux/udp.h` (not in every libc version): the GSO segment
/// size of a UDP socket; a send larger than it leaves as several datagrams of that size.
const UDP_SEGMENT: c_int = 103;

/// Storage for [`SendBatch::send`]: one payload buffer, and `capacity` message headers whose
/// single iovec each points at the start of that buffer. Every message of a call carries the
/// same bytes (a prefix of the buffer). Built once; sending allocates nothing.
pub(crate) struct SendBatch {
    payload: Box<[u8]>,
    iovecs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
}

// SAFETY: the raw pointers inside `iovecs` and `headers` only ever point into this batch's own
// heap allocations (`payload`, `iovecs`), which move with it; they are rewritten from `&mut self`
// before every call and never dereferenced by Rust code.
unsafe impl Send for SendBatch {}
// SAFETY: `&SendBatch` only allows reading the payload and the capacity; the pointers are used
// only through `&mut self`.
unsafe impl Sync for SendBatch {}

impl SendBatch {
    /// Room for `capacity` messages (at least 1, at most 1024, the kernel's `UIO_MAXIOV` limit
    /// on one `sendmmsg`) of at most `max_len` bytes each. The payload starts zeroed.
    pub(crate) fn new(capacity: usize, max_len: usize) -> Self {
        let capacity = capacity.clamp(1, 1024);
        let empty_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Self {
            payload: vec![0u8; max_len].into_boxed_slice(),
            iovecs: vec![empty_iov; capacity].into_boxed_slice(),
            headers: (0..capacity).map(|_| zeroed_mmsghdr()).collect(),
        }
    }

    /// How many messages one call can send.
    pub(crate) fn capacity(&self) -> usize {
        self.headers.len()
    }

    /// The longest message.
    pub(crate) fn max_len(&self) -> usize {
        self.payload.len()
    }

    /// The bytes every message starts with; write the payload here.
    pub(crate) fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.payload
    }

    /// Sends `count` messages (at most [`capacity`](Self::capacity)) on the connected socket
    /// `fd` with one `sendmmsg`: every message holds the first `len` bytes of the payload,
    /// except the last, which holds the first `last_len` bytes. Lengths above
    /// [`max_len`](Self::max_len) are cut to it.
    ///
    /// Returns how many messages the kernel took, from the first: at least 1 on success. As
    /// `sendmmsg(2)` specifies, an error after the first message ends the call early and is
    /// not reported; an error on the first message is. `EINTR` is retried; `EAGAIN` (a full
    /// send buffer on a non-blocking socket, or the send timeout) surfaces as `WouldBlock`.
    pub(crate) fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        count: usize,
        len: usize,
        last_len: usize,
    ) -> io::Result<usize> {
        let count = count.min(self.capacity());
        if count == 0 {
            return Ok(0);
        }
        let max = self.payload.len();
        let (len, last_len) = (len.min(max), last_len.min(max));
        let base = self.payload.as_mut_ptr().cast::<c_void>();
        for (i, (hdr, iov)) in self
            .headers
            .iter_mut()
            .zip(self.iovecs.iter_mut())
            .take(count)
            .enumerate()
        {
            iov.iov_base = base;
            iov.iov_len = if i + 1 == count { last_len } else { len };
            hdr.msg_hdr.msg_name = std::ptr::null_mut();
            hdr.msg_hdr.msg_namelen = 0;
            hdr.msg_hdr.msg_iov = iov as *mut libc::iovec;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_control = std::ptr::null_mut();
            hdr.msg_hdr.msg_controllen = 0;
            hdr.msg_hdr.msg_flags = 0;
            hdr.msg_len = 0;
        }
        let raw = fd.as_raw_fd();
        let headers = self.headers.as_mut_ptr();
        let n = retry(|| {
            // SAFETY: the first `count` entries of `headers` were just initialised above, each
            // with no address (the socket is connected), no control data, and one iovec of
            // `iovecs` that describes a prefix (at most `max` bytes) of `payload`. All of them
            // are owned by `self`, which is mutably borrowed for the whole call, so nothing else
            // touches them; the kernel only reads the iovecs and payload and writes `msg_len`.
            unsafe { libc::sendmmsg(raw, headers, count as c_uint, 0) }
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

impl fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendBatch")
            .field("capacity", &self.capacity())
            .field("max_len", &self.max_len())
            .finish()
    }
}

fn zeroed_mmsghdr() -> libc::mmsghdr {
    // SAFETY: mmsghdr is a plain C struct of integers and raw pointers; all-zero bytes (null
    // pointers, zero lengths) are a valid value.
    unsafe { mem::zeroed() }
}

/// Sets the UDP GSO segment size of a UDP socket (`UDP_SEGMENT`, Linux 4.18): a send of more
/// than `size` bytes then leaves as datagrams of `size` bytes (the last may be shorter). `0`
/// turns it off.
pub(crate) fn set_udp_segment(fd: BorrowedFd<'_>, size: u16) -> io::Result<()> {
    set_int(fd, libc::SOL_UDP, UDP_SEGMENT, c_int::from(size))
}

/// The UDP GSO segment size of a UDP socket (`0`: off).
pub(crate) fn udp_segment(fd: BorrowedFd<'_>) -> io::Result<u16> {
    let v = get_int(fd, libc::SOL_UDP, UDP_SEGMENT)?;
    Ok(u16::try_from(v).unwrap_or(0))
}

/// Sets the send buffer of any socket, with `SO_SNDBUFFORCE` (needs `CAP_NET_ADMIN`) and, if
/// that is refused, `SO_SNDBUF` (capped by `net.core.wmem_max`). Returns the size the kernel
/// reports afterwards (it doubles the value it is given).
pub(crate) fn set_send_buffer(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    let value = c_int::try_from(bytes).unwrap_or(c_int::MAX);
    if set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, value).is_err() {
        set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, value)?;
    }
    let now = get_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?;
    Ok(usize::try_from(now).unwrap_or(0))
}

fn set_int(fd: BorrowedFd<'_>, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    retry(|| {
        // SAFETY: the pointer and length describe `value`, a c_int that lives for the whole
        // call; setsockopt only reads it.
        unsafe {
            libc::setsockopt(
                raw,
                level,
                name,
                (&raw const value).cast::<c_void>(),
                mem::size_of::<c_int>() as libc::socklen_t,
            )
        }
    })?;
    Ok(())
}

fn get_int(fd: BorrowedFd<'_>, level: c_int, name: c_int) -> io::Result<c_int> {
    let raw = fd.as_raw_fd();
    let mut value: c_int = 0;
    let mut len = mem::size_of::<c_int>() as libc::socklen_t;
    retry(|| {
        // SAFETY: the pointers describe `value` and `len`, which live for the whole call; the
        // kernel writes at most `len` (4) bytes into `value`.
        unsafe {
            libc::getsockopt(
                raw,
                level,
                name,
                (&raw mut value).cast::<c_void>(),
                &raw mut len,
            )
        }
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    use std::time::Duration;

    /// A connected sender and a bound receiver on the loopback of the calling thread's
    /// namespace (ephemeral ports; nothing leaves the machine).
    fn pair() -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        (tx, rx)
    }

    #[test]
    fn sends_count_messages_with_the_last_one_shorter() {
        let (tx, rx) = pair();
        let mut batch = SendBatch::new(8, 100);
        batch.payload_mut()[..4].copy_from_slice(b"abcd");
        assert_eq!(batch.capacity(), 8);
        let n = batch.send(tx.as_fd(), 5, 64, 10).unwrap();
        assert_eq!(n, 5);
        let mut buf = [0u8; 256];
        let mut lens = Vec::new();
        for _ in 0..5 {
            let got = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..4], b"abcd");
            lens.push(got);
        }
        assert_eq!(lens, [64, 64, 64, 64, 10]);
        // More than the capacity is cut to it; zero sends nothing.
        assert_eq!(batch.send(tx.as_fd(), 100, 1, 1).unwrap(), 8);
        assert_eq!(batch.send(tx.as_fd(), 0, 1, 1).unwrap(), 0);
    }

    #[test]
    fn udp_gso_splits_one_send_into_segments() {
        let (tx, rx) = pair();
        if let Err(e) = set_udp_segment(tx.as_fd(), 64) {
            // Kernels before 4.18 have no UDP GSO.
            eprintln!("UDP_SEGMENT not supported here ({e}); skipping");
            return;
        }
        assert_eq!(udp_segment(tx.as_fd()).unwrap(), 64);
        let mut batch = SendBatch::new(2, 16 * 64);
        // Two messages: 16 segments of 64 bytes, then 3 segments (the last one 10 bytes short).
        assert_eq!(batch.send(tx.as_fd(), 2, 16 * 64, 3 * 64 - 10).unwrap(), 2);
        let mut buf = [0u8; 2048];
        let mut lens = Vec::new();
        for _ in 0..19 {
            lens.push(rx.recv(&mut buf).unwrap());
        }
        assert!(lens[..18].iter().all(|&l| l == 64), "{lens:?}");
        assert_eq!(lens[18], 54);
        set_udp_segment(tx.as_fd(), 0).unwrap();
        assert_eq!(udp_segment(tx.as_fd()).unwrap(), 0);
    }

    #[test]
    fn send_buffer_grows() {
        let (tx, _rx) = pair();
        let got = set_send_buffer(tx.as_fd(), 1 << 20).unwrap();
        // Root gets the forced size (doubled); others at least the capped SO_SNDBUF.
        assert!(got >= 4096, "{got}");
    }

    #[test]
    fn errors_on_the_first_message_are_reported() {
        // A socket that is not connected has nowhere to send.
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new(4, 16);
        let err = batch.send(tx.as_fd(), 4, 16, 16).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EDESTADDRREQ), "{err}");
    }
}
