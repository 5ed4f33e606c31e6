// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`UdpFlood`]: a fast UDP traffic generator for throughput tests, bounded in count and time.
//!
//! [`send_udp`](super::send_udp) sends one datagram per system call, which is right for
//! functional tests and far too slow to load a queue. `UdpFlood` hands the kernel 64
//! datagrams per `sendmmsg` call on a connected socket with a large send buffer, and can use
//! UDP GSO (`UDP_SEGMENT`) so that each of those 64 messages leaves as several datagrams: with
//! 16 segments, one system call carries 1024 datagrams. On one core of a small VM that is about
//! 0.4 M datagrams/s without GSO and several million with it.
//!
//! Every flood ends after its count, its duration, or a stop flag, whichever comes first, and
//! reports what the kernel accepted. Like the other traffic helpers it uses the network
//! namespace of the calling thread: run it with [`Sandbox::udp_flood`] or inside
//! [`Sandbox::run`] / [`Sandbox::spawn`].

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sys;

use super::sandbox::Sandbox;

/// Largest UDP payload over IPv4.
const MAX_PAYLOAD: usize = 65507;
/// Most segments one UDP GSO send may carry on every kernel that has it (`UDP_MAX_SEGMENTS`
/// was 64 before Linux 6.9).
const MAX_SEGMENTS: u16 = 64;
/// How long one blocked send waits before the flood checks its deadline and stop flag again.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);

/// A bounded UDP flood: many small datagrams to one destination, as fast as the sending core
/// allows.
///
/// ```no_run
/// use std::time::Duration;
/// use linux_nfqueue::testkit::{Sandbox, UdpFlood};
///
/// let Some(sandbox) = Sandbox::new_or_skip() else { return };
/// let flood = UdpFlood::new("127.0.0.1:9999".parse().unwrap())
///     .payload_len(64)
///     .gso_segments(16)
///     .count(1_000_000)
///     .duration(Duration::from_secs(5));
/// let report = sandbox.udp_flood(flood).join().unwrap().unwrap();
/// println!("{} datagrams, {:.0}/s", report.datagrams, report.datagrams_per_sec());
/// ```
#[derive(Debug, Clone)]
pub struct UdpFlood {
    dst: SocketAddr,
    sources: Vec<IpAddr>,
    payload_len: usize,
    gso_segments: u16,
    batch: usize,
    count: Option<u64>,
    duration: Duration,
    cpu: Option<usize>,
    send_buffer: usize,
    stop: Option<Arc<AtomicBool>>,
    progress: Option<Arc<AtomicU64>>,
}

/// Why a flood ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FloodEnd {
    /// It sent its count.
    Count,
    /// Its duration ran out.
    Deadline,
    /// Its stop flag was set.
    Stopped,
}

/// What a [`UdpFlood`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FloodReport {
    /// Datagrams the kernel accepted (GSO segments counted one by one).
    pub datagrams: u64,
    /// Messages the kernel accepted: one per datagram without GSO, one per GSO super-packet
    /// with it.
    pub messages: u64,
    /// `sendmmsg` calls made.
    pub calls: u64,
    /// Calls that failed with a transient error (for example `ENOBUFS`, `EPERM` from a rule,
    /// `ECONNREFUSED` after an ICMP port unreachable); the flood went on after each.
    pub errors: u64,
    /// The first such error, as text.
    pub first_error: Option<String>,
    /// Calls that blocked for the whole send timeout (a full send buffer).
    pub stalls: u64,
    /// From the first call to the end.
    pub elapsed: Duration,
    /// Why it ended.
    pub ended: FloodEnd,
    /// The CPU the sending thread was pinned to, if pinning was asked for and worked.
    pub pinned_to: Option<usize>,
}

impl FloodReport {
    /// Datagrams per second over [`elapsed`](Self::elapsed).
    pub fn datagrams_per_sec(&self) -> f64 {
        per_sec(self.datagrams, self.elapsed)
    }

    /// Messages (sends) per second over [`elapsed`](Self::elapsed).
    pub fn messages_per_sec(&self) -> f64 {
        per_sec(self.messages, self.elapsed)
    }

    /// `sendmmsg` calls per second over [`elapsed`](Self::elapsed).
    pub fn calls_per_sec(&self) -> f64 {
        per_sec(self.calls, self.elapsed)
    }
}

fn per_sec(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

impl fmt::Display for FloodReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} datagrams in {} messages ({} calls, {} errors) in {:.3} s: {:.0} datagrams/s, \
             ended by {:?}",
            self.datagrams,
            self.messages,
            self.calls,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.datagrams_per_sec(),
            self.ended
        )
    }
}

