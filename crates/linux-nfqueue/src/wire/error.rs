// SPDX-License-Identifier: MIT OR Apache-2.0
//! Decode and encode errors: small `Copy` values that say what went wrong and where.

use core::fmt;

/// What was wrong with the bytes being decoded.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeErrorKind {
    /// The buffer ends before a fixed-size header or structure does.
    Truncated,
    /// `nlmsg_len` is smaller than the 16-byte header or larger than the bytes that remain.
    BadMessageLength,
    /// `nla_len` is smaller than the 4-byte header, runs past its container, or the value is
    /// shorter than the attribute's fixed size.
    BadAttributeLength,
    /// A required attribute is absent; [`DecodeError::attr`] names it.
    MissingAttribute,
    /// The message has a different `nlmsg_type` than the view expects.
    WrongMessageType,
}

impl DecodeErrorKind {
    /// A short lowercase description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::BadMessageLength => "bad message length",
            Self::BadAttributeLength => "bad attribute length",
            Self::MissingAttribute => "missing attribute",
            Self::WrongMessageType => "wrong message type",
        }
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decode failure: its kind, the byte offset where it was found and, when an attribute was
/// involved, that attribute's (masked) type.
///
/// Offsets count from the start of the buffer given to [`NlMsgIter::new`](super::NlMsgIter::new)
/// (or to [`AttrIter::new`](super::AttrIter::new) plus its base offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    offset: usize,
    attr: Option<u16>,
}

impl DecodeError {
    /// A new error of `kind` at `offset`, about no particular attribute.
    pub const fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self {
            kind,
            offset,
            attr: None,
        }
    }

    /// A new error of `kind` at `offset` about attribute type `attr`.
    pub const fn with_attr(kind: DecodeErrorKind, offset: usize, attr: u16) -> Self {
        Self {
            kind,
            offset,
            attr: Some(attr),
        }
    }

    /// What was wrong.
    pub const fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// Byte offset of the offending header, attribute or field.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Type of the attribute involved (masked with `NLA_TYPE_MASK`), if any.
    pub const fn attr(&self) -> Option<u16> {
        self.attr
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)?;
        if let Some(a) = self.attr {
            write!(f, " (attribute type {a})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// Why a message could not be written.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncodeError {
    /// The replacement payload exceeds 65531 bytes, the most an attribute can hold.
    PayloadTooLarge {
        /// The payload length that was asked for.
        len: usize,
    },
    /// The output buffer is smaller than the message.
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The message would exceed the 32-bit `nlmsg_len`.
    MessageTooLarge,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::PayloadTooLarge { len } => {
                write!(
                    f,
                    "payload of {len} bytes exceeds the 65531-byte attribute limit"
                )
            }
            Self::BufferTooSmall { needed, available } => {
                write!(f, "buffer too small: need {needed} bytes, have {available}")
            }
            Self::MessageTooLarge => f.write_str("message exceeds the 32-bit netlink length"),
        }
    }
}

impl std::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_says_what_and_where() {
        let e = DecodeError::with_attr(DecodeErrorKind::BadAttributeLength, 44, 3);
        assert_eq!(
            e.to_string(),
            "bad attribute length at byte 44 (attribute type 3)"
        );
        let e = DecodeError::new(DecodeErrorKind::Truncated, 0);
        assert_eq!(e.to_string(), "truncated at byte 0");
        assert_eq!(e.attr(), None);
        let e = EncodeError::BufferTooSmall {
            needed: 32,
            available: 8,
        };
        assert_eq!(e.to_string(), "buffer too small: need 32 bytes, have 8");
    }
}
