// SPDX-License-Identifier: MIT OR Apache-2.0
//! The operating-system layer: the only place in the workspace that may contain `unsafe`.
//!
//! Everything here is a thin, safe, crate-private wrapper over one or a few Linux system calls,
//! made through the `libc` crate. The policy (see `docs/architecture.md` and the house style,
//! convention 12) is:
//!
//! * `EINTR` is retried inside every call; the caller never sees it. Calls with a timeout
//!   (`poll`) recompute the remaining time before retrying.
//! * Nothing else is hidden. `EAGAIN` surfaces as [`std::io::ErrorKind::WouldBlock`], and `ENOBUFS`
//!   on a receive (the socket's receive buffer overran, `protocol.md` §11) surfaces as an
//!   `io::Error` whose `raw_os_error()` is `Some(libc::ENOBUFS)`: not fatal, the caller decides.
//! * Receives always pass `MSG_TRUNC`, so the real datagram length is known even when the buffer
//!   was too small (`protocol.md` §13).
//! * Sockets are opened with `SOCK_CLOEXEC`: an inherited descriptor would keep a queue bound
//!   (`protocol.md` §11).
//!
//! Files: `socket` (the netlink socket and its options), `batch` (`recvmmsg` storage), `netns`
//! (network namespaces, per thread), `caps` (capabilities and privilege dropping), `affinity` (CPU
//! pinning), `sendmmsg` (batched UDP sends and UDP GSO, for the test kit's traffic generator),
//! `cputime` (per-thread CPU time), `async_fd` (tokio registration, feature `tokio`).
//!
//! # References
//!
//! `netlink(7)`, `socket(7)`, `recvmmsg(2)`, `setns(2)`, `unshare(2)`, `capabilities(7)`.

#![allow(
    dead_code,
    unused_imports,
    reason = "the queue, tokio and testkit layers use different subsets of this API"
)]

mod affinity;
#[cfg(feature = "tokio")]
mod async_fd;
mod batch;
mod caps;
mod cputime;
mod netns;
mod sendmmsg;
mod socket;

#[cfg(all(test, feature = "testkit"))]
mod kernel_tests;
#[cfg(test)]
mod test_util;

pub(crate) use affinity::pin_current_thread;
#[cfg(feature = "tokio")]
pub(crate) use async_fd::{StableFd, register as register_async_fd};
pub(crate) use batch::RecvBatch;
pub(crate) use caps::{
    CAP_NET_ADMIN, CapSets, capabilities, drop_privileges_keep_net_admin, is_root,
};
pub(crate) use cputime::{clock_ticks_per_second, thread_id, thread_rusage};
pub(crate) use netns::{
    current_netns, enter_netns, in_netns, in_new_netns, open_netns_path, unshare_netns,
};
pub(crate) use sendmmsg::{SendBatch, set_send_buffer, set_udp_segment, udp_segment};
pub(crate) use socket::{Datagram, NetlinkSocket, RecvBufferOutcome};

use std::io;

/// Runs `f` until it returns something other than `-1` with `errno == EINTR`.
///
/// `f` must follow the C convention: `-1` (as `T`) means failure with the reason in `errno`.
fn retry<T>(mut f: impl FnMut() -> T) -> io::Result<T>
where
    T: Copy + PartialEq + From<i8>,
{
    loop {
        let ret = f();
        if ret != T::from(-1) {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Like [`retry`] for calls returning `ssize_t`, converting the count to `usize`.
fn retry_len(f: impl FnMut() -> isize) -> io::Result<usize> {
    let n = retry(f)?;
    // A successful call never returns a negative count other than -1, handled above.
    Ok(usize::try_from(n).unwrap_or(0))
}
