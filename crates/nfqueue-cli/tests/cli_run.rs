// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of `nfqueue run` as a process inside a network namespace: the README's seed
//! example, each verdict option, the JSON and pcap outputs, unbatched verdicts, a balanced
//! range of queues and `--netns` from outside the namespace.

mod cli_support;

use std::collections::{BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;

use cli_support::{QUIET, WAIT, run_in, start, start_in, v4};
use linux_nfqueue::testkit::{Chain, CountRule, QueueRule, Sandbox};
use serde_json::Value;

/// The queue is gone from the sandbox's kernel table.
fn assert_unbound(sb: &Sandbox, queue: u16) {
    let row = sb
        .queue_counters(queue)
        .expect("read the kernel's queue table");
    assert_eq!(row, None, "kernel: queue {queue} is still bound");
}

/// The README's first example: ICMP on OUTPUT to queue 100, `nfqueue run -q 100 --count 4`
/// while pinging twice (on `lo` the request and the reply both pass OUTPUT).
#[test]
fn seed_example_icmp_to_queue_100() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.iptables(&[
        "-A",
        "OUTPUT",
        "-p",
        "icmp",
        "-j",
        "NFQUEUE",
        "--queue-num",
        "100",
    ])
    .expect("add the ICMP queue rule");
    let mut proc = start_in(&sb, &["run", "-q", "100", "--count", "4"]);
    proc.wait_bound(&sb, 100);
    let ping = sb
        .ping(IpAddr::V4(Ipv4Addr::LOCALHOST), 2, WAIT)
        .expect("ping");
    let out = proc.finish(WAIT);
    out.assert_success();
    out.assert_no_panic();
    assert_eq!((ping.sent, ping.received), (2, 2), "ping: {ping:?}");

    let lines = out.lines();
    assert_eq!(lines.len(), 4, "one line per packet:\n{}", out.stdout);
    let mut ids = BTreeSet::new();
    for line in &lines {
        // #1 q100 output ipv4 icmp 127.0.0.1 > 127.0.0.1 len 44 mark 0 -> accept
        let id: u32 = line
            .strip_prefix('#')
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no packet id at the start: {line}"));
        ids.insert(id);
        // An echo of 24 bytes in a 20-byte IPv4 header.
        assert!(
            line.contains(" q100 output ipv4 icmp 127.0.0.1 > 127.0.0.1 len 44 "),
            "{line}"
        );
        assert!(line.ends_with(" -> accept"), "{line}");
    }
    assert_eq!(ids, (1..=4).collect(), "ids: {lines:?}");
    assert!(
        out.summary().starts_with("4 packets judged"),
        "{}",
        out.stderr
    );
    assert_unbound(&sb, 100);
}

/// `--verdict drop`: the queue rule sees every datagram sent, nothing is delivered.
#[test]
fn verdict_drop_delivers_nothing() {
    const N: u64 = 5;
    const PORT: u16 = 9101;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = sb
        .install(&QueueRule::new(Chain::Output, 101).udp().dport(PORT))
        .expect("install the queue rule");
    let arrived = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(PORT))
        .expect("install the counting rule");
    let mut sink = sb.udp_sink(v4(PORT)).expect("bind the receiver");
    let mut proc = start_in(
        &sb,
        &["run", "-q", "101", "--verdict", "drop", "--count", "5"],
    );
    proc.wait_bound(&sb, 101);
    let sent = sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let out = proc.finish(WAIT);
    out.assert_success();
    sink.collect_for(QUIET).expect("receive");

    assert_eq!(sent.sent + sent.refused, N, "{sent:?}");
    assert_eq!(sink.report().datagrams, 0, "a dropped datagram arrived");
    assert_eq!(queued.packets().unwrap(), N, "kernel: the queue rule");
    assert_eq!(
        arrived.packets().unwrap(),
        0,
        "kernel: packets reaching INPUT"
    );
    let lines = out.lines();
    assert_eq!(lines.len() as u64, N, "{}", out.stdout);
    assert!(lines.iter().all(|l| l.ends_with(" -> drop")), "{lines:?}");
    assert!(out.summary().starts_with("5 packets judged"));
    assert_unbound(&sb, 101);
}

