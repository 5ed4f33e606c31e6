// SPDX-License-Identifier: MIT OR Apache-2.0
//! Verdicts: the `Verdict` code, its optional attributes, and the verdict message encoders.

use core::fmt;
use core::str::FromStr;

use super::consts::*;
use super::error::EncodeError;
use super::writer::{HEADERS_LEN, Writer, attr_space, pad};

/// What to do with a queued packet (`nfqnl_msg_verdict_hdr.verdict`).
///
/// `NF_STOLEN` cannot be expressed: the kernel rejects it with `EINVAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `NF_DROP` (0): free the packet.
    #[doc(alias = "NF_DROP")]
    Drop,
    /// `NF_ACCEPT` (1): continue with the next hook entry; the rest of the queueing chain is
    /// not evaluated.
    #[doc(alias = "NF_ACCEPT")]
    Accept,
    /// `NF_REPEAT` (4): run the same hook entry again (pair with a mark to avoid a loop).
    #[doc(alias = "NF_REPEAT")]
    Repeat,
    /// `NF_STOP` (5): accept and skip every later hook entry at this hook.
    #[doc(alias = "NF_STOP")]
    Stop,
    /// `NF_QUEUE` (3): requeue into queue `num`. Without a listener there the packet is
    /// dropped, or accepted if `bypass` is set (`NF_VERDICT_FLAG_QUEUE_BYPASS`).
    #[doc(alias = "NF_QUEUE")]
    Queue {
        /// Target queue number (bits 16-31).
        num: u16,
        /// Accept instead of drop when nobody listens on `num` (bit 15).
        bypass: bool,
    },
}

impl Verdict {
    /// The 32-bit value for `nfqnl_msg_verdict_hdr.verdict`.
    pub const fn to_raw(self) -> u32 {
        match self {
            Self::Drop => NF_DROP,
            Self::Accept => NF_ACCEPT,
            Self::Repeat => NF_REPEAT,
            Self::Stop => NF_STOP,
            Self::Queue { num, bypass } => {
                let b = if bypass {
                    NF_VERDICT_FLAG_QUEUE_BYPASS
                } else {
                    0
                };
                ((num as u32) << NF_VERDICT_QBITS) | b | NF_QUEUE
            }
        }
    }

    /// Decodes a raw verdict as the kernel reads it (code in the low byte; queue number and
    /// bypass bit for `NF_QUEUE`). `None` for `NF_STOLEN` and codes above `NF_STOP`.
    pub const fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw & NF_VERDICT_MASK {
            NF_DROP => Self::Drop,
            NF_ACCEPT => Self::Accept,
            NF_REPEAT => Self::Repeat,
            NF_STOP => Self::Stop,
            NF_QUEUE => Self::Queue {
                num: (raw >> NF_VERDICT_QBITS) as u16,
                bypass: raw & NF_VERDICT_FLAG_QUEUE_BYPASS != 0,
            },
            _ => return None,
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Drop => f.write_str("drop"),
            Self::Accept => f.write_str("accept"),
            Self::Repeat => f.write_str("repeat"),
            Self::Stop => f.write_str("stop"),
            Self::Queue { num, bypass: false } => write!(f, "queue:{num}"),
            Self::Queue { num, bypass: true } => write!(f, "queue:{num}:bypass"),
        }
    }
}

/// The error of `Verdict::from_str`: the text is none of "accept", "drop", "repeat", "stop",
/// "queue:N", "queue:N:bypass".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseVerdictError(());

impl fmt::Display for ParseVerdictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "expected accept, drop, repeat, stop, queue:N or queue:N:bypass (N from 0 to 65535)",
        )
    }
}

impl std::error::Error for ParseVerdictError {}

