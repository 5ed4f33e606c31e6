// SPDX-License-Identifier: MIT OR Apache-2.0
//! Helpers shared by the kernel tests: bounded serving loops, waiting, `/proc` rows and a UDP
//! sender with a chosen source address. Everything else comes from `linux_nfqueue::testkit`.
#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::{
    Chain, CountRule, QueueRule, RuleHandle, Sandbox, SinkReport, UdpSink,
};
use linux_nfqueue::{
    Config, Counters, ErrorKind, Packet, Queue, QueueStats, StopHandle, VerdictError,
};

/// The upper bound of every wait in these tests. Each test normally finishes far sooner.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// How long a test listens to make sure that nothing (more) arrives.
pub(crate) const QUIET: Duration = Duration::from_millis(300);

/// `127.0.0.1:port`.
pub(crate) fn v4(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// `[::1]:port`.
pub(crate) fn v6(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)
}

/// Opens a queue inside the sandbox (the socket is created on a thread inside it, so it serves
/// the sandbox's queue from whichever thread uses it later).
pub(crate) fn open_in(sb: &Sandbox, config: Config) -> Queue {
    let what = format!("{config:?}");
    sb.run(move || Queue::open(config))
        .unwrap_or_else(|e| panic!("opening {what} inside the sandbox failed: {e}"))
}

/// Installs the queue rule most kernel tests use: IPv4 UDP to `port` leaving on OUTPUT goes to
/// `queue`.
pub(crate) fn queue_udp(sb: &Sandbox, queue: u16, port: u16) -> RuleHandle<'_> {
    sb.install(&QueueRule::new(Chain::Output, queue).udp().dport(port))
        .expect("install the queue rule")
}

/// Installs a rule counting the IPv4 UDP packets to `port` that reach INPUT.
pub(crate) fn count_udp_input(sb: &Sandbox, port: u16) -> RuleHandle<'_> {
    sb.install_count(&CountRule::new(Chain::Input).udp().dport(port))
        .expect("install the INPUT counting rule")
}

/// Binds a testkit receiver at `addr` inside the sandbox.
pub(crate) fn udp_sink(sb: &Sandbox, addr: SocketAddr) -> UdpSink {
    sb.udp_sink(addr).expect("bind the receiver")
}

/// The UDP path most kernel tests drive through a sandbox: the [`queue_udp`] rule, the
/// [`count_udp_input`] rule behind it and a receiver at `127.0.0.1:port`.
pub(crate) struct UdpPath<'a> {
    /// The OUTPUT rule sending the datagrams to the queue.
    pub(crate) queued: RuleHandle<'a>,
    /// The INPUT rule counting the datagrams that got through.
    pub(crate) arrived: RuleHandle<'a>,
    /// The receiver.
    pub(crate) sink: UdpSink,
}

/// Sets up a [`UdpPath`] from `127.0.0.1` to `127.0.0.1:port` through `queue`.
pub(crate) fn udp_path(sb: &Sandbox, queue: u16, port: u16) -> UdpPath<'_> {
    UdpPath {
        queued: queue_udp(sb, queue, port),
        arrived: count_udp_input(sb, port),
        sink: udp_sink(sb, v4(port)),
    }
}

/// Asserts that the kernel counted `expected` packets on `rule`; `what` names the count.
#[track_caller]
pub(crate) fn assert_rule_packets(rule: &RuleHandle<'_>, expected: u64, what: &str) {
    assert_eq!(rule.packets().unwrap(), expected, "{what}");
}

/// Asserts that `expected` distinct datagrams reached `sink`, none twice.
#[track_caller]
pub(crate) fn assert_delivered_once(sink: &UdpSink, expected: u64) {
    let got = sink.report();
    assert_eq!((got.distinct, got.duplicates), (expected, 0), "{got:?}");
}

/// Asserts that no packet of `queue` is left waiting in the kernel for a verdict.
#[track_caller]
pub(crate) fn assert_none_waiting(sb: &Sandbox, queue: u16) {
    assert_eq!(
        queue_row(sb, queue).unwrap().waiting,
        0,
        "kernel: none left waiting"
    );
}

/// Asserts that no verdict of the queue failed and none found its packet gone.
#[track_caller]
pub(crate) fn assert_no_verdict_failures(c: &Counters) {
    assert_eq!(c.verdict_errors + c.packets_gone, 0, "{c:?}");
}

