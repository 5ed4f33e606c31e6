// SPDX-License-Identifier: MIT OR Apache-2.0
//! Network namespaces: open, enter (`setns`) and create (`unshare`), per thread.
//!
//! A network namespace is a property of a *thread*. A socket belongs to the namespace of the
//! thread that created it and keeps it for life, whichever thread uses it later
//! (`protocol.md` §15). [`in_netns`] is the safe way to use another namespace: it runs a closure
//! on a short-lived thread that entered it, so the caller's thread never moves (the semantics of
//! go-nfqueue's `Config.NetNS`).
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::panic;
use std::path::Path;
use std::thread;

use super::retry;

/// Opens a namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`, ...) with
/// `O_RDONLY | O_CLOEXEC`.
pub(crate) fn open_netns_path(path: &Path) -> io::Result<OwnedFd> {
    // std opens with O_CLOEXEC.
    Ok(File::open(path)?.into())
}

/// The calling thread's network namespace (`/proc/thread-self/ns/net`).
pub(crate) fn current_netns() -> io::Result<OwnedFd> {
    open_netns_path(Path::new("/proc/thread-self/ns/net"))
}

/// Moves the calling thread into the network namespace `fd` refers to (`setns(fd,
/// CLONE_NEWNET)`). Needs `CAP_SYS_ADMIN` over the target namespace's user namespace. Other
/// threads, and sockets already open, are not affected. Threads spawned afterwards from this
/// thread start in the new namespace.
pub(crate) fn enter_netns(fd: BorrowedFd<'_>) -> io::Result<()> {
    retry(|| {
        // SAFETY: setns(2) takes a descriptor (borrowed, so open for the call) and a flag.
        unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) }
    })?;
    Ok(())
}

/// Moves the calling thread into a new, empty network namespace (`unshare(CLONE_NEWNET)`); only
/// `lo` exists there, and it is down. Needs `CAP_SYS_ADMIN`.
pub(crate) fn unshare_netns() -> io::Result<()> {
    retry(|| {
        // SAFETY: unshare(2) takes only a flag.
        unsafe { libc::unshare(libc::CLONE_NEWNET) }
    })?;
    Ok(())
}

/// Runs `f` on a new thread that first entered the namespace `fd`, waits for it and returns its
/// result. The calling thread stays where it is. A panic in `f` is resumed on the caller.
pub(crate) fn in_netns<R: Send>(fd: BorrowedFd<'_>, f: impl FnOnce() -> R + Send) -> io::Result<R> {
    scoped(move || {
        enter_netns(fd)?;
        Ok(f())
    })
}

/// Runs `f` on a new thread that first moved into a fresh network namespace of its own
/// ([`unshare_netns`]); the namespace disappears when nothing refers to it any more (the thread
/// ended and no socket or descriptor made inside survives).
pub(crate) fn in_new_netns<R: Send>(f: impl FnOnce() -> R + Send) -> io::Result<R> {
    scoped(move || {
        unshare_netns()?;
        Ok(f())
    })
}

fn scoped<R: Send>(f: impl FnOnce() -> io::Result<R> + Send) -> io::Result<R> {
    thread::scope(|s| {
        let handle = thread::Builder::new()
            .name("nfq-netns".into())
            .spawn_scoped(s, f)?;
        match handle.join() {
            Ok(r) => r,
            Err(payload) => panic::resume_unwind(payload),
        }
    })
}
