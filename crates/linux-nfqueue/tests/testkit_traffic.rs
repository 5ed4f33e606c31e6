// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bounded traffic inside a sandbox: TCP byte-exact, UDP over IPv6, ICMP echo over IPv4 and
//! IPv6, and two sandboxes joined by veth (directly and through a forwarding router).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use linux_nfqueue::testkit::{Chain, CountRule, Expectation, Protocol, QueueRule, Sandbox};

const T: Duration = Duration::from_secs(10);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn tcp_transfer_is_byte_exact() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    // Through a bypass queue rule too, so the traffic crosses the NFQUEUE target.
    let rule = sb
        .install(&QueueRule::new(Chain::Output, 8).tcp().dport(8888).bypass())
        .unwrap();
    let report = sb.tcp_transfer(addr("127.0.0.1:8888"), 4 << 20, T).unwrap();
    Expectation::new()
        .transfer_ok(&report)
        .rule_packets(&rule, 3..)
        .assert(&sb);
    assert_eq!(report.received.bytes, 4 << 20);
}

#[test]
fn tcp_transfer_over_ipv6() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let report = sb.tcp_transfer(addr("[::1]:0"), 1 << 20, T).unwrap();
    assert!(report.matches(), "{report:?}");
}

#[test]
fn udp_over_ipv6_through_a_bypass_rule() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let rule = sb
        .install(
            &QueueRule::new(Chain::Output, 9)
                .ipv6()
                .udp()
                .dport(9999)
                .bypass(),
        )
        .unwrap();
    let mut sink = sb.udp_sink(addr("[::1]:9999")).unwrap();
    sink.keep_payloads(2);
    sb.send_udp(addr("[::1]:9999"), 30, 200, T).unwrap();
    assert!(sink.wait_for(30, T).unwrap());
    let report = sink.into_report();
    Expectation::new()
        .delivered(&report, 30)
        .no_duplicates(&report)
        .rule_packets(&rule, 30)
        .rule_bytes(&rule, 30 * (40 + 8 + 200))
        .assert(&sb);
    assert_eq!(report.payloads.len(), 2);
    assert_eq!(&report.payloads[1][..8], &1u64.to_be_bytes());
}

/// On lo, both the echo request and the reply pass OUTPUT: one ping is two packets there.
#[test]
fn icmp_echo_over_both_families() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let v4 = sb
        .install_count(&CountRule::new(Chain::Output).protocol(Protocol::Icmp))
        .unwrap();
    let v6 = sb
        .install_count(
            &CountRule::new(Chain::Output)
                .ipv6()
                .protocol(Protocol::Icmpv6),
        )
        .unwrap();
    let p4 = sb.ping("127.0.0.1".parse().unwrap(), 3, T).unwrap();
    let p6 = sb.ping("::1".parse().unwrap(), 2, T).unwrap();
    Expectation::new()
        .ping_replies(&p4, 3)
        .ping_replies(&p6, 2)
        .rule_packets(&v4, 6)
        .rule_packets(&v6, 4..)
        .assert(&sb);
}

#[test]
fn two_sandboxes_joined_by_veth() {
    let Some(a) = Sandbox::new_or_skip() else {
        return;
    };
    let b = Sandbox::new().unwrap();
    let link = a.connect(&b).unwrap();
    let into_b = b
        .install_count(&CountRule::new(Chain::Input).udp().dport(5000))
        .unwrap();
    let mut sink = b
        .udp_sink(SocketAddr::new(IpAddr::V4(link.b_v4), 5000))
        .unwrap();
    let mut sink6 = b
        .udp_sink(SocketAddr::new(IpAddr::V6(link.b_v6), 5000))
        .unwrap();
    a.send_udp(SocketAddr::new(IpAddr::V4(link.b_v4), 5000), 10, 100, T)
        .unwrap();
    a.send_udp(SocketAddr::new(IpAddr::V6(link.b_v6), 5000), 5, 100, T)
        .unwrap();
    assert!(sink.wait_for(10, T).unwrap());
    assert!(sink6.wait_for(5, T).unwrap());
    let ping = b.ping(IpAddr::V4(link.a_v4), 2, T).unwrap();
    let tcp = a
        .try_run(|| {
            let server = b.tcp_receiver(SocketAddr::new(IpAddr::V4(link.b_v4), 0))?;
            let dst = server.local_addr()?;
            let served = server.start(T);
            let (sent, _) = linux_nfqueue::testkit::tcp_send(dst, 256 << 10, T)?;
            let (received, timed_out) = served.join().unwrap()?;
            Ok::<_, std::io::Error>((sent, received, timed_out))
        })
        .unwrap()
        .unwrap();
    assert_eq!(tcp.0, tcp.1);
    assert!(!tcp.2);
    Expectation::new()
        .delivered(sink.report(), 10)
        .delivered(sink6.report(), 5)
        .ping_replies(&ping, 2)
        .rule_packets(&into_b, 10)
        .assert(&b);
}

/// a -- r -- b, with r forwarding: a FORWARD queue rule with bypass in r sees every datagram,
/// and b gets them all.
#[test]
fn forwarding_through_a_router_sandbox() {
    let Some(a) = Sandbox::new_or_skip() else {
        return;
    };
    let r = Sandbox::new().unwrap();
    let b = Sandbox::new().unwrap();
    let left = a.connect(&r).unwrap();
    let right = r.connect(&b).unwrap();
    r.set_forwarding(true).unwrap();
    a.ip(&[
        "route",
        "add",
        &format!("{}/32", right.b_v4),
        "via",
        &left.b_v4.to_string(),
    ])
    .unwrap();
    b.ip(&[
        "route",
        "add",
        &format!("{}/32", left.a_v4),
        "via",
        &right.a_v4.to_string(),
    ])
    .unwrap();
    let fwd = r
        .install(&QueueRule::new(Chain::Forward, 1).udp().dport(6000).bypass())
        .unwrap();
    let dst = SocketAddr::new(IpAddr::V4(right.b_v4), 6000);
    let mut sink = b.udp_sink(dst).unwrap();
    a.send_udp(dst, 25, 300, T).unwrap();
    assert!(sink.wait_for(25, T).unwrap());
    Expectation::new()
        .delivered(sink.report(), 25)
        .rule_packets(&fwd, 25)
        .queue_unbound(1)
        .assert(&r);
}
