// SPDX-License-Identifier: MIT OR Apache-2.0
//! Opening the socket, binding queues in one acknowledged message, flag fallback, and turning
//! the kernel's terse errnos into errors that say what happened.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Queue;
use crate::config::{Config, OverrunPolicy, SocketSource};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::{Reply, classify};
use crate::sys::{self, NetlinkSocket};
use crate::wire::consts::{NFQ_TYPE_PACKET, NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR};
use crate::wire::{ConfigFlags, ConfigRequest, ErrorMsg, NlMsgIter, encode_config};

/// How long a configuration request may wait for the kernel's answer.
const CONFIG_TIMEOUT: Duration = Duration::from_secs(5);

/// The kernel's table of bound queues; its absence means NFQUEUE is not in the kernel.
const PROC_QUEUES: &str = "/proc/net/netfilter/nfnetlink_queue";

/// Opens the socket where the configuration says, and sets its options. Also returns the
/// namespace the socket lives in when it is not the caller's, to read its `/proc` tables later.
pub(super) fn open_socket(config: &Config) -> Result<(NetlinkSocket, Option<Arc<OwnedFd>>)> {
    let ns = match &config.source {
        SocketSource::NetnsPath(path) => Some(Arc::new(
            sys::open_netns_path(path).map_err(|e| Error::io("open network namespace", e))?,
        )),
        SocketSource::NetnsFd(fd) => Some(fd.clone()),
        _ => None,
    };
    let sock = match (&config.source, &ns) {
        (_, Some(ns)) => sys::in_netns(ns.as_fd(), NetlinkSocket::open).and_then(|r| r),
        (SocketSource::Socket(slot), None) => {
            let fd = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            match fd {
                Some(fd) => NetlinkSocket::from_owned_fd(fd),
                None => {
                    return Err(Error::invalid(
                        "open",
                        "the socket given with Config::socket was used by an earlier queue already",
                    ));
                }
            }
        }
        _ => NetlinkSocket::open(),
    }
    .map_err(|e| Error::io("open netlink socket", e))?;

    // Error acks then carry only the request's header, not a 64 KiB payload echoed back.
    if let Err(e) = sock.set_cap_ack(true) {
        log::debug!("NETLINK_CAP_ACK not available: {e}");
    }
    if let Err(e) = sock.set_ext_ack(true) {
        log::debug!("NETLINK_EXT_ACK not available: {e}");
    }
    if config.overrun == OverrunPolicy::Suppress {
        sock.set_no_enobufs(true)
            .map_err(|e| Error::io("set NETLINK_NO_ENOBUFS", e))?;
    }
    let wanted = config.effective_recv_buffer();
    match sock.set_recv_buffer(wanted) {
        Ok(outcome) => log::debug!("receive buffer: {outcome:?}"),
        Err(e) => log::warn!("could not size the receive buffer to {wanted} bytes: {e}"),
    }
    if let Err(e) = sock.set_send_buffer(1 << 20) {
        log::debug!("could not enlarge the send buffer: {e}");
    }
    if !config.nonblocking {
        sock.set_recv_timeout(Some(config.wakeup))
            .map_err(|e| Error::io("set SO_RCVTIMEO", e))?;
    }
    sock.set_nonblocking(config.nonblocking)
        .map_err(|e| Error::io("set O_NONBLOCK", e))?;
    Ok((sock, ns))
}