/// `--mark 0x2a`: a counting rule on INPUT matching mark 0x2a sees every packet.
#[test]
fn mark_is_set_on_every_packet() {
    const N: u64 = 6;
    const PORT: u16 = 9102;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 102).udp().dport(PORT))
        .expect("install the queue rule");
    let marked = sb
        .install_count(&CountRule::new(Chain::Input).udp().dport(PORT).mark(0x2a))
        .expect("install the mark counting rule");
    let mut sink = sb.udp_sink(v4(PORT)).expect("bind the receiver");
    let mut proc = start_in(&sb, &["run", "-q", "102", "--mark", "0x2a", "--count", "6"]);
    proc.wait_bound(&sb, 102);
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let out = proc.finish(WAIT);
    out.assert_success();
    sink.wait_for(N, WAIT).expect("receive");

    assert_eq!(sink.report().distinct, N, "{:?}", sink.report());
    assert_eq!(
        marked.packets().unwrap(),
        N,
        "kernel: packets with mark 0x2a on INPUT"
    );
    // The line shows the mark the packet had when it was queued.
    assert!(
        out.lines().iter().all(|l| l.contains(" mark 0 -> accept")),
        "{}",
        out.stdout
    );
}

/// The JSON contract's field order.
const ORDER: [&str; 18] = [
    "id", "queue", "hook", "family", "len", "cap_len", "mark", "uid", "gid", "indev", "outdev",
    "src", "dst", "proto", "sport", "dport", "gso", "verdict",
];

/// Parses one JSON line, checks that its keys come in contract order, and returns it.
fn parse_json_line(line: &str) -> serde_json::Map<String, Value> {
    let value: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let Value::Object(map) = value else {
        panic!("not a JSON object: {line}");
    };
    // serde_json's map is sorted by key; the order on the line comes from the positions.
    let mut placed: Vec<(usize, usize, &str)> = map
        .keys()
        .map(|key| {
            let rank = ORDER
                .iter()
                .position(|k| k == key)
                .unwrap_or_else(|| panic!("unknown field {key:?}: {line}"));
            let at = line
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key:?} not found: {line}"));
            (at, rank, key.as_str())
        })
        .collect();
    placed.sort_unstable();
    for pair in placed.windows(2) {
        assert!(
            pair[0].1 < pair[1].1,
            "{:?} comes after {:?} against the contract order: {line}",
            pair[1].2,
            pair[0].2
        );
    }
    map
}

/// Asserts that `obj` has exactly the fields `want`.
fn assert_fields(obj: &serde_json::Map<String, Value>, want: &[&str], what: &str) {
    let got: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = want.iter().copied().collect();
    assert_eq!(got, want, "{what}: fields of {obj:?}");
}

fn sends_one(sb: &Sandbox, dst: SocketAddr, len: usize) {
    let r = sb.send_udp(dst, 1, len, WAIT).expect("send");
    assert_eq!(r.sent, 1, "send to {dst}: {r:?}");
}

