// SPDX-License-Identifier: MIT OR Apache-2.0
//! State shared between a [`Queue`](crate::Queue) and its verdict tokens: the socket, the
//! default verdict and the counters. Verdicts from any thread go straight to the socket.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::sys::NetlinkSocket;
use crate::wire::{Verdict, VerdictAttrs, encode_verdict_head};

/// A kernel error that answered a verdict.
///
/// Verdicts are sent without asking for an acknowledgement, so the kernel only answers when
/// something went wrong; the answer arrives on the receiving socket, between packets. It is
/// counted, logged, handed to [`Config::on_verdict_error`](crate::Config::on_verdict_error),
/// and never stops receiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerdictError {
    /// The packet id the verdict named (for a batch verdict: its highest id).
    pub id: u32,
    /// True for a batch verdict.
    pub batch: bool,
    /// The errno, positive. `ENOENT` (2): the packet was gone already; `ENODEV` (19): the queue
    /// was unbound; `EINVAL` (22): the kernel rejected the verdict.
    pub errno: i32,
}

impl VerdictError {
    /// The same as an [`Error`], for `?` and for its explanatory text.
    pub fn to_error(&self) -> Error {
        Error::kernel("verdict", self.errno)
    }
}

impl std::fmt::Display for VerdictError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} for packet {}: {}",
            if self.batch {
                "batch verdict"
            } else {
                "verdict"
            },
            self.id,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

/// What the library counted since the queue was opened. A snapshot; see
/// [`Queue::counters`](crate::Queue::counters).
///
/// The kernel's own counters (packets dropped because the queue was full or the socket
/// overran) are in [`QueueStats`](crate::QueueStats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Packets received and handed out.
    pub received: u64,
    /// Verdicts given (one per packet, whatever the number of messages that carried them).
    pub verdicts: u64,
    /// Of those, default verdicts sent for packets or tokens dropped without one.
    pub default_verdicts: u64,
    /// Send system calls that carried verdicts.
    pub verdict_sends: u64,
    /// Receive-buffer overruns (`ENOBUFS`) seen; the kernel dropped packets each time.
    pub overruns: u64,
    /// Verdicts the kernel answered with `ENOENT`: the packet was already gone.
    pub packets_gone: u64,
    /// Other kernel errors answering verdicts.
    pub verdict_errors: u64,
    /// Datagrams ignored because they did not come from the kernel (port id not 0).
    pub foreign: u64,
    /// Datagrams larger than the receive buffer.
    pub truncated: u64,
    /// Messages from the kernel that did not parse.
    pub malformed: u64,
    /// Handler panics caught by [`Queue::run`](crate::Queue::run).
    pub panics: u64,
}

#[derive(Debug, Default)]
pub(crate) struct CounterCells {
    pub(crate) verdicts: AtomicU64,
    pub(crate) default_verdicts: AtomicU64,
    pub(crate) verdict_sends: AtomicU64,
    pub(crate) overruns: AtomicU64,
    pub(crate) packets_gone: AtomicU64,
    pub(crate) verdict_errors: AtomicU64,
    pub(crate) foreign: AtomicU64,
    pub(crate) truncated: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) panics: AtomicU64,
    /// Written only by the receiving thread (packets received, and the verdicts and sends it
    /// made itself), with plain stores instead of locked read-modify-writes: the per-packet
    /// path then costs no atomic instruction. Token verdicts from other threads go to
    /// `verdicts` and `verdict_sends` above; a snapshot adds both.
    pub(crate) rx_received: AtomicU64,
    pub(crate) rx_verdicts: AtomicU64,
    pub(crate) rx_sends: AtomicU64,
}

/// Adds one to a counter. Relaxed: counters order nothing.
pub(crate) fn bump(cell: &AtomicU64) {
    cell.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to a counter that only the calling thread writes (see [`CounterCells`]).
pub(crate) fn bump_owned(cell: &AtomicU64, n: u64) {
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

impl CounterCells {
    pub(crate) fn snapshot(&self) -> Counters {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            received: r(&self.rx_received),
            verdicts: r(&self.verdicts) + r(&self.rx_verdicts),
            default_verdicts: r(&self.default_verdicts),
            verdict_sends: r(&self.verdict_sends) + r(&self.rx_sends),
            overruns: r(&self.overruns),
            packets_gone: r(&self.packets_gone),
            verdict_errors: r(&self.verdict_errors),
            foreign: r(&self.foreign),
            truncated: r(&self.truncated),
            malformed: r(&self.malformed),
            panics: r(&self.panics),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) sock: NetlinkSocket,
    pub(crate) portid: u32,
    pub(crate) default_verdict: Verdict,
    /// Verdict tokens alive. While any is, runs of verdicts are not sent as batch verdicts,
    /// since a batch would also answer the packets those tokens hold.
    pub(crate) tokens: AtomicUsize,
    pub(crate) counters: CounterCells,
    pub(crate) closed: AtomicBool,
}

/// Room for a verdict without its payload bytes: header 16 + nfgenmsg 4 + verdict 12 + mark 8
/// + priority 8 + conntrack nest (mark, mask, labels, labels mask) under 64 + payload header 4.
const SMALL_VERDICT: usize = 128;

impl Shared {
    /// Sends one verdict at once, from any thread, without allocating or copying a payload,
    /// and counts it.
    pub(crate) fn send_verdict(
        &self,
        queue: u16,
        id: u32,
        verdict: Verdict,
        attrs: &VerdictAttrs<'_>,
    ) -> Result<()> {
        self.send_verdict_uncounted(queue, id, verdict, attrs)?;
        bump(&self.counters.verdict_sends);
        bump(&self.counters.verdicts);
        Ok(())
    }

    /// [`send_verdict`](Self::send_verdict) without counting, for the receiving thread,
    /// which counts in its own cells.
    pub(crate) fn send_verdict_uncounted(
        &self,
        queue: u16,
        id: u32,
        verdict: Verdict,
        attrs: &VerdictAttrs<'_>,
    ) -> Result<()> {
        // Everything but the payload goes into a stack buffer; a replacement payload is sent
        // from the caller's slice (one vectored send, no copy, no allocation).
        let mut head = [0u8; SMALL_VERDICT];
        let (head_len, pad_len) = encode_verdict_head(&mut head, id, 0, queue, id, verdict, attrs)
            .map_err(|e| Error::encode("verdict", e).with_queue(queue))?;
        let head = &head[..head_len];
        let sent = match attrs.payload {
            None => self.sock.send(head),
            Some(payload) => self
                .sock
                .send_vectored(&[head, payload, &[0u8; 3][..pad_len]]),
        };
        sent.map_err(|e| Error::io("verdict", e).with_queue(queue))?;
        Ok(())
    }
}