/// The verdict errors a queue reported through `Config::on_verdict_error`, in order.
pub(crate) type Reported = Arc<Mutex<Vec<VerdictError>>>;

/// [`open_in`] with an `on_verdict_error` hook added to `config` that records every error the
/// queue reports.
pub(crate) fn open_recording_errors(sb: &Sandbox, config: Config) -> (Queue, Reported) {
    let reported = Reported::default();
    let hook = reported.clone();
    let queue = open_in(
        sb,
        config.on_verdict_error(move |e| hook.lock().unwrap().push(*e)),
    );
    (queue, reported)
}

/// Adds an nft table with one base chain that has nothing to do with the tests' rules. Removing
/// a netfilter hook anywhere in the namespace later (deleting this table) flushes every queue.
pub(crate) fn add_unrelated_nft_table(sb: &Sandbox) {
    sb.nft("add table inet scratch\nadd chain inet scratch c { type filter hook input priority 10; }\n")
        .expect("add an unrelated nft table");
}

/// The sandbox's row of `/proc/net/netfilter/nfnetlink_queue` for `queue`, if it is bound.
pub(crate) fn queue_row(sb: &Sandbox, queue: u16) -> Option<QueueStats> {
    sb.run(|| QueueStats::read_queue(queue))
        .unwrap_or_else(|e| panic!("reading the kernel's queue table failed: {e}"))
}

/// Calls `stop` once `after` has passed, unless the watchdog is dropped first.
#[derive(Debug)]
pub(crate) struct Watchdog {
    _cancel: mpsc::Sender<()>,
}

/// Starts a [`Watchdog`]: a bound on a blocking receive loop, which otherwise waits for ever.
pub(crate) fn watchdog(stop: StopHandle, after: Duration) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if rx.recv_timeout(after) == Err(mpsc::RecvTimeoutError::Timeout) {
            stop.stop();
        }
    });
    Watchdog { _cancel: tx }
}

/// Receives up to `count` packets within `timeout`, hands each to `handle`, then sends the
/// pending verdicts. Returns how many packets came. When the time runs out the queue stays
/// stopped (further receives fail with `Closed`), which is fine at the end of a test.
pub(crate) fn serve(
    queue: &mut Queue,
    count: u64,
    timeout: Duration,
    mut handle: impl FnMut(Packet<'_>),
) -> u64 {
    let _guard = watchdog(queue.stop_handle(), timeout);
    let mut served = 0;
    while served < count {
        match queue.recv() {
            Ok(packet) => {
                handle(packet);
                served += 1;
            }
            Err(e) if e.kind() == ErrorKind::Closed => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => panic!("receiving from the queue failed: {e}"),
        }
    }
    queue
        .flush()
        .unwrap_or_else(|e| panic!("sending the pending verdicts failed: {e}"));
    served
}

/// [`serve`] on a new thread; the handle gives the queue back with the number served.
pub(crate) fn serve_in_background(
    mut queue: Queue,
    count: u64,
    timeout: Duration,
    handle: impl FnMut(Packet<'_>) + Send + 'static,
) -> JoinHandle<(Queue, u64)> {
    thread::spawn(move || {
        let served = serve(&mut queue, count, timeout, handle);
        (queue, served)
    })
}

/// Joins a thread, re-raising its panic on the test thread.
pub(crate) fn join<T>(handle: JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Reads whatever the socket holds without waiting (kernel answers to verdicts, packets),
/// giving packets the default verdict. Returns the number of packets met.
pub(crate) fn drain(queue: &mut Queue) -> u64 {
    let mut packets = 0;
    loop {
        match queue.try_recv() {
            Ok(packet) => {
                drop(packet);
                packets += 1;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => panic!("draining the queue failed: {e}"),
        }
    }
    queue
        .flush()
        .unwrap_or_else(|e| panic!("sending the pending verdicts failed: {e}"));
    packets
}

/// Polls `cond` every few milliseconds until it holds or `timeout` passes; returns the last
/// answer.
pub(crate) fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `count` UDP datagrams of `len` bytes (at least 8) from `src` (port chosen by the
/// kernel) to `dst`, in the calling thread's namespace. Payloads start with the big-endian
/// sequence number `first_seq + i`, as the testkit's `UdpSink` expects. Returns how many
/// were sent.
pub(crate) fn send_udp_from(
    src: IpAddr,
    dst: SocketAddr,
    first_seq: u64,
    count: u64,
    len: usize,
) -> u64 {
    assert!(len >= 8, "payloads carry an 8-byte sequence number");
    let socket = UdpSocket::bind(SocketAddr::new(src, 0))
        .unwrap_or_else(|e| panic!("binding a UDP socket to {src} failed: {e}"));
    socket
        .set_write_timeout(Some(WAIT))
        .expect("set a send timeout");
    let mut payload = vec![0u8; len];
    for seq in first_seq..first_seq + count {
        payload.fill(seq as u8);
        payload[..8].copy_from_slice(&seq.to_be_bytes());
        socket
            .send_to(&payload, dst)
            .unwrap_or_else(|e| panic!("sending datagram {seq} to {dst} failed: {e}"));
    }
    count
}

/// The sequence number a testkit sender put at the start of a UDP payload, read from a queued
/// IPv4 or IPv6 packet.
pub(crate) fn udp_seq(packet: &[u8]) -> u64 {
    let start = match packet.first().map(|b| b >> 4) {
        Some(4) => usize::from(packet[0] & 0x0f) * 4 + 8,
        Some(6) => 40 + 8,
        _ => panic!("not an IP packet: {packet:02x?}"),
    };
    let head: [u8; 8] = packet
        .get(start..start + 8)
        .and_then(|s| s.try_into().ok())
        .unwrap_or_else(|| panic!("no sequence number in a {}-byte packet", packet.len()));
    u64::from_be_bytes(head)
}

/// Keeps panics whose message contains `marker` (deliberate ones) off stderr; every other
/// panic is reported as usual.
pub(crate) fn quiet_panics(marker: &'static str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !text.contains(marker) {
                previous(info);
            }
        }));
    });
}

