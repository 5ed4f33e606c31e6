// SPDX-License-Identifier: MIT OR Apache-2.0
//! The NFQUEUE wire format: bytes in, typed values out; typed values in, bytes out. No I/O.
//!
//! This module depends on nothing but `core`/`std`, builds on every OS (it can read captures
//! anywhere), contains no `unsafe` and does not allocate on the read path.
//!
//! # Reading
//!
//! [`NlMsgIter`] splits a received datagram into [`NlMsg`]s, [`Message::parse`] classifies
//! each one, and [`PacketView`] gives typed, zero-copy access to a queued packet's attributes
//! after a single pass that records where each attribute sits.
//!
//! # Writing
//!
//! [`encode_verdict`], [`encode_verdict_head`] (zero-copy payloads), [`encode_batch_verdict`]
//! and [`encode_config`] write into caller storage; [`MessageBuffer`] collects several requests
//! for one `send`. `nla_len` never counts padding, and every message is padded to 4 bytes.
//! [`VerdictMsgView`] and [`ConfigMsgView`] read such requests back.
//!
//! # Byte order
//!
//! `nlmsghdr`, the `nlattr` header and `nlmsgerr.error` are in host order; every integer
//! inside an attribute, `nfgenmsg.res_id` and every field of the packed NFQUEUE structs are
//! big-endian. The types here hold host-order values.
//!
//! # Panic contract
//!
//! * No parser, iterator or accessor panics on any input. Every length is checked before it
//!   is used; malformed input gives a [`DecodeError`] (with kind, offset and attribute), or
//!   `None` from an accessor of an optional attribute.
//! * Iterators ([`NlMsgIter`], [`AttrIter`]) always terminate: each step advances by at least
//!   4 bytes, and after the first error they return `None` for good.
//! * Emitters never panic: a short buffer gives [`EncodeError::BufferTooSmall`], a payload over
//!   65531 bytes [`EncodeError::PayloadTooLarge`].
//!
//! # Example
//!
//! A packet message as the kernel sends it (little-endian host), parsed and answered:
//!
//! ```
//! use linux_nfqueue::wire::{Hook, Message, NlMsgIter, Verdict, VerdictAttrs, encode_verdict};
//!
//! # #[cfg(target_endian = "little")] {
//! let datagram: &[u8] = &[
//!     48, 0, 0, 0,             // nlmsg_len 48 (host order)
//!     0x00, 0x03,              // nlmsg_type 0x0300: NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET
//!     0, 0,                    // nlmsg_flags
//!     0, 0, 0, 0, 0, 0, 0, 0,  // nlmsg_seq, nlmsg_pid: 0 from the kernel
//!     2, 0, 0, 5,              // nfgenmsg: NFPROTO_IPV4, version 0, res_id 5 (big-endian)
//!     11, 0, 1, 0,             // nla_len 11, NFQA_PACKET_HDR
//!     0, 0, 0, 1,              //   packet_id 1
//!     0x08, 0x00,              //   hw_protocol 0x0800 (IPv4)
//!     3, 0,                    //   hook NF_INET_LOCAL_OUT, 1 byte of padding
//!     8, 0, 3, 0,              // nla_len 8, NFQA_MARK
//!     0, 0, 0, 0x2a,           //   mark 42
//!     8, 0, 6, 0,              // nla_len 8, NFQA_IFINDEX_OUTDEV
//!     0, 0, 0, 1,              //   ifindex 1 (lo)
//! ];
//! for msg in NlMsgIter::new(datagram) {
//!     let Message::Packet(p) = Message::parse(msg?)? else { continue };
//!     assert_eq!((p.queue(), p.id(), p.hw_protocol()), (5, 1, 0x0800));
//!     assert_eq!(p.hook(), Hook::LocalOut);
//!     assert_eq!((p.mark(), p.outdev(), p.payload()), (Some(42), Some(1), None));
//!
//!     let mut out = [0u8; 64];
//!     let attrs = VerdictAttrs::default().with_mark(7);
//!     let n = encode_verdict(&mut out, 1, 0, p.queue(), p.id(), Verdict::Accept, &attrs)?;
//!     assert_eq!(n, 40); // 16 nlmsghdr + 4 nfgenmsg + 12 VERDICT_HDR + 8 MARK
//! }
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attr;
mod buffer;
mod bytes;
mod config;
pub mod consts;
mod ct;
mod errmsg;
mod error;
mod family;
mod hook;
mod message;
mod meta;
mod nfgen;
mod nlmsg;
mod packet;
mod requests;
mod verdict;
mod writer;

pub use attr::{Attr, AttrIter};
pub use buffer::MessageBuffer;
pub use config::{ConfigCmd, ConfigFlags, ConfigRequest, CopyMode, config_len, encode_config};
pub use ct::{CtStatus, CtTuple, CtView};
pub use errmsg::ErrorMsg;
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use family::Family;
pub use hook::Hook;
pub use message::Message;
pub use meta::{CtInfo, SkbInfo, Timestamp, Vlan};
pub use nfgen::NfGenMsg;
pub use nlmsg::{NlMsg, NlMsgHeader, NlMsgIter};
pub use packet::PacketView;
pub use requests::{ConfigMsgView, VerdictMsgView};
pub use verdict::{
    CtUpdate, ParseVerdictError, Verdict, VerdictAttrs, batch_verdict_len, encode_batch_verdict,
    encode_verdict, encode_verdict_head, verdict_len,
};
