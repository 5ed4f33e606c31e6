// SPDX-License-Identifier: MIT OR Apache-2.0
//! Queue rules without a listener (bypass versus blackhole), counting rules, both backends'
//! counters, and the kernel's queue counters from /proc.

use std::net::SocketAddr;
use std::time::Duration;

use linux_nfqueue::testkit::{
    Chain, CountRule, Expectation, Protocol, QueueRule, RuleBackend, Sandbox,
};

const T: Duration = Duration::from_secs(5);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// `--queue-bypass` with nobody bound: every packet is accepted, and the rule counted each one.
#[test]
fn bypass_without_listener_lets_udp_through() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let rule = sb
        .install(&QueueRule::new(Chain::Output, 5).udp().dport(9999).bypass())
        .unwrap();
    let delivered = sb.count_rule(Chain::Input, Protocol::Udp, 9999).unwrap();
    let mut sink = sb.udp_sink(addr("127.0.0.1:9999")).unwrap();
    let sent = sb.send_udp(addr("127.0.0.1:9999"), 50, 64, T).unwrap();
    assert_eq!(sent.sent, 50);
    assert!(sink.wait_for(50, T).unwrap());
    sink.collect_for(Duration::from_millis(100)).unwrap();
    Expectation::new()
        .delivered(sink.report(), 50)
        .value("distinct datagrams", sink.report().distinct, 50)
        .no_duplicates(sink.report())
        .rule_packets(&rule, 50)
        .rule_bytes(&rule, 50 * (20 + 8 + 64))
        .rule_packets(&delivered, 50)
        .queue_unbound(5)
        .assert(&sb);
}

/// Without bypass and with nobody bound, the queue is a blackhole: the rule sees every packet,
/// nothing arrives, and the sender is not told.
#[test]
fn no_bypass_without_listener_drops_everything() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let rule = sb
        .install(&QueueRule::new(Chain::Output, 6).udp().dport(9998))
        .unwrap();
    let mut sink = sb.udp_sink(addr("127.0.0.1:9998")).unwrap();
    let sent = sb.send_udp(addr("127.0.0.1:9998"), 20, 32, T).unwrap();
    assert_eq!((sent.sent, sent.refused), (20, 0));
    sink.collect_for(Duration::from_millis(300)).unwrap();
    Expectation::new()
        .delivered(sink.report(), 0)
        .rule_packets(&rule, 20)
        .queue_unbound(6)
        .assert(&sb);
}

/// A mismatch report names every failed expectation.
#[test]
fn failed_expectations_are_all_named() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let rule = sb.count_rule(Chain::Output, Protocol::Udp, 9).unwrap();
    let err = Expectation::new()
        .rule_packets(&rule, 1)
        .queue_bound(3)
        .waiting(3, 0)
        .value("answer", 41, 42)
        .check(&sb)
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.failures().len(), 4, "{text}");
    assert!(
        text.contains(&format!(
            "rule {} packets: expected 1, got 0",
            rule.comment()
        )),
        "{text}"
    );
    assert!(text.contains("queue 3: expected bound"), "{text}");
    assert!(
        text.contains("queue 3 waiting: expected 0, but the queue is not bound"),
        "{text}"
    );
    assert!(text.contains("answer: expected 42, got 41"), "{text}");
}

/// Balance ranges, marks, mangle and IPv6 rules load, list their counters, and can be deleted.
#[test]
fn rule_shapes_load_and_count() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let shapes = [
        QueueRule::balance(Chain::Output, 10, 13)
            .udp()
            .dport(7000)
            .bypass(),
        QueueRule::balance(Chain::Output, 10, 13)
            .tcp()
            .sport(7001)
            .cpu_fanout()
            .bypass(),
        QueueRule::new(Chain::Input, 2).skip_if_mark(0x77).bypass(),
        QueueRule::new(Chain::PreRouting, 3)
            .table(linux_nfqueue::testkit::Table::Mangle)
            .bypass(),
        QueueRule::new(Chain::Output, 4)
            .ipv6()
            .protocol(Protocol::Icmpv6)
            .bypass(),
    ];
    for shape in &shapes {
        let rule = sb.install(shape).unwrap();
        assert_eq!(rule.packets().unwrap(), 0, "{shape:?}");
        rule.delete().unwrap();
    }
    assert!(
        sb.install(&QueueRule::new(Chain::Output, 1).dport(5))
            .is_err()
    );
    let listing = sb.iptables(&["-S"]).unwrap();
    assert!(
        !listing.contains("NFQUEUE"),
        "every rule was deleted:\n{listing}"
    );
}

