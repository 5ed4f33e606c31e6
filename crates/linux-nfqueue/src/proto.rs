// SPDX-License-Identifier: MIT OR Apache-2.0
//! Protocol state without I/O: sequence numbers, telling replies apart, and the verdict
//! coalescer that turns many verdicts into one send.
//!
//! Conventions this module fixes:
//! * a verdict message carries the packet id as its sequence number, so a kernel error that
//!   answers it (the kernel echoes the request header) names the packet without any lookup table;
//! * configuration requests carry sequence numbers from [`SeqCounter`] and `NLM_F_ACK`, and the
//!   echoed message type tells them apart from verdicts.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::wire::consts::{NFQ_TYPE_CONFIG, NFQ_TYPE_VERDICT, NFQ_TYPE_VERDICT_BATCH};
use crate::wire::{EncodeError, ErrorMsg, MessageBuffer, Verdict, VerdictAttrs};

/// Hands out sequence numbers for configuration requests (never 0).
#[derive(Debug)]
pub(crate) struct SeqCounter(AtomicU32);

impl SeqCounter {
    pub(crate) fn new(start: u32) -> Self {
        Self(AtomicU32::new(start.max(1)))
    }

    pub(crate) fn next(&self) -> u32 {
        loop {
            let s = self.0.fetch_add(1, Ordering::Relaxed);
            if s != 0 {
                return s;
            }
        }
    }
}

/// What an `NLMSG_ERROR` datagram answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The answer to a configuration request; errno 0 is success.
    Config { seq: u32, errno: i32 },
    /// An error answering a verdict (errno is never 0 here: verdicts are sent without ACK).
    Verdict { id: u32, batch: bool, errno: i32 },
    /// Anything else (for example an ack of a verdict sent with `NLM_F_ACK`).
    Other { seq: u32, errno: i32 },
}

/// Classifies an error or ack by the request header the kernel echoes back.
pub(crate) fn classify(reply: &ErrorMsg<'_>) -> Reply {
    let req = reply.request();
    let errno = reply.errno();
    match req.ty {
        NFQ_TYPE_CONFIG => Reply::Config {
            seq: req.seq,
            errno,
        },
        NFQ_TYPE_VERDICT | NFQ_TYPE_VERDICT_BATCH if errno != 0 => Reply::Verdict {
            id: req.seq,
            batch: req.ty == NFQ_TYPE_VERDICT_BATCH,
            errno,
        },
        _ => Reply::Other {
            seq: req.seq,
            errno,
        },
    }
}

/// One plain verdict waiting to be written: no payload, no conntrack, at most a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plain {
    queue: u16,
    id: u32,
    verdict: Verdict,
    mark: Option<u32>,
}

/// Upper bound of one send: the kernel refuses messages longer than `sk_sndbuf - 32`, and the
/// default send buffer is about 208 KiB.
pub(crate) const MAX_SEND: usize = 128 * 1024;

/// Collects verdicts and writes them into one buffer for one send.
///
/// Plain verdicts are held back as small records; when the buffer is sealed, a run of
/// consecutive records for the same queue with the same verdict and mark becomes one
/// `NFQNL_MSG_VERDICT_BATCH` up to the run's last id, provided the caller says batching is safe
/// (no packet of that queue is held elsewhere, for example by a verdict token). The kernel
/// processes the messages of one send in order, so a batch never reaches a packet that an
/// earlier message in the same buffer already answered.
#[derive(Debug)]
pub(crate) struct Coalescer {
    out: MessageBuffer,
    plain: Vec<Plain>,
    verdicts: usize,
}

/// Plain records kept before they are sealed into the buffer.
const MAX_PLAIN: usize = 1024;

impl Coalescer {
    pub(crate) fn new() -> Self {
        Self {
            out: MessageBuffer::with_capacity(64 * 1024),
            plain: Vec::with_capacity(MAX_PLAIN),
            verdicts: 0,
        }
    }

    /// Verdicts recorded since the last [`clear`](Self::clear).
    pub(crate) fn len(&self) -> usize {
        self.verdicts
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.verdicts == 0
    }

    /// True when the next message should be sent before more are added.
    pub(crate) fn wants_flush(&self) -> bool {
        self.out.len() >= MAX_SEND / 2 || self.plain.len() >= MAX_PLAIN
    }

    /// Records a verdict. Verdicts with attributes other than a mark are written at once, after
    /// sealing the plain ones before them, so their order is kept.
    pub(crate) fn push(
        &mut self,
        queue: u16,
        id: u32,
        verdict: Verdict,
        attrs: &VerdictAttrs<'_>,
        can_batch: bool,
    ) -> Result<(), EncodeError> {
        let is_plain =
            attrs.payload.is_none() && attrs.conntrack.is_none() && attrs.priority.is_none();
        if is_plain {
            if self.plain.len() >= MAX_PLAIN {
                self.seal(can_batch)?;
            }
            self.plain.push(Plain {
                queue,
                id,
                verdict,
                mark: attrs.mark,
            });
        } else {
            self.seal(can_batch)?;
            self.out.push_verdict(id, 0, queue, id, verdict, attrs)?;
        }
        self.verdicts += 1;
        Ok(())
    }

