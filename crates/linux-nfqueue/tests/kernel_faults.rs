// SPDX-License-Identifier: MIT OR Apache-2.0
//! Kernel tests of faults around a queue: the owning process killed with SIGKILL while it holds
//! packets (the kernel drops them, unbinds, and a new process binds at once), packets flushed
//! by a rule change while they wait unread in our socket or as tokens, the socket never
//! inherited by an exec'd child (close-on-exec), and datagrams from another netlink socket
//! ignored and counted.
//!
//! The killed process is a copy of this test binary that runs only
//! [`helper_process_serves_a_queue_when_asked`], selected by an environment variable.

mod support;

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::{Chain, QueueRule, Sandbox};
use linux_nfqueue::{Config, ErrorKind, Queue};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use support::{
    WAIT, add_unrelated_nft_table, count_udp_input, drain, open_in, open_recording_errors,
    queue_row, queue_udp, serve, udp_sink, v4, wait_until,
};

const PORT: u16 = 9999;
const QUEUE: u16 = 11;

/// Set in the helper process's environment: `QUEUE:COUNT`, the queue to serve and how many
/// packets to accept before closing it (0: until killed).
const HELPER_ENV: &str = "NFQUEUE_KERNEL_TEST_FAULT_HELPER";
/// The line the helper prints once its queue is bound.
const BOUND_TAG: &str = "fault-helper: bound portid=";

/// Runs in the helper process only (it does nothing in a normal test run): binds the queue
/// named by [`HELPER_ENV`], says so on stdout, and accepts packets.
#[test]
fn helper_process_serves_a_queue_when_asked() {
    let Ok(spec) = std::env::var(HELPER_ENV) else {
        return;
    };
    let (queue, count) = spec.split_once(':').expect("QUEUE:COUNT");
    let queue: u16 = queue.parse().expect("a queue number");
    let count: u64 = count.parse().expect("a count");
    let mut q = Queue::open(Config::new(queue)).expect("the helper binds its queue");
    println!("{BOUND_TAG}{}", q.portid());
    // A helper nobody kills ends by itself.
    let limit = Duration::from_secs(30);
    if count == 0 {
        serve(&mut q, u64::MAX, limit, |p| p.accept().expect("accept"));
    } else {
        let served = serve(&mut q, count, limit, |p| p.accept().expect("accept"));
        assert_eq!(served, count, "the helper got too few packets");
        q.close().expect("close");
    }
}

/// A helper process inside the sandbox, started and waited for until it has bound `queue`.
struct Helper {
    child: Child,
    portid: u32,
}

