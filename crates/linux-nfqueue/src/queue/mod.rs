// SPDX-License-Identifier: MIT OR Apache-2.0
//! The blocking queue API: [`Queue`], [`Packet`], [`VerdictToken`].

/// The answering methods shared by [`Packet`] and [`VerdictToken`], written once on top of
/// their `try_verdict_with`.
macro_rules! answer_methods {
    ($handle:literal) => {
        /// Accepts the packet: it continues with the next hook entry (the rest of the chain
        /// that queued it is skipped).
        pub fn accept(self) -> Result<()> {
            self.verdict(Verdict::Accept)
        }

        /// Drops the packet.
        #[allow(clippy::should_implement_trait, reason = "the verdict is called drop")]
        pub fn drop(self) -> Result<()> {
            self.verdict(Verdict::Drop)
        }

        /// Answers with `verdict` and no attributes.
        pub fn verdict(self, verdict: Verdict) -> Result<()> {
            self.verdict_with(verdict, &VerdictAttrs::default())
        }

        /// Answers with `verdict` and attributes: a packet mark, a priority, conntrack changes,
        /// or a replacement payload (see [`checksum`](crate::checksum) to make it valid).
        ///
        /// If the verdict cannot be sent (for example a payload the kernel would silently
        /// drop), the error is returned and the default verdict is sent instead, so the packet
        /// never stays queued.
        #[doc = concat!("Use [`try_verdict_with`](Self::try_verdict_with) to get the ", $handle, " back instead.")]
        pub fn verdict_with(self, verdict: Verdict, attrs: &VerdictAttrs<'_>) -> Result<()> {
            match self.try_verdict_with(verdict, attrs) {
                Ok(()) => Ok(()),
                Err((unanswered, err)) => {
                    drop(unanswered);
                    Err(err)
                }
            }
        }
    };
}

mod bind;
mod fanout;
mod packet;
mod receiver;
mod run;
mod shared;
mod token;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use fanout::FanOut;
pub use packet::Packet;
pub use run::StopHandle;
pub use shared::{Counters, VerdictError};
pub use token::{OwnedPacket, VerdictToken};

use crate::config::{Config, OverrunPolicy};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::{Reply, SeqCounter, classify};
use crate::stats::QueueStats;
use crate::wire::{ConfigCmd, ConfigFlags, ConfigRequest, ErrorMsg, PacketView, Verdict};
use packet::Sink;
use receiver::{Next, Receiver};
use shared::{CounterCells, Shared, bump};

/// A bound NFQUEUE queue (or several queue numbers on one socket): receive packets, answer
/// them.
///
/// ```no_run
/// use linux_nfqueue::{Config, Queue};
///
/// // iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
/// let mut queue = Queue::open(Config::new(0))?;
/// loop {
///     let packet = queue.recv()?;
///     if packet.payload().is_some_and(|p| p.len() > 1000) {
///         packet.drop()?;
///     } else {
///         packet.accept()?;
///     }
/// }
/// # Ok::<(), linux_nfqueue::Error>(())
/// ```
///
/// Needs `CAP_NET_ADMIN` over the network namespace for as long as it is open: every verdict is
/// checked. Dropping the queue sends pending verdicts, answers packets still held by tokens
/// with the default verdict, unbinds its queue numbers and closes the socket;
/// [`close`](Self::close) does the same, also answers packets waiting unread in the socket,
/// and reports failures.
///
/// # References
/// `netlink(7)`; `include/uapi/linux/netfilter/nfnetlink_queue.h`;
/// `net/netfilter/nfnetlink_queue.c`.
#[derive(Debug)]
pub struct Queue {
    sink: Sink,
    rx: Receiver,
    ready: Option<receiver::Loc>,
    scratch: Vec<u8>,
    seqs: SeqCounter,
    config: Config,
    granted: Vec<(u16, ConfigFlags)>,
    /// The socket's network namespace when it is not the opener's.
    netns: Option<Arc<std::os::fd::OwnedFd>>,
    pub(crate) stop: Arc<run::StopState>,
    last_overrun_log: Option<Instant>,
    overruns_unlogged: u64,
}

/// Bytes of each receive buffer beyond the copy range: message header and metadata.
const METADATA_ROOM: usize = 8192;

