// SPDX-License-Identifier: MIT OR Apache-2.0
//! Length and checksum fix-ups that make a rewritten IPv4 or IPv6 packet valid before it is sent
//! back with a verdict.
//!
//! When a verdict carries a replacement payload, the kernel swaps the packet's bytes and marks
//! the checksum as not computed (`CHECKSUM_NONE`): nothing recomputes the IPv4 header checksum
//! or the TCP, UDP or ICMP checksum afterwards, so a packet with a stale one is dropped by the
//! receiver. The kernel also **silently drops** a replacement shorter than the packet's transport
//! header offset while acknowledging the verdict with success (the CVE-2022-36946 fix), and one
//! longer than 65531 bytes cannot be carried by the verdict attribute at all.
//!
//! The usual call is [`finalize_rewrite`] on the finished packet: it checks the size, writes
//! the IPv4 total length or IPv6 payload length and the UDP length from the slice length, then
//! recomputes the transport checksum and the IPv4 header checksum. The smaller steps are public
//! too: [`check_rewrite_len`], [`fix_lengths`], [`fix_ipv4_header_checksum`],
//! [`fix_l4_checksum`], [`fix_checksums`], and the matching `verify_*` functions.
//!
//! The slice passed in is always one whole IP packet starting at the IP header, as found in a
//! queued packet's payload for the IPv4 and IPv6 families. Nothing here panics or allocates.
//!
//! Supported: TCP and UDP over IPv4 and IPv6, ICMP over IPv4, ICMPv6 over IPv6. IPv4 options are
//! skipped using the header length (IHL). IPv6 hop-by-hop, destination-options and routing
//! headers (the last only with no segments left) are walked; fragments, AH, ESP and the other
//! extension headers are refused with an error rather than guessed at.
//!
//! # Example
//!
//! ```
//! use linux_nfqueue::checksum;
//!
//! // A UDP packet from 10.0.0.1:1000 to 10.0.0.2:2000 whose payload is replaced.
//! let mut packet = vec![
//!     0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
//!     0x03, 0xe8, 0x07, 0xd0, 0, 0, 0, 0, // UDP, lengths and checksum still to do
//! ];
//! packet.extend_from_slice(b"new payload");
//! let info = checksum::finalize_rewrite(&mut packet)?;
//! assert_eq!(info.protocol, 17);
//! assert_eq!(&packet[2..4], &39u16.to_be_bytes()); // IPv4 total length
//! assert!(checksum::verify_checksums(&packet)?);
//! # Ok::<(), checksum::ChecksumError>(())
//! ```
//!
//! # References
//!
//! * RFC 1071 (computing the Internet checksum), RFC 768 (UDP), RFC 9293 (TCP), RFC 8200 §8.1
//!   (IPv6 upper-layer checksums), RFC 4443 (ICMPv6)
//! * `nfqnl_mangle()` in `net/netfilter/nfnetlink_queue.c`

use std::fmt;

/// The largest packet a verdict can carry: a netlink attribute length is 16 bits and includes
/// the 4-byte attribute header.
pub const MAX_REWRITE_LEN: usize = 65531;

/// IP protocol numbers used here.
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
/// IPv6 extension headers.
const EXT_HOP_BY_HOP: u8 = 0;
const EXT_ROUTING: u8 = 43;
const EXT_FRAGMENT: u8 = 44;
const EXT_ESP: u8 = 50;
const EXT_AH: u8 = 51;
const EXT_DEST_OPTS: u8 = 60;
const EXT_MOBILITY: u8 = 135;
const EXT_HIP: u8 = 139;
const EXT_SHIM6: u8 = 140;
const EXT_EXPERIMENT_1: u8 = 253;
const EXT_EXPERIMENT_2: u8 = 254;

const IPV4_MIN_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const TCP_MIN_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const ICMP_HEADER: usize = 8;

