// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`Packet`]: a received packet that must be answered exactly once.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::shared::{Shared, bump, bump_owned};
use super::token::{OwnedPacket, VerdictToken};
use crate::error::{Error, Result};
use crate::proto::Coalescer;
use crate::wire::{Family, PacketView, Verdict, VerdictAttrs};

/// Where the receiving thread's verdicts go: straight to the socket, or into the coalescer.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) shared: Arc<Shared>,
    pub(crate) coalescer: Coalescer,
    pub(crate) batch: bool,
    /// Per queue, the highest packet id handed out as a token, so closing can answer packets
    /// still held by tokens.
    pub(crate) held: Vec<(u16, u32)>,
}

impl Sink {
    pub(crate) fn new(shared: Arc<Shared>, batch: bool) -> Self {
        Self {
            shared,
            coalescer: Coalescer::new(),
            batch,
            held: Vec::new(),
        }
    }

    /// Remembers that packet `id` of `queue` is now held by a token.
    fn note_token(&mut self, queue: u16, id: u32) {
        match self.held.iter_mut().find(|(q, _)| *q == queue) {
            // Packet ids are compared serially, as the kernel does.
            Some((_, max)) if (id.wrapping_sub(*max) as i32) > 0 => *max = id,
            Some(_) => {}
            None => self.held.push((queue, id)),
        }
    }

    fn can_batch(&self) -> bool {
        self.shared.tokens.load(Ordering::Acquire) == 0
    }

    pub(crate) fn verdict(
        &mut self,
        queue: u16,
        id: u32,
        verdict: Verdict,
        attrs: &VerdictAttrs<'_>,
    ) -> Result<()> {
        if !self.batch {
            self.shared
                .send_verdict_uncounted(queue, id, verdict, attrs)?;
            let c = &self.shared.counters;
            bump_owned(&c.rx_sends, 1);
            bump_owned(&c.rx_verdicts, 1);
            return Ok(());
        }
        let can_batch = self.can_batch();
        self.coalescer
            .push(queue, id, verdict, attrs, can_batch)
            .map_err(|e| Error::encode("verdict", e).with_queue(queue))?;
        if self.coalescer.wants_flush() {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends every pending verdict in one system call.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.coalescer.is_empty() {
            return Ok(());
        }
        let count = self.coalescer.len() as u64;
        let can_batch = self.can_batch();
        let result = match self.coalescer.finish(can_batch) {
            Ok(bytes) => self
                .shared
                .sock
                .send(bytes)
                .map(|_| ())
                .map_err(|e| Error::io("verdict", e)),
            Err(e) => Err(Error::encode("verdict", e)),
        };
        self.coalescer.clear();
        let c = &self.shared.counters;
        bump_owned(&c.rx_sends, 1);
        bump_owned(&c.rx_verdicts, count);
        result
    }
}

/// A packet received from a queue, borrowing the queue's receive buffer (no copy).
///
/// Read it through the typed view it dereferences to ([`PacketView`]): `packet.id()`,
/// `packet.payload()`, `packet.mark()`, ... Then answer it exactly once, which consumes it:
/// [`accept`](Self::accept), [`drop`](Self::drop), [`verdict`](Self::verdict) or
/// [`verdict_with`](Self::verdict_with) (mark, connmark, labels, priority, new payload). To
/// answer later or on another thread, turn it into a [`VerdictToken`] with
/// [`into_token`](Self::into_token) (or [`into_owned`](Self::into_owned) to keep the bytes).
///
/// **Dropped without a verdict**, a packet is answered with the queue's default verdict
/// ([`Config::default_verdict`](crate::Config::default_verdict), `Accept` unless set), also
/// when a panic unwinds through it. Without that the kernel would hold the packet, and a slot
/// of the queue, until the queue is closed: the kernel has no timeout.
///
/// With [`Config::batch_verdicts`](crate::Config::batch_verdicts) on (the default), the verdict
/// is sent together with others no later than the next receive on the queue, or by
/// [`Queue::flush`](crate::Queue::flush).
#[must_use = "a packet must get a verdict; dropping it sends the queue's default verdict"]
pub struct Packet<'q> {
    view: PacketView<'q>,
    sink: &'q mut Sink,
    answered: bool,
}

