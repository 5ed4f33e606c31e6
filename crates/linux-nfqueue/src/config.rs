// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`Config`]: every setting of a queue, with safe defaults.

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::wire::{ConfigFlags, CopyMode, Verdict};

/// The largest payload the kernel copies into one message (`0xffff` minus an attribute header).
pub const MAX_COPY_RANGE: u32 = 65531;

/// The kernel's default queue length (`NFQNL_QMAX_DEFAULT`).
pub const DEFAULT_MAX_QUEUE_LEN: u32 = 1024;

/// Receive-buffer bytes the kernel charges per queued packet, beyond the copied payload.
///
/// Measured on Linux 6.18 (`protocol.md` §13): about 832 bytes for a 64-byte UDP packet and
/// 2305 bytes for a 1400-byte one, because the kernel charges the skb's truesize.
pub(crate) const PER_PACKET_OVERHEAD: usize = 1024;

/// What to do when the socket's receive buffer overruns (`ENOBUFS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverrunPolicy {
    /// Count the overrun, log it (rate-limited) and keep receiving. The default.
    #[default]
    Count,
    /// Also return an [`ErrorKind::QueueOverrun`](crate::ErrorKind::QueueOverrun) error from
    /// `recv` so the caller sees each overrun; receiving still works afterwards.
    Report,
    /// Set `NETLINK_NO_ENOBUFS`: the kernel stops signalling overruns at all. Packets are still
    /// dropped and still counted in `/proc` (`user_dropped`); only the signal is gone.
    Suppress,
}

/// A callback told about every kernel error that answers a verdict.
pub(crate) type VerdictErrorHook = Arc<dyn Fn(&crate::VerdictError) + Send + Sync>;

/// Where the queue's socket lives. Cloning a configuration shares the source: a namespace can
/// serve many queues, an already opened socket only the first.
#[derive(Debug, Default, Clone)]
pub(crate) enum SocketSource {
    /// A new socket in the calling thread's network namespace.
    #[default]
    Current,
    /// A new socket created inside the namespace at this path (e.g. `/run/netns/NAME`).
    NetnsPath(PathBuf),
    /// A new socket created inside the namespace this fd refers to.
    NetnsFd(Arc<OwnedFd>),
    /// An already opened `NETLINK_NETFILTER` socket (for example passed over a Unix socket).
    Socket(Arc<std::sync::Mutex<Option<OwnedFd>>>),
}

/// Every setting of a [`Queue`](crate::Queue).
///
/// ```
/// use linux_nfqueue::{Config, Verdict};
/// let config = Config::new(5)
///     .max_queue_len(4096)
///     .copy_range(128)
///     .fail_open(true)
///     .gso(true)
///     .default_verdict(Verdict::Drop);
/// assert_eq!(config.queues(), &[5]);
/// ```
///
/// The defaults are the safe ones: copy the packet (up to 65531 bytes), a kernel queue of 1024
/// packets, a receive buffer sized to hold the whole queue, batched verdicts, overruns counted
/// and never fatal, and [`Verdict::Accept`] for a packet dropped without a verdict.
#[derive(Clone)]
pub struct Config {
    pub(crate) queues: Vec<u16>,
    pub(crate) copy_mode: CopyMode,
    pub(crate) copy_range: u32,
    pub(crate) max_queue_len: u32,
    pub(crate) flags: ConfigFlags,
    pub(crate) strict_flags: bool,
    pub(crate) recv_buffer: Option<usize>,
    pub(crate) default_verdict: Verdict,
    pub(crate) overrun: OverrunPolicy,
    pub(crate) batch_verdicts: bool,
    pub(crate) recv_batch: usize,
    pub(crate) wakeup: Duration,
    pub(crate) nonblocking: bool,
    pub(crate) source: SocketSource,
    pub(crate) on_verdict_error: Option<VerdictErrorHook>,
}

impl Config {
    /// A configuration for one queue number, with the defaults described on [`Config`].
    pub fn new(queue: u16) -> Self {
        Self {
            queues: vec![queue],
            copy_mode: CopyMode::Packet,
            copy_range: MAX_COPY_RANGE,
            max_queue_len: DEFAULT_MAX_QUEUE_LEN,
            flags: ConfigFlags::empty(),
            strict_flags: false,
            recv_buffer: None,
            default_verdict: Verdict::Accept,
            overrun: OverrunPolicy::Count,
            batch_verdicts: true,
            recv_batch: 32,
            wakeup: Duration::from_millis(250),
            nonblocking: false,
            source: SocketSource::Current,
            on_verdict_error: None,
        }
    }

    /// Bind several queue numbers on the one socket (packet ids are per queue; every verdict
    /// goes to the packet's own queue). To spread load over threads, see
    /// [`FanOut`](crate::FanOut) instead.
    pub fn also_queue(mut self, queue: u16) -> Self {
        if !self.queues.contains(&queue) {
            self.queues.push(queue);
        }
        self
    }

