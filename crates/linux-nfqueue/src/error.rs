// SPDX-License-Identifier: MIT OR Apache-2.0
//! The library's error type: one opaque [`Error`] with a matchable [`ErrorKind`].

use std::fmt;
use std::io;

use crate::wire::{DecodeError, EncodeError};

/// What went wrong, in a form a program can match on.
///
/// The [`Display`](fmt::Display) text of [`Error`] says the same for a person, with what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The process lacks `CAP_NET_ADMIN` over the socket's network namespace (`EPERM`).
    PermissionDenied,
    /// The queue number is bound by another netlink socket (another process, or another
    /// [`Queue`](crate::Queue) in this one). The kernel says `EPERM`; we read
    /// `/proc/net/netfilter/nfnetlink_queue` to tell this case apart.
    QueueBusy,
    /// This socket already binds the queue (`EBUSY`).
    AlreadyBound,
    /// The kernel has no NFQUEUE support: `nfnetlink_queue` is neither built in nor loadable.
    SubsystemMissing,
    /// The kernel refused a feature, usually a configuration flag (`EOPNOTSUPP`, `ENOTSUPP`).
    Unsupported,
    /// The queue has no instance in the kernel (`ENODEV`): not bound, or already unbound.
    NoSuchQueue,
    /// A verdict named a packet the kernel no longer holds (`ENOENT`): it was already judged,
    /// flushed by a rule change, or dropped with its device. Benign.
    PacketGone,
    /// The socket's receive buffer overran (`ENOBUFS`); the kernel dropped packets. Never fatal.
    QueueOverrun,
    /// A datagram was larger than the receive buffer; its tail was lost.
    Truncated,
    /// The kernel sent bytes that do not parse.
    Malformed,
    /// The caller asked for something that cannot be sent (payload too large, rewrite of a
    /// truncated packet, bad option).
    InvalidInput,
    /// The queue is closed or was stopped.
    Closed,
    /// A non-blocking operation would block.
    WouldBlock,
    /// Any other error reported by the kernel for a request, with its errno.
    Kernel,
    /// Any other operating-system error.
    Io,
}

/// Extra facts an error can carry.
#[derive(Debug)]
enum Detail {
    None,
    Io(io::Error),
    Decode(DecodeError),
    Encode(EncodeError),
    Owner(u32),
    Text(&'static str),
}

/// The error type of this crate.
///
/// It says what failed (`kind`), which queue it concerns when known, the raw errno when the
/// kernel or the OS gave one, and, in its `Display` text, what a person can do about it.
/// It converts into [`std::io::Error`] without losing the message.
pub struct Error {
    kind: ErrorKind,
    errno: Option<i32>,
    queue: Option<u16>,
    op: &'static str,
    detail: Detail,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, op: &'static str) -> Self {
        Self {
            kind,
            errno: None,
            queue: None,
            op,
            detail: Detail::None,
        }
    }

    /// An error from a system call; errno values with a dedicated kind are classified.
    pub(crate) fn io(op: &'static str, err: io::Error) -> Self {
        let errno = err.raw_os_error();
        let kind = match errno {
            Some(libc::ENOBUFS) => ErrorKind::QueueOverrun,
            Some(libc::EPERM) | Some(libc::EACCES) => ErrorKind::PermissionDenied,
            _ if err.kind() == io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
            _ => ErrorKind::Io,
        };
        Self {
            kind,
            errno,
            queue: None,
            op,
            detail: Detail::Io(err),
        }
    }

    /// An error the kernel returned in an `NLMSG_ERROR` reply (positive errno).
    pub(crate) fn kernel(op: &'static str, errno: i32) -> Self {
        let kind = match errno {
            libc::EPERM => ErrorKind::PermissionDenied,
            libc::EBUSY => ErrorKind::AlreadyBound,
            libc::ENODEV => ErrorKind::NoSuchQueue,
            libc::ENOENT => ErrorKind::PacketGone,
            libc::EOPNOTSUPP | ENOTSUPP => ErrorKind::Unsupported,
            libc::ENOBUFS => ErrorKind::QueueOverrun,
            _ => ErrorKind::Kernel,
        };
        Self {
            kind,
            errno: Some(errno),
            queue: None,
            op,
            detail: Detail::None,
        }
    }

