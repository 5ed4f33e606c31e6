// SPDX-License-Identifier: MIT OR Apache-2.0
//! `nfqueue demo`: a private network namespace, a queue rule, our own traffic, a visible
//! policy, a closing summary. Nothing outside the namespace is touched.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use linux_nfqueue::testkit::{Chain, CountRule, QueueRule, Sandbox};
use linux_nfqueue::{Config, Packet, Queue, Verdict, VerdictAttrs};

use crate::args::DemoArgs;
use crate::error::CliError;
use crate::output::{Format, PacketLine, PacketPrinter, hook_label};
use crate::summary::PacketSummary;

/// The queue the demo binds inside its namespace.
const QUEUE: u16 = 0;
/// UDP port whose packets are accepted.
const UDP_OPEN: u16 = 9999;
/// UDP port whose packets the policy drops.
const UDP_BLOCKED: u16 = 9998;
/// TCP port whose packets the policy marks.
const TCP_MARKED: u16 = 8080;
/// The mark given to them.
const MARK: u32 = 0x2a;
/// Every wait of the demo is bounded by this.
const WAIT: Duration = Duration::from_secs(5);

/// What the policy decided, counted.
#[derive(Default)]
struct Tally {
    accepted: AtomicU64,
    dropped: AtomicU64,
    marked: AtomicU64,
}

/// The demo's policy: drop UDP to 9998, mark TCP to or from 8080, accept the rest.
fn decide(s: &PacketSummary) -> (Verdict, Option<u32>, &'static str) {
    let udp = s.proto == Some(17);
    let tcp = s.proto == Some(6);
    if udp && s.dport == Some(UDP_BLOCKED) {
        (Verdict::Drop, None, "drop")
    } else if tcp && (s.dport == Some(TCP_MARKED) || s.sport == Some(TCP_MARKED)) {
        (Verdict::Accept, Some(MARK), "accept+mark 0x2a")
    } else {
        (Verdict::Accept, None, "accept")
    }
}

fn judge(packet: Packet<'_>, tally: &Tally, printer: &Mutex<PacketPrinter>) {
    let payload = packet.payload().unwrap_or(&[]);
    let s = PacketSummary::decode(packet.family(), packet.hw_protocol(), payload);
    let (verdict, mark, label) = decide(&s);
    let line = PacketLine {
        id: packet.id(),
        queue: packet.queue(),
        hook: hook_label(packet.hook()),
        family: packet.family().name(),
        len: payload.len(),
        cap_len: packet.cap_len(),
        mark: packet.mark(),
        uid: packet.uid(),
        gid: packet.gid(),
        indev: packet.indev(),
        outdev: packet.outdev(),
        gso: packet.skb_info().gso(),
        summary: s,
        verdict: label,
    };
    {
        let mut p = printer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = p.write(&mut io::stdout().lock(), &line);
    }
    let counter = match (verdict, mark) {
        (Verdict::Drop, _) => &tally.dropped,
        (_, Some(_)) => &tally.marked,
        _ => &tally.accepted,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let attrs = mark.map_or(VerdictAttrs::new(), |m| VerdictAttrs::new().with_mark(m));
    if let Err(e) = packet.verdict_with(verdict, &attrs) {
        eprintln!("nfqueue: warning: verdict failed: {e}");
    }
}

fn step(text: &str) {
    let _ = writeln!(io::stderr(), "\n== {text}");
}

fn fail(what: &str) -> impl FnOnce(io::Error) -> CliError + '_ {
    move |e| CliError::io(what, &e)
}