    /// Writes the held plain verdicts into the buffer: runs as batch verdicts when `can_batch`,
    /// otherwise one message each.
    pub(crate) fn seal(&mut self, can_batch: bool) -> Result<(), EncodeError> {
        let mut i = 0;
        while i < self.plain.len() {
            let first = self.plain[i];
            let mut end = i + 1;
            if can_batch {
                while end < self.plain.len() {
                    let next = self.plain[end];
                    if next.queue != first.queue
                        || next.verdict != first.verdict
                        || next.mark != first.mark
                    {
                        break;
                    }
                    end += 1;
                }
            }
            let last = self.plain[end - 1];
            if end - i == 1 {
                let attrs = match first.mark {
                    Some(m) => VerdictAttrs::default().with_mark(m),
                    None => VerdictAttrs::default(),
                };
                self.out
                    .push_verdict(first.id, 0, first.queue, first.id, first.verdict, &attrs)?;
            } else {
                self.out.push_batch_verdict(
                    last.id,
                    0,
                    first.queue,
                    last.id,
                    first.verdict,
                    first.mark,
                    None,
                )?;
            }
            i = end;
        }
        self.plain.clear();
        Ok(())
    }

    /// Seals and returns the bytes to send (empty when nothing is pending).
    pub(crate) fn finish(&mut self, can_batch: bool) -> Result<&[u8], EncodeError> {
        self.seal(can_batch)?;
        Ok(self.out.as_bytes())
    }

    /// Forgets everything, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.out.clear();
        self.plain.clear();
        self.verdicts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, NlMsgIter, VerdictMsgView};

    /// (batch, queue, id, verdict, mark) of each message.
    type Decoded = (bool, u16, u32, Option<Verdict>, Option<u32>);

    fn decode(bytes: &[u8]) -> Vec<Decoded> {
        NlMsgIter::new(bytes)
            .map(|m| {
                let m = m.expect("framing");
                let v = VerdictMsgView::parse(m).expect("verdict");
                (v.is_batch(), v.queue(), v.id(), v.verdict(), v.mark())
            })
            .collect()
    }

    #[test]
    fn runs_become_batches() {
        let mut c = Coalescer::new();
        let plain = VerdictAttrs::default();
        for id in 1..=5 {
            c.push(0, id, Verdict::Accept, &plain, true).unwrap();
        }
        c.push(0, 6, Verdict::Drop, &plain, true).unwrap();
        for id in 7..=8 {
            c.push(0, id, Verdict::Accept, &plain.with_mark(9), true)
                .unwrap();
        }
        assert_eq!(c.len(), 8);
        let msgs = decode(c.finish(true).unwrap());
        assert_eq!(
            msgs,
            vec![
                (true, 0, 5, Some(Verdict::Accept), None),
                (false, 0, 6, Some(Verdict::Drop), None),
                (true, 0, 8, Some(Verdict::Accept), Some(9)),
            ]
        );
    }

    #[test]
    fn no_batches_when_unsafe() {
        let mut c = Coalescer::new();
        for id in 1..=3 {
            c.push(2, id, Verdict::Accept, &VerdictAttrs::default(), false)
                .unwrap();
        }
        let msgs = decode(c.finish(false).unwrap());
        assert_eq!(msgs.len(), 3);
        assert!(msgs.iter().all(|m| !m.0 && m.1 == 2));
    }

    #[test]
    fn queues_do_not_share_a_batch() {
        let mut c = Coalescer::new();
        let a = VerdictAttrs::default();
        c.push(1, 1, Verdict::Accept, &a, true).unwrap();
        c.push(1, 2, Verdict::Accept, &a, true).unwrap();
        c.push(2, 1, Verdict::Accept, &a, true).unwrap();
        let msgs = decode(c.finish(true).unwrap());
        assert_eq!(
            msgs,
            vec![
                (true, 1, 2, Some(Verdict::Accept), None),
                (false, 2, 1, Some(Verdict::Accept), None)
            ]
        );
    }

    #[test]
    fn payload_verdicts_keep_their_place() {
        let mut c = Coalescer::new();
        let a = VerdictAttrs::default();
        c.push(0, 1, Verdict::Accept, &a, true).unwrap();
        c.push(0, 2, Verdict::Accept, &a, true).unwrap();
        let payload = [0x45u8; 40];
        c.push(0, 3, Verdict::Accept, &a.with_payload(&payload), true)
            .unwrap();
        c.push(0, 4, Verdict::Accept, &a, true).unwrap();
        let bytes = c.finish(true).unwrap().to_vec();
        let ids: Vec<u32> = decode(&bytes).iter().map(|m| m.2).collect();
        assert_eq!(ids, vec![2, 3, 4]);
        let third = NlMsgIter::new(&bytes).nth(1).unwrap().unwrap();
        assert_eq!(
            VerdictMsgView::parse(third).unwrap().payload(),
            Some(&payload[..])
        );
        c.clear();
        assert!(c.is_empty());
        assert!(c.finish(true).unwrap().is_empty());
        let _ = Message::parse;
    }

    #[test]
    fn seq_counter_skips_zero() {
        let s = SeqCounter::new(u32::MAX);
        assert_eq!(s.next(), u32::MAX);
        assert_eq!(s.next(), 1);
    }
}
