// SPDX-License-Identifier: MIT OR Apache-2.0
//! `MessageBuffer`: several requests in one reusable buffer, sent with one `send`.

use super::config::{ConfigRequest, config_len, encode_config};
use super::error::EncodeError;
use super::verdict::{
    Verdict, VerdictAttrs, batch_verdict_len, check_payload, encode_batch_verdict, encode_verdict,
    verdict_len,
};

/// A reusable buffer of requests (verdicts, batch verdicts, configs) for one `sendmsg`.
///
/// Each message is padded to 4 bytes, as the kernel steps by the aligned length. Once the
/// capacity suffices, pushing does not reallocate; [`clear`](Self::clear) keeps the capacity.
/// A failed push leaves the buffer as it was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageBuffer {
    buf: Vec<u8>,
    count: usize,
}

impl MessageBuffer {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self {
            buf: Vec::new(),
            count: 0,
        }
    }

    /// An empty buffer with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            count: 0,
        }
    }

    /// Removes every message, keeping the capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
    }

    /// The messages, ready to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no message was pushed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Number of messages pushed.
    pub fn message_count(&self) -> usize {
        self.count
    }

    /// Allocated capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn push_with(
        &mut self,
        len: usize,
        f: impl FnOnce(&mut [u8]) -> Result<usize, EncodeError>,
    ) -> Result<(), EncodeError> {
        let start = self.buf.len();
        let end = start.checked_add(len).ok_or(EncodeError::MessageTooLarge)?;
        self.buf.resize(end, 0);
        match f(self.buf.get_mut(start..).unwrap_or(&mut [])) {
            Ok(_) => {
                self.count += 1;
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(start);
                Err(e)
            }
        }
    }

    /// Appends a verdict (see [`encode_verdict`]).
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the wire fields one to one"
    )]
    pub fn push_verdict(
        &mut self,
        seq: u32,
        flags: u16,
        queue: u16,
        id: u32,
        verdict: Verdict,
        attrs: &VerdictAttrs<'_>,
    ) -> Result<(), EncodeError> {
        check_payload(attrs)?;
        self.push_with(verdict_len(attrs), |out| {
            encode_verdict(out, seq, flags, queue, id, verdict, attrs)
        })
    }

    /// Appends a batch verdict (see [`encode_batch_verdict`]).
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the wire fields one to one"
    )]
    pub fn push_batch_verdict(
        &mut self,
        seq: u32,
        flags: u16,
        queue: u16,
        max_id: u32,
        verdict: Verdict,
        mark: Option<u32>,
        priority: Option<u32>,
    ) -> Result<(), EncodeError> {
        self.push_with(batch_verdict_len(mark, priority), |out| {
            encode_batch_verdict(out, seq, flags, queue, max_id, verdict, mark, priority)
        })
    }

    /// Appends a config message (see [`encode_config`]).
    pub fn push_config(
        &mut self,
        seq: u32,
        flags: u16,
        queue: u16,
        req: &ConfigRequest,
    ) -> Result<(), EncodeError> {
        self.push_with(config_len(req), |out| {
            encode_config(out, seq, flags, queue, req)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_realloc_once_big_enough() {
        let mut b = MessageBuffer::with_capacity(256);
        let cap = b.capacity();
        let ptr = b.as_bytes().as_ptr();
        let payload = [1u8; 5];
        for round in 0..3 {
            b.clear();
            b.push_verdict(1, 0, 5, 1, Verdict::Accept, &VerdictAttrs::new())
                .unwrap();
            b.push_verdict(
                2,
                0,
                5,
                2,
                Verdict::Drop,
                &VerdictAttrs::new().with_payload(&payload),
            )
            .unwrap();
            b.push_batch_verdict(3, 0, 5, 9, Verdict::Accept, Some(1), None)
                .unwrap();
            b.push_config(4, 0, 5, &ConfigRequest::unbind()).unwrap();
            assert_eq!(b.message_count(), 4);
            assert_eq!(b.len(), 32 + 44 + 40 + 28);
            assert_eq!(b.capacity(), cap, "round {round}");
            assert_eq!(b.as_bytes().as_ptr(), ptr);
        }
        let big = vec![0u8; 70_000];
        let before = b.len();
        assert!(
            b.push_verdict(
                5,
                0,
                5,
                3,
                Verdict::Accept,
                &VerdictAttrs::new().with_payload(&big)
            )
            .is_err()
        );
        assert_eq!(b.len(), before);
        assert_eq!(b.message_count(), 4);
    }
}