impl FromStr for Verdict {
    type Err = ParseVerdictError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = ParseVerdictError(());
        Ok(match s {
            "accept" => Self::Accept,
            "drop" => Self::Drop,
            "repeat" => Self::Repeat,
            "stop" => Self::Stop,
            _ => {
                let rest = s.strip_prefix("queue:").ok_or(err)?;
                let (n, bypass) = match rest.strip_suffix(":bypass") {
                    Some(n) => (n, true),
                    None => (rest, false),
                };
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err);
                }
                let num = n.parse::<u16>().map_err(|_| err)?;
                Self::Queue { num, bypass }
            }
        })
    }
}

/// Conntrack changes carried by a verdict in `NFQA_CT`.
///
/// The kernel applies them only when `nf_conntrack_netlink` provides the ctnetlink glue (the
/// CONNTRACK config flag loads it) and the packet has a conntrack entry; otherwise they are
/// silently ignored, and the verdict still applies.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CtUpdate {
    /// `CTA_MARK` and `CTA_MARK_MASK`: `(value, mask)`. The kernel computes
    /// `new = (old & !mask) ^ value`, so only the bits in `mask` change.
    #[doc(alias = "CTA_MARK")]
    pub mark: Option<(u32, u32)>,
    /// `CTA_LABELS` and `CTA_LABELS_MASK`: `(value, mask)`, 128 bits each.
    #[doc(alias = "CTA_LABELS")]
    pub labels: Option<([u8; NF_CT_LABELS_MAX_SIZE], [u8; NF_CT_LABELS_MAX_SIZE])>,
}

impl CtUpdate {
    /// No changes.
    pub const fn new() -> Self {
        Self {
            mark: None,
            labels: None,
        }
    }

    /// Sets the connection mark bits selected by `mask` to those of `value`.
    pub const fn with_mark(mut self, value: u32, mask: u32) -> Self {
        self.mark = Some((value, mask));
        self
    }

    /// Sets the label bits selected by `mask` to those of `value`.
    pub const fn with_labels(
        mut self,
        value: [u8; NF_CT_LABELS_MAX_SIZE],
        mask: [u8; NF_CT_LABELS_MAX_SIZE],
    ) -> Self {
        self.labels = Some((value, mask));
        self
    }

    /// Bytes of the nest's value.
    pub(crate) const fn value_len(&self) -> usize {
        let m = if self.mark.is_some() { 16 } else { 0 };
        let l = if self.labels.is_some() {
            2 * attr_space(NF_CT_LABELS_MAX_SIZE)
        } else {
            0
        };
        m + l
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.attr_header(NFQA_CT | NLA_F_NESTED, self.value_len())?;
        if let Some((value, mask)) = self.mark {
            w.attr_be32(CTA_MARK, value)?;
            w.attr_be32(CTA_MARK_MASK, mask)?;
        }
        if let Some((value, mask)) = self.labels {
            w.attr(CTA_LABELS, &value)?;
            w.attr(CTA_LABELS_MASK, &mask)?;
        }
        Ok(())
    }
}

/// Optional attributes of a verdict. Build with `VerdictAttrs::default().with_mark(..)` etc.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VerdictAttrs<'p> {
    /// `NFQA_MARK`: set skb->mark (before a requeue or reinjection).
    #[doc(alias = "NFQA_MARK")]
    pub mark: Option<u32>,
    /// `NFQA_PRIORITY`: set skb->priority (Linux 5.18+, ignored by older kernels).
    #[doc(alias = "NFQA_PRIORITY")]
    pub priority: Option<u32>,
    /// `NFQA_PAYLOAD`: replace the packet (at most 65531 bytes). The new bytes need correct
    /// checksums; a payload shorter than the transport header makes the kernel drop the packet
    /// while acking 0. Never send back a truncated capture. Ignored in batch verdicts.
    #[doc(alias = "NFQA_PAYLOAD")]
    pub payload: Option<&'p [u8]>,
    /// `NFQA_CT`: conntrack mark and label changes.
    #[doc(alias = "NFQA_CT")]
    pub conntrack: Option<CtUpdate>,
}

