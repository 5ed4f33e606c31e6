// SPDX-License-Identifier: MIT OR Apache-2.0
//! Registering a queue's socket with tokio's reactor (feature `tokio`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::unix::AsyncFd;

/// A type whose raw fd is owned by the value and stays the same for its whole life.
///
/// # Safety
/// `as_raw_fd` must return one valid, open descriptor, the same on every call, until the value
/// is dropped.
pub(crate) unsafe trait StableFd: AsRawFd {}

/// Registers `inner` with the current tokio runtime.
pub(crate) fn register<T: StableFd>(inner: T) -> io::Result<AsyncFd<T>> {
    // SAFETY: `StableFd` promises that the fd is valid, owned by `inner`, and unchanged for
    // the value's whole life, which is what `AsyncFd::register` requires.
    unsafe { AsyncFd::register(inner) }.map_err(io::Error::from)
}

// SAFETY: a queue's fd belongs to the socket in its shared state, which the queue keeps alive;
// it is never replaced or closed while the queue exists.
unsafe impl StableFd for crate::Queue {}
