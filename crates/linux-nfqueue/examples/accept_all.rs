// SPDX-License-Identifier: MIT OR Apache-2.0
//! Accept every packet of queue 0 (or the queue given as the first argument) and print a line
//! for each.
//!
//! ```sh
//! iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! cargo run --example accept_all -- 0
//! ```

use linux_nfqueue::{Config, Queue};

fn main() -> Result<(), linux_nfqueue::Error> {
    let queue_num = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let limit: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(u64::MAX);
    let mut queue = Queue::open(Config::new(queue_num))?;
    let mut seen = 0;
    while seen < limit {
        let packet = queue.recv()?;
        println!(
            "packet {} hook {} family {} len {}",
            packet.id(),
            packet.hook().name(),
            packet.family().name(),
            packet.payload().map_or(0, <[u8]>::len)
        );
        packet.accept()?;
        seen += 1;
    }
    queue.close()
}
