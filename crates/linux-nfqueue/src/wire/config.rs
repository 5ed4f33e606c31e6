// SPDX-License-Identifier: MIT OR Apache-2.0
//! Queue configuration (`NFQNL_MSG_CONFIG`): commands, copy modes, flags and the encoder.

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign, Not};

use super::consts::*;
use super::error::EncodeError;
use super::writer::{HEADERS_LEN, Writer};

/// `NFQA_CFG_CMD` command (`enum nfqnl_msg_config_cmds`).
#[doc(alias = "nfqnl_msg_config_cmds")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigCmd {
    /// `NFQNL_CFG_CMD_NONE` (0): reconfigure an already bound queue.
    #[doc(alias = "NFQNL_CFG_CMD_NONE")]
    None,
    /// `NFQNL_CFG_CMD_BIND` (1): create the queue, owned by this socket's port id.
    #[doc(alias = "NFQNL_CFG_CMD_BIND")]
    Bind,
    /// `NFQNL_CFG_CMD_UNBIND` (2): destroy the queue, dropping every packet still queued.
    #[doc(alias = "NFQNL_CFG_CMD_UNBIND")]
    Unbind,
    /// `NFQNL_CFG_CMD_PF_BIND` (3): a no-op since Linux 3.8. The kernel returns at once, so
    /// every other attribute of the same message is **ignored**. Do not send.
    #[doc(alias = "NFQNL_CFG_CMD_PF_BIND")]
    PfBind,
    /// `NFQNL_CFG_CMD_PF_UNBIND` (4): a no-op since Linux 3.8 that likewise makes the kernel
    /// ignore the rest of the message. Do not send.
    #[doc(alias = "NFQNL_CFG_CMD_PF_UNBIND")]
    PfUnbind,
    /// Any other value (the kernel answers `EOPNOTSUPP`, or `ENOTSUPP` before 6.18).
    Unknown(u8),
}

impl From<u8> for ConfigCmd {
    fn from(v: u8) -> Self {
        match v {
            NFQNL_CFG_CMD_NONE => Self::None,
            NFQNL_CFG_CMD_BIND => Self::Bind,
            NFQNL_CFG_CMD_UNBIND => Self::Unbind,
            NFQNL_CFG_CMD_PF_BIND => Self::PfBind,
            NFQNL_CFG_CMD_PF_UNBIND => Self::PfUnbind,
            n => Self::Unknown(n),
        }
    }
}

impl From<ConfigCmd> for u8 {
    fn from(c: ConfigCmd) -> Self {
        match c {
            ConfigCmd::None => NFQNL_CFG_CMD_NONE,
            ConfigCmd::Bind => NFQNL_CFG_CMD_BIND,
            ConfigCmd::Unbind => NFQNL_CFG_CMD_UNBIND,
            ConfigCmd::PfBind => NFQNL_CFG_CMD_PF_BIND,
            ConfigCmd::PfUnbind => NFQNL_CFG_CMD_PF_UNBIND,
            ConfigCmd::Unknown(n) => n,
        }
    }
}

/// How much of each packet the kernel copies to userspace (`NFQA_CFG_PARAMS` mode).
#[doc(alias = "nfqnl_config_mode")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CopyMode {
    /// `NFQNL_COPY_NONE` (0): the state of a fresh queue; packets are **dropped** in it.
    #[doc(alias = "NFQNL_COPY_NONE")]
    None,
    /// `NFQNL_COPY_META` (1): metadata only, no payload (range forced to 0).
    #[doc(alias = "NFQNL_COPY_META")]
    Meta,
    /// `NFQNL_COPY_PACKET` (2): metadata and up to `copy_range` payload bytes (0 or more than
    /// 65531 is clamped to 65531).
    #[doc(alias = "NFQNL_COPY_PACKET")]
    Packet,
    /// Any other value: the kernel silently ignores it and still acks 0.
    Unknown(u8),
}

impl From<u8> for CopyMode {
    fn from(v: u8) -> Self {
        match v {
            NFQNL_COPY_NONE => Self::None,
            NFQNL_COPY_META => Self::Meta,
            NFQNL_COPY_PACKET => Self::Packet,
            n => Self::Unknown(n),
        }
    }
}

impl From<CopyMode> for u8 {
    fn from(m: CopyMode) -> Self {
        match m {
            CopyMode::None => NFQNL_COPY_NONE,
            CopyMode::Meta => NFQNL_COPY_META,
            CopyMode::Packet => NFQNL_COPY_PACKET,
            CopyMode::Unknown(n) => n,
        }
    }
}

/// Queue flags (`NFQA_CFG_F_*`), a bit set. Unknown bits are kept; the kernel refuses any bit
/// from `1 << 5` up with `EOPNOTSUPP`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ConfigFlags(u32);