/// A header named in a [`ChecksumError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Header {
    /// The IPv4 header (with its options).
    Ipv4,
    /// The fixed 40-byte IPv6 header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Extension,
    /// The TCP header (with its options).
    Tcp,
    /// The UDP header.
    Udp,
    /// The ICMP header.
    Icmp,
    /// The ICMPv6 header.
    Icmpv6,
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
            Self::Ipv6Extension => "IPv6 extension",
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Icmp => "ICMP",
            Self::Icmpv6 => "ICMPv6",
        })
    }
}

/// Why a packet's lengths or checksums could not be fixed or checked.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumError {
    /// The slice is empty.
    Empty,
    /// The IP version field is neither 4 nor 6.
    NotIp {
        /// The version field (the first four bits).
        version: u8,
    },
    /// An IPv4-only operation was asked of a packet of another IP version.
    NotIpv4 {
        /// The version field of the packet.
        version: u8,
    },
    /// The packet ends inside a header. For a transport header this is the case in which the
    /// kernel would silently drop a replacement payload.
    Truncated {
        /// The header that does not fit.
        header: Header,
        /// Bytes the packet needs to hold that header.
        needed: usize,
        /// Bytes the packet has.
        len: usize,
    },
    /// A header's own length field is below that header's minimum size (IPv4 IHL or TCP data
    /// offset below 5 words, UDP length below 8).
    BadHeaderLength {
        /// The header concerned.
        header: Header,
        /// The length in bytes that its field gives.
        len: usize,
    },
    /// A length field (IPv4 total length, IPv6 payload length, UDP length) claims more bytes than
    /// the packet has, or fewer than its headers need. [`fix_lengths`] sets these fields from the
    /// slice length.
    LengthMismatch {
        /// The header holding the length field.
        header: Header,
        /// The length the field gives, counted from the start of the IP packet.
        claimed: usize,
        /// The bytes available.
        len: usize,
    },
    /// The packet is longer than the operation allows ([`MAX_REWRITE_LEN`] for a rewrite, or
    /// what a length field can hold).
    TooLong {
        /// The packet's length.
        len: usize,
        /// The most that is allowed.
        max: usize,
    },
    /// The packet is an IPv4 or IPv6 fragment: a transport checksum covers the whole datagram,
    /// so it cannot be computed from one fragment.
    Fragment,
    /// An IPv6 extension header that is not walked (fragment is reported as
    /// [`Fragment`](Self::Fragment)): AH, ESP, a routing header with segments left, mobility,
    /// HIP, shim6 or an experimental one.
    UnsupportedExtensionHeader {
        /// Its next-header number.
        next_header: u8,
    },
    /// The transport protocol has no checksum support here (anything but TCP, UDP, ICMP over
    /// IPv4 and ICMPv6 over IPv6).
    UnsupportedProtocol {
        /// The IP protocol number.
        protocol: u8,
    },
}

impl fmt::Display for ChecksumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("the packet is empty"),
            Self::NotIp { version } => write!(
                f,
                "not an IP packet: the version field is {version}, expected 4 or 6"
            ),
            Self::NotIpv4 { version } => {
                write!(f, "not an IPv4 packet: the version field is {version}")
            }
            Self::Truncated {
                header,
                needed,
                len,
            } => {
                write!(
                    f,
                    "the packet is too short for its {header} header: it needs {needed} bytes \
                     and has {len}"
                )?;
                if matches!(
                    header,
                    Header::Tcp | Header::Udp | Header::Icmp | Header::Icmpv6
                ) {
                    f.write_str(" (the kernel may silently drop such a replacement)")?;
                }
                Ok(())
            }
            Self::BadHeaderLength { header, len } => write!(
                f,
                "the {header} header says it is {len} bytes long, less than its minimum size"
            ),
            Self::LengthMismatch {
                header,
                claimed,
                len,
            } => write!(
                f,
                "the {header} length field covers {claimed} bytes but the packet has {len} \
                 (finalize_rewrite sets the length fields from the packet size)"
            ),
            Self::TooLong { len, max } => write!(
                f,
                "the packet is {len} bytes long, more than the {max} bytes allowed"
            ),
            Self::Fragment => f.write_str(
                "the packet is an IP fragment: its transport checksum covers the whole datagram \
                 and cannot be computed from one fragment",
            ),
            Self::UnsupportedExtensionHeader { next_header } => write!(
                f,
                "IPv6 extension header {next_header} ({}) is not supported for checksum \
                 fix-ups",
                extension_name(next_header)
            ),
            Self::UnsupportedProtocol { protocol } => write!(
                f,
                "no checksum support for IP protocol {protocol}: only TCP, UDP, ICMP over IPv4 \
                 and ICMPv6 over IPv6"
            ),
        }
    }
}