impl Helper {
    fn start(sb: &Sandbox, queue: u16, count: u64) -> Self {
        let me = std::env::current_exe().expect("the test binary's path");
        let mut child = sb
            .command(&me)
            .args([
                "--exact",
                "helper_process_serves_a_queue_when_asked",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HELPER_ENV, format!("{queue}:{count}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the helper process with ip netns exec");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may print "test NAME ... " on the same line first.
                if let Some((_, p)) = line.split_once(BOUND_TAG) {
                    let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(digits.parse::<u32>().expect("a port id"));
                }
            }
        });
        let Ok(portid) = rx.recv_timeout(WAIT) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the helper process never bound queue {queue}");
        };
        Self { child, portid }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{signal} {}", self.child.id()))
            .status()
            .expect("sh runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (bounded) for the process to end and returns whether it exited successfully.
    fn wait(mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the helper") {
                return status;
            }
            assert!(Instant::now() < deadline, "the helper did not end");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The owner is stopped (SIGSTOP) with packets queued, then killed (SIGKILL). The kernel drops
/// its queue and the packets it held; with nobody bound, a plain rule drops and a
/// `--queue-bypass` rule accepts; a new process binds the same queue at once and traffic
/// flows through it.
#[test]
fn a_killed_owner_frees_its_queue_for_a_new_process_at_once() {
    const HELD: u64 = 10;
    const BYPASS_PORT: u16 = PORT + 1;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let queued = queue_udp(&sb, QUEUE, PORT);
    sb.install(
        &QueueRule::new(Chain::Output, QUEUE)
            .udp()
            .dport(BYPASS_PORT)
            .bypass(),
    )
    .expect("install the bypass rule");
    let arrived = count_udp_input(&sb, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let mut bypass_sink = sb.udp_sink(v4(BYPASS_PORT)).expect("bind the receiver");

    let victim = Helper::start(&sb, QUEUE, 0);
    let row = queue_row(&sb, QUEUE).expect("bound by the victim");
    assert_eq!(row.portid, victim.portid, "kernel: {row:?}");
    sb.send_udp(v4(PORT), 3, 16, WAIT).expect("send");
    assert!(support::wait_for(&mut sink, 3), "the victim does not serve");

    victim.signal("STOP");
    sb.send_udp(v4(PORT), HELD, 16, WAIT).expect("send");
    assert!(
        wait_until(WAIT, || queue_row(&sb, QUEUE)
            .is_some_and(|r| r.waiting as u64 == HELD)),
        "kernel: the stopped victim does not hold {HELD} packets: {:?}",
        queue_row(&sb, QUEUE)
    );
    victim.signal("KILL");
    let killed = Instant::now();
    let status = victim.wait(WAIT);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );
    assert!(
        wait_until(WAIT, || queue_row(&sb, QUEUE).is_none()),
        "kernel: the dead process's queue is still bound"
    );
    let unbound_after = killed.elapsed();

    // Nobody bound: the plain rule drops, the bypass rule accepts.
    sb.send_udp(v4(PORT), 2, 16, WAIT).expect("send");
    sb.send_udp(v4(BYPASS_PORT), 2, 16, WAIT).expect("send");
    assert!(
        support::wait_for(&mut bypass_sink, 2),
        "bypass did not accept"
    );
    support::collect_quiet(&mut sink);
    assert_eq!(
        sink.report().datagrams,
        3,
        "the held packets (or the unserved ones) were delivered"
    );

    // A new process binds at once and serves.
    let bind_started = Instant::now();
    let heir = Helper::start(&sb, QUEUE, 4);
    let bind_took = bind_started.elapsed();
    assert_ne!(heir.portid, 0);
    sb.send_udp(v4(PORT), 4, 16, WAIT).expect("send");
    assert!(
        support::wait_for(&mut sink, 7),
        "the new owner does not serve"
    );
    let status = heir.wait(WAIT);
    assert!(status.success(), "the new owner failed: {status}");
    assert_eq!(queue_row(&sb, QUEUE), None, "closed by the new owner");
    assert_eq!(
        queued.packets().unwrap(),
        3 + HELD + 2 + 4,
        "kernel: the queue rule"
    );
    assert_eq!(arrived.packets().unwrap(), 3 + 4, "kernel: reached INPUT");
    eprintln!(
        "SIGKILL: queue gone after {unbound_after:?}; a new process bound it in {bind_took:?}"
    );
}

/// A rule change flushes the queue while four packets wait unread in our socket and two are
/// held as tokens. Their verdicts, given later, each get ENOENT: counted as `packets_gone`,
/// reported to the hook, never an error of `recv`; nothing is delivered; then new traffic
/// flows.
#[test]
fn packets_flushed_while_unread_or_held_get_harmless_enoent() {
    const SENT: u64 = 6;
    const HELD: usize = 2;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let (mut queue, reported) = open_recording_errors(&sb, Config::new(QUEUE));
    add_unrelated_nft_table(&sb);
    sb.send_udp(v4(PORT), SENT, 16, WAIT).expect("send");
    assert!(
        wait_until(WAIT, || queue_row(&sb, QUEUE)
            .is_some_and(|r| u64::from(r.waiting) == SENT)),
        "kernel: not all queued"
    );
    let tokens: Vec<_> = (0..HELD)
        .map(|_| queue.recv().expect("receive").into_token())
        .collect();

    sb.nft("delete table inet scratch\n")
        .expect("delete the unrelated table");
    assert_eq!(queue_row(&sb, QUEUE).unwrap().waiting, 0, "kernel: flushed");

    // The four unread messages are still in our socket: they arrive, and their verdicts (sent
    // one by one, since tokens are alive) find nothing.
    let late = serve(&mut queue, SENT - HELD as u64, WAIT, |p| {
        p.accept().expect("accept")
    });
    assert_eq!(late, SENT - HELD as u64, "the unread messages");
    for t in tokens {
        t.accept().expect("the token's verdict is sent");
    }
    assert!(
        wait_until(WAIT, || {
            drain(&mut queue);
            queue.counters().packets_gone == SENT
        }),
        "ENOENT answers counted: {:?}",
        queue.counters()
    );
    let errors = reported.lock().unwrap().clone();
    assert_eq!(errors.len() as u64, SENT, "{errors:?}");
    assert!(
        errors.iter().all(|e| e.errno == libc::ENOENT && !e.batch),
        "{errors:?}"
    );
    let c = queue.counters();
    assert_eq!(c.verdict_errors, 0, "ENOENT is not an error: {c:?}");
    support::collect_quiet(&mut sink);
    assert_eq!(sink.report().datagrams, 0, "a flushed packet was delivered");

    sb.send_udp(v4(PORT), 10, 16, WAIT).expect("send");
    assert_eq!(
        serve(&mut queue, 10, WAIT, |p| p.accept().expect("accept")),
        10
    );
    assert!(
        support::wait_for(&mut sink, 10),
        "new traffic does not flow"
    );
}

/// The `socket:[inode]` name of an open fd of this process.
fn fd_target(fd: i32) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .expect("read the fd link")
        .to_string_lossy()
        .into_owned()
}

