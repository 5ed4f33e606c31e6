// SPDX-License-Identifier: MIT OR Apache-2.0
//! The netlink socket: open, bind, options, receive with `MSG_TRUNC`, send, poll.
#![allow(unsafe_code)]

use std::fmt;
use std::io;
use std::mem::{self, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use libc::{c_int, c_void, socklen_t};

use super::batch::RecvBatch;
use super::{retry, retry_len};

/// Most parts [`NetlinkSocket::send_vectored`] accepts (kept on the stack, no allocation).
pub(crate) const MAX_SEND_PARTS: usize = 8;

/// A bound `AF_NETLINK` socket, `NETLINK_NETFILTER` unless opened with
/// [`NetlinkSocket::open_protocol`].
///
/// Every method takes `&self`: the kernel serialises concurrent calls, so one socket can receive on
/// one thread while verdicts are sent from others. The socket stays in the network namespace it
/// was created in, whatever thread uses it later (`protocol.md` §15).
pub(crate) struct NetlinkSocket {
    fd: OwnedFd,
    /// Connected to the kernel (port id 0): sends need no address, and the kernel refuses
    /// datagrams to this socket from any other sender (`ECONNREFUSED` at the sender).
    connected: bool,
}

/// What one receive returned, and who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Datagram {
    /// Bytes stored in the caller's buffer.
    pub(crate) len: usize,
    /// The datagram's real length; larger than `len` when the buffer was too small, in which case
    /// the rest of the datagram is lost (the kernel consumed it).
    pub(crate) full_len: usize,
    /// `nl_pid` of the sender; 0 for the kernel.
    pub(crate) sender_portid: u32,
    /// `nl_groups` of the sender (multicast groups); 0 for a unicast from the kernel.
    pub(crate) sender_groups: u32,
}

impl Datagram {
    /// Whether the buffer was too small for the datagram.
    pub(crate) fn truncated(&self) -> bool {
        self.full_len > self.len
    }

    /// Whether the kernel sent it (`nl_pid == 0 && nl_groups == 0`): the only datagrams a queue
    /// may trust (`protocol.md` §1, the defence against CVE-2012-3520-style spoofing).
    #[allow(
        clippy::wrong_self_convention,
        reason = "reads as a question about the sender, not a conversion"
    )]
    pub(crate) fn from_kernel(&self) -> bool {
        self.sender_portid == 0 && self.sender_groups == 0
    }
}

/// The result of [`NetlinkSocket::set_recv_buffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvBufferOutcome {
    /// The size asked for.
    pub(crate) requested: usize,
    /// The size the kernel reports afterwards (`SO_RCVBUF`); the kernel doubles the value it is
    /// given to account for its own bookkeeping, and caps `SO_RCVBUF` at `2 * net.core.rmem_max`.
    pub(crate) actual: usize,
    /// Whether `SO_RCVBUFFORCE` worked (it needs `CAP_NET_ADMIN` in the initial user namespace);
    /// `false` means the capped `SO_RCVBUF` fallback was used.
    pub(crate) forced: bool,
}

/// An all-zero `sockaddr_nl` with the family set and the given portid.
pub(super) fn nl_addr(portid: u32) -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is a plain C struct of integers; all-zero bytes are a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_pid = portid;
    addr
}

const NL_ADDR_LEN: socklen_t = size_of::<libc::sockaddr_nl>() as socklen_t;

impl NetlinkSocket {
    /// Opens a `NETLINK_NETFILTER` socket (`SOCK_RAW | SOCK_CLOEXEC`) and binds it with
    /// `nl_pid = 0`, so the kernel picks the portid (autobind).
    /// The socket is then connected to the kernel: verdicts are sent without an address
    /// (cheaper), and no other socket can send datagrams to it.
    pub(crate) fn open() -> io::Result<Self> {
        let mut sock = Self::open_protocol(libc::NETLINK_NETFILTER)?;
        sock.connect_kernel()?;
        Ok(sock)
    }

    /// Connects the socket to the kernel (`connect` to port id 0).
    fn connect_kernel(&mut self) -> io::Result<()> {
        let addr = nl_addr(0);
        retry(|| {
            // SAFETY: `addr` is a valid sockaddr_nl of NL_ADDR_LEN bytes, alive for the call.
            unsafe {
                libc::connect(
                    self.raw(),
                    (&raw const addr).cast::<libc::sockaddr>(),
                    NL_ADDR_LEN,
                )
            }
        })?;
        self.connected = true;
        Ok(())
    }

