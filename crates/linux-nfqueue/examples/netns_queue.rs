// SPDX-License-Identifier: MIT OR Apache-2.0
//! Serve a queue of another network namespace without moving the program into it.
//!
//! Queues belong to a network namespace: a rule in namespace `demo` sends packets to queue 0
//! *of `demo`*, which only a socket created inside `demo` can bind. [`Config::netns`] creates
//! the socket there (on a short-lived helper thread that enters the namespace) and the rest of
//! the program stays where it is, for example next to the sockets it manages on the host.
//!
//! ```sh
//! ip netns add demo
//! ip netns exec demo ip link set lo up
//! ip netns exec demo iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! cargo run --example netns_queue -- demo [QUEUE] [COUNT] [SECONDS]
//! # in another shell: traffic inside the namespace
//! ip netns exec demo bash -c 'echo hello > /dev/udp/127.0.0.1/9999'
//! ```
//!
//! The program ends after `COUNT` packets or `SECONDS` seconds (0 = no limit) and prints
//! `accepted N` as its last line. `CAP_NET_ADMIN` over the target namespace and
//! `CAP_SYS_ADMIN` (to enter it) are needed: run it as root.
//!
//! [`Config::netns_path`] takes any namespace file (`/proc/PID/ns/net` of a container's
//! process, say), and [`Config::netns_fd`] an open one.

mod common;

use common::{arg, stop_after};

use linux_nfqueue::{Config, ErrorKind, Queue, QueueStats};

const USAGE: &str = "usage: netns_queue NAMESPACE [QUEUE] [COUNT] [SECONDS]";

fn main() -> Result<(), linux_nfqueue::Error> {
    let Some(netns) = std::env::args().nth(1) else {
        eprintln!("{USAGE}");
        std::process::exit(2)
    };
    let queue_num: u16 = arg(2, 0, USAGE);
    let count: u64 = arg(3, 0, USAGE);
    let seconds: u64 = arg(4, 0, USAGE);

    // `netns(NAME)` means the namespace file /run/netns/NAME, as `ip netns add NAME` makes it.
    let mut queue = Queue::open(Config::new(queue_num).netns(&netns))?;
    eprintln!(
        "queue {queue_num} bound inside namespace {netns} (port id {})",
        queue.portid()
    );
    // The kernel's queue table is per namespace too: this process's own namespace does not
    // list the queue (unless something else there binds the same number).
    match QueueStats::read_queue(queue_num) {
        Ok(None) => eprintln!("as expected, this namespace's queue table has no queue {queue_num}"),
        Ok(Some(row)) => eprintln!("this namespace has its own queue {queue_num}: {row:?}"),
        Err(e) => eprintln!("cannot read this namespace's queue table: {e}"),
    }
    stop_after(queue.stop_handle(), seconds);

    let mut accepted = 0u64;
    while count == 0 || accepted < count {
        let packet = match queue.recv() {
            Ok(packet) => packet,
            Err(e) if e.kind() == ErrorKind::Closed => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e),
        };
        println!(
            "packet {} from namespace {netns}: hook {}, {} bytes",
            packet.id(),
            packet.hook().name(),
            packet.payload().map_or(0, <[u8]>::len)
        );
        packet.accept()?;
        accepted += 1;
    }
    println!("accepted {accepted}");
    queue.close()
}