/// The `flags:` field (octal) of this process's `/proc/self/fdinfo/FD`.
fn fd_flags(fd: i32) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).expect("read fdinfo");
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .expect("a flags line");
    u32::from_str_radix(flags.trim(), 8).expect("octal flags")
}

/// What an exec'd child sees in its fd table: `ls -l /proc/$$/fd` in a new shell.
fn child_fd_listing() -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("ls -l /proc/$$/fd")
        .stdin(Stdio::null())
        .output()
        .expect("sh runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Queues opened inside the sandbox and from outside it (`Config::netns_path`) have
/// close-on-exec sockets: an exec'd child does not hold them, and a long-lived child does not
/// keep the queue bound after we close it.
#[test]
fn the_socket_is_not_inherited_by_exec() {
    const O_CLOEXEC: u32 = 0o2_000_000;
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let inside = open_in(&sb, Config::new(QUEUE));
    let outside = Queue::open(Config::new(QUEUE + 1).netns_path(sb.netns_path()))
        .expect("open from outside the namespace");
    for (what, queue) in [("inside", &inside), ("netns_path", &outside)] {
        let fd = queue.as_raw_fd();
        let target = fd_target(fd);
        assert!(target.starts_with("socket:["), "{what}: {target}");
        assert_ne!(fd_flags(fd) & O_CLOEXEC, 0, "{what}: no O_CLOEXEC");
        let listing = child_fd_listing();
        assert!(
            !listing.contains(&target),
            "{what}: the exec'd child holds {target}:\n{listing}"
        );
    }

    // A child that outlives the queue must not keep it bound.
    let mut sleeper = Command::new("sleep")
        .arg("10")
        .stdin(Stdio::null())
        .spawn()
        .expect("start sleep");
    drop(inside);
    outside.close().expect("close");
    let unbound = queue_row(&sb, QUEUE).is_none() && queue_row(&sb, QUEUE + 1).is_none();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(unbound, "a child process kept a queue bound");
}

/// A netlink message in the shape of a queued packet (queue `queue`, id `id`, an IPv4/UDP
/// payload), as the kernel would send it.
fn fake_packet(queue: u16, id: u32) -> Vec<u8> {
    fn nla(ty: u16, value: &[u8]) -> Vec<u8> {
        let mut v = u16::try_from(value.len() + 4)
            .unwrap()
            .to_ne_bytes()
            .to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(value);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }
    let mut hdr = id.to_be_bytes().to_vec();
    hdr.extend_from_slice(&0x0800u16.to_be_bytes());
    hdr.push(3); // NF_INET_LOCAL_OUT
    let mut ip = vec![
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ];
    ip.extend_from_slice(&40000u16.to_be_bytes());
    ip.extend_from_slice(&PORT.to_be_bytes());
    ip.extend_from_slice(&[0, 8, 0, 0]);
    let body = [nla(1, &hdr), nla(10, &ip)].concat(); // NFQA_PACKET_HDR, NFQA_PAYLOAD
    let mut m = u32::try_from(20 + body.len())
        .unwrap()
        .to_ne_bytes()
        .to_vec();
    m.extend_from_slice(&0x0300u16.to_ne_bytes()); // NFQNL_MSG_PACKET
    m.extend_from_slice(&[0; 10]); // flags, seq, pid: as the kernel sends them
    m.extend_from_slice(&[2, 0]); // AF_INET, version 0
    m.extend_from_slice(&queue.to_be_bytes());
    m.extend_from_slice(&body);
    m
}

/// An `NLMSG_ERROR` saying ENOENT for the request with sequence number `seq`.
fn fake_enoent(seq: u32) -> Vec<u8> {
    let mut m = 36u32.to_ne_bytes().to_vec();
    m.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
    m.extend_from_slice(&0x100u16.to_ne_bytes()); // NLM_F_CAPPED
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&(-libc::ENOENT).to_ne_bytes());
    // The echoed request header: a verdict.
    m.extend_from_slice(&32u32.to_ne_bytes());
    m.extend_from_slice(&0x0301u16.to_ne_bytes());
    m.extend_from_slice(&1u16.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m
}

/// A second NETLINK_NETFILTER socket in the sandbox, to forge datagrams from.
fn forger(sb: &Sandbox) -> Socket {
    sb.run(|| {
        Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(libc::NETLINK_NETFILTER)),
        )
    })
    .expect("open a second NETLINK_NETFILTER socket in the sandbox")
}