/// A counting rule with a mark only counts marked packets (marks set by a mangle MARK rule).
#[test]
fn count_rule_with_mark() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.mark_udp_output(9101, 0x77).unwrap();
    let marked = sb
        .install_count(&CountRule::new(Chain::Input).udp().mark(0x77))
        .unwrap();
    let all = sb
        .install_count(&CountRule::new(Chain::Input).udp())
        .unwrap();
    let mut a = sb.udp_sink(addr("127.0.0.1:9101")).unwrap();
    let mut b = sb.udp_sink(addr("127.0.0.1:9102")).unwrap();
    sb.send_udp(addr("127.0.0.1:9101"), 3, 8, T).unwrap();
    sb.send_udp(addr("127.0.0.1:9102"), 4, 8, T).unwrap();
    assert!(a.wait_for(3, T).unwrap() && b.wait_for(4, T).unwrap());
    Expectation::new()
        .rule_packets(&marked, 3)
        .rule_packets(&all, 7)
        .assert(&sb);
}

/// The nft backend's counters work here even though this kernel may lack the nft queue
/// statement: counting rules need only nft's counter.
#[test]
fn nft_backend_counting_rules() {
    let Some(mut sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.set_rule_backend(RuleBackend::Nft);
    let rule = sb
        .install_count(&CountRule::new(Chain::Output).udp().dport(9200))
        .unwrap();
    let v6 = sb
        .install_count(&CountRule::new(Chain::Input).ipv6().udp().dport(9200))
        .unwrap();
    assert_eq!(rule.backend(), RuleBackend::Nft);
    let mut sink = sb.udp_sink(addr("127.0.0.1:9200")).unwrap();
    let mut sink6 = sb.udp_sink(addr("[::1]:9200")).unwrap();
    sb.send_udp(addr("127.0.0.1:9200"), 5, 10, T).unwrap();
    sb.send_udp(addr("[::1]:9200"), 2, 10, T).unwrap();
    assert!(sink.wait_for(5, T).unwrap() && sink6.wait_for(2, T).unwrap());
    Expectation::new()
        .rule_packets(&rule, 5)
        .rule_bytes(&rule, 5 * (20 + 8 + 10))
        .rule_packets(&v6, 2)
        .assert(&sb);
    rule.delete().unwrap();
    let listing = sb.sh("nft list table inet nfqtk").unwrap();
    assert!(
        listing.contains("dport 9200") && listing.matches("counter").count() == 1,
        "{listing}"
    );
}

/// The nft queue rule text is valid nft syntax: where the kernel lacks nft_queue, loading it
/// fails in the kernel ("No such file or directory"), not in the parser.
#[test]
fn nft_queue_rules_are_valid_syntax() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let rule = QueueRule::balance(Chain::Output, 2, 5)
        .udp()
        .dport(1)
        .cpu_fanout()
        .bypass();
    let script = format!(
        "add table inet t\nadd chain inet t c {{ type filter hook output priority 0; }}\n\
         add rule inet t c {}\n",
        rule.nft_rule("x")
    );
    match sb.nft(&script) {
        Ok(_) => assert_eq!(RuleBackend::detect(), RuleBackend::Nft),
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains("syntax error"), "{text}");
            assert!(text.contains("No such file or directory"), "{text}");
            assert_eq!(RuleBackend::detect(), RuleBackend::Iptables);
        }
    }
}
