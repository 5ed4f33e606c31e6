// SPDX-License-Identifier: MIT OR Apache-2.0
//! CPU time of threads: `getrusage(RUSAGE_THREAD)`, the thread id, and the clock tick that
//! `/proc/.../stat` counts in.
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::time::Duration;

/// User and system CPU time of the calling thread (`getrusage(RUSAGE_THREAD)`), in that order.
pub(crate) fn thread_rusage() -> io::Result<(Duration, Duration)> {
    // SAFETY: rusage is a plain C struct of integers; all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { mem::zeroed() };
    // SAFETY: the pointer refers to `usage`, which lives for the whole call; the kernel writes
    // one rusage into it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &raw mut usage) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((timeval(usage.ru_utime), timeval(usage.ru_stime)))
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// The kernel's id of the calling thread (`gettid`): the `TID` of `/proc/self/task/TID`.
pub(crate) fn thread_id() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    let tid = unsafe { libc::gettid() };
    u32::try_from(tid).unwrap_or(0)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, `USER_HZ`): the unit of the CPU times in
/// `/proc/stat` and `/proc/.../stat`. 100 when the call fails.
pub(crate) fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes a constant and reads no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_busy_thread_accumulates_cpu_time() {
        let (u0, s0) = thread_rusage().unwrap();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let (u1, s1) = thread_rusage().unwrap();
        assert!((u1 + s1) > (u0 + s0), "{u0:?}+{s0:?} -> {u1:?}+{s1:?}");
    }

    #[test]
    fn thread_ids_differ_between_threads() {
        let me = thread_id();
        assert!(me > 0);
        let other = std::thread::spawn(thread_id).join().unwrap();
        assert_ne!(me, other);
        assert!(std::path::Path::new(&format!("/proc/self/task/{me}")).exists());
    }

    #[test]
    fn clock_ticks_are_sane() {
        let hz = clock_ticks_per_second();
        assert!((1..=10_000).contains(&hz), "{hz}");
    }
}