impl std::error::Error for ChecksumError {}

impl From<ChecksumError> for std::io::Error {
    fn from(err: ChecksumError) -> Self {
        Self::new(std::io::ErrorKind::InvalidInput, err)
    }
}

/// A name for an IPv6 extension header number, for messages.
fn extension_name(next_header: u8) -> &'static str {
    match next_header {
        EXT_HOP_BY_HOP => "hop-by-hop options",
        EXT_ROUTING => "routing with segments left",
        EXT_FRAGMENT => "fragment",
        EXT_ESP => "ESP",
        EXT_AH => "AH",
        EXT_DEST_OPTS => "destination options",
        EXT_MOBILITY => "mobility",
        EXT_HIP => "HIP",
        EXT_SHIM6 => "shim6",
        EXT_EXPERIMENT_1 | EXT_EXPERIMENT_2 => "experimental",
        _ => "unknown",
    }
}

/// What [`finalize_rewrite`] found and fixed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RewriteInfo {
    /// 4 or 6.
    pub ip_version: u8,
    /// Offset of the transport header: the IPv4 header with options, or the IPv6 header with
    /// the extension headers that were walked.
    pub transport_offset: usize,
    /// The transport protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub protocol: u8,
    /// The packet length that was written into the length fields.
    pub len: usize,
}

/// Where the parts of an IP packet are.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// 4 or 6.
    version: u8,
    /// Offset of the transport header.
    l4: usize,
    /// End of the IP packet: from its length field, or the slice length.
    end: usize,
    /// The transport protocol (after IPv6 extension headers).
    protocol: u8,
    /// An IPv4 fragment with a non-zero offset or the more-fragments flag.
    fragment: bool,
}

/// How much to trust the IP length fields while finding the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lengths {
    /// The packet ends where its IP length field says (which must fit in the slice).
    FromHeader,
    /// The packet ends at the end of the slice; the length fields are ignored.
    FromSlice,
}

fn be16(packet: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([packet[at], packet[at + 1]])
}

