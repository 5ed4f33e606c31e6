// SPDX-License-Identifier: MIT OR Apache-2.0
//! Rewrite UDP payloads in flight: each datagram to the port gets its text upper-cased and a
//! tag appended (so the packet grows), then [`linux_nfqueue::checksum`] fixes the lengths and
//! checksums before the packet goes back with its verdict.
//!
//! ```sh
//! iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! ip6tables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! # or: nft add rule inet filter input udp dport 9999 queue num 0 bypass
//! cargo run --example rewrite_udp -- [QUEUE] [COUNT] [SECONDS]
//! ```
//!
//! The program ends after `COUNT` packets or `SECONDS` seconds (0 = no limit) and prints
//! `rewritten R unchanged U` as its last line.
//!
//! Why the checksum step matters: the kernel takes the new bytes as they are and marks their
//! checksum as not computed, so a packet with a stale UDP or IPv4 header checksum is dropped by
//! the receiver, and one cut shorter than its headers is dropped by the kernel while the
//! verdict still reports success. The library refuses the latter, and refuses to write back a
//! truncated copy (`cap_len` set), which would cut the real packet short.

mod common;

use common::{arg, stop_after};

use linux_nfqueue::{Config, ErrorKind, Queue, Verdict, VerdictAttrs, checksum};

const USAGE: &str = "usage: rewrite_udp [QUEUE] [COUNT] [SECONDS]";

/// Appended to every rewritten payload.
const TAG: &[u8] = b" [seen by rewrite_udp]";

/// IP protocol number of UDP.
const UDP: u8 = 17;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue_num: u16 = arg(1, 0, USAGE);
    let count: u64 = arg(2, 0, USAGE);
    let seconds: u64 = arg(3, 0, USAGE);

    let mut queue = Queue::open(Config::new(queue_num))?;
    stop_after(queue.stop_handle(), seconds);

    // One buffer, reused for every packet: no allocation per packet once it has grown.
    let mut buf = Vec::with_capacity(2048);
    let (mut rewritten, mut unchanged) = (0u64, 0u64);
    while count == 0 || rewritten + unchanged < count {
        let packet = match queue.recv() {
            Ok(packet) => packet,
            Err(e) if e.kind() == ErrorKind::Closed => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e.into()),
        };
        let data_at = packet.payload().and_then(udp_data_offset);
        let (Some(original), Some(data_at), false) =
            (packet.payload(), data_at, packet.is_truncated())
        else {
            // Not plain UDP, or only part of it was copied: let it pass unchanged.
            packet.accept()?;
            unchanged += 1;
            continue;
        };

        buf.clear();
        buf.extend_from_slice(original);
        buf[data_at..].make_ascii_uppercase();
        buf.extend_from_slice(TAG);
        // Writes the IP and UDP length fields from the new size, then the UDP checksum and,
        // for IPv4, the header checksum.
        if let Err(e) = checksum::finalize_rewrite(&mut buf) {
            eprintln!(
                "packet {}: cannot rewrite ({e}); accepted unchanged",
                packet.id()
            );
            packet.accept()?;
            unchanged += 1;
            continue;
        }
        println!(
            "packet {}: {} -> {} bytes",
            packet.id(),
            original.len(),
            buf.len()
        );
        packet.verdict_with(Verdict::Accept, &VerdictAttrs::new().with_payload(&buf))?;
        rewritten += 1;
    }
    println!("rewritten {rewritten} unchanged {unchanged}");
    queue.close()?;
    Ok(())
}

/// Where the UDP data starts in an IPv4 or IPv6 packet, if it is an unfragmented UDP packet
/// without IPv6 extension headers.
fn udp_data_offset(ip: &[u8]) -> Option<usize> {
    let first = *ip.first()?;
    let (protocol, header_len) = match first >> 4 {
        4 => {
            let fragment = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x3fff;
            if fragment != 0 {
                return None;
            }
            (*ip.get(9)?, usize::from(first & 0x0f) * 4)
        }
        6 => (*ip.get(6)?, 40),
        _ => return None,
    };
    let data_at = header_len + 8;
    (protocol == UDP && header_len >= 20 && ip.len() >= data_at).then_some(data_at)
}
