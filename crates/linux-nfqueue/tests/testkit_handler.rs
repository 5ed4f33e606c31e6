// SPDX-License-Identifier: MIT OR Apache-2.0
//! A handler test written the way a user of the library would write one for their own
//! firewall: a sandbox, a queue rule, the handler bound to the queue inside the sandbox, real
//! traffic, and one expectation built from the kernel's own counters.

use std::net::SocketAddr;
use std::time::Duration;

use linux_nfqueue::testkit::{Chain, Expectation, QueueRule, Sandbox};
use linux_nfqueue::{Config, Packet, Queue};

const T: Duration = Duration::from_secs(10);

/// The handler under test: drops UDP datagrams whose sequence number (the first 8 payload
/// bytes, as `send_udp` writes them) is odd, accepts everything else.
fn drop_odd(packet: Packet<'_>) {
    let view = packet.view();
    let odd = view.payload().is_some_and(|ip| {
        let header = usize::from(ip.first().copied().unwrap_or(0) & 0x0f) * 4;
        let seq = ip.get(header + 8..header + 16);
        seq.is_some_and(|s| s[7] & 1 == 1)
    });
    let _ = if odd { packet.drop() } else { packet.accept() };
}

#[test]
fn handler_drops_odd_datagrams() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let dst: SocketAddr = "127.0.0.1:7777".parse().unwrap();
    let rule = sb
        .install(&QueueRule::new(Chain::Output, 5).udp().dport(7777))
        .unwrap();

    // The queue's socket is created inside the sandbox (Config::netns); the loop runs here.
    let mut queue = Queue::open(Config::new(5).netns(sb.name())).unwrap();
    let stop = queue.stop_handle();
    let worker = std::thread::spawn(move || queue.run(drop_odd));
    assert!(sb.wait_for_queue_bound(5, T));

    let mut sink = sb.udp_sink(dst).unwrap();
    let sent = sb.send_udp(dst, 40, 64, T).unwrap();
    assert_eq!(sent.sent, 40);
    sink.wait_for(20, T).unwrap();
    sink.collect_for(Duration::from_millis(200)).unwrap();

    Expectation::new()
        .delivered(sink.report(), 20)
        .no_duplicates(sink.report())
        .rule_packets(&rule, 40)
        .queue_bound(5)
        .id_sequence(5, 40)
        .waiting(5, 0)
        .queue_dropped(5, 0)
        .user_dropped(5, 0)
        .assert(&sb);

    stop.stop();
    worker.join().unwrap().unwrap();
    Expectation::new()
        .queue_unbound(5)
        .check_within(&sb, T)
        .unwrap();
}