impl<'q> Packet<'q> {
    pub(crate) fn new(view: PacketView<'q>, sink: &'q mut Sink) -> Self {
        Self {
            view,
            sink,
            answered: false,
        }
    }

    /// The typed, zero-copy view of the packet's message.
    pub fn view(&self) -> PacketView<'q> {
        self.view
    }

    /// The packet mark with the bits of `mask` replaced by those of `value`, keeping the
    /// others: what to pass to [`VerdictAttrs::with_mark`] so marks set by other software
    /// survive (a verdict's mark replaces all 32 bits).
    pub fn merged_mark(&self, value: u32, mask: u32) -> u32 {
        (self.view.mark().unwrap_or(0) & !mask) | (value & mask)
    }

    answer_methods!("packet");

    /// Like [`verdict_with`](Self::verdict_with), but on failure hands the packet back with the
    /// error, still unanswered.
    #[allow(
        clippy::result_large_err,
        reason = "the unanswered handle comes back by value so it can be retried"
    )]
    pub fn try_verdict_with(
        mut self,
        verdict: Verdict,
        attrs: &VerdictAttrs<'_>,
    ) -> std::result::Result<(), (Self, Error)> {
        if let Err(e) = check_payload(self.view.is_truncated(), self.view.family(), attrs) {
            return Err((self, e));
        }
        match self
            .sink
            .verdict(self.view.queue(), self.view.id(), verdict, attrs)
        {
            Ok(()) => {
                self.answered = true;
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }

    /// Turns the packet into an owned token that can be answered later, from any thread.
    /// The packet's bytes are not kept; read what you need first, or use
    /// [`into_owned`](Self::into_owned).
    pub fn into_token(mut self) -> VerdictToken {
        self.answered = true;
        self.sink.note_token(self.view.queue(), self.view.id());
        VerdictToken::new(
            self.sink.shared.clone(),
            self.view.queue(),
            self.view.id(),
            self.view.is_truncated(),
            self.view.family(),
        )
    }

    /// Copies the packet's message into an owned, `Send` packet with its verdict token.
    pub fn into_owned(self) -> OwnedPacket {
        let bytes = self.view.bytes().to_vec();
        OwnedPacket::new(bytes, self.into_token())
    }
}

/// Refuses replacement payloads the kernel would silently drop or that would damage the packet.
pub(crate) fn check_payload(
    truncated: bool,
    family: Family,
    attrs: &VerdictAttrs<'_>,
) -> Result<()> {
    let Some(payload) = attrs.payload else {
        return Ok(());
    };
    if truncated {
        return Err(Error::invalid(
            "verdict",
            "refusing to write back a truncated packet: the kernel would cut the real packet \
             to the copied length; raise the copy range",
        ));
    }
    if payload.len() > crate::config::MAX_COPY_RANGE as usize {
        return Err(Error::invalid(
            "verdict",
            "a replacement payload can hold at most 65531 bytes",
        ));
    }
    if matches!(family, Family::Ipv4 | Family::Ipv6)
        && crate::checksum::check_rewrite_len(payload).is_err()
    {
        return Err(Error::invalid(
            "verdict",
            "the replacement payload is shorter than its IP and transport headers; the kernel \
             would drop the packet silently",
        ));
    }
    Ok(())
}

impl<'q> Deref for Packet<'q> {
    type Target = PacketView<'q>;

    fn deref(&self) -> &PacketView<'q> {
        &self.view
    }
}

impl Drop for Packet<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let shared = self.sink.shared.clone();
        bump(&shared.counters.default_verdicts);
        let (queue, id) = (self.view.queue(), self.view.id());
        if let Err(e) =
            self.sink
                .verdict(queue, id, shared.default_verdict, &VerdictAttrs::default())
        {
            log::warn!("queue {queue}: default verdict for packet {id} failed: {e}");
        }
    }
}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("queue", &self.view.queue())
            .field("id", &self.view.id())
            .field("hook", &self.view.hook())
            .field("family", &self.view.family())
            .finish_non_exhaustive()
    }
}