    /// The queue numbers this configuration binds.
    pub fn queues(&self) -> &[u16] {
        &self.queues
    }

    /// Copy only the metadata (`COPY_META`): no payload. Cheapest when headers do not matter.
    pub fn metadata_only(mut self) -> Self {
        self.copy_mode = CopyMode::Meta;
        self.copy_range = 0;
        self
    }

    /// Copy at most `bytes` of each packet (`COPY_PACKET`); `0` or anything above 65531 means
    /// 65531, the kernel's maximum. A longer packet arrives truncated, with
    /// [`cap_len`](crate::wire::PacketView::cap_len) set.
    pub fn copy_range(mut self, bytes: u32) -> Self {
        self.copy_mode = CopyMode::Packet;
        self.copy_range = if bytes == 0 || bytes > MAX_COPY_RANGE {
            MAX_COPY_RANGE
        } else {
            bytes
        };
        self
    }

    /// The kernel queue length: packets waiting for a verdict beyond it are dropped (or
    /// accepted with [`fail_open`](Self::fail_open)). `0` means the default, 1024, since a
    /// length of 0 would make the kernel drop every packet.
    pub fn max_queue_len(mut self, packets: u32) -> Self {
        self.max_queue_len = if packets == 0 {
            DEFAULT_MAX_QUEUE_LEN
        } else {
            packets
        };
        self
    }

    /// Request all of `flags` (they are OR-ed into one attribute).
    pub fn flags(mut self, flags: ConfigFlags) -> Self {
        self.flags.insert(flags);
        self
    }

    fn flag(mut self, flag: ConfigFlags, on: bool) -> Self {
        if on {
            self.flags.insert(flag);
        } else {
            self.flags.remove(flag);
        }
        self
    }

    /// `NFQA_CFG_F_FAIL_OPEN`: when the queue is full or the socket overruns, the kernel accepts
    /// packets instead of dropping them. (Rule-side `--queue-bypass` covers "no handler at all".)
    pub fn fail_open(self, on: bool) -> Self {
        self.flag(ConfigFlags::FAIL_OPEN, on)
    }

    /// `NFQA_CFG_F_GSO`: receive GSO packets whole (larger than the MTU, checksums possibly not
    /// filled in yet: see [`SkbInfo`](crate::wire::SkbInfo)) instead of having the kernel
    /// segment them, which is expensive.
    pub fn gso(self, on: bool) -> Self {
        self.flag(ConfigFlags::GSO, on)
    }

    /// `NFQA_CFG_F_CONNTRACK`: attach conntrack information to packets. Needs the kernel's
    /// ctnetlink glue; refused kernels drop the flag unless [`strict_flags`](Self::strict_flags).
    pub fn conntrack(self, on: bool) -> Self {
        self.flag(ConfigFlags::CONNTRACK, on)
    }

    /// `NFQA_CFG_F_UID_GID`: attach the owning socket's uid and gid to local packets.
    pub fn uid_gid(self, on: bool) -> Self {
        self.flag(ConfigFlags::UID_GID, on)
    }

    /// `NFQA_CFG_F_SECCTX`: attach the security context.
    pub fn secctx(self, on: bool) -> Self {
        self.flag(ConfigFlags::SECCTX, on)
    }

    /// The flags this configuration asks for.
    pub fn requested_flags(&self) -> ConfigFlags {
        self.flags
    }

    /// Fail [`Queue::open`](crate::Queue::open) when the kernel refuses a requested flag,
    /// instead of binding without it and reporting the granted flags. Off by default.
    pub fn strict_flags(mut self, on: bool) -> Self {
        self.strict_flags = on;
        self
    }

    /// The socket receive buffer in bytes. By default it is sized to hold the whole queue:
    /// `max_queue_len × (copy range + 1 KiB)`, capped at 256 MiB. `SO_RCVBUFFORCE` is tried first
    /// (needs CAP_NET_ADMIN in the initial user namespace), then `SO_RCVBUF`.
    pub fn recv_buffer(mut self, bytes: usize) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// The receive buffer this configuration asks for.
    pub fn effective_recv_buffer(&self) -> usize {
        self.recv_buffer.unwrap_or_else(|| {
            let per_packet = self.copy_range as usize + PER_PACKET_OVERHEAD;
            (self.max_queue_len as usize)
                .saturating_mul(per_packet)
                .saturating_mul(self.queues.len())
                .clamp(1 << 20, 256 << 20)
        })
    }

    /// The verdict sent for a [`Packet`](crate::Packet) or
    /// [`VerdictToken`](crate::VerdictToken) dropped without one (including during a panic).
    ///
    /// The default is [`Verdict::Accept`]: a handler bug then degrades to "no filtering"
    /// rather than a dead network, which matches the kernel's own fail-open and bypass
    /// switches. Security tools that must fail closed set [`Verdict::Drop`].
    pub fn default_verdict(mut self, verdict: Verdict) -> Self {
        self.default_verdict = verdict;
        self
    }

