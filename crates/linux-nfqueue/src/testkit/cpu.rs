// SPDX-License-Identifier: MIT OR Apache-2.0
//! CPU time for benchmarks: of one thread (user and system, readable from any thread of the
//! process) and of one CPU (busy, user, system, softirq from `/proc/stat`).
//!
//! A handler's cost splits into its own user-space work and the kernel work its system calls
//! do (receiving, and for every verdict re-injecting the packet). [`ThreadCpu`] samples both
//! for one thread; take a sample at the start and the end of a window and subtract
//! ([`ThreadTimes::since`]). [`CpuTimes`] does the same for a whole CPU, which also catches the
//! softirq work that runs on the handler's core outside its system calls.

use std::io;
use std::time::Duration;

use crate::sys;

/// A thread whose CPU time can be sampled from any thread of the process, through
/// `/proc/self/task/TID/stat` (user and system time, in clock ticks) and `.../schedstat`
/// (time on a CPU, in nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCpu {
    tid: u32,
}

/// CPU time of one thread, or its growth over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ThreadTimes {
    /// Time spent in user space.
    pub user: Duration,
    /// Time spent in the kernel on the thread's behalf (system calls, and softirq work that
    /// happened to run during them).
    pub system: Duration,
    /// Time on a CPU measured by the scheduler in nanoseconds (`schedstat`), when the kernel
    /// provides it; more precise than `user + system`, which the kernel keeps in ticks and
    /// splits by sampling.
    pub on_cpu: Option<Duration>,
}

impl ThreadTimes {
    /// User plus system time.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The user-space share of the total, from 0 to 1 (0 when no time was spent).
    pub fn user_share(&self) -> f64 {
        let total = self.total().as_secs_f64();
        if total > 0.0 {
            self.user.as_secs_f64() / total
        } else {
            0.0
        }
    }

    /// The growth from `earlier` to `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
            on_cpu: match (self.on_cpu, earlier.on_cpu) {
                (Some(a), Some(b)) => Some(a.saturating_sub(b)),
                _ => None,
            },
        }
    }
}

impl ThreadCpu {
    /// The calling thread.
    pub fn current() -> Self {
        Self {
            tid: sys::thread_id(),
        }
    }

    /// The kernel's id of the thread.
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// The thread's CPU time so far. Fails once the thread has ended.
    pub fn sample(&self) -> io::Result<ThreadTimes> {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{}/stat", self.tid))?;
        let (user, system) = parse_task_stat(&stat).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected /proc/self/task/{}/stat: {stat}", self.tid),
            )
        })?;
        let hz = sys::clock_ticks_per_second();
        let on_cpu = std::fs::read_to_string(format!("/proc/self/task/{}/schedstat", self.tid))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .map(Duration::from_nanos);
        Ok(ThreadTimes {
            user: ticks(user, hz),
            system: ticks(system, hz),
            on_cpu,
        })
    }
}

/// Pins the calling thread to CPU `cpu` (`sched_setaffinity`), as benchmarks do to keep a
/// generator and a handler on separate cores.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    sys::pin_current_thread(cpu)
}

/// User and system time of the calling thread from `getrusage(RUSAGE_THREAD)`; the
/// schedstat figure is not read.
pub fn current_thread_times() -> io::Result<ThreadTimes> {
    let (user, system) = sys::thread_rusage()?;
    Ok(ThreadTimes {
        user,
        system,
        on_cpu: None,
    })
}

fn ticks(n: u64, hz: u64) -> Duration {
    Duration::from_nanos(n.saturating_mul(1_000_000_000) / hz.max(1))
}

/// `utime` and `stime` (fields 14 and 15) of a `stat` line; the command name in parentheses
/// may hold spaces and parentheses, so the fields are counted from the last `)`.
fn parse_task_stat(text: &str) -> Option<(u64, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user = fields.next()?.parse().ok()?;
    let system = fields.next()?.parse().ok()?;
    Some((user, system))
}

/// One CPU's line of `/proc/stat` as durations, or its growth over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CpuTimes {
    /// User time (including `nice`).
    pub user: Duration,
    /// System time.
    pub system: Duration,
    /// Idle time (including `iowait`).
    pub idle: Duration,
    /// Hard interrupt time.
    pub irq: Duration,
    /// Soft interrupt time (on this CPU, outside any task's system time when the kernel
    /// accounts it separately).
    pub softirq: Duration,
    /// Time stolen by the hypervisor.
    pub steal: Duration,
}