    pub(crate) fn decode(op: &'static str, err: DecodeError) -> Self {
        Self {
            detail: Detail::Decode(err),
            ..Self::new(ErrorKind::Malformed, op)
        }
    }

    pub(crate) fn encode(op: &'static str, err: EncodeError) -> Self {
        Self {
            detail: Detail::Encode(err),
            ..Self::new(ErrorKind::InvalidInput, op)
        }
    }

    pub(crate) fn invalid(op: &'static str, why: &'static str) -> Self {
        Self {
            detail: Detail::Text(why),
            ..Self::new(ErrorKind::InvalidInput, op)
        }
    }

    pub(crate) fn busy(queue: u16, owner: u32) -> Self {
        Self {
            errno: Some(libc::EPERM),
            queue: Some(queue),
            detail: Detail::Owner(owner),
            ..Self::new(ErrorKind::QueueBusy, "bind")
        }
    }

    pub(crate) fn with_op(mut self, op: &'static str) -> Self {
        self.op = op;
        self
    }

    pub(crate) fn with_queue(mut self, queue: u16) -> Self {
        self.queue = Some(queue);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The errno the kernel or the OS returned, if any (positive, as in `errno.h`).
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno
    }

    /// The queue number the failed operation concerned, if known.
    pub fn queue(&self) -> Option<u16> {
        self.queue
    }

    /// For [`ErrorKind::QueueBusy`]: the netlink port id of the socket that owns the queue.
    pub fn owner_portid(&self) -> Option<u32> {
        match self.detail {
            Detail::Owner(p) => Some(p),
            _ => None,
        }
    }

    /// For [`ErrorKind::Malformed`]: where and how the kernel's bytes failed to parse.
    pub fn decode_error(&self) -> Option<DecodeError> {
        match self.detail {
            Detail::Decode(d) => Some(d),
            _ => None,
        }
    }

    /// True when the error leaves the queue fully usable (overruns, vanished packets,
    /// would-block), so a receive loop should just go on.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::QueueOverrun
                | ErrorKind::PacketGone
                | ErrorKind::WouldBlock
                | ErrorKind::Truncated
        )
    }

    fn hint(&self) -> &'static str {
        if matches!(self.errno, Some(libc::EMFILE) | Some(libc::ENFILE)) {
            return "each queue uses one socket: raise the open-file limit (ulimit -n) or bind \
                    fewer queues";
        }
        match self.kind {
            ErrorKind::PermissionDenied => {
                "NFQUEUE needs CAP_NET_ADMIN in the network namespace for the whole life of the \
                 socket: run as root, or grant the capability (e.g. setcap cap_net_admin+ep)"
            }
            ErrorKind::QueueBusy => {
                "stop the process that holds it (see /proc/net/netfilter/nfnetlink_queue, column 2 \
                 is its port id, usually its pid) or choose another queue number"
            }
            ErrorKind::AlreadyBound => "this socket binds the queue already; bind it once",
            ErrorKind::SubsystemMissing => {
                "the kernel lacks NFQUEUE: load it with `modprobe nfnetlink_queue` or use a kernel \
                 with CONFIG_NETFILTER_NETLINK_QUEUE"
            }
            ErrorKind::Unsupported => {
                "this kernel does not offer the requested feature; leave the option off"
            }
            ErrorKind::NoSuchQueue => "bind the queue first (it may have been unbound or closed)",
            ErrorKind::PacketGone => {
                "the packet was already judged or flushed (rule changes flush queued packets); \
                 nothing to do"
            }
            ErrorKind::QueueOverrun => {
                "the handler is slower than the traffic: enlarge the receive buffer, enable \
                 fail-open, or spread the load over several queues"
            }
            ErrorKind::Truncated => "enlarge the receive buffer or lower the copy range",
            ErrorKind::Malformed => "please report this with the bytes received",
            ErrorKind::Closed => "open a new queue",
            _ => "",
        }
    }
}