impl Queue {
    /// Binds `queue` with the configured copy mode, range, length and flags in one message.
    /// If the kernel refuses the flags and they are not strict, binds without them and then
    /// asks for each flag alone, keeping those granted.
    pub(super) fn bind_queue(&mut self, queue: u16) -> Result<ConfigFlags> {
        let c = &self.config;
        let base = ConfigRequest::bind()
            .with_params(c.copy_mode, c.copy_range)
            .with_queue_maxlen(c.max_queue_len);
        let wanted = c.flags;
        let strict = c.strict_flags;
        let first = if wanted.is_empty() {
            base
        } else {
            base.with_flags(wanted, wanted)
        };
        match self.request(queue, &first) {
            Ok(()) => return Ok(wanted),
            Err(e) if e.kind() == ErrorKind::Unsupported && !wanted.is_empty() && !strict => {
                log::warn!("queue {queue}: the kernel refused flags {wanted:?}; trying one by one");
            }
            Err(e) => return Err(self.diagnose(queue, e)),
        }
        self.request(queue, &base)
            .map_err(|e| self.diagnose(queue, e))?;
        let mut granted = ConfigFlags::empty();
        for flag in wanted.iter() {
            match self.request(queue, &ConfigRequest::default().with_flags(flag, flag)) {
                Ok(()) => granted.insert(flag),
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    log::warn!("queue {queue}: flag {flag:?} not supported by this kernel");
                }
                Err(e) => return Err(e.with_queue(queue)),
            }
        }
        Ok(granted)
    }

    /// Sends one configuration message with `NLM_F_ACK` and waits for its answer. Packets that
    /// arrive meanwhile are kept for `recv`; errors answering earlier verdicts are routed as
    /// usual.
    pub(super) fn request(&mut self, queue: u16, req: &ConfigRequest) -> Result<()> {
        let seq = self.seqs.next();
        let mut buf = [0u8; 64];
        let len = encode_config(&mut buf, seq, NLM_F_REQUEST | NLM_F_ACK, queue, req)
            .map_err(|e| Error::encode("configure", e).with_queue(queue))?;
        self.sink
            .shared
            .sock
            .send(&buf[..len])
            .map_err(|e| Error::io("configure", e).with_queue(queue))?;
        let deadline = Instant::now() + CONFIG_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(
                    Error::new(ErrorKind::Io, "configure: no answer from the kernel")
                        .with_queue(queue),
                );
            }
            let sock = &self.sink.shared.sock;
            match sock.poll_readable(Some(left)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => return Err(Error::io("configure", e)),
            }
            let got = match sock.recv(&mut self.scratch, true) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.note_overrun();
                    continue;
                }
                Err(e) => return Err(Error::io("configure", e).with_queue(queue)),
            };
            if !got.from_kernel() {
                super::shared::bump(&self.sink.shared.counters.foreign);
                continue;
            }
            let bytes = &self.scratch[..got.len.min(self.scratch.len())];
            let mut answer = None;
            for msg in NlMsgIter::new(bytes) {
                let Ok(msg) = msg else { break };
                match msg.header().ty {
                    NFQ_TYPE_PACKET => self.rx.push_backlog(msg.bytes()),
                    NLMSG_ERROR => {
                        let Ok(reply) = ErrorMsg::parse(msg) else {
                            continue;
                        };
                        match classify(&reply) {
                            Reply::Config { seq: s, errno } if s == seq => answer = Some(errno),
                            other => self.route_reply(other),
                        }
                    }
                    _ => {}
                }
            }
            match answer {
                Some(0) => return Ok(()),
                Some(errno) => return Err(Error::kernel("configure", errno).with_queue(queue)),
                None => continue,
            }
        }
    }

    /// Turns a failed bind into the error a person needs.
    fn diagnose(&self, queue: u16, err: Error) -> Error {
        match err.kind() {
            ErrorKind::PermissionDenied => {
                let owner = self.read_stats().ok().and_then(|all| {
                    all.into_iter()
                        .find(|row| row.queue == queue && row.portid != self.sink.shared.portid)
                });
                match owner {
                    Some(row) => Error::busy(queue, row.portid),
                    None => err.with_op("bind").with_queue(queue),
                }
            }
            ErrorKind::Kernel if err.raw_os_error() == Some(libc::EINVAL) => {
                if Path::new(PROC_QUEUES).exists() {
                    err.with_op("bind").with_queue(queue)
                } else {
                    Error::new(ErrorKind::SubsystemMissing, "bind").with_queue(queue)
                }
            }
            _ => err.with_op("bind").with_queue(queue),
        }
    }

    /// The kernel's queue table of the namespace the socket lives in.
    pub(super) fn read_stats(&self) -> std::io::Result<Vec<crate::QueueStats>> {
        match &self.netns {
            Some(ns) => sys::in_netns(ns.as_fd(), crate::QueueStats::read_all)?,
            None => crate::QueueStats::read_all(),
        }
    }
}