/// `--json --uid-gid`: four packets that differ in what the kernel sends (OUTPUT without a
/// mark, OUTPUT with a mark from a mangle rule, INPUT, IPv6), each checked field by field.
#[test]
fn json_fields_present_exactly_when_the_kernel_sent_them() {
    const Q: &str = "110";
    const PLAIN: u16 = 9201;
    const MARKED: u16 = 9202;
    const INPUT: u16 = 9203;
    const SIX: u16 = 9204;
    const PAYLOAD: usize = 40;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    // mangle OUTPUT runs before filter OUTPUT: the packet is queued with mark 7.
    sb.mark_udp_output(MARKED, 7)
        .expect("add the mangle MARK rule");
    for port in [PLAIN, MARKED] {
        sb.install(&QueueRule::new(Chain::Output, 110).udp().dport(port))
            .expect("install an OUTPUT queue rule");
    }
    sb.install(&QueueRule::new(Chain::Input, 110).udp().dport(INPUT))
        .expect("install the INPUT queue rule");
    sb.install(&QueueRule::new(Chain::Output, 110).ipv6().udp().dport(SIX))
        .expect("install the IPv6 queue rule");
    let six = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), SIX);

    let mut proc = start_in(
        &sb,
        &["run", "-q", Q, "--json", "--uid-gid", "--count", "4"],
    );
    proc.wait_bound(&sb, 110);
    for dst in [v4(PLAIN), v4(MARKED), v4(INPUT), six] {
        sends_one(&sb, dst, PAYLOAD);
    }
    let out = proc.finish(WAIT);
    out.assert_success();
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    let objs: Vec<_> = lines.iter().map(|l| parse_json_line(l)).collect();
    let by_port = |port: u16| {
        objs.iter()
            .find(|o| o["dport"] == port)
            .unwrap_or_else(|| panic!("no line for port {port}: {objs:?}"))
    };
    let ids: HashSet<u64> = objs.iter().map(|o| o["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 4, "ids are distinct: {objs:?}");

    let v4_len = (20 + 8 + PAYLOAD) as u64;
    let output_fields = [
        "id", "queue", "hook", "family", "len", "uid", "gid", "outdev", "src", "dst", "proto",
        "sport", "dport", "gso", "verdict",
    ];
    let plain = by_port(PLAIN);
    assert_fields(plain, &output_fields, "OUTPUT, no mark");
    assert_eq!(plain["queue"], 110);
    assert_eq!(plain["hook"], "output");
    assert_eq!(plain["family"], "ipv4");
    assert_eq!(plain["len"], v4_len);
    assert_eq!(plain["uid"], 0, "the sender runs as root");
    assert_eq!(plain["gid"], 0);
    assert_eq!(plain["outdev"], 1, "lo is interface 1 in a new namespace");
    assert_eq!(plain["src"], "127.0.0.1");
    assert_eq!(plain["dst"], "127.0.0.1");
    assert_eq!(plain["proto"], "udp");
    assert!(plain["sport"].as_u64().is_some_and(|p| p > 0), "{plain:?}");
    assert_eq!(plain["gso"], false);
    assert_eq!(plain["verdict"], "accept");

    let marked = by_port(MARKED);
    let mut with_mark = output_fields.to_vec();
    with_mark.push("mark");
    assert_fields(marked, &with_mark, "OUTPUT, mark 7");
    assert_eq!(marked["mark"], 7);

    // On INPUT the packet has come in on lo and no longer belongs to the sending socket.
    let input = by_port(INPUT);
    assert_fields(
        input,
        &[
            "id", "queue", "hook", "family", "len", "indev", "src", "dst", "proto", "sport",
            "dport", "gso", "verdict",
        ],
        "INPUT",
    );
    assert_eq!(input["hook"], "input");
    assert_eq!(input["indev"], 1);

    let v6 = by_port(SIX);
    assert_fields(v6, &output_fields, "IPv6 OUTPUT");
    assert_eq!(v6["family"], "ipv6");
    assert_eq!(v6["len"], (40 + 8 + PAYLOAD) as u64);
    assert_eq!(v6["src"], "::1");
    assert_eq!(v6["dst"], "::1");
    assert_eq!(v6["proto"], "udp");
}

/// `--json --copy-range 20 --verdict drop`: only the IPv4 header is copied, so `cap_len` gives
/// the real length, the ports are unknown, and without `--uid-gid` there is no uid or gid.
#[test]
fn json_truncated_packet_has_cap_len_and_no_ports() {
    const PORT: u16 = 9205;
    const PAYLOAD: usize = 100;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 111).udp().dport(PORT))
        .expect("install the queue rule");
    let mut proc = start_in(
        &sb,
        &[
            "run",
            "-q",
            "111",
            "--json",
            "--copy-range",
            "20",
            "--verdict",
            "drop",
            "--count",
            "1",
        ],
    );
    proc.wait_bound(&sb, 111);
    sends_one(&sb, v4(PORT), PAYLOAD);
    let out = proc.finish(WAIT);
    out.assert_success();
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    let obj = parse_json_line(lines[0]);
    assert_fields(
        &obj,
        &[
            "id", "queue", "hook", "family", "len", "cap_len", "outdev", "src", "dst", "proto",
            "gso", "verdict",
        ],
        "truncated",
    );
    assert_eq!(obj["len"], 20, "copy range");
    assert_eq!(obj["cap_len"], (20 + 8 + PAYLOAD) as u64, "original length");
    assert_eq!(obj["proto"], "udp", "the protocol is in the IPv4 header");
    assert_eq!(obj["verdict"], "drop");
}

