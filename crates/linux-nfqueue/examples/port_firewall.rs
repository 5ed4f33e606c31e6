// SPDX-License-Identifier: MIT OR Apache-2.0
//! A port firewall: drop new TCP connections to a list of ports, accept everything else.
//!
//! Only the first packet of a connection needs a decision, so the rule queues TCP SYNs only;
//! the rest of every connection, and every other protocol, never leaves the kernel:
//!
//! ```sh
//! iptables -A INPUT -p tcp --syn -j NFQUEUE --queue-num 0 --queue-bypass
//! ip6tables -A INPUT -p tcp --syn -j NFQUEUE --queue-num 0 --queue-bypass
//! # or, one rule for both families:
//! nft add rule inet filter input 'tcp flags & (fin|syn|rst|ack) == syn' queue num 0 bypass
//! ```
//!
//! Queueing every TCP packet (`-p tcp` without `--syn`) works too, at a far higher cost.
//!
//! ```sh
//! cargo run --example port_firewall -- [QUEUE] [COUNT] [SECONDS] [PORTS]
//! ```
//!
//! `PORTS` is a comma-separated list of TCP destination ports to block (default `23,445`).
//! The program ends after `COUNT` packets or `SECONDS` seconds (0 = no limit) and prints
//! `accepted A dropped D` as its last line.
//!
//! A dropped SYN is simply lost: the client retries a few times, then gives up. To answer with
//! a TCP reset instead, give the packet a mark with [`Verdict::Repeat`] and put a
//! `-m mark --mark X -j REJECT --reject-with tcp-reset` rule before the queue rule
//! (`docs/rules.md` shows the pattern).

mod common;

use common::{arg, stop_after};

use linux_nfqueue::{Config, ErrorKind, Queue, Verdict};

const USAGE: &str = "usage: port_firewall [QUEUE] [COUNT] [SECONDS] [PORTS]";

/// IP protocol number of TCP.
const TCP: u8 = 6;

fn main() -> Result<(), linux_nfqueue::Error> {
    let queue_num: u16 = arg(1, 0, USAGE);
    let count: u64 = arg(2, 0, USAGE);
    let seconds: u64 = arg(3, 0, USAGE);
    let blocked: Vec<u16> = std::env::args()
        .nth(4)
        .unwrap_or_else(|| "23,445".into())
        .split(',')
        .map(|p| {
            p.trim().parse().unwrap_or_else(|_| {
                eprintln!("not a port: {p:?}; {USAGE}");
                std::process::exit(2)
            })
        })
        .collect();

    let config = Config::new(queue_num)
        // The IP and TCP headers are all we read: copy 128 bytes of each packet, not 64 KiB.
        .copy_range(128)
        // A firewall fails closed: a packet the handler forgets (or panics on) is dropped.
        // The rule's `--queue-bypass` still lets traffic through while the program is not
        // running at all; remove it to fail closed then too.
        .default_verdict(Verdict::Drop);
    let mut queue = Queue::open(config)?;
    stop_after(queue.stop_handle(), seconds);
    eprintln!("blocking TCP ports {blocked:?} on queue {queue_num}");

    let (mut accepted, mut dropped) = (0u64, 0u64);
    while count == 0 || accepted + dropped < count {
        let packet = match queue.recv() {
            Ok(packet) => packet,
            Err(e) if e.kind() == ErrorKind::Closed => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e),
        };
        let decision = match packet.payload().map(classify) {
            Some(Class::Tcp { dport }) if blocked.contains(&dport) => Verdict::Drop,
            Some(Class::Unreadable) => Verdict::Drop,
            _ => Verdict::Accept,
        };
        if decision == Verdict::Drop {
            println!("drop packet {} (TCP to a blocked port)", packet.id());
            dropped += 1;
        } else {
            accepted += 1;
        }
        packet.verdict(decision)?;
    }
    println!("accepted {accepted} dropped {dropped}");
    queue.close()
}

/// What the firewall sees in a packet.
enum Class {
    /// A TCP segment (or the first fragment of one) to this port.
    Tcp { dport: u16 },
    /// Anything else we can read: accepted.
    Other,
    /// IPv6 with extension headers before the transport header, or bytes that do not parse.
    /// A firewall must not let through what it cannot read, so these are dropped.
    Unreadable,
}

/// Reads the TCP destination port from an IPv4 or IPv6 packet (the payload of a queued packet
/// of the IPv4 or IPv6 family starts at the IP header).
fn classify(ip: &[u8]) -> Class {
    let Some(&first) = ip.first() else {
        return Class::Unreadable;
    };
    let (protocol, transport) = match first >> 4 {
        4 => {
            let header_len = usize::from(first & 0x0f) * 4;
            let (Some(&hi), Some(&lo)) = (ip.get(6), ip.get(7)) else {
                return Class::Unreadable;
            };
            if u16::from_be_bytes([hi, lo]) & 0x1fff != 0 {
                // A later fragment carries no ports; the first one was judged already.
                return Class::Other;
            }
            match (ip.get(9), ip.get(header_len..)) {
                (Some(&p), Some(rest)) if header_len >= 20 => (p, rest),
                _ => return Class::Unreadable,
            }
        }
        6 => match (ip.get(6), ip.get(40..)) {
            // Hop-by-hop, routing, fragment, destination options, AH, ESP, mobility, HIP,
            // shim6 and the experimental numbers: not walked here.
            (Some(0 | 43 | 44 | 50 | 51 | 60 | 135 | 139 | 140 | 253 | 254), _) => {
                return Class::Unreadable;
            }
            (Some(&p), Some(rest)) => (p, rest),
            _ => return Class::Unreadable,
        },
        _ => return Class::Unreadable,
    };
    if protocol != TCP {
        return Class::Other;
    }
    match transport.get(2..4) {
        Some(&[hi, lo]) => Class::Tcp {
            dport: u16::from_be_bytes([hi, lo]),
        },
        _ => Class::Unreadable,
    }
}