impl<'p> VerdictAttrs<'p> {
    /// No attributes.
    pub const fn new() -> Self {
        Self {
            mark: None,
            priority: None,
            payload: None,
            conntrack: None,
        }
    }

    /// Sets the packet mark.
    pub const fn with_mark(mut self, mark: u32) -> Self {
        self.mark = Some(mark);
        self
    }

    /// Sets the packet priority.
    pub const fn with_priority(mut self, priority: u32) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Replaces the packet bytes.
    pub const fn with_payload(mut self, payload: &'p [u8]) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Changes the connection's mark and labels.
    pub const fn with_conntrack(mut self, ct: CtUpdate) -> Self {
        self.conntrack = Some(ct);
        self
    }
}

/// Size of a verdict message without attributes: headers plus `NFQA_VERDICT_HDR`.
const VERDICT_BASE_LEN: usize = HEADERS_LEN + 12;

/// Bytes of everything but the payload value and its padding.
const fn head_len(attrs: &VerdictAttrs<'_>) -> usize {
    let mut n = VERDICT_BASE_LEN;
    if attrs.mark.is_some() {
        n += 8;
    }
    if attrs.priority.is_some() {
        n += 8;
    }
    if let Some(ct) = &attrs.conntrack {
        n += NLA_HDRLEN + ct.value_len();
    }
    if attrs.payload.is_some() {
        n += NLA_HDRLEN;
    }
    n
}

/// Length in bytes of the verdict message [`encode_verdict`] writes for `attrs` (always a
/// multiple of 4). If the payload is too large the encoder fails instead.
pub fn verdict_len(attrs: &VerdictAttrs<'_>) -> usize {
    let p = attrs.payload.map_or(0, <[u8]>::len);
    head_len(attrs).saturating_add(p).saturating_add(pad(p))
}

pub(crate) fn check_payload(attrs: &VerdictAttrs<'_>) -> Result<(), EncodeError> {
    match attrs.payload {
        Some(p) if p.len() > NFQ_MAX_PAYLOAD => Err(EncodeError::PayloadTooLarge { len: p.len() }),
        _ => Ok(()),
    }
}

/// Writes the verdict message except the payload value and its padding; returns
/// `(head_len, pad_len)`.
///
/// The message is `out[..head_len]`, then the payload bytes, then `pad_len` zero bytes
/// (0 to 3). `nlmsg_len` already counts all three, so they can go out as three `sendmsg`
/// iovecs without copying the payload. Without a payload, `pad_len` is 0 and `out[..head_len]`
/// is the whole message. `NFQA_PAYLOAD` is the last attribute, its header the last bytes of
/// the head.
///
/// `flags` is OR-ed with `NLM_F_REQUEST` (the kernel ignores requests without it); add
/// `NLM_F_ACK` for an acknowledgement.
#[allow(
    clippy::too_many_arguments,
    reason = "mirrors the wire fields one to one"
)]
pub fn encode_verdict_head(
    out: &mut [u8],
    seq: u32,
    flags: u16,
    queue: u16,
    id: u32,
    verdict: Verdict,
    attrs: &VerdictAttrs<'_>,
) -> Result<(usize, usize), EncodeError> {
    check_payload(attrs)?;
    let head = head_len(attrs);
    let total = verdict_len(attrs);
    if out.len() < head {
        return Err(EncodeError::BufferTooSmall {
            needed: head,
            available: out.len(),
        });
    }
    let mut w = Writer::new(out);
    w.headers(total, NFQ_TYPE_VERDICT, flags | NLM_F_REQUEST, seq, queue)?;
    w.attr_header(NFQA_VERDICT_HDR, 8)?;
    w.put(&verdict.to_raw().to_be_bytes())?;
    w.put(&id.to_be_bytes())?;
    if let Some(m) = attrs.mark {
        w.attr_be32(NFQA_MARK, m)?;
    }
    if let Some(p) = attrs.priority {
        w.attr_be32(NFQA_PRIORITY, p)?;
    }
    if let Some(ct) = &attrs.conntrack {
        ct.write(&mut w)?;
    }
    let pad_len = match attrs.payload {
        Some(p) => {
            w.attr_header(NFQA_PAYLOAD, p.len())?;
            pad(p.len())
        }
        None => 0,
    };
    Ok((w.pos(), pad_len))
}