use crate::wire::consts::ENOTSUPP;
fn errno_text(errno: i32) -> String {
    if errno == ENOTSUPP {
        return "operation not supported (ENOTSUPP, 524)".to_string();
    }
    let text = io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; keep it, it is what people search for.
    text
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op)?;
        if let Some(q) = self.queue {
            write!(f, " (queue {q})")?;
        }
        f.write_str(" failed: ")?;
        match (&self.detail, self.kind) {
            (Detail::Owner(owner), _) => write!(
                f,
                "the queue is already bound by another netlink socket (port id {owner})"
            )?,
            (Detail::Io(e), _) => write!(f, "{e}")?,
            (Detail::Decode(d), _) => write!(f, "malformed message from the kernel: {d}")?,
            (Detail::Encode(e), _) => write!(f, "{e}")?,
            (Detail::Text(t), _) => f.write_str(t)?,
            (Detail::None, ErrorKind::SubsystemMissing) => {
                f.write_str("the kernel's NFQUEUE subsystem is not available")?
            }
            (Detail::None, ErrorKind::Closed) => f.write_str("the queue is closed")?,
            (Detail::None, _) => match self.errno {
                Some(e) => write!(f, "the kernel answered {}", errno_text(e))?,
                None => write!(f, "{:?}", self.kind)?,
            },
        }
        let hint = self.hint();
        if !hint.is_empty() {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("errno", &self.errno)
            .field("queue", &self.queue)
            .field("op", &self.op)
            .field("detail", &self.detail)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.detail {
            Detail::Io(e) => Some(e),
            Detail::Decode(d) => Some(d),
            Detail::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        let kind = match err.kind {
            ErrorKind::PermissionDenied | ErrorKind::QueueBusy => io::ErrorKind::PermissionDenied,
            ErrorKind::AlreadyBound => io::ErrorKind::AlreadyExists,
            ErrorKind::SubsystemMissing | ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::NoSuchQueue | ErrorKind::PacketGone => io::ErrorKind::NotFound,
            ErrorKind::Malformed => io::ErrorKind::InvalidData,
            ErrorKind::InvalidInput => io::ErrorKind::InvalidInput,
            ErrorKind::WouldBlock => io::ErrorKind::WouldBlock,
            ErrorKind::Closed => io::ErrorKind::NotConnected,
            _ => io::ErrorKind::Other,
        };
        Self::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_names_owner_and_queue() {
        let e = Error::busy(5, 4242);
        assert_eq!(e.kind(), ErrorKind::QueueBusy);
        assert_eq!(e.owner_portid(), Some(4242));
        let text = e.to_string();
        assert!(text.contains("queue 5"), "{text}");
        assert!(text.contains("4242"), "{text}");
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
        assert!(io.to_string().contains("port id 4242"));
    }

    #[test]
    fn kernel_errnos_are_classified() {
        assert_eq!(
            Error::kernel("verdict", libc::ENOENT).kind(),
            ErrorKind::PacketGone
        );
        assert_eq!(
            Error::kernel("bind", libc::EBUSY).kind(),
            ErrorKind::AlreadyBound
        );
        assert_eq!(
            Error::kernel("bind", ENOTSUPP).kind(),
            ErrorKind::Unsupported
        );
        assert_eq!(
            Error::kernel("bind", libc::EOPNOTSUPP).kind(),
            ErrorKind::Unsupported
        );
        assert_eq!(Error::kernel("x", libc::EINVAL).kind(), ErrorKind::Kernel);
        let t = Error::kernel("bind", ENOTSUPP).to_string();
        assert!(t.contains("524"), "{t}");
    }

    #[test]
    fn permission_text_names_the_capability() {
        let t = Error::kernel("bind", libc::EPERM).with_queue(3).to_string();
        assert!(t.contains("CAP_NET_ADMIN"), "{t}");
        assert!(t.contains("queue 3"), "{t}");
    }

    #[test]
    fn too_many_open_files_says_what_to_do() {
        let e = Error::io(
            "open netlink socket",
            io::Error::from_raw_os_error(libc::EMFILE),
        )
        .with_queue(1020);
        let t = e.to_string();
        assert!(t.contains("queue 1020") && t.contains("ulimit -n"), "{t}");
    }

    #[test]
    fn enobufs_is_transient() {
        let e = Error::io("recv", io::Error::from_raw_os_error(libc::ENOBUFS));
        assert_eq!(e.kind(), ErrorKind::QueueOverrun);
        assert!(e.is_transient());
    }
}