/// A small deterministic pseudo-random sequence (xorshift64) for jitter.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// A sequence from a non-zero seed.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next value below `bound`.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % bound.max(1)
    }
}

/// `sink.wait_for(count, WAIT)`, going on when a signal interrupts the wait (the testkit's
/// `UdpSink` passes `EINTR` through). Returns whether `count` datagrams arrived in time.
pub(crate) fn wait_for(sink: &mut UdpSink, count: u64) -> bool {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match sink.wait_for(count, left) {
            Ok(reached) => return reached,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("receiving datagrams failed: {e}"),
        }
    }
}

/// `sink.collect_for(QUIET)`: receives whatever arrives meanwhile, going on after `EINTR`.
pub(crate) fn collect_quiet(sink: &mut UdpSink) {
    let deadline = Instant::now() + QUIET;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match sink.collect_for(left) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("receiving datagrams failed: {e}"),
        }
    }
}

/// Reads `sink` on a new thread until `expect` datagrams came (or [`WAIT`] passed), then for
/// [`QUIET`] more, and returns what arrived. The thread must keep up: a UDP socket's default
/// receive buffer holds only about 250 small datagrams, and the kernel drops the rest. Use
/// [`send_paced`] for more.
pub(crate) fn receive_in_background(mut sink: UdpSink, expect: u64) -> JoinHandle<SinkReport> {
    thread::spawn(move || {
        wait_for(&mut sink, expect);
        collect_quiet(&mut sink);
        sink.into_report()
    })
}

/// Datagrams [`send_paced`] sends before it waits for them to arrive.
pub(crate) const PACE: u64 = 100;

/// Sends `count` datagrams of `len` bytes from `127.0.0.1` to `dst` (in the calling thread's
/// namespace), [`PACE`] at a time, waiting after each group until `sink` has them all, so that
/// the receiver's socket buffer never overflows however slowly its reader is scheduled.
/// Sequence numbers start at 0. Panics if a group does not arrive within [`WAIT`].
pub(crate) fn send_paced(sink: &mut UdpSink, dst: SocketAddr, count: u64, len: usize) {
    let base = sink.report().datagrams;
    let mut sent = 0;
    while sent < count {
        let n = PACE.min(count - sent);
        send_udp_from(IpAddr::V4(Ipv4Addr::LOCALHOST), dst, sent, n, len);
        sent += n;
        assert!(
            wait_for(sink, base + sent),
            "only {} of the first {sent} datagrams arrived",
            sink.report().datagrams - base
        );
    }
}