impl ConfigFlags {
    /// `NFQA_CFG_F_FAIL_OPEN`: accept instead of drop when the queue or socket is full.
    #[doc(alias = "NFQA_CFG_F_FAIL_OPEN")]
    pub const FAIL_OPEN: Self = Self(NFQA_CFG_F_FAIL_OPEN);
    /// `NFQA_CFG_F_CONNTRACK`: add `NFQA_CT`/`NFQA_CT_INFO` (needs the ctnetlink glue, else
    /// `EOPNOTSUPP`).
    #[doc(alias = "NFQA_CFG_F_CONNTRACK")]
    pub const CONNTRACK: Self = Self(NFQA_CFG_F_CONNTRACK);
    /// `NFQA_CFG_F_GSO`: queue GSO packets whole and leave checksums partial.
    #[doc(alias = "NFQA_CFG_F_GSO")]
    pub const GSO: Self = Self(NFQA_CFG_F_GSO);
    /// `NFQA_CFG_F_UID_GID`: add `NFQA_UID`/`NFQA_GID`.
    #[doc(alias = "NFQA_CFG_F_UID_GID")]
    pub const UID_GID: Self = Self(NFQA_CFG_F_UID_GID);
    /// `NFQA_CFG_F_SECCTX`: add `NFQA_SECCTX`.
    #[doc(alias = "NFQA_CFG_F_SECCTX")]
    pub const SECCTX: Self = Self(NFQA_CFG_F_SECCTX);

    const NAMED: [(Self, &'static str); 5] = [
        (Self::FAIL_OPEN, "FAIL_OPEN"),
        (Self::CONNTRACK, "CONNTRACK"),
        (Self::GSO, "GSO"),
        (Self::UID_GID, "UID_GID"),
        (Self::SECCTX, "SECCTX"),
    ];

    /// No flags.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every flag this crate knows.
    pub const fn all() -> Self {
        Self(NFQA_CFG_F_MAX - 1)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Wraps raw bits, unknown ones included.
    pub const fn from_bits_retain(bits: u32) -> Self {
        Self(bits)
    }

    /// Wraps raw bits if all are known.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::all().0 == 0 {
            Some(Self(bits))
        } else {
            None
        }
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets the bits of `other`.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Clears the bits of `other`.
    pub fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }

    /// The C name without prefix ("FAIL_OPEN", ...) if `self` is exactly one known flag.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMED
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, n)| *n)
    }

    /// Each set bit as its own `ConfigFlags`, lowest first (unknown bits too).
    pub fn iter(self) -> impl Iterator<Item = Self> {
        (0..32u32)
            .map(|i| 1u32 << i)
            .filter(move |b| self.0 & b != 0)
            .map(Self)
    }
}

impl BitOr for ConfigFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for ConfigFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for ConfigFlags {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl Not for ConfigFlags {
    type Output = Self;
    /// The known flags not in `self`.
    fn not(self) -> Self {
        Self(!self.0 & Self::all().0)
    }
}

impl fmt::Debug for ConfigFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfigFlags(")?;
        let mut first = true;
        for flag in self.iter() {
            if !first {
                f.write_str(" | ")?;
            }
            first = false;
            match flag.name() {
                Some(n) => f.write_str(n)?,
                None => write!(f, "{:#x}", flag.0)?,
            }
        }
        if first {
            f.write_str("empty")?;
        }
        f.write_str(")")
    }
}

/// One `NFQNL_MSG_CONFIG` message. The kernel applies all parts in one step, so a queue is
/// best created with BIND, PARAMS, QUEUE_MAXLEN and FLAGS/MASK together:
///
/// ```
/// use linux_nfqueue::wire::{ConfigFlags, ConfigRequest, CopyMode};
/// let req = ConfigRequest::bind()
///     .with_params(CopyMode::Packet, 0xffff)
///     .with_queue_maxlen(1024)
///     .with_flags(ConfigFlags::GSO | ConfigFlags::FAIL_OPEN, ConfigFlags::all());
/// assert_eq!(linux_nfqueue::wire::config_len(&req), 64);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConfigRequest {
    /// `NFQA_CFG_CMD`.
    #[doc(alias = "NFQA_CFG_CMD")]
    pub cmd: Option<ConfigCmd>,
    /// `NFQA_CFG_PARAMS`: copy mode and copy range.
    #[doc(alias = "NFQA_CFG_PARAMS")]
    pub params: Option<(CopyMode, u32)>,
    /// `NFQA_CFG_QUEUE_MAXLEN`: most packets waiting for a verdict (default 1024; 0 drops
    /// everything).
    #[doc(alias = "NFQA_CFG_QUEUE_MAXLEN")]
    pub queue_maxlen: Option<u32>,
    /// `NFQA_CFG_FLAGS` and `NFQA_CFG_MASK`: `(value, mask)`; only bits in `mask` change.
    #[doc(alias = "NFQA_CFG_FLAGS")]
    #[doc(alias = "NFQA_CFG_MASK")]
    pub flags: Option<(ConfigFlags, ConfigFlags)>,
}

impl ConfigRequest {
    /// An empty request (no command: reconfigure a bound queue).
    pub const fn new() -> Self {
        Self {
            cmd: None,
            params: None,
            queue_maxlen: None,
            flags: None,
        }
    }

    /// A BIND request, to be completed with `with_params` etc.
    pub const fn bind() -> Self {
        Self::new().with_cmd(ConfigCmd::Bind)
    }