impl UdpFlood {
    /// A flood to `dst`: 64-byte payloads, 64 messages per call, no GSO, no count limit, 10
    /// seconds, a 4 MiB send buffer, not pinned.
    pub fn new(dst: SocketAddr) -> Self {
        Self {
            dst,
            sources: Vec::new(),
            payload_len: 64,
            gso_segments: 1,
            batch: 64,
            count: None,
            duration: Duration::from_secs(10),
            cpu: None,
            send_buffer: 4 << 20,
            stop: None,
            progress: None,
        }
    }

    /// UDP payload bytes of every datagram (at most 65507; with GSO at least 1).
    pub fn payload_len(mut self, bytes: usize) -> Self {
        self.payload_len = bytes.min(MAX_PAYLOAD);
        self
    }

    /// UDP GSO: every message carries `segments` datagrams of [`payload_len`](Self::payload_len)
    /// bytes, split by the kernel (`UDP_SEGMENT`). `1` (or `0`) turns GSO off. Capped at 64 and
    /// at 65507 bytes per message.
    pub fn gso_segments(mut self, segments: u16) -> Self {
        self.gso_segments = segments.clamp(1, MAX_SEGMENTS);
        self
    }

    /// Messages per `sendmmsg` call (1 to 1024; default 64).
    pub fn batch(mut self, messages: usize) -> Self {
        self.batch = messages.clamp(1, 1024);
        self
    }

    /// Stops after exactly `datagrams` datagrams (unless time runs out first).
    pub fn count(mut self, datagrams: u64) -> Self {
        self.count = Some(datagrams);
        self
    }

    /// Stops after `limit` (default 10 s), measured from the start of [`run`](Self::run). A
    /// blocked send wakes at least every 100 ms to check it.
    pub fn duration(mut self, limit: Duration) -> Self {
        self.duration = limit;
        self
    }

