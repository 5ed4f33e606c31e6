// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`VerdictToken`] and [`OwnedPacket`]: answering packets later, from any thread.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::packet::check_payload;
use super::shared::{Shared, bump};
use crate::error::{Error, Result};
use crate::wire::{DecodeError, Family, PacketView, Verdict, VerdictAttrs};

/// The right, and the duty, to answer one packet: small, owned and `Send`.
///
/// Made by [`Packet::into_token`](crate::Packet::into_token). The receiving thread keeps
/// receiving while tokens are answered on other threads, in any order; each answer is one
/// `send` on the shared socket, with no lock. Dropped without an answer, a token sends the
/// queue's default verdict. Closing or dropping the queue answers the packets still held by
/// tokens with the default verdict first; a token answered after that is a no-op.
#[must_use = "a token must get a verdict; dropping it sends the queue's default verdict"]
pub struct VerdictToken {
    shared: Arc<Shared>,
    queue: u16,
    id: u32,
    truncated: bool,
    family: Family,
    answered: bool,
}

impl VerdictToken {
    pub(crate) fn new(
        shared: Arc<Shared>,
        queue: u16,
        id: u32,
        truncated: bool,
        family: Family,
    ) -> Self {
        shared.tokens.fetch_add(1, Ordering::AcqRel);
        Self {
            shared,
            queue,
            id,
            truncated,
            family,
            answered: false,
        }
    }

    /// The packet's queue number.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// The packet's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    answer_methods!("token");

    /// Like [`verdict_with`](Self::verdict_with), but a failed send hands the token back.
    #[allow(
        clippy::result_large_err,
        reason = "the unanswered handle comes back by value so it can be retried"
    )]
    pub fn try_verdict_with(
        mut self,
        verdict: Verdict,
        attrs: &VerdictAttrs<'_>,
    ) -> std::result::Result<(), (Self, Error)> {
        if let Err(e) = check_payload(self.truncated, self.family, attrs) {
            return Err((self, e));
        }
        match self
            .shared
            .send_verdict(self.queue, self.id, verdict, attrs)
        {
            Ok(()) => {
                self.answered = true;
                Ok(())
            }
            Err(e) => Err((self, e)),
        }
    }
}

impl Drop for VerdictToken {
    fn drop(&mut self) {
        if !self.answered {
            bump(&self.shared.counters.default_verdicts);
            let v = self.shared.default_verdict;
            if let Err(e) =
                self.shared
                    .send_verdict(self.queue, self.id, v, &VerdictAttrs::default())
            {
                log::warn!(
                    "queue {}: default verdict for packet {} failed: {e}",
                    self.queue,
                    self.id
                );
            }
        }
        self.shared.tokens.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for VerdictToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerdictToken")
            .field("queue", &self.queue)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A packet copied out of the receive buffer, with its [`VerdictToken`]: `Send`, `'static`.
#[must_use = "a packet must get a verdict; dropping it sends the queue's default verdict"]
pub struct OwnedPacket {
    bytes: Vec<u8>,
    token: VerdictToken,
}

impl OwnedPacket {
    pub(crate) fn new(bytes: Vec<u8>, token: VerdictToken) -> Self {
        Self { bytes, token }
    }

    /// The typed view of the packet (parsed again from the owned bytes; cheap).
    pub fn view(&self) -> std::result::Result<PacketView<'_>, DecodeError> {
        PacketView::parse_bytes(&self.bytes)
    }

    /// The whole netlink message as received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Splits into the bytes and the token.
    pub fn into_parts(self) -> (Vec<u8>, VerdictToken) {
        (self.bytes, self.token)
    }

    /// Accepts the packet.
    pub fn accept(self) -> Result<()> {
        self.token.accept()
    }

    /// Drops the packet.
    #[allow(clippy::should_implement_trait, reason = "the verdict is called drop")]
    pub fn drop(self) -> Result<()> {
        self.token.drop()
    }

    /// Answers with `verdict`.
    pub fn verdict(self, verdict: Verdict) -> Result<()> {
        self.token.verdict(verdict)
    }

    /// Answers with `verdict` and attributes.
    pub fn verdict_with(self, verdict: Verdict, attrs: &VerdictAttrs<'_>) -> Result<()> {
        self.token.verdict_with(verdict, attrs)
    }
}

impl fmt::Debug for OwnedPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPacket")
            .field("queue", &self.token.queue)
            .field("id", &self.token.id)
            .field("len", &self.bytes.len())
            .finish()
    }
}
