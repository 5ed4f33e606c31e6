// SPDX-License-Identifier: MIT OR Apache-2.0
//! Capabilities (`capget`/`capset`, version 3) and dropping root while keeping `CAP_NET_ADMIN`.
//!
//! Every NFQUEUE message, verdicts included, needs `CAP_NET_ADMIN` in the *sending thread*
//! (`protocol.md` §1, §15), so a daemon that drops root must keep that one capability.
#![allow(unsafe_code)]

use std::fs;
use std::io;

use libc::{c_int, c_ulong};

use super::retry;

/// `CAP_NET_ADMIN`, the capability every NFQUEUE message needs.
pub(crate) const CAP_NET_ADMIN: u32 = 12;

/// `CAP_SETPCAP`, needed to shrink the bounding set.
const CAP_SETPCAP: u32 = 8;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The calling thread's capability sets, one bit per capability number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapSets {
    /// Capabilities in force.
    pub(crate) effective: u64,
    /// Capabilities the thread may make effective.
    pub(crate) permitted: u64,
    /// Capabilities kept across `execve` (with file or ambient capabilities).
    pub(crate) inheritable: u64,
}

impl CapSets {
    /// Whether capability number `cap` is effective.
    pub(crate) fn has_effective(&self, cap: u32) -> bool {
        cap < 64 && self.effective & (1 << cap) != 0
    }

    /// Whether capability number `cap` is permitted.
    pub(crate) fn has_permitted(&self, cap: u32) -> bool {
        cap < 64 && self.permitted & (1 << cap) != 0
    }
}

/// The calling thread's capabilities (`capget(2)`, version 3).
pub(crate) fn capabilities() -> io::Result<CapSets> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    retry(|| {
        // SAFETY: version 3 reads one header and writes two CapData structs; `header` and `data`
        // are exactly that, properly laid out (repr(C)) and alive for the call.
        unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) }
    })?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// Sets the calling thread's capabilities (`capset(2)`, version 3).
fn set_capabilities(sets: CapSets) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    // Truncation to the low and high 32 bits is the point here.
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    retry(|| {
        // SAFETY: version 3 reads one header and two CapData structs; both are properly laid out
        // and alive for the call.
        unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) }
    })?;
    Ok(())
}

/// Whether the effective user id is 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid(2) takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn prctl(option: c_int, arg2: c_ulong) -> io::Result<c_int> {
    retry(|| {
        // SAFETY: the prctl options used in this file take integer arguments only; unused
        // arguments are passed as zero, as the man page asks.
        unsafe { libc::prctl(option, arg2, 0 as c_ulong, 0 as c_ulong, 0 as c_ulong) }
    })
}

/// The highest capability number this kernel knows (`/proc/sys/kernel/cap_last_cap`).
fn last_cap() -> u32 {
    fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// Switches the process to `uid`/`gid`, clears the supplementary groups, and keeps only
/// `CAP_NET_ADMIN` (permitted and effective) on the calling thread.
///
/// Steps: `PR_SET_KEEPCAPS`; every other capability is dropped from the bounding set and the
/// ambient set is cleared (so nothing can come back through `execve`); `setgroups(0)`,
/// `setresgid`, `setresuid`; `capset` with `CAP_NET_ADMIN` only; `PR_SET_KEEPCAPS` off again.
/// Needs root (or `CAP_SETUID`, `CAP_SETGID`, `CAP_SETPCAP` and `CAP_NET_ADMIN`).
///
/// # Threads
///
/// glibc applies `setgroups`, `setresgid` and `setresuid` to **every thread** of the process,
/// but capabilities (including the bounding set) are **per thread**: other threads that are
/// already running keep their own capability sets, and lose all of them with the uid change
/// (`PR_SET_KEEPCAPS` is per thread too). Call this before spawning threads, or on every thread
/// that will send NFQUEUE messages. Threads spawned afterwards inherit the reduced sets.
pub(crate) fn drop_privileges_keep_net_admin(uid: u32, gid: u32) -> io::Result<()> {
    let before = capabilities()?;
    if !before.has_permitted(CAP_NET_ADMIN) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "CAP_NET_ADMIN is not permitted, so it cannot be kept",
        ));
    }
    if !before.has_effective(CAP_SETPCAP) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "CAP_SETPCAP is needed to shrink the bounding set",
        ));
    }
    prctl(libc::PR_SET_KEEPCAPS, 1)?;
    let result = drop_rest(uid, gid);
    // Best effort: the flag only matters for later uid changes.
    let _ = prctl(libc::PR_SET_KEEPCAPS, 0);
    result
}

fn drop_rest(uid: u32, gid: u32) -> io::Result<()> {
    for cap in (0..=last_cap()).filter(|&c| c != CAP_NET_ADMIN) {
        match prctl(libc::PR_CAPBSET_DROP, c_ulong::from(cap)) {
            Ok(_) => {}
            // A number this kernel does not know: nothing to drop.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    match retry(|| {
        // SAFETY: prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) takes integers only.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as c_ulong,
                0 as c_ulong,
                0 as c_ulong,
                0 as c_ulong,
            )
        }
    }) {
        Ok(_) => {}
        // Kernels before 4.3 have no ambient set.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
        Err(e) => return Err(e),
    }
    retry(|| {
        // SAFETY: a zero-length list with a null pointer is valid for setgroups(2).
        unsafe { libc::setgroups(0, std::ptr::null()) }
    })?;
    retry(|| {
        // SAFETY: setresgid(2) takes integers only.
        unsafe { libc::setresgid(gid, gid, gid) }
    })?;
    retry(|| {
        // SAFETY: setresuid(2) takes integers only.
        unsafe { libc::setresuid(uid, uid, uid) }
    })?;
    let keep = 1u64 << CAP_NET_ADMIN;
    set_capabilities(CapSets {
        effective: keep,
        permitted: keep,
        inheritable: 0,
    })
}

#[cfg(test)]
mod tests;