    /// Pins the sending thread to `cpu` while it runs. If the CPU does not exist, the flood
    /// runs unpinned and [`FloodReport::pinned_to`] says so.
    pub fn pin_to_cpu(mut self, cpu: usize) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// Sends from one socket per address of `sources` (each bound to it, port chosen by the
    /// kernel), taking turns call by call: several flows, for rules that spread packets over
    /// queues by address (`--queue-balance`). Every address must be local and of the
    /// destination's family (for example `127.0.0.2`, `127.0.0.3`, ... towards `127.0.0.1`).
    /// By default one socket with a source chosen by the kernel.
    pub fn sources(mut self, sources: impl IntoIterator<Item = IpAddr>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// The send buffer of each socket (default 4 MiB; `SO_SNDBUFFORCE` as root, else capped by
    /// `net.core.wmem_max`). Packets held in a queue still count against it, so a small buffer
    /// throttles the flood to what the queue's consumer verdicts.
    pub fn send_buffer(mut self, bytes: usize) -> Self {
        self.send_buffer = bytes;
        self
    }

    /// Ends the flood early when `flag` becomes true (checked before every call).
    pub fn stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Adds the datagrams accepted to `counter` after every call, so another thread can watch
    /// the flood's progress and rate while it runs.
    pub fn progress(mut self, counter: Arc<AtomicU64>) -> Self {
        self.progress = Some(counter);
        self
    }

    /// Datagrams per message: the GSO segment count, reduced so one message fits 65507 bytes.
    fn segments(&self) -> u64 {
        if self.gso_segments <= 1 || self.payload_len == 0 {
            return 1;
        }
        let fit = (MAX_PAYLOAD / self.payload_len).max(1) as u64;
        u64::from(self.gso_segments).min(fit)
    }

    fn open_sockets(&self, segments: u64) -> io::Result<Vec<UdpSocket>> {
        let any = match self.dst {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let sources = if self.sources.is_empty() {
            vec![any]
        } else {
            self.sources.clone()
        };
        let mut sockets = Vec::with_capacity(sources.len());
        for src in sources {
            let socket = UdpSocket::bind(SocketAddr::new(src, 0))
                .map_err(|e| io::Error::new(e.kind(), format!("bind {src}: {e}")))?;
            socket
                .connect(self.dst)
                .map_err(|e| io::Error::new(e.kind(), format!("connect {}: {e}", self.dst)))?;
            socket.set_write_timeout(Some(SEND_TIMEOUT))?;
            if self.send_buffer > 0 {
                sys::set_send_buffer(socket.as_fd(), self.send_buffer)?;
            }
            if segments > 1 {
                let size = u16::try_from(self.payload_len).unwrap_or(u16::MAX);
                sys::set_udp_segment(socket.as_fd(), size).map_err(|e| {
                    io::Error::new(e.kind(), format!("UDP_SEGMENT (UDP GSO, Linux 4.18+): {e}"))
                })?;
            }
            sockets.push(socket);
        }
        Ok(sockets)
    }

    /// Sends until the count, the duration or the stop flag ends the flood, on the calling
    /// thread and in its network namespace.
    ///
    /// # Errors
    ///
    /// Setting up fails (bind, connect, `UDP_SEGMENT` on a kernel without UDP GSO), or a send
    /// fails in a way that would repeat forever (`EINVAL`, `EMSGSIZE`, `EBADF`, ...). Transient
    /// send errors are counted in the report instead.
    pub fn run(&self) -> io::Result<FloodReport> {
        let pinned_to = self.cpu.filter(|&cpu| sys::pin_current_thread(cpu).is_ok());
        let segments = self.segments();
        let sockets = self.open_sockets(segments)?;
        let message_len = self.payload_len * segments as usize;
        let mut batch = sys::SendBatch::new(self.batch, message_len.max(1));
        let per_call = batch.capacity() as u64 * segments;

        let mut report = FloodReport {
            datagrams: 0,
            messages: 0,
            calls: 0,
            errors: 0,
            first_error: None,
            stalls: 0,
            elapsed: Duration::ZERO,
            ended: FloodEnd::Deadline,
            pinned_to,
        };
        let start = Instant::now();
        let deadline = start.checked_add(self.duration);
        let mut turn = 0usize;
        loop {
            let left = match self.count {
                Some(total) if report.datagrams >= total => {
                    report.ended = FloodEnd::Count;
                    break;
                }
                Some(total) => (total - report.datagrams).min(per_call),
                None => per_call,
            };
            if self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                report.ended = FloodEnd::Stopped;
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                report.ended = FloodEnd::Deadline;
                break;
            }
            // `left` datagrams in messages of `segments`; only the last may carry fewer.
            let messages = left.div_ceil(segments);
            let last_segments = left - (messages - 1) * segments;
            let last_len = if segments > 1 && last_segments == 1 {
                // One datagram alone: a plain send, no GSO needed.
                self.payload_len
            } else {
                self.payload_len * last_segments as usize
            };
            let socket = &sockets[turn % sockets.len()];
            turn = turn.wrapping_add(1);
            report.calls += 1;
            match batch.send(socket.as_fd(), messages as usize, message_len, last_len) {
                Ok(n) => {
                    let n = n as u64;
                    let sent = if n == messages { left } else { n * segments };
                    report.messages += n;
                    report.datagrams += sent;
                    if let Some(p) = &self.progress {
                        p.fetch_add(sent, Ordering::Relaxed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => report.stalls += 1,
                Err(e) if is_transient(&e) => {
                    report.errors += 1;
                    if report.first_error.is_none() {
                        report.first_error = Some(e.to_string());
                    }
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("sendmmsg to {}: {e}", self.dst),
                    ));
                }
            }
        }
        report.elapsed = start.elapsed();
        Ok(report)
    }
}

/// Send errors after which sending again makes sense.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ENOBUFS
                | libc::ENOMEM
                | libc::EPERM
                | libc::ENOSPC
                | libc::ECONNREFUSED
                | libc::EHOSTUNREACH
                | libc::ENETUNREACH
        )
    )
}

impl Sandbox {
    /// Starts `flood` on a new thread inside the sandbox; join the handle for its report.
    pub fn udp_flood(&self, flood: UdpFlood) -> JoinHandle<io::Result<FloodReport>> {
        self.spawn(move || flood.run())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Chain, Protocol};

    #[test]
    fn options_are_clamped() {
        let f = UdpFlood::new("127.0.0.1:9".parse().unwrap())
            .gso_segments(500)
            .batch(0)
            .payload_len(100_000);
        assert_eq!(f.gso_segments, 64);
        assert_eq!(f.batch, 1);
        assert_eq!(f.payload_len, MAX_PAYLOAD);
        // 64 segments of 65507 bytes do not fit one message: one segment per message.
        assert_eq!(f.segments(), 1);
        let f = UdpFlood::new("127.0.0.1:9".parse().unwrap())
            .payload_len(64)
            .gso_segments(16);
        assert_eq!(f.segments(), 16);
        assert_eq!(f.clone().gso_segments(0).segments(), 1);
        assert_eq!(f.payload_len(0).segments(), 1);
    }