impl Queue {
    /// Opens a socket, binds every queue number of `config` (each with one acknowledged
    /// message carrying the copy mode, range, queue length and flags) and returns the queue.
    ///
    /// # Errors
    /// [`ErrorKind::PermissionDenied`] without `CAP_NET_ADMIN`; [`ErrorKind::QueueBusy`] when
    /// another socket owns a queue number (the error names its port id);
    /// [`ErrorKind::SubsystemMissing`] when the kernel has no NFQUEUE;
    /// [`ErrorKind::Unsupported`] for refused flags with
    /// [`Config::strict_flags`](crate::Config::strict_flags).
    pub fn open(config: Config) -> Result<Self> {
        let (sock, netns) = bind::open_socket(&config)?;
        let portid = sock.portid().map_err(|e| Error::io("getsockname", e))?;
        let shared = Arc::new(Shared {
            sock,
            portid,
            default_verdict: config.default_verdict,
            tokens: AtomicUsize::new(0),
            counters: CounterCells::default(),
            closed: AtomicBool::new(false),
        });
        let buf_size = config.copy_range as usize + METADATA_ROOM;
        let mut queue = Self {
            sink: Sink::new(shared, config.batch_verdicts),
            rx: Receiver::new(config.recv_batch, buf_size),
            ready: None,
            scratch: vec![0; buf_size],
            seqs: SeqCounter::new(portid ^ 0x5a5a_0000),
            granted: Vec::new(),
            netns,
            stop: Arc::default(),
            last_overrun_log: None,
            overruns_unlogged: 0,
            config,
        };
        for q in queue.config.queues.clone() {
            let granted = queue.bind_queue(q)?;
            queue.granted.push((q, granted));
            log::info!(
                "queue {q} bound (port id {portid}): {:?} range {}, max length {}, flags {granted:?}",
                queue.config.copy_mode,
                queue.config.copy_range,
                queue.config.max_queue_len,
            );
        }
        Ok(queue)
    }