    /// Like [`open`](Self::open) for any netlink protocol; tests use `NETLINK_USERSOCK` (2), which
    /// needs no privileges and lets a socket talk to itself.
    pub(crate) fn open_protocol(protocol: c_int) -> io::Result<Self> {
        let fd = retry(|| {
            // SAFETY: socket(2) takes no pointers; the result is checked by `retry`.
            unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    protocol,
                )
            }
        })?;
        // SAFETY: `fd` was just returned by socket(2), is open, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let sock = Self {
            fd,
            connected: false,
        };
        sock.bind_auto()?;
        Ok(sock)
    }

    /// Adopts a netlink socket made elsewhere (for example in another network namespace, or
    /// passed over a Unix socket). Fails with `InvalidInput` if `fd` is not an `AF_NETLINK`
    /// socket; binds it (autobind) if it is not bound yet.
    pub(crate) fn from_owned_fd(fd: OwnedFd) -> io::Result<Self> {
        let (family, portid) = sock_name(fd.as_fd())?;
        if family != libc::AF_NETLINK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("descriptor is not a netlink socket (address family {family})"),
            ));
        }
        let sock = Self {
            fd,
            connected: false,
        };
        if portid == 0 {
            sock.bind_auto()?;
        }
        Ok(sock)
    }

    /// Gives the descriptor back; the socket stays open.
    pub(crate) fn into_owned_fd(self) -> OwnedFd {
        self.fd
    }

    fn bind_auto(&self) -> io::Result<()> {
        let addr = nl_addr(0);
        retry(|| {
            // SAFETY: `addr` is a valid sockaddr_nl of NL_ADDR_LEN bytes, alive for the call.
            unsafe {
                libc::bind(
                    self.raw(),
                    (&raw const addr).cast::<libc::sockaddr>(),
                    NL_ADDR_LEN,
                )
            }
        })?;
        Ok(())
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The portid the kernel assigned (`getsockname`'s `nl_pid`). The first netlink socket of a
    /// process gets its tgid, later ones an arbitrary value that may exceed `i32::MAX`.
    pub(crate) fn portid(&self) -> io::Result<u32> {
        Ok(sock_name(self.fd.as_fd())?.1)
    }

    /// The netlink protocol number (`SO_PROTOCOL`), 12 for `NETLINK_NETFILTER`.
    pub(crate) fn protocol(&self) -> io::Result<c_int> {
        getsockopt_int(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_PROTOCOL)
    }

    /// Switches `O_NONBLOCK` on or off.
    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        let flags = retry(|| {
            // SAFETY: F_GETFL takes no pointer argument.
            unsafe { libc::fcntl(self.raw(), libc::F_GETFL) }
        })?;
        let new = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        if new != flags {
            retry(|| {
                // SAFETY: F_SETFL takes an int argument, no pointer.
                unsafe { libc::fcntl(self.raw(), libc::F_SETFL, new) }
            })?;
        }
        Ok(())
    }

    /// `NETLINK_NO_ENOBUFS`: when on, a receive-buffer overrun is not reported as `ENOBUFS` (the
    /// packets are still dropped and counted in /proc, `protocol.md` §11, §14).
    pub(crate) fn set_no_enobufs(&self, on: bool) -> io::Result<()> {
        self.set_netlink_flag(libc::NETLINK_NO_ENOBUFS, on)
    }

    /// `NETLINK_CAP_ACK`: error acks no longer echo the whole request (essential with payload
    /// verdicts, `protocol.md` §9).
    pub(crate) fn set_cap_ack(&self, on: bool) -> io::Result<()> {
        self.set_netlink_flag(libc::NETLINK_CAP_ACK, on)
    }

    /// `NETLINK_EXT_ACK`: error acks carry a message and an offset for policy failures.
    pub(crate) fn set_ext_ack(&self, on: bool) -> io::Result<()> {
        self.set_netlink_flag(libc::NETLINK_EXT_ACK, on)
    }

    fn set_netlink_flag(&self, name: c_int, on: bool) -> io::Result<()> {
        setsockopt(self.fd.as_fd(), libc::SOL_NETLINK, name, &c_int::from(on))
    }

    /// Sizes the receive buffer: `SO_RCVBUFFORCE` first, and on `EPERM` (no `CAP_NET_ADMIN` in
    /// the initial user namespace, e.g. rootless) `SO_RCVBUF`, which the kernel caps at
    /// `net.core.rmem_max`. Reports what the kernel actually set.
    pub(crate) fn set_recv_buffer(&self, bytes: usize) -> io::Result<RecvBufferOutcome> {
        let value = c_int::try_from(bytes).unwrap_or(c_int::MAX);
        let fd = self.fd.as_fd();
        let forced = match setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &value) {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &value)?;
                false
            }
            Err(e) => return Err(e),
        };
        Ok(RecvBufferOutcome {
            requested: bytes,
            actual: self.recv_buffer_size()?,
            forced,
        })
    }

    /// The current receive buffer size as the kernel reports it (already doubled).
    pub(crate) fn recv_buffer_size(&self) -> io::Result<usize> {
        let v = getsockopt_int(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF)?;
        Ok(usize::try_from(v).unwrap_or(0))
    }

    /// `SO_SNDBUF`; only matters when batching many payload verdicts in one send (the limit is
    /// the send buffer minus 32 bytes, `protocol.md` §10).
    pub(crate) fn set_send_buffer(&self, bytes: usize) -> io::Result<()> {
        let value = c_int::try_from(bytes).unwrap_or(c_int::MAX);
        setsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, &value)
    }

    /// `SO_RCVTIMEO`: a blocking receive gives up with `WouldBlock` after `t`; `None` waits
    /// forever. A zero duration is refused with `InvalidInput` (the kernel would read it as
    /// "forever"), as `std::net::UdpSocket::set_read_timeout` does.
    pub(crate) fn set_recv_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let tv = match t {
            None => libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a zero receive timeout is not allowed",
                ));
            }
            Some(d) => {
                let sec = libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX);
                let mut usec = libc::suseconds_t::from(d.subsec_micros());
                if sec == 0 && usec == 0 {
                    usec = 1;
                }
                libc::timeval {
                    tv_sec: sec,
                    tv_usec: usec,
                }
            }
        };
        setsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
    }

    /// Receives one datagram (one netlink message from the kernel, `protocol.md` §13).
    ///
    /// Always passes `MSG_TRUNC`, so [`Datagram::full_len`] is the real length even when `buf`
    /// was too small; `dontwait` adds `MSG_DONTWAIT`. Errors: `WouldBlock` (nothing to read, or
    /// the receive timeout expired), `ENOBUFS` (an overrun happened; the socket stays usable).
    pub(crate) fn recv(&self, buf: &mut [u8], dontwait: bool) -> io::Result<Datagram> {
        let mut addr = nl_addr(0);
        let mut addr_len = NL_ADDR_LEN;
        let flags = libc::MSG_TRUNC | if dontwait { libc::MSG_DONTWAIT } else { 0 };
        let full_len = retry_len(|| {
            addr_len = NL_ADDR_LEN;
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes, `addr` for `addr_len`
            // bytes, and both outlive the call; the kernel writes no more than those lengths.
            unsafe {
                libc::recvfrom(
                    self.raw(),
                    buf.as_mut_ptr().cast::<c_void>(),
                    buf.len(),
                    flags,
                    (&raw mut addr).cast::<libc::sockaddr>(),
                    &mut addr_len,
                )
            }
        })?;
        Ok(Datagram {
            len: full_len.min(buf.len()),
            full_len,
            sender_portid: addr.nl_pid,
            sender_groups: addr.nl_groups,
        })
    }

    /// Receives up to `batch.capacity()` datagrams with one `recvmmsg(2)` into the batch's own
    /// storage (no allocation). With `wait_for_one` it passes `MSG_WAITFORONE` (block, subject to
    /// `O_NONBLOCK` and the receive timeout, for the first datagram, then take what is already
    /// there); otherwise `MSG_DONTWAIT`. `MSG_TRUNC` is always passed. Returns the count, also
    /// kept in the batch for [`RecvBatch::datagram`].
    pub(crate) fn recv_batch(
        &self,
        batch: &mut RecvBatch,
        wait_for_one: bool,
    ) -> io::Result<usize> {
        let flags = libc::MSG_TRUNC
            | if wait_for_one {
                libc::MSG_WAITFORONE
            } else {
                libc::MSG_DONTWAIT
            };
        batch.recv_with(self.raw(), flags)
    }

    /// Sends one datagram to the kernel (`nl_pid = 0`). Returns the bytes sent.
    pub(crate) fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        if !self.connected {
            return self.send_to(0, bytes);
        }
        retry_len(|| {
            // SAFETY: `bytes` is valid for reads of its length for the whole call.
            unsafe { libc::send(self.raw(), bytes.as_ptr().cast::<c_void>(), bytes.len(), 0) }
        })
    }

    /// Sends one datagram to `portid` (0 is the kernel; tests talk to user sockets).
    pub(crate) fn send_to(&self, portid: u32, bytes: &[u8]) -> io::Result<usize> {
        let addr = nl_addr(portid);
        retry_len(|| {
            // SAFETY: `bytes` is valid for reads of its length and `addr` is a valid
            // sockaddr_nl; both outlive the call.
            unsafe {
                libc::sendto(
                    self.raw(),
                    bytes.as_ptr().cast::<c_void>(),
                    bytes.len(),
                    0,
                    (&raw const addr).cast::<libc::sockaddr>(),
                    NL_ADDR_LEN,
                )
            }
        })
    }

    /// Sends the concatenation of `parts` as one datagram to the kernel (`sendmsg` with an iovec
    /// per part), so a header and a borrowed payload need not be copied together. At most
    /// [`MAX_SEND_PARTS`] parts (`InvalidInput` otherwise); the iovec array lives on the stack.
    pub(crate) fn send_vectored(&self, parts: &[&[u8]]) -> io::Result<usize> {
        self.send_vectored_to(0, parts)
    }

    /// [`send_vectored`](Self::send_vectored) to `portid`.
    pub(crate) fn send_vectored_to(&self, portid: u32, parts: &[&[u8]]) -> io::Result<usize> {
        if parts.len() > MAX_SEND_PARTS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "send_vectored takes at most 8 parts",
            ));
        }
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; MAX_SEND_PARTS];
        for (slot, part) in iov.iter_mut().zip(parts) {
            slot.iov_base = part.as_ptr().cast_mut().cast::<c_void>();
            slot.iov_len = part.len();
        }
        let mut addr = nl_addr(portid);
        // SAFETY: msghdr is a plain C struct; all-zero bytes (null pointers, zero lengths) are a
        // valid value.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&raw mut addr).cast::<c_void>();
        msg.msg_namelen = NL_ADDR_LEN;
        msg.msg_iov = iov.as_mut_ptr();
        // The field's type differs between libc flavours (size_t on glibc, int on musl).
        msg.msg_iovlen = parts.len() as _;
        retry_len(|| {
            // SAFETY: `msg` points at `addr` and at `parts.len()` initialised iovecs, each
            // describing a live slice of `parts`; all outlive the call and sendmsg only reads them.
            unsafe { libc::sendmsg(self.raw(), &msg, 0) }
        })
    }

    /// Waits until the socket is readable, or an error (such as `ENOBUFS`) is pending, or
    /// `timeout` passes (`None`: no limit). Returns whether it became ready.
    pub(crate) fn poll_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        loop {
            let ms: c_int = match deadline {
                None | Some(None) => -1,
                Some(Some(d)) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Round up so a sub-millisecond remainder does not become a busy loop.
                    let ms = left.as_nanos().div_ceil(1_000_000);
                    c_int::try_from(ms).unwrap_or(c_int::MAX)
                }
            };
            let mut pfd = libc::pollfd {
                fd: self.raw(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd, alive for the call.
            let ret = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ret >= 0 {
                return Ok(ret > 0 && pfd.revents != 0);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl AsFd for NetlinkSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NetlinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<NetlinkSocket> for OwnedFd {
    fn from(sock: NetlinkSocket) -> Self {
        sock.fd
    }
}

impl fmt::Debug for NetlinkSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("NetlinkSocket");
        d.field("fd", &self.fd.as_raw_fd());
        if let Ok(portid) = self.portid() {
            d.field("portid", &portid);
        }
        d.finish()
    }
}

/// The address family and, for netlink, the portid of a socket (`getsockname`).
fn sock_name(fd: BorrowedFd<'_>) -> io::Result<(c_int, u32)> {
    // SAFETY: sockaddr_storage is plain data; all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as socklen_t;
    retry(|| {
        // SAFETY: `storage` is valid for writes of `len` bytes and outlives the call.
        unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                (&raw mut storage).cast::<libc::sockaddr>(),
                &mut len,
            )
        }
    })?;
    let family = c_int::from(storage.ss_family);
    if family != libc::AF_NETLINK {
        return Ok((family, 0));
    }
    // SAFETY: the kernel filled a sockaddr_nl at the start of `storage`, which is larger and at
    // least as aligned; every bit pattern is a valid sockaddr_nl.
    let nl = unsafe { (&raw const storage).cast::<libc::sockaddr_nl>().read() };
    Ok((family, nl.nl_pid))
}

fn setsockopt<T>(fd: BorrowedFd<'_>, level: c_int, name: c_int, value: &T) -> io::Result<()> {
    retry(|| {
        // SAFETY: `value` points at a live, initialised T of `size_of::<T>()` bytes, which the
        // kernel only reads during the call.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (value as *const T).cast::<c_void>(),
                size_of::<T>() as socklen_t,
            )
        }
    })?;
    Ok(())
}

fn getsockopt_int(fd: BorrowedFd<'_>, level: c_int, name: c_int) -> io::Result<c_int> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    retry(|| {
        // SAFETY: `value` is valid for writes of `len` (4) bytes and outlives the call.
        unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                level,
                name,
                (&raw mut value).cast::<c_void>(),
                &mut len,
            )
        }
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests;