fn put_be16(packet: &mut [u8], at: usize, value: u16) {
    packet[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

fn version_of(packet: &[u8]) -> Result<u8, ChecksumError> {
    match packet.first() {
        None => Err(ChecksumError::Empty),
        Some(b) => Ok(b >> 4),
    }
}

/// Finds the IP header length, the end of the packet and the transport protocol.
fn layout(packet: &[u8], lengths: Lengths) -> Result<Layout, ChecksumError> {
    match version_of(packet)? {
        4 => layout_v4(packet, lengths),
        6 => layout_v6(packet, lengths),
        version => Err(ChecksumError::NotIp { version }),
    }
}

/// Checks the IPv4 header itself and returns its length.
fn ipv4_header_len(packet: &[u8]) -> Result<usize, ChecksumError> {
    let version = version_of(packet)?;
    if version != 4 {
        return Err(ChecksumError::NotIpv4 { version });
    }
    let len = packet.len();
    if len < IPV4_MIN_HEADER {
        return Err(ChecksumError::Truncated {
            header: Header::Ipv4,
            needed: IPV4_MIN_HEADER,
            len,
        });
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    if ihl < IPV4_MIN_HEADER {
        return Err(ChecksumError::BadHeaderLength {
            header: Header::Ipv4,
            len: ihl,
        });
    }
    if ihl > len {
        return Err(ChecksumError::Truncated {
            header: Header::Ipv4,
            needed: ihl,
            len,
        });
    }
    Ok(ihl)
}

fn layout_v4(packet: &[u8], lengths: Lengths) -> Result<Layout, ChecksumError> {
    let ihl = ipv4_header_len(packet)?;
    let end = match lengths {
        Lengths::FromSlice => packet.len(),
        Lengths::FromHeader => {
            let total = usize::from(be16(packet, 2));
            if total < ihl || total > packet.len() {
                return Err(ChecksumError::LengthMismatch {
                    header: Header::Ipv4,
                    claimed: total,
                    len: packet.len(),
                });
            }
            total
        }
    };
    let frag = be16(packet, 6);
    Ok(Layout {
        version: 4,
        l4: ihl,
        end,
        protocol: packet[9],
        // More-fragments flag or a fragment offset.
        fragment: frag & 0x3fff != 0,
    })
}

fn layout_v6(packet: &[u8], lengths: Lengths) -> Result<Layout, ChecksumError> {
    let len = packet.len();
    if len < IPV6_HEADER {
        return Err(ChecksumError::Truncated {
            header: Header::Ipv6,
            needed: IPV6_HEADER,
            len,
        });
    }
    let end = match lengths {
        Lengths::FromSlice => len,
        Lengths::FromHeader => {
            let claimed = IPV6_HEADER + usize::from(be16(packet, 4));
            if claimed > len {
                return Err(ChecksumError::LengthMismatch {
                    header: Header::Ipv6,
                    claimed,
                    len,
                });
            }
            claimed
        }
    };
    let mut next = packet[6];
    let mut at = IPV6_HEADER;
    loop {
        match next {
            EXT_HOP_BY_HOP | EXT_DEST_OPTS | EXT_ROUTING => {
                // Every one of these starts with next header and a length in 8-byte units
                // not counting the first 8.
                if at + 8 > end {
                    return Err(ChecksumError::Truncated {
                        header: Header::Ipv6Extension,
                        needed: at + 8,
                        len: end,
                    });
                }
                let ext_len = (usize::from(packet[at + 1]) + 1) * 8;
                if at + ext_len > end {
                    return Err(ChecksumError::Truncated {
                        header: Header::Ipv6Extension,
                        needed: at + ext_len,
                        len: end,
                    });
                }
                // With segments left, the pseudo-header would need the final destination from
                // inside the routing header.
                if next == EXT_ROUTING && packet[at + 3] != 0 {
                    return Err(ChecksumError::UnsupportedExtensionHeader { next_header: next });
                }
                next = packet[at];
                at += ext_len;
            }
            EXT_FRAGMENT => {
                return Ok(Layout {
                    version: 6,
                    l4: at,
                    end,
                    protocol: next,
                    fragment: true,
                });
            }
            EXT_ESP | EXT_AH | EXT_MOBILITY | EXT_HIP | EXT_SHIM6 | EXT_EXPERIMENT_1
            | EXT_EXPERIMENT_2 => {
                return Err(ChecksumError::UnsupportedExtensionHeader { next_header: next });
            }
            protocol => {
                return Ok(Layout {
                    version: 6,
                    l4: at,
                    end,
                    protocol,
                    fragment: false,
                });
            }
        }
    }
}

/// The minimum transport header size for a protocol that has a checksum here.
fn transport_min(version: u8, protocol: u8) -> Option<(Header, usize)> {
    match (version, protocol) {
        (_, PROTO_TCP) => Some((Header::Tcp, TCP_MIN_HEADER)),
        (_, PROTO_UDP) => Some((Header::Udp, UDP_HEADER)),
        (4, PROTO_ICMP) => Some((Header::Icmp, ICMP_HEADER)),
        (6, PROTO_ICMPV6) => Some((Header::Icmpv6, ICMP_HEADER)),
        _ => None,
    }
}

/// Checks that `packet` can be sent as a replacement payload without the kernel dropping it.
///
/// It must be an IPv4 or IPv6 packet of at most [`MAX_REWRITE_LEN`] bytes whose IP header and,
/// for TCP, UDP, ICMP and ICMPv6, minimal transport header fit in the slice (for TCP, the header
/// with the options its data offset announces). Length fields are not consulted: the slice
/// length is taken as the packet length, as [`finalize_rewrite`] does. For other protocols and
/// for fragments after the first, only the IP header is checked.
///
/// # Errors
///
/// [`ChecksumError::TooLong`], [`ChecksumError::Truncated`] and the header errors of
/// [`ChecksumError`].
pub fn check_rewrite_len(packet: &[u8]) -> Result<(), ChecksumError> {
    if packet.len() > MAX_REWRITE_LEN {
        return Err(ChecksumError::TooLong {
            len: packet.len(),
            max: MAX_REWRITE_LEN,
        });
    }
    let layout = layout(packet, Lengths::FromSlice)?;
    check_transport_fits(packet, &layout)
}

/// Checks that the transport header of a layout fits before its end.
fn check_transport_fits(packet: &[u8], layout: &Layout) -> Result<(), ChecksumError> {
    // A later fragment has no transport header; a first fragment does.
    if layout.fragment && (layout.version == 6 || be16(packet, 6) & 0x1fff != 0) {
        return Ok(());
    }
    let Some((header, min)) = transport_min(layout.version, layout.protocol) else {
        return Ok(());
    };
    let needed = layout.l4 + min;
    if needed > layout.end {
        return Err(ChecksumError::Truncated {
            header,
            needed,
            len: layout.end,
        });
    }
    if header == Header::Tcp {
        let data_offset = usize::from(packet[layout.l4 + 12] >> 4) * 4;
        if data_offset < TCP_MIN_HEADER {
            return Err(ChecksumError::BadHeaderLength {
                header,
                len: data_offset,
            });
        }
        if layout.l4 + data_offset > layout.end {
            return Err(ChecksumError::Truncated {
                header,
                needed: layout.l4 + data_offset,
                len: layout.end,
            });
        }
    }
    Ok(())
}

/// Sets the IP length field (IPv4 total length or IPv6 payload length) from the slice length,
/// and the UDP length field for an unfragmented UDP packet.
///
/// # Errors
///
/// [`ChecksumError::TooLong`] when the length does not fit the field (65535 bytes for IPv4,
/// 65535 + 40 for IPv6), or a header error when the IP header (or the UDP header, for UDP) is
/// not complete.
pub fn fix_lengths(packet: &mut [u8]) -> Result<(), ChecksumError> {
    let layout = layout(packet, Lengths::FromSlice)?;
    let len = packet.len();
    let (field_at, value, max) = match layout.version {
        4 => (2, len, usize::from(u16::MAX)),
        _ => (4, len - IPV6_HEADER, usize::from(u16::MAX) + IPV6_HEADER),
    };
    let value = u16::try_from(value).map_err(|_| ChecksumError::TooLong { len, max })?;
    if layout.protocol == PROTO_UDP && !layout.fragment {
        check_transport_fits(packet, &layout)?;
    }
    put_be16(packet, field_at, value);
    if layout.protocol == PROTO_UDP && !layout.fragment {
        // Fits: the whole packet fits in a u16 field plus at most the IPv6 header.
        let udp_len = u16::try_from(len - layout.l4).map_err(|_| ChecksumError::TooLong {
            len,
            max: layout.l4 + usize::from(u16::MAX),
        })?;
        put_be16(packet, layout.l4 + 4, udp_len);
    }
    Ok(())
}

/// Recomputes the IPv4 header checksum (the header only, including options).
///
/// Works for fragments too, and does not look at the total length field.
///
/// # Errors
///
/// [`ChecksumError::NotIpv4`] for IPv6, or a header error when the IPv4 header is incomplete.
pub fn fix_ipv4_header_checksum(packet: &mut [u8]) -> Result<(), ChecksumError> {
    let ihl = ipv4_header_len(packet)?;
    put_be16(packet, 10, 0);
    let sum = finish(sum_bytes(&packet[..ihl], 0));
    put_be16(packet, 10, sum);
    Ok(())
}

/// Checks the IPv4 header checksum.
///
/// # Errors
///
/// As for [`fix_ipv4_header_checksum`].
pub fn verify_ipv4_header_checksum(packet: &[u8]) -> Result<bool, ChecksumError> {
    let ihl = ipv4_header_len(packet)?;
    Ok(fold(sum_bytes(&packet[..ihl], 0)) == 0xffff)
}

/// Where the transport checksum of a packet lives and what it covers.
#[derive(Debug, Clone, Copy)]
struct L4Span {
    /// Offset of the transport header.
    start: usize,
    /// End of the bytes the checksum covers.
    end: usize,
    /// Offset of the checksum field.
    field: usize,
    /// The sum of the pseudo-header, or 0 for ICMP over IPv4, which has none.
    pseudo: u64,
    /// UDP over IPv4, where a zero checksum means "none".
    udp_v4: bool,
    /// UDP, where a computed zero is sent as 0xffff.
    udp: bool,
}

/// Finds the transport checksum of a packet, using its length fields.
fn l4_span(packet: &[u8]) -> Result<L4Span, ChecksumError> {
    let layout = layout(packet, Lengths::FromHeader)?;
    if layout.fragment {
        return Err(ChecksumError::Fragment);
    }
    let Some((header, _)) = transport_min(layout.version, layout.protocol) else {
        return Err(ChecksumError::UnsupportedProtocol {
            protocol: layout.protocol,
        });
    };
    check_transport_fits(packet, &layout)?;
    let start = layout.l4;
    let mut end = layout.end;
    let field = match header {
        Header::Tcp => start + 16,
        Header::Udp => {
            let udp_len = usize::from(be16(packet, start + 4));
            if udp_len < UDP_HEADER {
                return Err(ChecksumError::BadHeaderLength {
                    header,
                    len: udp_len,
                });
            }
            if start + udp_len > end {
                return Err(ChecksumError::LengthMismatch {
                    header,
                    claimed: start + udp_len,
                    len: end,
                });
            }
            // Bytes after the UDP length are not part of the datagram.
            end = start + udp_len;
            start + 6
        }
        _ => start + 2,
    };
    let l4_len = end - start;
    let pseudo = match (layout.version, header) {
        (4, Header::Icmp) => 0,
        (4, _) => sum_bytes(&packet[12..20], 0) + u64::from(layout.protocol) + l4_len as u64,
        _ => sum_bytes(&packet[8..40], 0) + u64::from(layout.protocol) + l4_len as u64,
    };
    Ok(L4Span {
        start,
        end,
        field,
        pseudo,
        udp_v4: header == Header::Udp && layout.version == 4,
        udp: header == Header::Udp,
    })
}

/// Recomputes the transport checksum: TCP or UDP over IPv4 or IPv6, ICMP over IPv4, ICMPv6 over
/// IPv6.
///
/// The IP length fields (and for UDP the UDP length) decide which bytes are covered, so they must
/// be right first; bytes after them in the slice are ignored. A UDP checksum that comes out as
/// zero is written as 0xffff, as RFC 768 asks. The checksum is always computed, also for UDP over
/// IPv4 whose field was 0 ("no checksum").
///
/// # Errors
///
/// [`ChecksumError::Fragment`], [`ChecksumError::UnsupportedProtocol`],
/// [`ChecksumError::UnsupportedExtensionHeader`], [`ChecksumError::LengthMismatch`] when a
/// length field claims more than the slice holds, and the header errors.
pub fn fix_l4_checksum(packet: &mut [u8]) -> Result<(), ChecksumError> {
    let span = l4_span(packet)?;
    put_be16(packet, span.field, 0);
    let mut sum = finish(sum_bytes(&packet[span.start..span.end], span.pseudo));
    if span.udp && sum == 0 {
        sum = 0xffff;
    }
    put_be16(packet, span.field, sum);
    Ok(())
}

/// Checks the transport checksum. A zero UDP checksum over IPv4 means "none" and counts as
/// valid; over IPv6 it is invalid.
///
/// # Errors
///
/// As for [`fix_l4_checksum`].
pub fn verify_l4_checksum(packet: &[u8]) -> Result<bool, ChecksumError> {
    let span = l4_span(packet)?;
    let stored = be16(packet, span.field);
    if span.udp && stored == 0 {
        return Ok(span.udp_v4);
    }
    Ok(fold(sum_bytes(&packet[span.start..span.end], span.pseudo)) == 0xffff)
}

/// Recomputes the transport checksum and, for IPv4, the header checksum, leaving the length
/// fields as they are.
///
/// # Errors
///
/// As for [`fix_l4_checksum`].
pub fn fix_checksums(packet: &mut [u8]) -> Result<(), ChecksumError> {
    fix_l4_checksum(packet)?;
    if version_of(packet)? == 4 {
        fix_ipv4_header_checksum(packet)?;
    }
    Ok(())
}

/// Checks the transport checksum and, for IPv4, the header checksum.
///
/// # Errors
///
/// As for [`verify_l4_checksum`].
pub fn verify_checksums(packet: &[u8]) -> Result<bool, ChecksumError> {
    let l4 = verify_l4_checksum(packet)?;
    let l3 = version_of(packet)? != 4 || verify_ipv4_header_checksum(packet)?;
    Ok(l3 && l4)
}

/// Makes a rewritten packet ready to send with a verdict: [`check_rewrite_len`], then
/// [`fix_lengths`] from the slice length, then [`fix_checksums`].
///
/// For a protocol without support here, or a fragment, it fails before changing anything; such
/// a packet can still be finished with [`fix_lengths`] and [`fix_ipv4_header_checksum`] after
/// fixing its transport checksum by other means.
///
/// # Errors
///
/// Everything [`check_rewrite_len`] and [`fix_l4_checksum`] report.
pub fn finalize_rewrite(packet: &mut [u8]) -> Result<RewriteInfo, ChecksumError> {
    check_rewrite_len(packet)?;
    let found = layout(packet, Lengths::FromSlice)?;
    if found.fragment {
        return Err(ChecksumError::Fragment);
    }
    if transport_min(found.version, found.protocol).is_none() {
        return Err(ChecksumError::UnsupportedProtocol {
            protocol: found.protocol,
        });
    }
    fix_lengths(packet)?;
    fix_checksums(packet)?;
    Ok(RewriteInfo {
        ip_version: found.version,
        transport_offset: found.l4,
        protocol: found.protocol,
        len: packet.len(),
    })
}

/// Adds `data` as big-endian 16-bit words (an odd last byte padded with zero) to `acc`.
///
/// Reads 32 bits at a time: because 2^16 is 1 modulo 2^16 - 1, summing 32-bit words and folding
/// at the end gives the same one's complement sum as summing 16-bit words. With at most 64 KiB
/// of data the 64-bit accumulator cannot overflow.
fn sum_bytes(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a sum into 16 bits with end-around carry.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves at most 0xffff.
    u16::try_from(acc).unwrap_or(u16::MAX)
}

/// The checksum to store: the one's complement of the folded sum.
fn finish(acc: u64) -> u16 {
    !fold(acc)
}

#[cfg(test)]
mod tests;