/// Writes a complete verdict message for packet `id` of `queue` into `out` and returns its
/// length ([`verdict_len`]).
///
/// ```
/// use linux_nfqueue::wire::{Verdict, VerdictAttrs, encode_verdict};
/// let mut buf = [0u8; 64];
/// let n = encode_verdict(&mut buf, 1, 0, 5, 1, Verdict::Accept, &VerdictAttrs::default())?;
/// assert_eq!(n, 32);
/// assert_eq!(&buf[0..4], &32u32.to_ne_bytes()); // nlmsg_len
/// assert_eq!(&buf[4..6], &0x0301u16.to_ne_bytes()); // NFQNL_MSG_VERDICT
/// assert_eq!(&buf[16..20], &[0, 0, 0, 5]); // AF_UNSPEC, v0, res_id 5 (big-endian)
/// assert_eq!(&buf[20..22], &12u16.to_ne_bytes()); // nla_len 12 (host order)
/// assert_eq!(&buf[22..24], &2u16.to_ne_bytes()); // NFQA_VERDICT_HDR
/// assert_eq!(&buf[24..32], &[0, 0, 0, 1, 0, 0, 0, 1]); // NF_ACCEPT, id 1 (big-endian)
/// # Ok::<(), linux_nfqueue::wire::EncodeError>(())
/// ```
///
/// Errors: `PayloadTooLarge` above 65531 payload bytes, `BufferTooSmall` if `out` is short.
/// Never panics.
#[allow(
    clippy::too_many_arguments,
    reason = "mirrors the wire fields one to one"
)]
pub fn encode_verdict(
    out: &mut [u8],
    seq: u32,
    flags: u16,
    queue: u16,
    id: u32,
    verdict: Verdict,
    attrs: &VerdictAttrs<'_>,
) -> Result<usize, EncodeError> {
    check_payload(attrs)?;
    let total = verdict_len(attrs);
    if out.len() < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            available: out.len(),
        });
    }
    let (head, pad_len) = encode_verdict_head(out, seq, flags, queue, id, verdict, attrs)?;
    let mut w = Writer::new(out.get_mut(head..).unwrap_or(&mut []));
    if let Some(p) = attrs.payload {
        w.put(p)?;
    }
    w.zeros(pad_len)?;
    Ok(total)
}

/// Length of a batch verdict message with the given optional attributes.
pub const fn batch_verdict_len(mark: Option<u32>, priority: Option<u32>) -> usize {
    VERDICT_BASE_LEN + if mark.is_some() { 8 } else { 0 } + if priority.is_some() { 8 } else { 0 }
}

