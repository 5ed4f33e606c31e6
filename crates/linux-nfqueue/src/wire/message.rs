// SPDX-License-Identifier: MIT OR Apache-2.0
//! Classifies a received netlink message: packet, error or ack, done, or anything else.

use super::consts::{NFQ_TYPE_PACKET, NLMSG_DONE, NLMSG_ERROR};
use super::errmsg::ErrorMsg;
use super::error::DecodeError;
use super::nlmsg::NlMsg;
use super::packet::PacketView;

/// What a message received on an NFQUEUE socket is.
#[derive(Clone, Copy, Debug)]
pub enum Message<'a> {
    /// A queued packet (`NFQNL_MSG_PACKET`, type 0x0300).
    Packet(PacketView<'a>),
    /// An `NLMSG_ERROR`: an ack (errno 0) or the error for one of our requests.
    Error(ErrorMsg<'a>),
    /// `NLMSG_DONE`.
    Done,
    /// Anything else, untouched.
    Other(NlMsg<'a>),
}

impl<'a> Message<'a> {
    /// Classifies `msg` by type and parses packets and errors.
    pub fn parse(msg: NlMsg<'a>) -> Result<Self, DecodeError> {
        Ok(match msg.header().ty {
            NFQ_TYPE_PACKET => Self::Packet(PacketView::parse(msg)?),
            NLMSG_ERROR => Self::Error(ErrorMsg::parse(msg)?),
            NLMSG_DONE => Self::Done,
            _ => Self::Other(msg),
        })
    }
}
