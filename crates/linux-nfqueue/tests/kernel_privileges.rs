// SPDX-License-Identifier: MIT OR Apache-2.0
//! Dropping to an unprivileged user while keeping CAP_NET_ADMIN: the queue keeps working, and
//! the process holds no other capability.
//!
//! Changing the process's user is irreversible, so the work happens in a child copy of this
//! test binary (selected by an environment variable) that runs only the child function.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use linux_nfqueue::privileges::{self, CAP_NET_ADMIN, Capabilities};
use linux_nfqueue::testkit::{Chain, CountRule, QueueRule, Sandbox};
use linux_nfqueue::{Config, Queue};

const CHILD: &str = "NFQUEUE_PRIVILEGES_CHILD";
const NOBODY: u32 = 65534;
const PACKETS: u64 = 20;

#[test]
fn queue_keeps_working_after_dropping_to_nobody() {
    if let Some(netns) = std::env::var_os(CHILD) {
        child(netns.to_str().expect("netns path"));
        return;
    }
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 6).udp().dport(9999))
        .unwrap();
    let delivered = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(9999).mark(0x55))
        .unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "queue_keeps_working_after_dropping_to_nobody",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, sb.netns_path())
        .spawn()
        .unwrap();
    assert!(
        sb.wait_for_queue_bound(6, Duration::from_secs(10)),
        "the child never bound queue 6"
    );
    let dst: SocketAddr = "127.0.0.1:9999".parse().unwrap();
    let mut sink = sb.udp_sink(dst).unwrap();
    // The child drops privileges right after binding; give it a moment, then send.
    std::thread::sleep(Duration::from_millis(200));
    sb.send_udp(dst, PACKETS, 16, Duration::from_secs(5))
        .unwrap();
    assert!(sink.wait_for(PACKETS, Duration::from_secs(10)).unwrap());
    let status = child.wait().unwrap();
    assert!(status.success(), "the child failed: {status}");
    assert_eq!(sink.report().datagrams, PACKETS);
    // Every packet crossed the queue after the switch and carries the child's mark.
    assert_eq!(delivered.packets().unwrap(), PACKETS);
}

/// Binds, drops to nobody with CAP_NET_ADMIN only, checks the result, then judges packets.
/// Capabilities are per thread: this thread keeps CAP_NET_ADMIN, so its own status is read.
fn child(netns: &str) {
    let mut queue = Queue::open(Config::new(6).netns_path(netns)).expect("bind as root");
    privileges::drop_to_user(NOBODY, NOBODY).expect("drop privileges");
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert!(field("Uid:").starts_with("65534"), "uid: {}", field("Uid:"));
    assert!(field("Gid:").starts_with("65534"), "gid: {}", field("Gid:"));
    assert_eq!(field("Groups:"), "", "supplementary groups remain");
    let only_net_admin = format!("{:016x}", 1u64 << CAP_NET_ADMIN);
    assert_eq!(field("CapEff:"), only_net_admin, "effective set");
    assert_eq!(field("CapPrm:"), only_net_admin, "permitted set");
    assert_eq!(field("CapBnd:"), only_net_admin, "bounding set");
    assert_eq!(field("CapAmb:"), format!("{:016x}", 0), "ambient set");
    let caps = Capabilities::current().unwrap();
    assert!(caps.has(CAP_NET_ADMIN));
    for _ in 0..PACKETS {
        let packet = queue.recv().expect("receive after dropping privileges");
        packet
            .verdict_with(
                linux_nfqueue::Verdict::Accept,
                &linux_nfqueue::VerdictAttrs::new().with_mark(0x55),
            )
            .expect("verdict after dropping privileges");
    }
    queue.close().expect("unbind after dropping privileges");
}