impl CpuTimes {
    /// The times of CPU `cpu` now.
    pub fn read(cpu: usize) -> io::Result<Self> {
        let text = std::fs::read_to_string("/proc/stat")?;
        parse_proc_stat(&text, cpu).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no line for cpu{cpu} in /proc/stat"),
            )
        })
    }

    /// User, system, irq and softirq time: what the CPU spent working.
    pub fn busy(&self) -> Duration {
        self.user + self.system + self.irq + self.softirq
    }

    /// Everything, idle and steal included.
    pub fn total(&self) -> Duration {
        self.busy() + self.idle + self.steal
    }

    /// The busy share, from 0 to 1.
    pub fn busy_share(&self) -> f64 {
        let total = self.total().as_secs_f64();
        if total > 0.0 {
            self.busy().as_secs_f64() / total
        } else {
            0.0
        }
    }

    /// The growth from `earlier` to `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
            idle: self.idle.saturating_sub(earlier.idle),
            irq: self.irq.saturating_sub(earlier.irq),
            softirq: self.softirq.saturating_sub(earlier.softirq),
            steal: self.steal.saturating_sub(earlier.steal),
        }
    }
}

fn parse_proc_stat(text: &str, cpu: usize) -> Option<CpuTimes> {
    let tag = format!("cpu{cpu}");
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(tag.as_str()))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    let hz = sys::clock_ticks_per_second();
    let t = |n: u64| ticks(n, hz);
    Some(CpuTimes {
        user: t(get(0) + get(1)),
        system: t(get(2)),
        idle: t(get(3) + get(4)),
        irq: t(get(5)),
        softirq: t(get(6)),
        steal: t(get(7)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn spin(d: Duration) {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < d {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    #[test]
    fn stat_fields_are_found_after_the_command_name() {
        let line = "1234 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 250 30 0 0 20 0 1 0 100 0 0\n";
        assert_eq!(parse_task_stat(line), Some((250, 30)));
        assert_eq!(parse_task_stat("1 (x) R 1"), None);
        let stat = "cpu  10 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\ncpu1 100 0 50 1000 0 0 25 0 0 0\n";
        let c1 = parse_proc_stat(stat, 1).unwrap();
        let hz = sys::clock_ticks_per_second();
        assert_eq!(c1.user, ticks(100, hz));
        assert_eq!(c1.softirq, ticks(25, hz));
        assert_eq!(c1.busy(), ticks(175, hz));
        assert!(parse_proc_stat(stat, 2).is_none());
    }

    #[test]
    fn another_thread_is_sampled() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            tx.send(ThreadCpu::current()).unwrap();
            go_rx.recv().unwrap();
            // Spin until this thread has used 150 ms of CPU (however busy the machine is),
            // within 20 s of wall time.
            let start = current_thread_times().unwrap().total();
            let wall = Instant::now();
            while current_thread_times().unwrap().total() < start + Duration::from_millis(150)
                && wall.elapsed() < Duration::from_secs(20)
            {
                spin(Duration::from_millis(5));
            }
            done_tx.send(()).unwrap();
            end_rx.recv().unwrap();
        });
        let cpu = rx.recv().unwrap();
        assert!(cpu.tid() > 0);
        let before = cpu.sample().unwrap();
        go_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        let after = cpu.sample().unwrap();
        end_tx.send(()).unwrap();
        worker.join().unwrap();
        let used = after.since(&before);
        // The stat figures are kept in 10 ms ticks.
        assert!(used.total() >= Duration::from_millis(100), "{used:?}");
        assert!(used.user_share() > 0.5, "{used:?}");
        if let Some(on_cpu) = used.on_cpu {
            assert!(on_cpu >= Duration::from_millis(140), "{used:?}");
        }
        // The thread has ended: it cannot be sampled any more.
        assert!(cpu.sample().is_err());
    }

    #[test]
    fn pinning_to_cpu0_works_and_a_missing_cpu_fails() {
        std::thread::spawn(|| {
            pin_current_thread(0).unwrap();
            assert!(pin_current_thread(1 << 20).is_err());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn cpu0_is_readable() {
        let a = CpuTimes::read(0).unwrap();
        spin(Duration::from_millis(20));
        let b = CpuTimes::read(0).unwrap();
        let d = b.since(&a);
        assert!(d.busy_share() <= 1.0);
        assert!(CpuTimes::read(100_000).is_err());
    }
}