    /// What to do about receive-buffer overruns (`ENOBUFS`); see [`OverrunPolicy`].
    pub fn overrun_policy(mut self, policy: OverrunPolicy) -> Self {
        self.overrun = policy;
        self
    }

    /// Coalesce verdicts given on the receiving thread: they are written into one buffer and
    /// sent together (runs of equal plain verdicts as one batch verdict) before the next
    /// receive would block, at the latest. On by default; `false` sends each verdict at once.
    pub fn batch_verdicts(mut self, on: bool) -> Self {
        self.batch_verdicts = on;
        self
    }

    /// How many datagrams one receive system call may return (`recvmmsg`); 1 uses `recv`.
    pub fn recv_batch(mut self, datagrams: usize) -> Self {
        self.recv_batch = datagrams.clamp(1, 1024);
        self
    }

    /// How often a blocked receive wakes up to notice [`StopHandle::stop`](crate::StopHandle).
    pub fn wakeup_interval(mut self, every: Duration) -> Self {
        self.wakeup = every.max(Duration::from_millis(1));
        self
    }

    /// Open the socket in non-blocking mode: `recv` returns
    /// [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) instead of waiting.
    pub fn nonblocking(mut self, on: bool) -> Self {
        self.nonblocking = on;
        self
    }

    /// Create the socket inside the network namespace at `path` (for example
    /// `/run/netns/NAME`), without moving the calling thread: a short-lived helper thread enters
    /// the namespace and opens the socket there. Queues are per namespace.
    pub fn netns_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = SocketSource::NetnsPath(path.into());
        self
    }

    /// Create the socket inside the named network namespace `/run/netns/NAME` (as made by
    /// `ip netns add NAME`).
    pub fn netns(self, name: &str) -> Self {
        self.netns_path(std::path::Path::new("/run/netns").join(name))
    }

    /// Create the socket inside the network namespace this file descriptor refers to.
    pub fn netns_fd(mut self, fd: OwnedFd) -> Self {
        self.source = SocketSource::NetnsFd(Arc::new(fd));
        self
    }

    /// Use an already open `NETLINK_NETFILTER` socket, for example one created in another
    /// namespace and passed over a Unix socket.
    pub fn socket(mut self, fd: OwnedFd) -> Self {
        self.source = SocketSource::Socket(Arc::new(std::sync::Mutex::new(Some(fd))));
        self
    }

    /// Call `hook` for every kernel error that answers a verdict (besides counting and logging
    /// it). It runs on the receiving thread; keep it short.
    pub fn on_verdict_error(
        mut self,
        hook: impl Fn(&crate::VerdictError) + Send + Sync + 'static,
    ) -> Self {
        self.on_verdict_error = Some(Arc::new(hook));
        self
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("queues", &self.queues)
            .field("copy_mode", &self.copy_mode)
            .field("copy_range", &self.copy_range)
            .field("max_queue_len", &self.max_queue_len)
            .field("flags", &self.flags)
            .field("strict_flags", &self.strict_flags)
            .field("recv_buffer", &self.effective_recv_buffer())
            .field("default_verdict", &self.default_verdict)
            .field("overrun", &self.overrun)
            .field("batch_verdicts", &self.batch_verdicts)
            .field("recv_batch", &self.recv_batch)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let c = Config::new(7);
        assert_eq!(c.copy_mode, CopyMode::Packet);
        assert_eq!(c.copy_range, MAX_COPY_RANGE);
        assert_eq!(c.max_queue_len, 1024);
        assert_eq!(c.default_verdict, Verdict::Accept);
        assert!(c.effective_recv_buffer() >= 1024 * 66_000);
    }

    #[test]
    fn zero_values_do_not_blackhole() {
        let c = Config::new(1).max_queue_len(0).copy_range(0);
        assert_eq!(c.max_queue_len, 1024);
        assert_eq!(c.copy_range, MAX_COPY_RANGE);
        assert_eq!(
            Config::new(1).copy_range(1_000_000).copy_range,
            MAX_COPY_RANGE
        );
    }

    #[test]
    fn flags_accumulate_and_clear() {
        let c = Config::new(1).gso(true).fail_open(true).gso(false);
        assert!(c.flags.contains(ConfigFlags::FAIL_OPEN));
        assert!(!c.flags.contains(ConfigFlags::GSO));
    }

    #[test]
    fn recv_buffer_scales_with_queue() {
        let small = Config::new(1).copy_range(64).max_queue_len(16);
        assert_eq!(small.effective_recv_buffer(), 1 << 20);
        let big = Config::new(1).copy_range(1500).max_queue_len(8192);
        assert_eq!(big.effective_recv_buffer(), 8192 * (1500 + 1024));
        assert_eq!(
            Config::new(1).recv_buffer(4096).effective_recv_buffer(),
            4096
        );
    }
}