/// A scratch file path unique to this process and `tag`, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("nfqueue-cli-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `--pcap FILE --quiet`: tcpdump reads the file and finds every packet, with its addresses
/// and length; the file is classic pcap with link type RAW (101).
#[test]
fn pcap_file_is_readable_by_tcpdump() {
    const N: usize = 6;
    const PORT: u16 = 9301;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let file = TempPath::new("capture.pcap");
    let path = file.0.to_str().expect("a UTF-8 temp path").to_owned();
    sb.install(&QueueRule::new(Chain::Output, 112).udp().dport(PORT))
        .expect("install the queue rule");
    let mut proc = start_in(
        &sb,
        &[
            "run", "-q", "112", "--quiet", "--pcap", &path, "--count", "6",
        ],
    );
    proc.wait_bound(&sb, 112);
    sb.send_udp(v4(PORT), N as u64, 50, WAIT).expect("send");
    let out = proc.finish(WAIT);
    out.assert_success();
    assert!(out.stdout.is_empty(), "--quiet printed: {}", out.stdout);
    assert!(out.summary().starts_with("6 packets judged"));

    let bytes = std::fs::read(&file.0).expect("the capture file exists");
    assert!(bytes.len() >= 24, "no pcap header");
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    assert!(
        magic == 0xa1b2_c3d4 || magic == 0xd4c3_b2a1,
        "not a classic pcap file: magic {magic:#x}"
    );
    let link = if magic == 0xa1b2_c3d4 {
        u32::from_le_bytes(bytes[20..24].try_into().unwrap())
    } else {
        u32::from_be_bytes(bytes[20..24].try_into().unwrap())
    };
    assert_eq!(link, 101, "link type RAW");

    let dump = Command::new("tcpdump")
        .args(["-r", &path, "-nn"])
        .output()
        .expect("tcpdump runs (scripts/install-deps installs it)");
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.status.success(),
        "tcpdump failed: {}\n{text}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let packets: Vec<&str> = text.lines().collect();
    assert_eq!(packets.len(), N, "tcpdump lines:\n{text}");
    for line in packets {
        assert!(
            line.contains(&format!("> 127.0.0.1.{PORT}: UDP, length 50")),
            "{line}"
        );
    }
}

/// `--no-batch`: each verdict in its own send; the count is still exact and every packet
/// arrives.
#[test]
fn no_batch_judges_the_exact_count() {
    const N: u64 = 7;
    const PORT: u16 = 9103;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = sb
        .install(&QueueRule::new(Chain::Output, 103).udp().dport(PORT))
        .expect("install the queue rule");
    let mut sink = sb.udp_sink(v4(PORT)).expect("bind the receiver");
    let mut proc = start_in(&sb, &["run", "-q", "103", "--no-batch", "--count", "7"]);
    proc.wait_bound(&sb, 103);
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let out = proc.finish(WAIT);
    out.assert_success();
    sink.wait_for(N, WAIT).expect("receive");
    sink.collect_for(QUIET).expect("receive");
    let got = sink.report();
    assert_eq!((got.distinct, got.duplicates), (N, 0), "{got:?}");
    assert_eq!(out.lines().len() as u64, N, "{}", out.stdout);
    assert!(
        out.summary().starts_with("7 packets judged"),
        "{}",
        out.stderr
    );
    assert_eq!(queued.packets().unwrap(), N, "kernel: the queue rule");
    assert_unbound(&sb, 103);
}

