// SPDX-License-Identifier: MIT OR Apache-2.0
//! Read-back views of the requests we send (verdicts and configs), for tests, fuzzing and
//! captures.

use super::attr::AttrIter;
use super::bytes::read_be32;
use super::config::{ConfigCmd, ConfigFlags, CopyMode};
use super::consts::*;
use super::error::{DecodeError, DecodeErrorKind};
use super::nfgen::NfGenMsg;
use super::nlmsg::{NlMsg, NlMsgHeader};
use super::verdict::{CtUpdate, Verdict};

const ATTRS_AT: usize = NLMSG_HDRLEN + NFGENMSG_LEN;

fn nfgen(msg: &NlMsg<'_>) -> Result<NfGenMsg, DecodeError> {
    msg.bytes()
        .get(NLMSG_HDRLEN..)
        .and_then(NfGenMsg::parse)
        .ok_or(DecodeError::new(
            DecodeErrorKind::Truncated,
            msg.offset().saturating_add(NLMSG_HDRLEN),
        ))
}

fn attrs<'a>(msg: &NlMsg<'a>) -> AttrIter<'a> {
    AttrIter::new(
        msg.bytes().get(ATTRS_AT..).unwrap_or(&[]),
        msg.offset().saturating_add(ATTRS_AT),
    )
}

fn short(a: &super::attr::Attr<'_>) -> DecodeError {
    DecodeError::with_attr(DecodeErrorKind::BadAttributeLength, a.offset(), a.kind())
}

fn be32(a: &super::attr::Attr<'_>) -> Result<u32, DecodeError> {
    a.be32().ok_or_else(|| short(a))
}

/// A verdict or batch verdict message (`NFQNL_MSG_VERDICT` / `_BATCH`), read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictMsgView<'a> {
    header: NlMsgHeader,
    nfgen: NfGenMsg,
    verdict: u32,
    id: u32,
    mark: Option<u32>,
    priority: Option<u32>,
    payload: Option<&'a [u8]>,
    ct: Option<&'a [u8]>,
}

impl<'a> VerdictMsgView<'a> {
    /// Parses a verdict or batch verdict; `NFQA_VERDICT_HDR` (8 bytes) is required, fixed-size
    /// attributes must be long enough, and the last of a repeated attribute wins.
    pub fn parse(msg: NlMsg<'a>) -> Result<Self, DecodeError> {
        let header = msg.header();
        if header.ty != NFQ_TYPE_VERDICT && header.ty != NFQ_TYPE_VERDICT_BATCH {
            return Err(DecodeError::new(
                DecodeErrorKind::WrongMessageType,
                msg.offset(),
            ));
        }
        let nfgen = nfgen(&msg)?;
        let mut v = Self {
            header,
            nfgen,
            verdict: 0,
            id: 0,
            mark: None,
            priority: None,
            payload: None,
            ct: None,
        };
        let mut have_hdr = false;
        for a in attrs(&msg) {
            let a = a?;
            match a.kind() {
                NFQA_VERDICT_HDR => {
                    v.verdict = be32(&a)?;
                    v.id = read_be32(a.value(), 4).ok_or_else(|| short(&a))?;
                    have_hdr = true;
                }
                NFQA_MARK => v.mark = Some(be32(&a)?),
                NFQA_PRIORITY => v.priority = Some(be32(&a)?),
                NFQA_PAYLOAD => v.payload = Some(a.value()),
                NFQA_CT => v.ct = Some(a.value()),
                _ => {}
            }
        }
        if !have_hdr {
            return Err(DecodeError::with_attr(
                DecodeErrorKind::MissingAttribute,
                msg.offset(),
                NFQA_VERDICT_HDR,
            ));
        }
        Ok(v)
    }

    /// The netlink header.
    pub fn header(&self) -> NlMsgHeader {
        self.header
    }

    /// Whether this is a batch verdict (`id` is then the highest id covered).
    pub fn is_batch(&self) -> bool {
        self.header.ty == NFQ_TYPE_VERDICT_BATCH
    }

    /// The queue (`res_id`).
    pub fn queue(&self) -> u16 {
        self.nfgen.res_id
    }

    /// The nfgenmsg family byte.
    pub fn family(&self) -> u8 {
        self.nfgen.family
    }

    /// The packet id (or, in a batch, the highest id).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The raw verdict word.
    pub fn verdict_raw(&self) -> u32 {
        self.verdict
    }

    /// The verdict, if it is one the kernel accepts.
    pub fn verdict(&self) -> Option<Verdict> {
        Verdict::from_raw(self.verdict)
    }

    /// `NFQA_MARK`.
    pub fn mark(&self) -> Option<u32> {
        self.mark
    }

    /// `NFQA_PRIORITY`.
    pub fn priority(&self) -> Option<u32> {
        self.priority
    }

