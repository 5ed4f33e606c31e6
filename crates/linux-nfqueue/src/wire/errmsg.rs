// SPDX-License-Identifier: MIT OR Apache-2.0
//! `NLMSG_ERROR` replies: acknowledgements, errors, the echoed request and extended-ack TLVs.

use super::attr::AttrIter;
use super::bytes::{align4, read_ne32};
use super::consts::{
    NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR, NLMSG_HDRLEN, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS,
};
use super::error::{DecodeError, DecodeErrorKind};
use super::nlmsg::{NlMsg, NlMsgHeader};

/// Where the echoed request starts: after the i32 error.
const ECHO_AT: usize = NLMSG_HDRLEN + 4;
/// Where the echoed request's payload starts.
const ECHO_PAYLOAD_AT: usize = ECHO_AT + NLMSG_HDRLEN;

/// An `NLMSG_ERROR` message (`struct nlmsgerr`): the kernel's answer to a request that failed
/// or asked for `NLM_F_ACK`.
///
/// Layout after the netlink header: i32 `error` (host order, negative errno, 0 for an ack),
/// the request's 16-byte header, then the rest of the request unless `NLM_F_CAPPED` is set
/// (acks are always capped; errors are capped with `NETLINK_CAP_ACK`), then, with
/// `NLM_F_ACK_TLVS`, the `NLMSGERR_ATTR_*` attributes (`NETLINK_EXT_ACK`).
#[doc(alias = "nlmsgerr")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorMsg<'a> {
    msg: NlMsg<'a>,
    error: i32,
    request: NlMsgHeader,
}

impl<'a> ErrorMsg<'a> {
    /// Parses an `NLMSG_ERROR` message; it must hold the error code and the echoed header.
    pub fn parse(msg: NlMsg<'a>) -> Result<Self, DecodeError> {
        let b = msg.bytes();
        if msg.header().ty != NLMSG_ERROR {
            return Err(DecodeError::new(
                DecodeErrorKind::WrongMessageType,
                msg.offset(),
            ));
        }
        let error = read_ne32(b, NLMSG_HDRLEN).ok_or(DecodeError::new(
            DecodeErrorKind::Truncated,
            msg.offset().saturating_add(NLMSG_HDRLEN),
        ))?;
        let request = b
            .get(ECHO_AT..)
            .and_then(NlMsgHeader::parse)
            .ok_or(DecodeError::new(
                DecodeErrorKind::Truncated,
                msg.offset().saturating_add(ECHO_AT),
            ))?;
        Ok(Self {
            msg,
            error: i32::from_ne_bytes(error.to_ne_bytes()),
            request,
        })
    }

    /// The positive errno (`ENOENT` is 2); 0 for a success ack.
    pub fn errno(&self) -> i32 {
        self.error.saturating_neg()
    }

    /// The error as sent: a negative errno or 0.
    pub fn raw_error(&self) -> i32 {
        self.error
    }

    /// Whether this is a success acknowledgement (error 0).
    pub fn is_ack(&self) -> bool {
        self.error == 0
    }

    /// The header of the request this answers.
    pub fn request(&self) -> NlMsgHeader {
        self.request
    }

    /// The sequence number of the request this answers.
    pub fn seq(&self) -> u32 {
        self.request.seq
    }

    /// `NLM_F_CAPPED`: only the request header was echoed.
    pub fn capped(&self) -> bool {
        self.msg.header().flags & NLM_F_CAPPED != 0
    }

    /// The echoed request payload (after its header): empty when capped, else up to the
    /// request's `nlmsg_len`.
    pub fn echoed_payload(&self) -> &'a [u8] {
        if self.capped() {
            return &[];
        }
        let b = self.msg.bytes();
        let want = usize::try_from(self.request.len)
            .unwrap_or(usize::MAX)
            .saturating_sub(NLMSG_HDRLEN);
        let end = ECHO_PAYLOAD_AT.saturating_add(want).min(b.len());
        b.get(ECHO_PAYLOAD_AT..end).unwrap_or(&[])
    }

    /// The extended-ack attributes (`NLMSGERR_ATTR_*`); empty unless `NLM_F_ACK_TLVS` is set.
    pub fn ext_ack_attrs(&self) -> AttrIter<'a> {
        let b = self.msg.bytes();
        let empty = AttrIter::new(&[], self.msg.offset().saturating_add(b.len()));
        if self.msg.header().flags & NLM_F_ACK_TLVS == 0 {
            return empty;
        }
        let start = if self.capped() {
            ECHO_PAYLOAD_AT
        } else {
            let req = usize::try_from(self.request.len).unwrap_or(usize::MAX);
            ECHO_AT.saturating_add(align4(req.max(NLMSG_HDRLEN)))
        };
        match b.get(start..) {
            Some(t) => AttrIter::new(t, self.msg.offset().saturating_add(start)),
            None => empty,
        }
    }

    /// `NLMSGERR_ATTR_MSG`: the error text without its trailing NUL.
    pub fn ext_ack_msg(&self) -> Option<&'a [u8]> {
        let v = self.ext_ack_attrs().find(NLMSGERR_ATTR_MSG)?.value();
        let v = v.strip_suffix(&[0]).unwrap_or(v);
        Some(v)
    }

    /// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute within the request.
    pub fn ext_ack_offset(&self) -> Option<u32> {
        let a = self.ext_ack_attrs().find(NLMSGERR_ATTR_OFFS)?;
        read_ne32(a.value(), 0)
    }

    /// The underlying message.
    pub fn msg(&self) -> NlMsg<'a> {
        self.msg
    }
}