/// `-q 3-4` behind a `--queue-balance 3:4` rule: flows from sixteen source addresses spread
/// over both queues, both workers judge, and the summary counts each queue.
#[test]
fn queue_range_serves_a_balanced_rule() {
    const SOURCES: u8 = 16;
    const PER_SOURCE: u64 = 5;
    const N: u64 = SOURCES as u64 * PER_SOURCE;
    const PORT: u16 = 9401;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = sb
        .install(&QueueRule::balance(Chain::Output, 3, 4).udp().dport(PORT))
        .expect("install the --queue-balance 3:4 rule");
    let mut sink = sb.udp_sink(v4(PORT)).expect("bind the receiver");
    let count = N.to_string();
    let mut proc = start_in(&sb, &["run", "-q", "3-4", "--quiet", "--count", &count]);
    proc.wait_bound(&sb, 3);
    proc.wait_bound(&sb, 4);
    sb.run(|| {
        // The balance hash covers addresses, not ports: one source address is one flow.
        for i in 0..SOURCES {
            let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)), 0);
            let socket = UdpSocket::bind(src).expect("bind a sender");
            for _ in 0..PER_SOURCE {
                socket.send_to(&[0u8; 16], v4(PORT)).expect("send");
            }
        }
    });
    let out = proc.finish(WAIT);
    out.assert_success();
    sink.wait_for(N, WAIT).expect("receive");
    assert_eq!(sink.report().datagrams, N);
    assert_eq!(queued.packets().unwrap(), N, "kernel: the balance rule");
    assert_eq!(out.judged(), N, "{}", out.summary());

    // "80 packets judged in 0.1 s [q3 41, q4 39]"
    let summary = out.summary();
    let per_queue = summary
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(inside, _)| inside)
        .unwrap_or_else(|| panic!("no per-queue part in the summary: {summary}"));
    let mut total = 0;
    for (part, q) in per_queue.split(", ").zip(["q3", "q4"]) {
        let (name, n) = part.split_once(' ').unwrap_or_else(|| panic!("{summary}"));
        assert_eq!(name, q, "{summary}");
        let n: u64 = n.parse().unwrap_or_else(|_| panic!("{summary}"));
        assert!(n > 0, "queue {q} judged nothing: {summary}");
        total += n;
    }
    assert_eq!(total, N, "{summary}");
    assert_unbound(&sb, 3);
    assert_unbound(&sb, 4);
}

/// `--netns NAME` from a process outside the namespace serves the namespace's queue.
#[test]
fn netns_option_serves_the_namespace_from_outside() {
    const N: u64 = 3;
    const PORT: u16 = 9104;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 104).udp().dport(PORT))
        .expect("install the queue rule");
    let mut sink = sb.udp_sink(v4(PORT)).expect("bind the receiver");
    let mut cmd = Command::new(cli_support::BIN);
    cmd.args(["run", "-q", "104", "--netns", sb.name(), "--count", "3"]);
    let mut proc = start(cmd);
    proc.wait_bound(&sb, 104);
    sb.send_udp(v4(PORT), N, 32, WAIT).expect("send");
    let out = proc.finish(WAIT);
    out.assert_success();
    sink.wait_for(N, WAIT).expect("receive");
    assert_eq!(sink.report().distinct, N);
    assert_eq!(out.lines().len() as u64, N, "{}", out.stdout);
    assert!(out.lines().iter().all(|l| l.contains(" q104 output ")));
    assert_unbound(&sb, 104);
}

/// A runtime failure inside the namespace (a capture file that cannot be created) exits 1 with
/// one error line and binds nothing.
#[test]
fn unwritable_capture_file_is_a_runtime_error() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let out = run_in(
        &sb,
        &["run", "-q", "105", "--pcap", "/nonexistent-dir/x.pcap"],
    );
    assert_eq!(out.code(), 1, "{out:?}");
    out.assert_no_panic();
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("nfqueue: error: cannot create the capture file"),
        "{}",
        lines[0]
    );
    assert_unbound(&sb, 105);
}

/// A `--timeout` too long to add to the clock (10^19 s, past what `Instant` can hold) means
/// "no time limit", not a crash: the run ends by `--count` with status 0.
#[test]
fn huge_timeout_is_no_limit_not_a_crash() {
    const PORT: u16 = 9105;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    sb.install(&QueueRule::new(Chain::Output, 106).udp().dport(PORT))
        .expect("install the queue rule");
    let mut proc = start_in(
        &sb,
        &[
            "run",
            "-q",
            "106",
            "--timeout",
            "10000000000000000000",
            "--count",
            "1",
        ],
    );
    proc.wait_bound(&sb, 106);
    sb.send_udp(v4(PORT), 1, 16, WAIT).expect("send");
    let out = proc.finish(WAIT);
    out.assert_no_panic();
    out.assert_success();
    assert!(
        out.summary().starts_with("1 packets judged"),
        "{}",
        out.stderr
    );
}
