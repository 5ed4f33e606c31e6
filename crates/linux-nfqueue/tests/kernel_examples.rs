// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of the examples: each runnable example is built, started as a real process
//! inside a sandbox with the rules its header gives, fed bounded traffic, and judged by what
//! arrived, by the kernel's rule counters and queue table, and by the summary line it prints.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::{Sandbox, UdpSink, skip_or_panic};

/// The bound on every wait; each test normally ends far sooner.
const WAIT: Duration = Duration::from_secs(10);

/// The examples' own time limit (their `SECONDS` argument), a safety net behind `COUNT`.
const EXAMPLE_SECONDS: &str = "20";

/// How long a test listens to make sure that nothing more arrives.
const QUIET: Duration = Duration::from_millis(300);

const PORT: u16 = 9999;

// ---------------------------------------------------------------------------------------------
// Finding and running the example binaries

/// `target/<profile>` of this test binary (`target/<profile>/deps/kernel_examples-…`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// Builds every example once per test process (a no-op when `cargo test` built them already)
/// with the same profile and target directory as this test, and returns where they are.
fn examples_dir() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let profile = profile_dir();
        let target = profile.parent().expect("target directory").to_path_buf();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--examples", "-p", "linux-nfqueue"])
            .args(["--features", "tokio testkit"])
            .arg("--target-dir")
            .arg(&target);
        match profile.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
        }
        let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
        if out.status.success() {
            Ok(profile.join("examples"))
        } else {
            Err(format!(
                "building the examples failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    match built {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    }
}

/// The path of the example binary `name`.
fn example(name: &str) -> PathBuf {
    let path = examples_dir().join(name);
    assert!(path.exists(), "no example binary at {}", path.display());
    path
}

/// A command that runs example `name` with `args` inside the sandbox.
fn in_sandbox(sb: &Sandbox, name: &str, args: &[&str]) -> Command {
    let mut cmd = sb.command(example(name));
    cmd.args(args);
    cmd
}

/// A running example with its output collected on background threads (so a chatty example
/// never blocks on a full pipe).
struct Running {
    name: String,
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// What an example printed and how it ended.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// The last line of standard output: every example's summary.
    fn summary(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    let mut pipe = pipe?;
    Some(thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    }))
}

impl Running {
    fn start(name: &str, mut cmd: Command) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        Self {
            name: name.to_string(),
            stdout: drain(child.stdout.take()),
            stderr: drain(child.stderr.take()),
            child,
        }
    }

    /// Waits until the example has bound `queues` in the sandbox; panics with its output if it
    /// exits first or takes too long.
    fn wait_bound(&mut self, sb: &Sandbox, queues: &[u16]) {
        let deadline = Instant::now() + WAIT;
        loop {
            let rows = sb
                .all_queue_counters()
                .expect("read the sandbox's queue table");
            if queues.iter().all(|q| rows.iter().any(|r| r.queue == *q)) {
                return;
            }
            let exited = self.child.try_wait().expect("poll the example").is_some();
            if exited || Instant::now() >= deadline {
                let out = self.finish_now();
                panic!(
                    "example {} did not bind queues {queues:?} ({}): {out:#?}",
                    self.name,
                    if exited { "it exited" } else { "timed out" }
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the example to end by itself (its `COUNT` reached); kills it after `WAIT`.
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().expect("poll the example").is_none() {
            if Instant::now() >= deadline {
                let out = self.finish_now();
                panic!(
                    "example {} did not end within {WAIT:?}: {out:#?}",
                    self.name
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
        let out = self.finish_now();
        assert!(
            out.status.success(),
            "example {} failed: {out:#?}",
            self.name
        );
        out
    }

    fn finish_now(&mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for the example");
        let text =
            |h: Option<JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
        Finished {
            status,
            stdout: text(self.stdout.take()),
            stderr: text(self.stderr.take()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that fails half-way must not leave the example running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sandbox with iptables available, or `None` when kernel tests cannot run here.
fn sandbox() -> Option<Sandbox> {
    let sb = Sandbox::new_or_skip()?;
    // The examples' headers give iptables rules; these tests install exactly those.
    if Command::new("iptables").arg("-V").output().is_err() {
        return skip_or_panic("iptables is not installed");
    }
    Some(sb)
}

// ---------------------------------------------------------------------------------------------
// Rules, as the examples' headers write them, with a comment to find their counters

/// An iptables rule installed in a sandbox.
struct Rule<'a> {
    sb: &'a Sandbox,
    ipv6: bool,
    table: &'static str,
    chain: &'static str,
    tag: String,
}

/// Appends `-t table -A chain <matches> -m comment --comment TAG <target>`.
fn rule<'a>(
    sb: &'a Sandbox,
    ipv6: bool,
    table: &'static str,
    chain: &'static str,
    matches: &[&str],
    target: &[&str],
) -> Rule<'a> {
    static TAGS: AtomicU32 = AtomicU32::new(0);
    let tag = format!("example-rule-{}", TAGS.fetch_add(1, Ordering::Relaxed));
    let mut args = vec!["-t", table, "-A", chain];
    args.extend_from_slice(matches);
    args.extend_from_slice(&["-m", "comment", "--comment", &tag]);
    args.extend_from_slice(target);
    let done = if ipv6 {
        sb.ip6tables(&args)
    } else {
        sb.iptables(&args)
    };
    done.unwrap_or_else(|e| panic!("installing {args:?} failed: {e}"));
    Rule {
        sb,
        ipv6,
        table,
        chain,
        tag,
    }
}

impl Rule<'_> {
    /// Packets that matched the rule so far.
    fn packets(&self) -> u64 {
        let args = ["-t", self.table, "-L", self.chain, "-v", "-x", "-n"];
        let listing = if self.ipv6 {
            self.sb.ip6tables(&args)
        } else {
            self.sb.iptables(&args)
        }
        .expect("list the chain");
        let needle = format!("/* {} */", self.tag);
        listing
            .lines()
            .find(|l| l.contains(&needle))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("rule {} not found in:\n{listing}", self.tag))
    }
}

/// `-j NFQUEUE --queue-num N --queue-bypass`.
fn queue_target(queue: &str) -> [&str; 5] {
    ["-j", "NFQUEUE", "--queue-num", queue, "--queue-bypass"]
}

/// The queue rule most examples' headers give: IPv4 UDP to port 9999 on `chain` of the filter
/// table goes to queue 0.
fn queue_udp_rule<'a>(sb: &'a Sandbox, chain: &'static str) -> Rule<'a> {
    rule(
        sb,
        false,
        "filter",
        chain,
        &["-p", "udp", "--dport", "9999"],
        &queue_target("0"),
    )
}

/// Starts example `name` with `args` inside the sandbox and waits until it has bound `queues`.
fn start_in_sandbox(sb: &Sandbox, name: &str, args: &[&str], queues: &[u16]) -> Running {
    let mut ex = Running::start(name, in_sandbox(sb, name, args));
    ex.wait_bound(sb, queues);
    ex
}

/// A receiver at `127.0.0.1:9999` inside the sandbox.
fn udp_sink(sb: &Sandbox) -> UdpSink {
    sb.udp_sink(v4(1, PORT)).expect("bind the receiver")
}

/// Asserts that `count` datagrams reach `sink` within [`WAIT`].
#[track_caller]
fn assert_arrive(sink: &mut UdpSink, count: u64) {
    assert!(sink.wait_for(count, WAIT).unwrap(), "{:?}", sink.report());
}

fn v4(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)), port)
}

/// Sends each payload as one datagram from one socket (one flow) inside the sandbox.
fn send_from_one_socket(sb: &Sandbox, dst: SocketAddr, payloads: &[Vec<u8>]) -> UdpSocket {
    let bind: SocketAddr = if dst.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let socket = sb
        .run(|| UdpSocket::bind(bind))
        .expect("bind the sending socket");
    for p in payloads {
        socket.send_to(p, dst).expect("send");
    }
    socket
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn accept_all_accepts_and_unbinds() {
    const N: u64 = 20;
    let Some(sb) = sandbox() else { return };
    let queued = queue_udp_rule(&sb, "INPUT");
    let mut sink = udp_sink(&sb);
    let ex = start_in_sandbox(
        &sb,
        "accept_all",
        &["0", &N.to_string(), EXAMPLE_SECONDS],
        &[0],
    );

    sb.send_udp(v4(1, PORT), N, 64, WAIT).expect("send");
    assert_arrive(&mut sink, N);
    let out = ex.finish();

    assert_eq!(out.summary(), format!("accepted {N}"), "{out:#?}");
    let lines = out
        .stdout
        .lines()
        .filter(|l| l.contains("hook input"))
        .count();
    assert_eq!(lines as u64, N, "one line per packet: {out:#?}");
    assert_eq!(sink.report().distinct, N, "{:?}", sink.report());
    assert_eq!(queued.packets(), N, "kernel: packets queued");
    // `close()` unbound the queue.
    assert_eq!(sb.queue_counters(0).unwrap(), None);
}

#[test]
fn port_firewall_drops_syns_to_blocked_ports() {
    let Some(sb) = sandbox() else { return };
    let (allowed, blocked) = (v4(1, 8080), v4(1, 2323));
    let queued = rule(
        &sb,
        false,
        "filter",
        "INPUT",
        &["-p", "tcp", "--syn"],
        &queue_target("0"),
    );
    let listen = |addr| {
        sb.run(move || TcpListener::bind(addr))
            .expect("listen inside the sandbox")
    };
    let (_allowed_listener, blocked_listener) = (listen(allowed), listen(blocked));
    // Two connections to an allowed port and one to a blocked port: three SYNs, one each,
    // since the blocked attempt gives up before the first retransmission (after 1 s).
    let ex = start_in_sandbox(
        &sb,
        "port_firewall",
        &["0", "3", EXAMPLE_SECONDS, "23,2323"],
        &[0],
    );

    for _ in 0..2 {
        sb.run(|| TcpStream::connect_timeout(&allowed, WAIT))
            .expect("a connection to an allowed port");
    }
    let refused = sb.run(|| TcpStream::connect_timeout(&blocked, Duration::from_millis(400)));
    assert!(refused.is_err(), "a connection to a blocked port succeeded");
    let out = ex.finish();

    assert_eq!(out.summary(), "accepted 2 dropped 1", "{out:#?}");
    assert_eq!(queued.packets(), 3, "kernel: SYNs queued");
    blocked_listener.set_nonblocking(true).unwrap();
    assert!(
        blocked_listener.accept().is_err(),
        "the blocked port got a connection"
    );
}

#[test]
fn mark_flows_sends_only_the_first_packet_of_a_flow_to_user_space() {
    const N: usize = 20;
    let Some(sb) = sandbox() else { return };
    let skipped = rule(
        &sb,
        false,
        "filter",
        "OUTPUT",
        &["-m", "connmark", "--mark", "0x1/0x1"],
        &["-j", "ACCEPT"],
    );
    let queued = queue_udp_rule(&sb, "OUTPUT");
    let saved = rule(
        &sb,
        false,
        "mangle",
        "POSTROUTING",
        &["-m", "mark", "--mark", "0x1/0x1"],
        &["-j", "CONNMARK", "--save-mark", "--mask", "0x1"],
    );
    let mut sink = udp_sink(&sb);
    let ex = start_in_sandbox(&sb, "mark_flows", &["0", "1", EXAMPLE_SECONDS], &[0]);

    // The first datagram of the flow goes to the program; once it is judged, the rest of the
    // same flow (same socket) never reaches the queue rule.
    let payloads: Vec<Vec<u8>> = (0..N as u64).map(|i| i.to_be_bytes().to_vec()).collect();
    let socket = send_from_one_socket(&sb, v4(1, PORT), &payloads[..1]);
    assert!(sink.wait_for(1, WAIT).unwrap(), "the first datagram");
    let out = ex.finish();
    for p in &payloads[1..] {
        socket.send_to(p, v4(1, PORT)).expect("send");
    }
    assert_arrive(&mut sink, N as u64);

    assert_eq!(out.summary(), "judged 1", "{out:#?}");
    assert_eq!(queued.packets(), 1, "kernel: packets queued");
    assert_eq!(
        saved.packets(),
        1,
        "kernel: marks saved into the connection"
    );
    assert_eq!(
        skipped.packets(),
        N as u64 - 1,
        "kernel: packets that skipped the queue by their connection mark"
    );
    assert_eq!(sink.report().distinct, N as u64, "{:?}", sink.report());
}

#[test]
fn rewrite_udp_rewrites_ipv4_and_ipv6_payloads() {
    const N4: usize = 6;
    const N6: usize = 4;
    let Some(sb) = sandbox() else { return };
    let dst6: SocketAddr = format!("[::1]:{PORT}").parse().unwrap();
    let mut queued = Vec::new();
    for ipv6 in [false, true] {
        queued.push(rule(
            &sb,
            ipv6,
            "filter",
            "INPUT",
            &["-p", "udp", "--dport", "9999"],
            &queue_target("0"),
        ));
    }
    let mut sink4 = sb.udp_sink(v4(1, PORT)).expect("bind the IPv4 receiver");
    let mut sink6 = sb.udp_sink(dst6).expect("bind the IPv6 receiver");
    sink4.keep_payloads(N4);
    sink6.keep_payloads(N6);
    let ex = start_in_sandbox(
        &sb,
        "rewrite_udp",
        &["0", &(N4 + N6).to_string(), EXAMPLE_SECONDS],
        &[0],
    );

    let text = |i: usize| format!("hello number {i}").into_bytes();
    let _s4 = send_from_one_socket(&sb, v4(1, PORT), &(0..N4).map(text).collect::<Vec<_>>());
    let _s6 = send_from_one_socket(&sb, dst6, &(0..N6).map(text).collect::<Vec<_>>());
    // Arrival proves the checksums: the receiving UDP stack verifies a rewritten packet's.
    assert_arrive(&mut sink4, N4 as u64);
    assert_arrive(&mut sink6, N6 as u64);
    let out = ex.finish();

    assert_eq!(
        out.summary(),
        format!("rewritten {} unchanged 0", N4 + N6),
        "{out:#?}"
    );
    for (sink, n) in [(&sink4, N4), (&sink6, N6)] {
        let mut got = sink.report().payloads.clone();
        got.sort();
        let mut want: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("HELLO NUMBER {i} [seen by rewrite_udp]").into_bytes())
            .collect();
        want.sort();
        assert_eq!(got, want);
    }
    assert_eq!(queued[0].packets(), N4 as u64);
    assert_eq!(queued[1].packets(), N6 as u64);
}

#[test]
fn async_pipeline_judges_out_of_order_and_drops_long_packets() {
    const SMALL: u64 = 40;
    const LARGE: u64 = 20;
    let Some(sb) = sandbox() else { return };
    let queued = queue_udp_rule(&sb, "INPUT");
    let mut sink = udp_sink(&sb);
    let ex = start_in_sandbox(
        &sb,
        "async_pipeline",
        &["0", &(SMALL + LARGE).to_string(), EXAMPLE_SECONDS, "1000"],
        &[0],
    );

    sb.send_udp(v4(1, PORT), SMALL, 64, WAIT).expect("send");
    sb.send_udp(v4(1, PORT), LARGE, 1200, WAIT).expect("send");
    assert_arrive(&mut sink, SMALL);
    let out = ex.finish();
    sink.collect_for(QUIET).unwrap();

    assert_eq!(
        out.summary(),
        format!("accepted {SMALL} dropped {LARGE}"),
        "{out:#?}"
    );
    assert_eq!(
        sink.report().datagrams,
        SMALL,
        "only the small datagrams arrive"
    );
    assert_eq!(sink.report().bytes, SMALL * 64);
    assert_eq!(queued.packets(), SMALL + LARGE, "kernel: packets queued");
}

#[test]
fn fan_out_serves_a_balanced_range_of_queues() {
    const PER_ADDRESS: u64 = 10;
    const ADDRESSES: u8 = 8;
    const N: u64 = PER_ADDRESS * ADDRESSES as u64;
    let Some(sb) = sandbox() else { return };
    let queued = rule(
        &sb,
        false,
        "filter",
        "INPUT",
        &["-p", "udp", "--dport", "9999"],
        &["-j", "NFQUEUE", "--queue-balance", "4:7", "--queue-bypass"],
    );
    let mut sink = sb
        .udp_sink(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT))
        .expect("bind the receiver");
    let ex = start_in_sandbox(
        &sb,
        "fan_out",
        &["4", &N.to_string(), EXAMPLE_SECONDS, "4"],
        &[4, 5, 6, 7],
    );

    // The balance hash covers the addresses, not the ports: vary the destination address.
    for last in 1..=ADDRESSES {
        sb.send_udp(v4(last, PORT), PER_ADDRESS, 64, WAIT)
            .expect("send");
    }
    assert_arrive(&mut sink, N);
    let out = ex.finish();

    assert_eq!(out.summary(), format!("total {N}"), "{out:#?}");
    let per_queue: Vec<u64> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("queue "))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(per_queue.len(), 4, "{out:#?}");
    assert_eq!(per_queue.iter().sum::<u64>(), N, "{out:#?}");
    // Each destination address hashes to one queue, so every count is a multiple of 10.
    assert!(
        per_queue.iter().all(|n| n % PER_ADDRESS == 0),
        "a flow was split over queues: {out:#?}"
    );
    assert_eq!(queued.packets(), N, "kernel: packets queued");
    for q in 4..=7 {
        assert_eq!(sb.queue_counters(q).unwrap(), None, "queue {q} still bound");
    }
}

#[test]
fn netns_queue_serves_a_namespace_from_outside() {
    const N: u64 = 10;
    let Some(sb) = sandbox() else { return };
    let queued = queue_udp_rule(&sb, "OUTPUT");
    let mut sink = udp_sink(&sb);
    // Started in the test's own namespace, not with `sb.command`: the example opens its
    // socket inside the sandbox by name.
    let mut cmd = Command::new(example("netns_queue"));
    cmd.args([sb.name(), "0", &N.to_string(), EXAMPLE_SECONDS]);
    let mut ex = Running::start("netns_queue", cmd);
    ex.wait_bound(&sb, &[0]);

    sb.send_udp(v4(1, PORT), N, 64, WAIT).expect("send");
    assert_arrive(&mut sink, N);
    let out = ex.finish();

    assert_eq!(out.summary(), format!("accepted {N}"), "{out:#?}");
    assert!(
        out.stderr
            .contains(&format!("bound inside namespace {}", sb.name())),
        "{out:#?}"
    );
    assert_eq!(queued.packets(), N, "kernel: packets queued");
    assert_eq!(sb.queue_counters(0).unwrap(), None, "queue 0 still bound");
}