/// After forgeries, a real packet still comes through, with the kernel's first id.
fn real_packet_still_served(
    sb: &Sandbox,
    queue: &mut Queue,
    sink: &mut linux_nfqueue::testkit::UdpSink,
) {
    sb.send_udp(v4(PORT), 1, 16, WAIT).expect("send");
    let mut ids = Vec::new();
    assert!(wait_until(WAIT, || {
        match queue.try_recv() {
            Ok(p) => {
                ids.push(p.id());
                p.accept().expect("accept");
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("receive failed: {e}"),
        }
        !ids.is_empty()
    }));
    queue.flush().expect("flush");
    assert_eq!(ids, [1], "the kernel's first packet");
    assert!(support::wait_for(sink, 1));
    support::collect_quiet(sink);
    assert_eq!(sink.report().datagrams, 1);
}

/// A queue's own socket is connected to the kernel, so the kernel refuses datagrams that
/// another socket (root may otherwise unicast to any port id) tries to send to it.
#[test]
fn datagrams_from_another_socket_are_refused_by_the_kernel() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let mut queue = open_in(&sb, Config::new(QUEUE).nonblocking(true));
    let ours = SockRef::from(&queue)
        .local_addr()
        .expect("getsockname on the queue's socket");
    let forger = forger(&sb);
    for forged in [fake_packet(QUEUE, 4242), fake_enoent(1)] {
        let err = forger
            .send_to(&forged, &ours)
            .expect_err("the kernel let a forged datagram through to a connected socket");
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED), "{err}");
    }
    assert_eq!(drain(&mut queue), 0);
    let c = queue.counters();
    assert_eq!((c.foreign, c.received), (0, 0), "{c:?}");
    real_packet_still_served(&sb, &mut queue, &mut sink);
}

/// A socket handed in with `Config::socket` is not connected; datagrams another socket sends
/// to it (a well-formed packet message and a verdict error) are ignored and counted as foreign:
/// no packet reaches the handler from them, no verdict error is recorded, and the next real
/// packet is served as usual.
#[test]
fn datagrams_from_another_socket_are_ignored_and_counted() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    queue_udp(&sb, QUEUE, PORT);
    let mut sink = udp_sink(&sb, v4(PORT));
    let adopted = forger(&sb);
    let mut queue = Queue::open(
        Config::new(QUEUE)
            .nonblocking(true)
            .socket(std::os::fd::OwnedFd::from(adopted)),
    )
    .expect("bind through an adopted socket");
    let ours = SockRef::from(&queue)
        .local_addr()
        .expect("getsockname on the queue's socket");
    let forger = forger(&sb);
    for forged in [fake_packet(QUEUE, 4242), fake_enoent(1)] {
        let sent = forger.send_to(&forged, &ours).unwrap_or_else(|e| {
            panic!("the kernel refused user-to-user unicast on NETLINK_NETFILTER: {e}")
        });
        assert_eq!(sent, forged.len());
    }
    // The forgeries are queued on our socket now; nothing came from the kernel yet.
    let seen = drain(&mut queue);
    let c = queue.counters();
    assert_eq!(seen, 0, "a forged packet reached the handler: {c:?}");
    assert_eq!(c.foreign, 2, "library: foreign datagrams ({c:?})");
    assert_eq!(
        (c.received, c.packets_gone, c.verdict_errors),
        (0, 0, 0),
        "{c:?}"
    );
    real_packet_still_served(&sb, &mut queue, &mut sink);
}
