// SPDX-License-Identifier: MIT OR Apache-2.0
//! Accept every packet of one queue and print a line for each: the smallest complete program.
//!
//! Send packets to the queue with one of these rules (`--queue-bypass` / `bypass` lets packets
//! through while no program is bound to the queue, instead of dropping them):
//!
//! ```sh
//! iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! nft add rule inet filter input udp dport 9999 queue num 0 bypass
//! ```
//!
//! Then, as root (or with `CAP_NET_ADMIN`):
//!
//! ```sh
//! cargo run --example accept_all -- [QUEUE] [COUNT] [SECONDS]
//! ```
//!
//! `QUEUE` defaults to 0. The program ends after `COUNT` packets or `SECONDS` seconds, whichever
//! comes first (0, the default, means no limit), and prints `accepted N` as its last line.

mod common;

use common::{arg, stop_after};

use linux_nfqueue::{Config, ErrorKind, Queue};

const USAGE: &str = "usage: accept_all [QUEUE] [COUNT] [SECONDS]";

fn main() -> Result<(), linux_nfqueue::Error> {
    let queue_num: u16 = arg(1, 0, USAGE);
    let count: u64 = arg(2, 0, USAGE);
    let seconds: u64 = arg(3, 0, USAGE);

    // Binding needs CAP_NET_ADMIN; the error says so (and names the owner if another process
    // holds the queue number already).
    let mut queue = Queue::open(Config::new(queue_num))?;
    stop_after(queue.stop_handle(), seconds);

    let mut accepted = 0u64;
    while count == 0 || accepted < count {
        let packet = match queue.recv() {
            Ok(packet) => packet,
            // The time limit ran out (see `stop_after`).
            Err(e) if e.kind() == ErrorKind::Closed => break,
            // Overruns and the like leave the queue usable: keep going.
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e),
        };
        println!(
            "queue {} packet {} hook {} family {} len {}",
            packet.queue(),
            packet.id(),
            packet.hook().name(),
            packet.family().name(),
            packet.payload().map_or(0, <[u8]>::len)
        );
        // The verdict consumes the packet. A packet dropped without one would get the
        // default verdict (Accept, see `Config::default_verdict`), so none is ever forgotten.
        packet.accept()?;
        accepted += 1;
    }
    println!("accepted {accepted}");
    // Sends the verdicts still pending, unbinds the queue and reports any failure.
    queue.close()
}