/// Writes an `NFQNL_MSG_VERDICT_BATCH` message: `verdict` (and mark, priority) for every
/// packet of `queue` with an id up to `max_id`, in queue order. Returns its length.
///
/// The kernel answers `ENOENT` if no packet matched. `flags` is OR-ed with `NLM_F_REQUEST`.
#[allow(
    clippy::too_many_arguments,
    reason = "mirrors the wire fields one to one"
)]
pub fn encode_batch_verdict(
    out: &mut [u8],
    seq: u32,
    flags: u16,
    queue: u16,
    max_id: u32,
    verdict: Verdict,
    mark: Option<u32>,
    priority: Option<u32>,
) -> Result<usize, EncodeError> {
    let total = batch_verdict_len(mark, priority);
    if out.len() < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            available: out.len(),
        });
    }
    let mut w = Writer::new(out);
    w.headers(
        total,
        NFQ_TYPE_VERDICT_BATCH,
        flags | NLM_F_REQUEST,
        seq,
        queue,
    )?;
    w.attr_header(NFQA_VERDICT_HDR, 8)?;
    w.put(&verdict.to_raw().to_be_bytes())?;
    w.put(&max_id.to_be_bytes())?;
    if let Some(m) = mark {
        w.attr_be32(NFQA_MARK, m)?;
    }
    if let Some(p) = priority {
        w.attr_be32(NFQA_PRIORITY, p)?;
    }
    Ok(w.pos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_codes() {
        assert_eq!(
            Verdict::Queue {
                num: 6,
                bypass: false
            }
            .to_raw(),
            0x0006_0003
        );
        assert_eq!(
            Verdict::Queue {
                num: 77,
                bypass: true
            }
            .to_raw(),
            0x004d_8003
        );
        assert_eq!(Verdict::from_raw(2), None);
        assert_eq!(Verdict::from_raw(6), None);
        assert_eq!(Verdict::from_raw(0x0100), Some(Verdict::Drop));
        for v in [
            Verdict::Drop,
            Verdict::Accept,
            Verdict::Repeat,
            Verdict::Stop,
            Verdict::Queue {
                num: 65535,
                bypass: true,
            },
            Verdict::Queue {
                num: 0,
                bypass: false,
            },
        ] {
            assert_eq!(Verdict::from_raw(v.to_raw()), Some(v));
            assert_eq!(v.to_string().parse::<Verdict>(), Ok(v));
        }
        for bad in [
            "",
            "queue",
            "queue:",
            "queue:65536",
            "queue:+1",
            "queue:1:x",
            "Accept",
        ] {
            assert!(bad.parse::<Verdict>().is_err(), "{bad}");
        }
    }

    #[test]
    fn head_and_full_agree() {
        let payload = [0x45u8; 21];
        let attrs = VerdictAttrs::new()
            .with_mark(7)
            .with_priority(3)
            .with_conntrack(
                CtUpdate::new()
                    .with_mark(1, 0xff)
                    .with_labels([1; 16], [2; 16]),
            )
            .with_payload(&payload);
        let mut full = [0xa5u8; 256];
        let n = encode_verdict(&mut full, 9, 0, 5, 1, Verdict::Accept, &attrs).unwrap();
        assert_eq!(n, verdict_len(&attrs));
        assert_eq!(n % 4, 0);
        let mut head = [0xa5u8; 256];
        let (h, p) = encode_verdict_head(&mut head, 9, 0, 5, 1, Verdict::Accept, &attrs).unwrap();
        assert_eq!(p, 3);
        assert_eq!(h + payload.len() + p, n);
        assert_eq!(&full[..h], &head[..h]);
        assert_eq!(&full[h..h + 21], &payload);
        assert_eq!(&full[h + 21..n], &[0, 0, 0]);
        assert_eq!(full[n], 0xa5);
        for short in 0..n {
            let r = encode_verdict(&mut full[..short], 9, 0, 5, 1, Verdict::Accept, &attrs);
            assert!(matches!(r, Err(EncodeError::BufferTooSmall { .. })));
        }
    }

    #[test]
    fn payload_limit() {
        let big = vec![0u8; NFQ_MAX_PAYLOAD + 1];
        let mut out = vec![0u8; 70_000];
        let a = VerdictAttrs::new().with_payload(&big);
        assert_eq!(
            encode_verdict(&mut out, 1, 0, 0, 1, Verdict::Drop, &a),
            Err(EncodeError::PayloadTooLarge { len: 65532 })
        );
        let ok = VerdictAttrs::new().with_payload(&big[..NFQ_MAX_PAYLOAD]);
        let n = encode_verdict(&mut out, 1, 0, 0, 1, Verdict::Drop, &ok).unwrap();
        assert_eq!(n, 32 + 4 + 65532);
    }
}