    /// An UNBIND request.
    pub const fn unbind() -> Self {
        Self::new().with_cmd(ConfigCmd::Unbind)
    }

    /// Sets the command.
    pub const fn with_cmd(mut self, cmd: ConfigCmd) -> Self {
        self.cmd = Some(cmd);
        self
    }

    /// Sets copy mode and range.
    pub const fn with_params(mut self, mode: CopyMode, range: u32) -> Self {
        self.params = Some((mode, range));
        self
    }

    /// Sets the queue length limit.
    pub const fn with_queue_maxlen(mut self, maxlen: u32) -> Self {
        self.queue_maxlen = Some(maxlen);
        self
    }

    /// Sets the flags in `mask` to their values in `value`.
    pub const fn with_flags(mut self, value: ConfigFlags, mask: ConfigFlags) -> Self {
        self.flags = Some((value, mask));
        self
    }
}

/// Length in bytes of the config message for `req` (a multiple of 4).
pub const fn config_len(req: &ConfigRequest) -> usize {
    let mut n = HEADERS_LEN;
    if req.cmd.is_some() {
        n += 8;
    }
    if req.params.is_some() {
        n += 12;
    }
    if req.queue_maxlen.is_some() {
        n += 8;
    }
    if req.flags.is_some() {
        n += 16;
    }
    n
}

/// Writes a config message for `queue` into `out`: CMD, PARAMS, QUEUE_MAXLEN, MASK, FLAGS
/// (those present, once each), nfgenmsg family `AF_UNSPEC`. Returns its length.
///
/// `flags` is OR-ed with `NLM_F_REQUEST`; send configs with `NLM_F_ACK` and wait for the ack.
pub fn encode_config(
    out: &mut [u8],
    seq: u32,
    flags: u16,
    queue: u16,
    req: &ConfigRequest,
) -> Result<usize, EncodeError> {
    let total = config_len(req);
    if out.len() < total {
        return Err(EncodeError::BufferTooSmall {
            needed: total,
            available: out.len(),
        });
    }
    let mut w = Writer::new(out);
    w.headers(total, NFQ_TYPE_CONFIG, flags | NLM_F_REQUEST, seq, queue)?;
    if let Some(cmd) = req.cmd {
        // command, pad, be16 pf (ignored since 3.8: AF_UNSPEC)
        w.attr(NFQA_CFG_CMD, &[u8::from(cmd), 0, 0, 0])?;
    }
    if let Some((mode, range)) = req.params {
        let r = range.to_be_bytes();
        w.attr(NFQA_CFG_PARAMS, &[r[0], r[1], r[2], r[3], u8::from(mode)])?;
    }
    if let Some(n) = req.queue_maxlen {
        w.attr_be32(NFQA_CFG_QUEUE_MAXLEN, n)?;
    }
    if let Some((value, mask)) = req.flags {
        w.attr_be32(NFQA_CFG_MASK, mask.bits())?;
        w.attr_be32(NFQA_CFG_FLAGS, value.bits())?;
    }
    Ok(w.pos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_behave_like_a_set() {
        let mut f = ConfigFlags::GSO | ConfigFlags::FAIL_OPEN;
        assert!(f.contains(ConfigFlags::GSO));
        f.insert(ConfigFlags::UID_GID);
        f.remove(ConfigFlags::GSO);
        assert_eq!(f.bits(), 9);
        assert_eq!(format!("{f:?}"), "ConfigFlags(FAIL_OPEN | UID_GID)");
        assert_eq!(format!("{:?}", ConfigFlags::empty()), "ConfigFlags(empty)");
        assert_eq!(
            format!("{:?}", ConfigFlags::from_bits_retain(0x21)),
            "ConfigFlags(FAIL_OPEN | 0x20)"
        );
        assert_eq!((!f).bits(), 0x16);
        assert_eq!(ConfigFlags::all().iter().count(), 5);
        assert_eq!(ConfigFlags::SECCTX.name(), Some("SECCTX"));
        assert_eq!(f.name(), None);
        assert_eq!(ConfigFlags::from_bits(32), None);
        for n in 0..=u8::MAX {
            assert_eq!(u8::from(ConfigCmd::from(n)), n);
            assert_eq!(u8::from(CopyMode::from(n)), n);
        }
    }

    #[test]
    fn sizes() {
        let mut out = [0xa5u8; 64];
        let n = encode_config(&mut out, 1, 0, 0, &ConfigRequest::unbind()).unwrap();
        assert_eq!(n, 28);
        assert!(encode_config(&mut out[..27], 1, 0, 0, &ConfigRequest::unbind()).is_err());
        // PARAMS: 9-byte attribute, 3 bytes of zero padding
        let n = encode_config(
            &mut out,
            1,
            0,
            0,
            &ConfigRequest::new().with_params(CopyMode::Packet, 64),
        )
        .unwrap();
        assert_eq!(n, 32);
        assert_eq!(&out[20..22], &9u16.to_ne_bytes());
        assert_eq!(&out[22..24], &2u16.to_ne_bytes());
        assert_eq!(&out[24..32], &[0, 0, 0, 64, 2, 0, 0, 0][..]);
    }
}
