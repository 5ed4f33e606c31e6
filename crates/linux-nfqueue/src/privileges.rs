// SPDX-License-Identifier: MIT OR Apache-2.0
//! Running as an unprivileged user while keeping the one capability NFQUEUE needs.
//!
//! The kernel checks `CAP_NET_ADMIN` on **every** message of a queue's socket, verdicts
//! included, in the thread that sends it. Dropping root entirely after binding therefore makes
//! every later verdict fail with `EPERM`. The usual hardening, as Suricata and zapret do it, is
//! to switch to an unprivileged user and keep `CAP_NET_ADMIN` only; that is what
//! [`drop_to_user`] does.

use crate::error::{Error, Result};

/// The capabilities of the calling thread, as bit masks (bit `n` = capability `n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The effective set: what the thread can use now.
    pub effective: u64,
    /// The permitted set: what it may make effective.
    pub permitted: u64,
    /// The inheritable set.
    pub inheritable: u64,
}

/// `CAP_NET_ADMIN`'s number: the capability NFQUEUE needs.
pub const CAP_NET_ADMIN: u32 = 12;

impl Capabilities {
    /// Reads the calling thread's capabilities (`capget`).
    pub fn current() -> Result<Self> {
        let c = crate::sys::capabilities().map_err(|e| Error::io("capget", e))?;
        Ok(Self {
            effective: c.effective,
            permitted: c.permitted,
            inheritable: c.inheritable,
        })
    }

    /// True when capability `cap` is effective.
    pub fn has(&self, cap: u32) -> bool {
        cap < 64 && self.effective & (1 << cap) != 0
    }
}

/// Switches the whole process to `uid` and `gid` (supplementary groups cleared) and keeps only
/// `CAP_NET_ADMIN`, permitted and effective; every other capability is dropped, also from the
/// bounding and ambient sets, so nothing comes back through `execve`.
///
/// Call it after opening queues (binding needs nothing more than `CAP_NET_ADMIN` either, so
/// before works too) and **before spawning threads**: uid and gid change for every thread, but
/// capabilities are per thread, and threads already running would lose `CAP_NET_ADMIN` with
/// the uid change. Threads spawned afterwards inherit the reduced set.
///
/// ```no_run
/// use linux_nfqueue::{Config, Queue, privileges};
/// let mut queue = Queue::open(Config::new(0))?;
/// privileges::drop_to_user(65534, 65534)?; // nobody:nogroup, CAP_NET_ADMIN only
/// queue.run(|packet| {
///     let _ = packet.accept();
/// })?;
/// # Ok::<(), linux_nfqueue::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) when the process lacks
/// `CAP_NET_ADMIN`, `CAP_SETUID`, `CAP_SETGID` or `CAP_SETPCAP`.
///
/// # References
/// `capabilities(7)`, `prctl(2)` (`PR_SET_KEEPCAPS`, `PR_CAPBSET_DROP`, `PR_CAP_AMBIENT`),
/// `setresuid(2)`.
pub fn drop_to_user(uid: u32, gid: u32) -> Result<()> {
    crate::sys::drop_privileges_keep_net_admin(uid, gid)
        .map_err(|e| Error::io("drop privileges", e))
}
