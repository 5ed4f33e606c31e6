// SPDX-License-Identifier: MIT OR Apache-2.0
//! The receive side: a batch of datagram buffers filled by one `recvmmsg`, a cursor over the
//! messages inside them, and a backlog of packets that arrived while a configuration request
//! waited for its answer.

use std::collections::VecDeque;

use crate::sys::{Datagram, RecvBatch};
use crate::wire::consts::NLMSG_ERROR;
use crate::wire::{DecodeError, NlMsg, NlMsgHeader};

use crate::wire::consts::NFQ_TYPE_PACKET as PACKET_TYPE;
/// Where a message sits: in batch slot `slot` (or the current backlog entry), bytes
/// `start..end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc {
    slot: Slot,
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Batch(usize),
    Backlog,
}

/// What the cursor found next.
#[derive(Debug)]
pub(crate) enum Next {
    /// A packet message.
    Packet(Loc),
    /// An `NLMSG_ERROR` (an ack or an error); parse it with [`Receiver::msg`].
    Reply(Loc),
    /// A datagram that did not come from the kernel.
    Foreign,
    /// A datagram larger than the buffer, with its real length and, when its first bytes
    /// held it, the queue and id of the packet it carried.
    Truncated {
        full_len: usize,
        got: usize,
        packet: Option<(u16, u32)>,
    },
    /// Bytes that do not frame as netlink messages; the rest of the datagram is skipped.
    Malformed(DecodeError),
    /// Nothing left: receive more.
    Empty,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    batch: RecvBatch,
    filled: usize,
    slot: Slot,
    /// Start of the next message in the current datagram; `None` before the datagram is
    /// checked.
    pos: Option<usize>,
    backlog: VecDeque<Vec<u8>>,
    current_backlog: Vec<u8>,
}

impl Receiver {
    pub(crate) fn new(count: usize, buf_size: usize) -> Self {
        Self {
            batch: RecvBatch::new(count, buf_size),
            filled: 0,
            slot: Slot::Batch(0),
            pos: None,
            backlog: VecDeque::new(),
            current_backlog: Vec::new(),
        }
    }

    pub(crate) fn batch_mut(&mut self) -> &mut RecvBatch {
        &mut self.batch
    }

    /// Starts reading a freshly received batch of `filled` datagrams.
    pub(crate) fn refilled(&mut self, filled: usize) {
        self.filled = filled;
        self.slot = Slot::Batch(0);
        self.pos = None;
    }

    /// Keeps a packet message that arrived while waiting for something else.
    pub(crate) fn push_backlog(&mut self, msg: &[u8]) {
        self.backlog.push_back(msg.to_vec());
    }

    pub(crate) fn bytes(&self, loc: Loc) -> &[u8] {
        let whole = match loc.slot {
            Slot::Batch(i) => self.batch.datagram(i).1,
            Slot::Backlog => &self.current_backlog,
        };
        whole.get(loc.start..loc.end).unwrap_or(&[])
    }

    /// The message at `loc` as a netlink message.
    pub(crate) fn msg(&self, loc: Loc) -> Result<NlMsg<'_>, DecodeError> {
        NlMsg::parse(self.bytes(loc), loc.start)
    }

    fn current(&self) -> Option<(Option<Datagram>, &[u8])> {
        match self.slot {
            Slot::Batch(i) if i < self.filled => {
                let (d, b) = self.batch.datagram(i);
                Some((Some(d), b))
            }
            Slot::Batch(_) => None,
            Slot::Backlog => Some((None, &self.current_backlog)),
        }
    }

    /// Moves to the next datagram: the next one of the batch, then the backlog.
    fn advance(&mut self) -> bool {
        self.pos = None;
        match self.slot {
            Slot::Batch(i) if i + 1 < self.filled => {
                self.slot = Slot::Batch(i + 1);
                true
            }
            _ => match self.backlog.pop_front() {
                Some(bytes) => {
                    self.current_backlog = bytes;
                    self.slot = Slot::Backlog;
                    true
                }
                None => {
                    self.slot = Slot::Batch(self.filled);
                    false
                }
            },
        }
    }

    /// The next message, or why there is none.
    pub(crate) fn next(&mut self) -> Next {
        loop {
            let Some((datagram, bytes)) = self.current() else {
                if self.advance() {
                    continue;
                }
                return Next::Empty;
            };
            let start = match self.pos {
                Some(p) => p,
                None => {
                    // First look at this datagram: check where it came from and its size.
                    if let Some(d) = datagram {
                        if !d.from_kernel() {
                            self.advance();
                            return Next::Foreign;
                        }
                        if d.truncated() {
                            let packet = rescue_id(bytes);
                            let (full_len, got) = (d.full_len, bytes.len());
                            self.advance();
                            return Next::Truncated {
                                full_len,
                                got,
                                packet,
                            };
                        }
                    }
                    0
                }
            };
            let len = bytes.len();
            if start >= len {
                if !self.advance() {
                    return Next::Empty;
                }
                continue;
            }
            let slot = self.slot;
            let msg = match NlMsg::parse(&bytes[start..], start) {
                Ok(m) => m,
                Err(e) => {
                    self.advance();
                    return Next::Malformed(e);
                }
            };
            let NlMsgHeader { len: mlen, ty, .. } = msg.header();
            let end = start + mlen as usize;
            // Messages inside one datagram are 4-byte aligned; the last may not be padded.
            self.pos = Some((end + 3) & !3);
            let loc = Loc { slot, start, end };
            match ty {
                PACKET_TYPE => return Next::Packet(loc),
                NLMSG_ERROR => return Next::Reply(loc),
                _ => continue,
            }
        }
    }
}

/// Reads the queue number and packet id from the first bytes of a packet message whose tail
/// was lost. The kernel writes `NFQA_PACKET_HDR` first precisely so that this works.
pub(crate) fn rescue_id(prefix: &[u8]) -> Option<(u16, u32)> {
    let header = NlMsgHeader::parse(prefix)?;
    if header.ty != PACKET_TYPE {
        return None;
    }
    let nfgen = crate::wire::NfGenMsg::parse(prefix.get(16..)?)?;
    let first = crate::wire::AttrIter::new(prefix.get(20..)?, 20)
        .next()?
        .ok()?;
    if first.kind() != crate::wire::consts::NFQA_PACKET_HDR {
        return None;
    }
    Some((nfgen.res_id, first.be32()?))
}