/// Runs `nfqueue demo`.
pub(crate) fn run(_args: &DemoArgs) -> Result<(), CliError> {
    step("making a private network namespace");
    let sb = Sandbox::new().map_err(|e| {
        CliError::new(format!(
            "cannot make a network namespace: {e}; the demo needs root (CAP_NET_ADMIN and \
             CAP_SYS_ADMIN) and the `ip` tool (bash scripts/install-deps installs it)"
        ))
    })?;
    eprintln!(
        "namespace {} (rules via {:?}); nothing outside it is touched",
        sb.name(),
        sb.rule_backend()
    );
    step("installing queue rules: all of OUTPUT, IPv4 and IPv6, to queue 0");
    sb.install(&QueueRule::new(Chain::Output, QUEUE))
        .map_err(fail("cannot install the IPv4 queue rule"))?;
    sb.install(&QueueRule::new(Chain::Output, QUEUE).ipv6())
        .map_err(fail("cannot install the IPv6 queue rule"))?;
    let marked_in = sb
        .install_count(&CountRule::new(Chain::Input).tcp().mark(MARK))
        .map_err(fail("cannot install the counting rule"))?;

    let queue = Queue::open(Config::new(QUEUE).netns_path(sb.netns_path()))
        .map_err(|e| CliError::new(format!("{e}")))?;
    eprintln!(
        "queue {QUEUE} bound (port id {}); policy: drop UDP to {UDP_BLOCKED}, mark TCP on \
         {TCP_MARKED} with {MARK:#x}, accept the rest",
        queue.portid()
    );
    let tally = Arc::new(Tally::default());
    let printer = Arc::new(Mutex::new(PacketPrinter::for_stdout(Format::Human)));
    let stop = queue.stop_handle();
    let worker = {
        let (tally, printer) = (tally.clone(), printer.clone());
        let mut queue = queue;
        std::thread::spawn(move || {
            let r = queue.run(|p| judge(p, &tally, &printer));
            (r, queue.counters(), queue.stats())
        })
    };

    let traffic = run_traffic(&sb);
    stop.stop();
    let (result, counters, stats) = worker
        .join()
        .map_err(|_| CliError::new("the demo's handler thread panicked (a bug)"))?;
    result.map_err(|e| CliError::new(format!("{e}")))?;
    let traffic = traffic?;

    step("summary");
    let t = &tally;
    let judged = counters.verdicts;
    println!(
        "judged {judged} packets: {} accept, {} drop, {} accept+mark {MARK:#x}",
        t.accepted.load(Ordering::Relaxed),
        t.dropped.load(Ordering::Relaxed),
        t.marked.load(Ordering::Relaxed)
    );
    for line in &traffic.lines {
        println!("  {line}");
    }
    println!(
        "  INPUT rule counting TCP with mark {MARK:#x}: {} packets",
        marked_in.packets().unwrap_or(0)
    );
    if let Ok(stats) = stats {
        for s in stats {
            println!(
                "  kernel: queue {} dropped {} (queue full), {} (socket overrun)",
                s.queue, s.queue_dropped, s.user_dropped
            );
        }
    }
    let ok = traffic.ok;
    drop(marked_in);
    let name = sb.name().to_string();
    drop(sb);
    eprintln!("namespace {name} removed");
    if ok {
        Ok(())
    } else {
        Err(CliError::new(
            "the traffic did not behave as the policy says (see the summary above)",
        ))
    }
}

struct TrafficOutcome {
    lines: Vec<String>,
    ok: bool,
}

/// Sends the demo's traffic inside the namespace and checks what arrived.
fn run_traffic(sb: &Sandbox) -> Result<TrafficOutcome, CliError> {
    let ok = Arc::new(AtomicBool::new(true));
    let mut lines = Vec::new();
    let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let mut check = |line: String, good: bool| {
        if !good {
            ok.store(false, Ordering::Relaxed);
        }
        lines.push(format!("{} {line}", if good { "ok  " } else { "FAIL" }));
    };

    step("ICMP: ping 127.0.0.1 and ::1 twice each (request and reply both pass OUTPUT)");
    for dst in [v4, v6] {
        let r = sb.ping(dst, 2, WAIT).map_err(fail("ping failed"))?;
        check(
            format!("ping {dst}: {}/{} replies", r.received, r.sent),
            r.received == r.sent,
        );
    }

    step(&format!(
        "UDP: 3 datagrams each to port {UDP_OPEN} (accepted) and {UDP_BLOCKED} (dropped), IPv4 and IPv6"
    ));
    for dst in [v4, v6] {
        for (port, want) in [(UDP_OPEN, 3), (UDP_BLOCKED, 0)] {
            let addr = SocketAddr::new(dst, port);
            let mut sink = sb
                .udp_sink(addr)
                .map_err(fail("cannot bind a UDP receiver"))?;
            sb.send_udp(addr, 3, 16, WAIT)
                .map_err(fail("cannot send UDP"))?;
            let wait = if want > 0 {
                WAIT
            } else {
                Duration::from_millis(300)
            };
            let _ = sink.wait_for(3, wait);
            let got = sink.report().datagrams;
            check(format!("udp {addr}: sent 3, received {got}"), got == want);
        }
    }

    step(&format!(
        "TCP: 64 KiB to port {TCP_MARKED}, every packet marked {MARK:#x}"
    ));
    let addr = SocketAddr::new(v4, TCP_MARKED);
    let r = sb
        .tcp_transfer(addr, 64 * 1024, WAIT)
        .map_err(fail("the TCP transfer failed"))?;
    check(
        format!(
            "tcp {addr}: {} of {} bytes arrived byte-exact",
            r.received.bytes, r.expected
        ),
        r.matches(),
    );
    Ok(TrafficOutcome {
        lines,
        ok: ok.load(Ordering::Relaxed),
    })
}
