// SPDX-License-Identifier: MIT OR Apache-2.0
//! Changing a bound queue at run time (flags) and marks that keep other software's bits.

use std::net::SocketAddr;
use std::time::Duration;

use linux_nfqueue::testkit::{Chain, CountRule, QueueRule, Sandbox};
use linux_nfqueue::{Config, ConfigFlags, Queue, Verdict, VerdictAttrs};

const T: Duration = Duration::from_secs(5);

#[test]
fn flags_can_be_switched_on_and_off_after_binding() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 12).udp().dport(9999))
        .unwrap();
    let dst: SocketAddr = "127.0.0.1:9999".parse().unwrap();
    let mut queue = Queue::open(Config::new(12).netns_path(sb.netns_path())).unwrap();
    let uid_of_next = |queue: &mut Queue| {
        sb.send_udp(dst, 1, 8, T).unwrap();
        let packet = queue.recv().unwrap();
        let uid = packet.uid();
        packet.accept().unwrap();
        uid
    };
    assert_eq!(uid_of_next(&mut queue), None, "UID_GID is off at bind");
    queue.set_flags(12, ConfigFlags::UID_GID, true).unwrap();
    assert_eq!(uid_of_next(&mut queue), Some(0), "UID_GID switched on");
    assert!(queue.granted_flags()[0].1.contains(ConfigFlags::UID_GID));
    queue.set_flags(12, ConfigFlags::UID_GID, false).unwrap();
    assert_eq!(uid_of_next(&mut queue), None, "UID_GID switched off");
    assert!(!queue.granted_flags()[0].1.contains(ConfigFlags::UID_GID));
}

#[test]
fn merged_mark_keeps_the_bits_other_rules_set() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    // Another piece of software marks the packet with 0xf0 before it reaches the queue.
    sb.mark_udp_output(9999, 0xf0).unwrap();
    sb.install(&QueueRule::new(Chain::Output, 13).udp().dport(9999))
        .unwrap();
    let both = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(9999).mark(0xf1))
        .unwrap();
    let dst: SocketAddr = "127.0.0.1:9999".parse().unwrap();
    let mut queue = Queue::open(Config::new(13).netns_path(sb.netns_path())).unwrap();
    sb.send_udp(dst, 3, 8, T).unwrap();
    for _ in 0..3 {
        let packet = queue.recv().unwrap();
        assert_eq!(packet.mark(), Some(0xf0));
        let mark = packet.merged_mark(0x1, 0xf);
        assert_eq!(mark, 0xf1);
        packet
            .verdict_with(Verdict::Accept, &VerdictAttrs::new().with_mark(mark))
            .unwrap();
    }
    queue.flush().unwrap();
    assert_eq!(
        both.packets().unwrap(),
        3,
        "kernel: packets with both marks"
    );
}