    /// Receives the next packet, blocking until one arrives (or, in non-blocking mode,
    /// returning [`ErrorKind::WouldBlock`]).
    ///
    /// Before it waits, it sends the verdicts given since the last call. Receive-buffer
    /// overruns are counted and, unless [`OverrunPolicy::Report`] is set, not returned;
    /// kernel errors answering verdicts are counted and logged, never returned here.
    pub fn recv(&mut self) -> Result<Packet<'_>> {
        let block = !self.config.nonblocking;
        self.recv_inner(block)
    }

    /// Receives the next packet if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Result<Packet<'_>> {
        self.recv_inner(false)
    }

    fn recv_inner(&mut self, block: bool) -> Result<Packet<'_>> {
        let loc = match self.ready.take() {
            Some(loc) => loc,
            None => self.locate(block)?,
        };
        let bytes = self.rx.bytes(loc);
        let view = PacketView::parse_bytes(bytes).map_err(|e| {
            bump(&self.sink.shared.counters.malformed);
            Error::decode("recv", e)
        })?;
        shared::bump_owned(&self.sink.shared.counters.rx_received, 1);
        Ok(Packet::new(view, &mut self.sink))
    }

    /// Makes sure a packet is ready for the next `recv` without blocking: `Ok(())` when one
    /// is, [`ErrorKind::WouldBlock`] when the socket is drained (pending verdicts were sent).
    /// For event loops: call it when the socket is readable.
    pub fn poll_packet(&mut self) -> Result<()> {
        if self.ready.is_none() {
            self.ready = Some(self.locate(false)?);
        }
        Ok(())
    }

    /// Finds the next packet message, handling everything else that arrives on the socket.
    fn locate(&mut self, block: bool) -> Result<receiver::Loc> {
        loop {
            if self.stop.is_stopped() {
                return Err(Error::new(ErrorKind::Closed, "recv"));
            }
            match self.rx.next() {
                Next::Packet(loc) => return Ok(loc),
                Next::Reply(loc) => {
                    if let Ok(reply) = self.rx.msg(loc).and_then(ErrorMsg::parse) {
                        let r = classify(&reply);
                        self.route_reply(r);
                    }
                }
                Next::Foreign => bump(&self.sink.shared.counters.foreign),
                Next::Truncated {
                    full_len,
                    got,
                    packet,
                } => {
                    bump(&self.sink.shared.counters.truncated);
                    log::warn!("a {full_len}-byte datagram did not fit the {got}-byte buffer");
                    if let Some((queue, id)) = packet {
                        // The packet cannot be shown, but it must not stay queued.
                        let v = self.sink.shared.default_verdict;
                        let _ = self.sink.verdict(queue, id, v, &Default::default());
                    }
                }
                Next::Malformed(e) => {
                    bump(&self.sink.shared.counters.malformed);
                    return Err(Error::decode("recv", e));
                }
                Next::Empty => self.refill(block)?,
            }
        }
    }

    /// Sends pending verdicts, then receives the next batch of datagrams.
    fn refill(&mut self, block: bool) -> Result<()> {
        self.sink.flush()?;
        let shared = &self.sink.shared;
        match shared.sock.recv_batch(self.rx.batch_mut(), block) {
            Ok(n) => {
                self.rx.refilled(n);
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                self.note_overrun();
                if self.config.overrun == OverrunPolicy::Report {
                    return Err(Error::io("recv", e));
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if block {
                    // The receive timeout fired: an idle moment to check for a stop request.
                    Ok(())
                } else {
                    Err(Error::io("recv", e))
                }
            }
            Err(e) => Err(Error::io("recv", e)),
        }
    }

    fn note_overrun(&mut self) {
        bump(&self.sink.shared.counters.overruns);
        let now = Instant::now();
        let quiet = self
            .last_overrun_log
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1));
        if quiet {
            self.overruns_unlogged += 1;
        } else {
            let more = std::mem::take(&mut self.overruns_unlogged);
            log::warn!(
                "receive buffer overran (ENOBUFS), the kernel dropped packets ({more} more \
                 overruns in the last second); enlarge Config::recv_buffer or enable fail-open"
            );
            self.last_overrun_log = Some(now);
        }
    }

    /// Handles an `NLMSG_ERROR` that arrived on the receive path.
    fn route_reply(&self, reply: Reply) {
        match reply {
            Reply::Verdict { id, batch, errno } => {
                let counters = &self.sink.shared.counters;
                if errno == libc::ENOENT {
                    bump(&counters.packets_gone);
                    log::debug!("verdict for packet {id}: the packet was already gone (ENOENT)");
                } else {
                    bump(&counters.verdict_errors);
                    log::warn!(
                        "verdict for packet {id} failed: {}",
                        std::io::Error::from_raw_os_error(errno)
                    );
                }
                if let Some(hook) = &self.config.on_verdict_error {
                    hook(&VerdictError { id, batch, errno });
                }
            }
            Reply::Config { seq, errno } | Reply::Other { seq, errno } => {
                if errno != 0 {
                    log::debug!("late answer {errno} for request {seq}");
                }
            }
        }
    }

    /// Sends the verdicts given so far that are still pending (with batched verdicts on).
    pub fn flush(&mut self) -> Result<()> {
        self.sink.flush()
    }

    /// Answers every queued packet of `queue` with an id up to `max_id` (in the kernel's
    /// serial order) with one message: `NFQNL_MSG_VERDICT_BATCH`, optionally with a mark.
    ///
    /// This reaches every such packet, including ones you hold as tokens or have not
    /// received yet; use it only when one consumer decides in order.
    pub fn batch_verdict(
        &mut self,
        queue: u16,
        max_id: u32,
        verdict: Verdict,
        mark: Option<u32>,
    ) -> Result<()> {
        self.sink.flush()?;
        let mut buf = [0u8; 64];
        let len = crate::wire::encode_batch_verdict(
            &mut buf, max_id, 0, queue, max_id, verdict, mark, None,
        )
        .map_err(|e| Error::encode("batch verdict", e))?;
        self.sink
            .shared
            .sock
            .send(&buf[..len])
            .map_err(|e| Error::io("batch verdict", e).with_queue(queue))?;
        bump(&self.sink.shared.counters.verdict_sends);
        Ok(())
    }

    /// A handle that makes [`run`](Self::run) return and a blocked [`recv`](Self::recv) fail
    /// with [`ErrorKind::Closed`], from any thread. A blocked receive notices within the
    /// [`wakeup interval`](crate::Config::wakeup_interval).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle::new(self.stop.clone())
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn is_nonblocking(&self) -> bool {
        self.config.nonblocking
    }

    /// The queue numbers bound and the flags the kernel granted each.
    pub fn granted_flags(&self) -> &[(u16, ConfigFlags)] {
        &self.granted
    }

    /// The socket's netlink port id: column 2 of `/proc/net/netfilter/nfnetlink_queue`.
    pub fn portid(&self) -> u32 {
        self.sink.shared.portid
    }

    /// What the library counted so far.
    pub fn counters(&self) -> Counters {
        self.sink.shared.counters.snapshot()
    }

    /// The kernel's counters for this socket's queues, from
    /// `/proc/net/netfilter/nfnetlink_queue` of the namespace the socket lives in.
    pub fn stats(&self) -> Result<Vec<QueueStats>> {
        let all = self
            .read_stats()
            .map_err(|e| Error::io("read queue statistics", e))?;
        let me = self.portid();
        Ok(all.into_iter().filter(|s| s.portid == me).collect())
    }

    /// Turns kernel queue flags on or off for `queue` at run time (one acknowledged message
    /// with a mask, so other flags stay as they are).
    pub fn set_flags(&mut self, queue: u16, flags: ConfigFlags, on: bool) -> Result<()> {
        let value = if on { flags } else { ConfigFlags::empty() };
        self.request(queue, &ConfigRequest::default().with_flags(value, flags))?;
        if let Some((_, granted)) = self.granted.iter_mut().find(|(q, _)| *q == queue) {
            if on {
                granted.insert(flags);
            } else {
                granted.remove(flags);
            }
        }
        Ok(())
    }

    /// Changes the kernel queue length of `queue` at run time.
    pub fn set_max_queue_len(&mut self, queue: u16, packets: u32) -> Result<()> {
        let req = ConfigRequest::default().with_queue_maxlen(packets.max(1));
        self.request(queue, &req)
    }

    /// Closes the queue and leaves nothing behind in the kernel: sends pending verdicts,
    /// answers with the default verdict the packets already waiting in the socket (at most
    /// 65 536) and those still held by [`VerdictToken`]s, unbinds every queue number
    /// (acknowledged) and closes the socket. Unlike dropping the queue, it reports failures.
    /// Tokens answered afterwards are no-ops.
    pub fn close(mut self) -> Result<()> {
        let mut result = self.sink.flush();
        let default = self.sink.shared.default_verdict;
        let mut drained = 0u32;
        while drained < 65_536 {
            match self.try_recv() {
                Ok(packet) => {
                    packet.verdict(default)?;
                    drained += 1;
                }
                Err(e) if e.is_transient() && e.kind() != ErrorKind::WouldBlock => continue,
                Err(_) => break,
            }
        }
        if drained > 0 {
            log::info!("answered {drained} waiting packets with {default:?} while closing");
        }
        let answered = self.sink.flush().and_then(|()| self.answer_held());
        if result.is_ok() {
            result = answered;
        }
        for (q, _) in std::mem::take(&mut self.granted) {
            let unbind = ConfigRequest::default().with_cmd(ConfigCmd::Unbind);
            if let Err(e) = self.request(q, &unbind) {
                if result.is_ok() {
                    result = Err(e);
                }
            } else {
                log::info!("queue {q} unbound");
            }
        }
        self.sink.shared.closed.store(true, Ordering::Release);
        result
    }

    /// Answers, with the default verdict, every packet still held by a token: one batch verdict
    /// per queue up to the highest id handed out as a token.
    fn answer_held(&mut self) -> Result<()> {
        if self.sink.shared.tokens.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let default = self.sink.shared.default_verdict;
        for (q, max) in std::mem::take(&mut self.sink.held) {
            self.batch_verdict(q, max, default, None)?;
        }
        Ok(())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if let Err(e) = self.sink.flush().and_then(|()| self.answer_held()) {
            log::warn!("pending verdicts could not be sent: {e}");
        }
        for (q, _) in std::mem::take(&mut self.granted) {
            let mut buf = [0u8; 64];
            let unbind = ConfigRequest::default().with_cmd(ConfigCmd::Unbind);
            if let Ok(len) = crate::wire::encode_config(
                &mut buf,
                self.seqs.next(),
                crate::wire::consts::NLM_F_REQUEST,
                q,
                &unbind,
            ) {
                match self.sink.shared.sock.send(&buf[..len]) {
                    Ok(_) => log::info!("queue {q} unbound"),
                    Err(e) => log::warn!("queue {q}: unbind failed: {e}"),
                }
            }
        }
        self.sink.shared.closed.store(true, Ordering::Release);
    }
}

impl AsFd for Queue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sink.shared.sock.as_fd()
    }
}

impl AsRawFd for Queue {
    fn as_raw_fd(&self) -> RawFd {
        self.sink.shared.sock.as_raw_fd()
    }
}