    const T: Duration = Duration::from_secs(10);

    /// Floods `count` datagrams to an INPUT-counted port and checks the kernel saw exactly
    /// that many, for a count that is not a multiple of a call's worth.
    fn exact_count(gso: u16, count: u64) {
        let Some(sb) = Sandbox::new_or_skip() else {
            return;
        };
        let rule = sb.count_rule(Chain::Input, Protocol::Udp, 9400).unwrap();
        // A bound receiver, so no ICMP port unreachable comes back; it need not read.
        let _sink = sb.udp_sink("127.0.0.1:9400".parse().unwrap()).unwrap();
        let progress = Arc::new(AtomicU64::new(0));
        let flood = UdpFlood::new("127.0.0.1:9400".parse().unwrap())
            .gso_segments(gso)
            .count(count)
            .duration(T)
            .progress(progress.clone());
        let report = sb.udp_flood(flood).join().unwrap().unwrap();
        assert_eq!(report.ended, FloodEnd::Count, "{report}");
        assert_eq!(report.datagrams, count, "{report}");
        assert_eq!(progress.load(Ordering::Relaxed), count);
        assert_eq!(report.errors, 0, "{report}");
        let expected_messages = count.div_ceil(u64::from(gso.max(1)));
        assert_eq!(report.messages, expected_messages, "{report}");
        // Loopback carries a GSO super-packet whole (the receiving socket splits it), so
        // INPUT counts messages.
        assert!(
            crate::testkit::wait_until(T, || rule.packets().ok() == Some(expected_messages)),
            "INPUT counted {:?}, expected {expected_messages}",
            rule.packets()
        );
    }

    #[test]
    fn sends_exactly_the_count() {
        exact_count(1, 1000);
    }

    #[test]
    fn sends_exactly_the_count_with_gso() {
        exact_count(16, 1001);
    }

    #[test]
    fn stops_at_the_deadline() {
        let Some(sb) = Sandbox::new_or_skip() else {
            return;
        };
        let _sink = sb.udp_sink("127.0.0.1:9401".parse().unwrap()).unwrap();
        let limit = Duration::from_millis(300);
        let flood = UdpFlood::new("127.0.0.1:9401".parse().unwrap())
            .duration(limit)
            .pin_to_cpu(0);
        let report = sb.udp_flood(flood).join().unwrap().unwrap();
        assert_eq!(report.ended, FloodEnd::Deadline, "{report}");
        assert!(report.elapsed >= limit, "{report}");
        // One call takes microseconds; a blocked send at most the 100 ms send timeout.
        assert!(
            report.elapsed < limit + Duration::from_millis(250),
            "{report}"
        );
        assert!(report.datagrams > 0 && report.calls > 0, "{report}");
        assert_eq!(report.pinned_to, Some(0));
        assert!(report.datagrams_per_sec() > 0.0);
    }

    #[test]
    fn stops_on_the_flag() {
        let Some(sb) = Sandbox::new_or_skip() else {
            return;
        };
        let _sink = sb.udp_sink("127.0.0.1:9402".parse().unwrap()).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flood = UdpFlood::new("127.0.0.1:9402".parse().unwrap())
            .duration(T)
            .stop_flag(stop.clone());
        let handle = sb.udp_flood(flood);
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        let report = handle.join().unwrap().unwrap();
        assert_eq!(report.ended, FloodEnd::Stopped, "{report}");
        assert!(report.elapsed < Duration::from_secs(2), "{report}");
        assert!(report.calls >= 1, "{report}");
    }

    #[test]
    fn takes_turns_between_sources() {
        let Some(sb) = Sandbox::new_or_skip() else {
            return;
        };
        let rx = sb.run(|| UdpSocket::bind("127.0.0.1:9403")).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let sources: Vec<IpAddr> = (2..=3)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
            .collect();
        // Two calls of 64: one from each source.
        let flood = UdpFlood::new("127.0.0.1:9403".parse().unwrap())
            .sources(sources.clone())
            .count(128)
            .duration(T);
        let report = sb.udp_flood(flood).join().unwrap().unwrap();
        assert_eq!(report.datagrams, 128, "{report}");
        assert_eq!(report.calls, 2, "{report}");
        let mut from = std::collections::HashMap::new();
        let mut buf = [0u8; 256];
        for _ in 0..128 {
            let (_, addr) = rx.recv_from(&mut buf).unwrap();
            *from.entry(addr.ip()).or_insert(0u32) += 1;
        }
        for src in sources {
            assert_eq!(from.get(&src), Some(&64), "{from:?}");
        }
    }
}