    /// `NFQA_PAYLOAD`.
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.payload
    }

    /// The nested bytes of `NFQA_CT`.
    pub fn ct_raw(&self) -> Option<&'a [u8]> {
        self.ct
    }

    /// `NFQA_CT` decoded as mark and label changes (each needs its value and its mask, and
    /// labels must be 16 bytes); `None` without `NFQA_CT`.
    pub fn ct_update(&self) -> Option<CtUpdate> {
        let raw = self.ct?;
        let mut u = CtUpdate::new();
        let (mut mark, mut mmask, mut labels, mut lmask) = (None, None, None, None);
        for a in AttrIter::new(raw, 0).map_while(Result::ok) {
            match a.kind() {
                CTA_MARK => mark = a.be32(),
                CTA_MARK_MASK => mmask = a.be32(),
                CTA_LABELS => labels = <[u8; 16]>::try_from(a.value()).ok(),
                CTA_LABELS_MASK => lmask = <[u8; 16]>::try_from(a.value()).ok(),
                _ => {}
            }
        }
        if let (Some(m), Some(k)) = (mark, mmask) {
            u = u.with_mark(m, k);
        }
        if let (Some(l), Some(k)) = (labels, lmask) {
            u = u.with_labels(l, k);
        }
        Some(u)
    }
}

/// A config message (`NFQNL_MSG_CONFIG`), read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigMsgView {
    header: NlMsgHeader,
    nfgen: NfGenMsg,
    cmd: Option<(ConfigCmd, u16)>,
    params: Option<(CopyMode, u32)>,
    maxlen: Option<u32>,
    flags: Option<ConfigFlags>,
    mask: Option<ConfigFlags>,
}

impl ConfigMsgView {
    /// Parses a config message; fixed-size attributes must be long enough (CMD 4, PARAMS 5,
    /// the u32s 4) and the last of a repeated attribute wins, as in the kernel.
    pub fn parse(msg: NlMsg<'_>) -> Result<Self, DecodeError> {
        let header = msg.header();
        if header.ty != NFQ_TYPE_CONFIG {
            return Err(DecodeError::new(
                DecodeErrorKind::WrongMessageType,
                msg.offset(),
            ));
        }
        let mut v = Self {
            header,
            nfgen: nfgen(&msg)?,
            cmd: None,
            params: None,
            maxlen: None,
            flags: None,
            mask: None,
        };
        for a in attrs(&msg) {
            let a = a?;
            let val = a.value();
            match a.kind() {
                NFQA_CFG_CMD => {
                    let (Some(&c), Some(pf)) = (val.first(), super::bytes::read_be16(val, 2))
                    else {
                        return Err(short(&a));
                    };
                    v.cmd = Some((ConfigCmd::from(c), pf));
                }
                NFQA_CFG_PARAMS => {
                    let (Some(range), Some(&mode)) = (read_be32(val, 0), val.get(4)) else {
                        return Err(short(&a));
                    };
                    v.params = Some((CopyMode::from(mode), range));
                }
                NFQA_CFG_QUEUE_MAXLEN => v.maxlen = Some(be32(&a)?),
                NFQA_CFG_MASK => v.mask = Some(ConfigFlags::from_bits_retain(be32(&a)?)),
                NFQA_CFG_FLAGS => v.flags = Some(ConfigFlags::from_bits_retain(be32(&a)?)),
                _ => {}
            }
        }
        Ok(v)
    }

    /// The netlink header.
    pub fn header(&self) -> NlMsgHeader {
        self.header
    }

    /// The queue (`res_id`).
    pub fn queue(&self) -> u16 {
        self.nfgen.res_id
    }

    /// The nfgenmsg family byte.
    pub fn family(&self) -> u8 {
        self.nfgen.family
    }

    /// `NFQA_CFG_CMD` command.
    pub fn cmd(&self) -> Option<ConfigCmd> {
        self.cmd.map(|(c, _)| c)
    }

    /// `NFQA_CFG_CMD` pf field (ignored by the kernel since 3.8).
    pub fn cmd_pf(&self) -> Option<u16> {
        self.cmd.map(|(_, pf)| pf)
    }

    /// `NFQA_CFG_PARAMS`: copy mode and range.
    pub fn params(&self) -> Option<(CopyMode, u32)> {
        self.params
    }

    /// `NFQA_CFG_QUEUE_MAXLEN`.
    pub fn maxlen(&self) -> Option<u32> {
        self.maxlen
    }

    /// `NFQA_CFG_FLAGS` (values).
    pub fn flags(&self) -> Option<ConfigFlags> {
        self.flags
    }

    /// `NFQA_CFG_MASK`.
    pub fn mask(&self) -> Option<ConfigFlags> {
        self.mask
    }
}
