// SPDX-License-Identifier: MIT OR Apache-2.0
//! `nfqueue bench`: the built-in benchmark, self-contained in a private network namespace.
//!
//! The method follows the reference harness (`shared/bench`): on the namespace's loopback, a
//! generator pinned to CPU 0 sends 64-byte UDP datagrams to port 9999 with `sendmmsg`; an
//! OUTPUT rule queues them, the library's own handler (`Queue::run`, accepting everything)
//! pinned to CPU 1 verdicts them, and an INPUT rule drops the accepted ones cheaply and counts
//! them. The rates come from the kernel's own counters (`/proc/net/netfilter/nfnetlink_queue`)
//! sampled at both ends of a window, cross-checked with the INPUT rule's counter. Phases:
//!
//! 1. latency without the rule (a UDP ping-pong on the handler's core);
//! 2. per-packet verdicts (`Config::batch_verdicts(false)`), then a ping-pong through it;
//! 3. batched verdicts (the default `Config`), then a ping-pong through it;
//! 4. GSO: the generator sends UDP GSO super-packets of 16 datagrams and the handler asks for
//!    `NFQA_CFG_F_GSO`, so one message carries 16 datagrams.
//!
//! Every phase ends by time (`--duration`), by count (`--packets`) or on Ctrl-C / SIGTERM,
//! which ends the current phase early and skips the rest; the namespace is deleted in every
//! case.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::{
    CpuTimes, FloodReport, Sandbox, ThreadCpu, ThreadTimes, UdpFlood, pin_current_thread,
    wait_until,
};
use linux_nfqueue::{Config, Counters, FanOut, Packet, Queue, QueueStats, StopHandle};
use serde_json::{Value, json};

use crate::args::BenchArgs;
use crate::error::CliError;

/// The port the load goes to.
const LOAD_PORT: u16 = 9999;
/// The ping-pong port that is queued.
const PING_PORT: u16 = 9001;
/// The ping-pong port without any rule (the baseline).
const BASELINE_PORT: u16 = 9002;
/// Datagrams per GSO super-packet in the GSO phase (the reference's gso16 mode).
const GSO_SEGMENTS: u16 = 16;
/// Round trips of one ping-pong, after its warm-up.
const PING_COUNT: usize = 20_000;
/// Round trips before the measured ones.
const PING_WARMUP: usize = 500;
/// How often the main thread looks at the clock, the generator and the signal flag.
const TICK: Duration = Duration::from_millis(50);
/// Upper bound of every wait for the kernel (queue bound, drained, unbound).
const SETTLE: Duration = Duration::from_secs(3);
/// IPv4 header plus UDP header: what a queued datagram carries besides its payload.
const IP_UDP_HEADERS: usize = 28;

/// Runs `nfqueue bench`.
pub(crate) fn run(args: &BenchArgs) -> Result<(), CliError> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone())
            .map_err(|e| CliError::io("cannot install the signal handler", &e))?;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sandbox = Sandbox::new().map_err(|e| {
        CliError::new(format!(
            "cannot make the benchmark's private network namespace: {e} (nfqueue bench needs \
             root, iproute2, iptables or nft, and the nfnetlink_queue module)"
        ))
    })?;
    let rules = Rules::install(&sandbox, args.queues)?;
    let mut bench = Bench {
        sandbox: &sandbox,
        rules: &rules,
        args,
        interrupted,
        cpus,
        gen_cpu: 0,
        handler_cpu: usize::from(cpus >= 2),
        progress: Progress::new(4),
    };
    let results = bench.run_phases();
    bench.progress.clear();
    let results = results?;
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&results.to_json(&bench))
            .map_err(|e| CliError::new(format!("cannot format the results as JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        results.render(&bench)
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::stdout(&e))?;
    // `sandbox` is dropped here, which deletes the namespace (also on the error paths above).
    Ok(())
}

/// The benchmark's rules, loaded with iptables when it works in the namespace (the same rules
/// as the reference harness), else with nft.
struct Rules<'a> {
    sandbox: &'a Sandbox,
    nft: bool,
}

impl<'a> Rules<'a> {
    fn install(sandbox: &'a Sandbox, queues: u16) -> Result<Self, CliError> {
        let target: Vec<String> = if queues > 1 {
            vec!["--queue-balance".into(), format!("0:{}", queues - 1)]
        } else {
            vec!["--queue-num".into(), "0".into()]
        };
        let load = |port: u16, target: &[String]| -> Vec<String> {
            let mut a: Vec<String> = ["-A", "OUTPUT", "-o", "lo", "-p", "udp", "--dport"]
                .iter()
                .map(|s| (*s).to_string())
                .collect();
            a.push(port.to_string());
            a.extend(["-j".into(), "NFQUEUE".into()]);
            a.extend(target.iter().cloned());
            a
        };
        let ping_target = ["--queue-num".to_string(), "0".to_string()];
        let iptables = [
            load(LOAD_PORT, &target),
            load(PING_PORT, &ping_target),
            [
                "-A", "INPUT", "-i", "lo", "-p", "udp", "--dport", "9999", "-j", "DROP",
            ]
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        ];
        let mut ipt_error = None;
        for rule in &iptables {
            let a: Vec<&str> = rule.iter().map(String::as_str).collect();
            if let Err(e) = sandbox.iptables(&a) {
                ipt_error = Some(e);
                break;
            }
        }
        let Some(ipt_error) = ipt_error else {
            return Ok(Self {
                sandbox,
                nft: false,
            });
        };
        // No usable iptables: the same rules in an nft table of our own.
        let _ = sandbox.iptables(&["-F", "OUTPUT"]);
        let _ = sandbox.iptables(&["-F", "INPUT"]);
        let to = if queues > 1 {
            format!("0-{}", queues - 1)
        } else {
            "0".into()
        };
        let script = format!(
            "table ip nfqbench {{\n\
             \x20chain output {{ type filter hook output priority 0;\n\
             \x20 oifname \"lo\" udp dport {LOAD_PORT} queue to {to}\n\
             \x20 oifname \"lo\" udp dport {PING_PORT} queue to 0\n\
             \x20}}\n\
             \x20chain input {{ type filter hook input priority 0;\n\
             \x20 iifname \"lo\" udp dport {LOAD_PORT} counter drop\n\
             \x20}}\n}}\n"
        );
        sandbox.nft(&script).map_err(|e| {
            CliError::new(format!(
                "cannot load the benchmark's rules with iptables ({ipt_error}) or nft ({e})"
            ))
        })?;
        Ok(Self { sandbox, nft: true })
    }

    fn backend(&self) -> &'static str {
        if self.nft { "nft" } else { "iptables" }
    }

    /// Packets the INPUT rule has dropped so far.
    fn input_packets(&self) -> Option<u64> {
        if self.nft {
            let mut cmd = self.sandbox.command("nft");
            cmd.args(["list", "chain", "ip", "nfqbench", "input"]);
            let out = cmd.output().ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find(|l| l.contains("counter packets"))?;
            let rest = &line[line.find("packets ")? + 8..];
            rest.split_whitespace().next()?.parse().ok()
        } else {
            let text = self
                .sandbox
                .iptables(&["-L", "INPUT", "-v", "-x", "-n"])
                .ok()?;
            let line = text
                .lines()
                .find(|l| l.contains("DROP") && l.contains("dpt:9999"))?;
            line.split_whitespace().next()?.parse().ok()
        }
    }
}

/// A throughput phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    PerPacket,
    Batched,
    Gso,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Self::PerPacket => "per-packet verdicts",
            Self::Batched => "batched verdicts",
            Self::Gso => "GSO, F_GSO (16 x payload)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::PerPacket => "per_packet",
            Self::Batched => "batched",
            Self::Gso => "gso",
        }
    }

    fn config(self) -> Config {
        match self {
            Self::PerPacket => Config::new(0).batch_verdicts(false),
            Self::Batched => Config::new(0),
            Self::Gso => Config::new(0).gso(true),
        }
    }

    fn segments(self) -> u16 {
        if self == Self::Gso { GSO_SEGMENTS } else { 1 }
    }
}

/// The handler every phase runs: accept everything; in the GSO phase also count the datagrams
/// inside each super-packet.
struct Handler {
    payload: usize,
    count_datagrams: bool,
    datagrams: AtomicU64,
}

impl Handler {
    fn handle(&self, packet: Packet<'_>) {
        if self.count_datagrams {
            let len = packet.payload().map_or(0, <[u8]>::len);
            let n = if self.payload == 0 {
                1
            } else {
                len.saturating_sub(IP_UDP_HEADERS)
                    .div_ceil(self.payload)
                    .max(1)
            };
            self.datagrams.fetch_add(n as u64, Ordering::Relaxed);
        }
        let _ = packet.accept();
    }
}

/// The handler while it runs: one thread of our own for one queue, a `FanOut` for several.
struct Running {
    stops: Vec<StopHandle>,
    threads: Arc<Mutex<Vec<ThreadCpu>>>,
    single: Option<JoinHandle<Result<Counters, String>>>,
    fan: Option<FanOut>,
}

impl Running {
    fn thread_times(&self) -> Vec<ThreadTimes> {
        let threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads.iter().filter_map(|t| t.sample().ok()).collect()
    }

    /// The library's counters per queue while the handler runs (several queues only).
    fn live_counters(&self) -> Vec<(u16, Counters)> {
        self.fan.as_ref().map(FanOut::counters).unwrap_or_default()
    }

    fn is_finished(&self) -> bool {
        self.single.as_ref().is_some_and(JoinHandle::is_finished)
            || self.fan.as_ref().is_some_and(FanOut::any_finished)
    }

    /// Stops the handler and returns the library's counters of each queue.
    fn finish(mut self) -> Result<Vec<(u16, Counters)>, CliError> {
        self.stops.iter().for_each(StopHandle::stop);
        if let Some(join) = self.single.take() {
            let counters = join
                .join()
                .map_err(|_| CliError::new("the benchmark's handler thread panicked"))?
                .map_err(|e| CliError::new(format!("the benchmark's handler failed: {e}")))?;
            return Ok(vec![(0, counters)]);
        }
        if let Some(fan) = self.fan.take() {
            let counters = fan.counters();
            fan.join()
                .map_err(|e| CliError::new(format!("the benchmark's handler failed: {e}")))?;
            return Ok(counters);
        }
        Ok(Vec::new())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // On an early return: never leave a handler running.
        self.stops.iter().for_each(StopHandle::stop);
    }
}

/// Sets a flag when dropped: stops the generator on every path out of a phase.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Everything read at one end of a window.
struct Sample {
    at: Instant,
    queues: Vec<QueueStats>,
    threads: Vec<ThreadTimes>,
    handler_cpu: Option<CpuTimes>,
    gen_cpu: Option<CpuTimes>,
    sent: u64,
    datagrams: u64,
    input: Option<(Instant, u64)>,
}

/// Per-second figures of one throughput phase.
struct Throughput {
    mode: Mode,
    window: Duration,
    /// Packets (messages) verdicted per second, from the kernel's counters.
    verdicted: f64,
    /// Datagrams verdicted per second (the handler's count inside GSO super-packets).
    datagrams: f64,
    /// Packets per second that the INPUT rule dropped (the cross-check).
    input: Option<f64>,
    offered: f64,
    queue_dropped: f64,
    user_dropped: f64,
    /// Datagrams per second the generator handed to the kernel.
    sent: f64,
    handler: ThreadTimes,
    handler_cpu: Option<CpuTimes>,
    gen_cpu: Option<CpuTimes>,
    counters: Vec<(u16, Counters)>,
    flood: Option<FloodReport>,
    latency: Option<Latency>,
    /// The window ended early because the generator reached `--packets`.
    count_bound: bool,
    interrupted: bool,
}

impl Throughput {
    fn handler_seconds(&self) -> f64 {
        self.handler
            .on_cpu
            .unwrap_or_else(|| self.handler.total())
            .as_secs_f64()
    }

    fn handler_share(&self) -> f64 {
        ratio(self.handler_seconds(), self.window.as_secs_f64())
    }

    fn handler_us_per_packet(&self) -> f64 {
        ratio(
            self.handler_seconds() * 1e6,
            self.verdicted * self.window.as_secs_f64(),
        )
    }

    fn cpu_us_per_packet(&self) -> Option<f64> {
        let cpu = self.handler_cpu?;
        Some(ratio(
            cpu.busy().as_secs_f64() * 1e6,
            self.verdicted * self.window.as_secs_f64(),
        ))
    }

    fn verdicts_per_send(&self) -> f64 {
        let (v, s) = self.counters.iter().fold((0, 0), |(v, s), (_, c)| {
            (v + c.verdicts, s + c.verdict_sends)
        });
        ratio(v as f64, s as f64)
    }

    fn drops(&self) -> f64 {
        self.queue_dropped + self.user_dropped
    }
}

/// One ping-pong's round-trip times.
#[derive(Debug, Clone)]
struct Latency {
    round_trips: usize,
    lost: usize,
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
}

struct Bench<'a> {
    sandbox: &'a Sandbox,
    rules: &'a Rules<'a>,
    args: &'a BenchArgs,
    interrupted: Arc<AtomicBool>,
    cpus: usize,
    gen_cpu: usize,
    handler_cpu: usize,
    progress: Progress,
}

struct Results {
    handler_cpu: usize,
    baseline: Option<Latency>,
    phases: Vec<Throughput>,
    interrupted: bool,
}

impl Bench<'_> {
    fn stopped(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    fn warmup(&self) -> Duration {
        (self.args.duration / 5).clamp(Duration::from_millis(200), Duration::from_secs(2))
    }

    fn run_phases(&mut self) -> Result<Results, CliError> {
        let mut results = Results {
            handler_cpu: self.handler_cpu,
            baseline: None,
            phases: Vec::new(),
            interrupted: false,
        };
        self.progress.step("latency without the rule");
        results.baseline = Some(self.ping_pong(BASELINE_PORT, "latency without the rule")?);
        for mode in [Mode::PerPacket, Mode::Batched, Mode::Gso] {
            if self.stopped() {
                break;
            }
            self.progress.step(mode.label());
            let phase = self.throughput(mode)?;
            results.phases.push(phase);
        }
        results.interrupted = self.stopped();
        Ok(results)
    }

    /// Starts the handler on every queue, pinned, and waits until the kernel lists the queues.
    fn start_handler(&self, config: Config, handler: Arc<Handler>) -> Result<Running, CliError> {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let queues = self.args.queues;
        let running = if queues == 1 {
            let (tx, rx) = mpsc::channel();
            let cpu = self.handler_cpu;
            let list = threads.clone();
            let join = self.sandbox.spawn(move || -> Result<Counters, String> {
                let _ = pin_current_thread(cpu);
                list.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(ThreadCpu::current());
                let mut queue = match Queue::open(config) {
                    Ok(q) => q,
                    Err(e) => {
                        let _ = tx.send(None);
                        return Err(e.to_string());
                    }
                };
                let _ = tx.send(Some(queue.stop_handle()));
                queue
                    .run(|p| handler.handle(p))
                    .map_err(|e| e.to_string())?;
                Ok(queue.counters())
            });
            let stop = rx.recv_timeout(Duration::from_secs(10)).ok().flatten();
            let Some(stop) = stop else {
                let why = if join.is_finished() {
                    match join.join() {
                        Ok(Err(e)) => e,
                        _ => "the handler thread ended".into(),
                    }
                } else {
                    "it did not start within 10 s".into()
                };
                return Err(CliError::new(format!(
                    "cannot bind queue 0 in the benchmark's namespace: {why}"
                )));
            };
            Running {
                stops: vec![stop],
                threads,
                single: Some(join),
                fan: None,
            }
        } else {
            // One worker per queue; each pins itself on its first packet to a CPU other than
            // the generator's (all to CPU 1 on a 2-CPU machine).
            let cpus = self.cpus;
            let next = Arc::new(AtomicUsize::new(0));
            let list = threads.clone();
            let config = config.netns_path(self.sandbox.netns_path());
            let fan = FanOut::start(config, 0..=queues - 1, false, move |p| {
                thread_local! {
                    static SEEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
                }
                if !SEEN.with(|s| s.replace(true)) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let cpu = if cpus >= 2 { 1 + i % (cpus - 1) } else { 0 };
                    let _ = pin_current_thread(cpu);
                    list.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(ThreadCpu::current());
                }
                handler.handle(p);
            })
            .map_err(|e| {
                CliError::new(format!(
                    "cannot bind queues 0-{} in the benchmark's namespace: {e}",
                    queues - 1
                ))
            })?;
            Running {
                stops: fan.stop_handles(),
                threads,
                single: None,
                fan: Some(fan),
            }
        };
        for q in 0..queues {
            if !self.sandbox.wait_for_queue_bound(q, SETTLE) {
                return Err(CliError::new(format!(
                    "queue {q} did not show up in the kernel's table within {} s",
                    SETTLE.as_secs()
                )));
            }
        }
        Ok(running)
    }

    fn queue_stats(&self) -> Result<Vec<QueueStats>, CliError> {
        let all = self
            .sandbox
            .all_queue_counters()
            .map_err(|e| CliError::io("cannot read the kernel's queue counters", &e))?;
        Ok(all
            .into_iter()
            .filter(|s| s.queue < self.args.queues)
            .collect())
    }

    fn waiting(&self) -> u64 {
        self.queue_stats()
            .map(|v| v.iter().map(|s| u64::from(s.waiting)).sum())
            .unwrap_or(0)
    }

    fn sample(
        &self,
        running: &Running,
        handler: &Handler,
        sent: &AtomicU64,
    ) -> Result<Sample, CliError> {
        let at = Instant::now();
        let queues = self.queue_stats()?;
        let sample = Sample {
            at,
            queues,
            threads: running.thread_times(),
            handler_cpu: CpuTimes::read(self.handler_cpu).ok(),
            gen_cpu: CpuTimes::read(self.gen_cpu).ok(),
            sent: sent.load(Ordering::Relaxed),
            datagrams: handler.datagrams.load(Ordering::Relaxed),
            // Last: it runs a command, which takes a few milliseconds.
            input: self.rules.input_packets().map(|n| (Instant::now(), n)),
        };
        Ok(sample)
    }

    fn throughput(&mut self, mode: Mode) -> Result<Throughput, CliError> {
        let args = self.args;
        let window = args.duration;
        let warmup = self.warmup();
        let payload = usize::from(args.payload);
        let handler = Arc::new(Handler {
            payload,
            count_datagrams: mode == Mode::Gso,
            datagrams: AtomicU64::new(0),
        });
        let running = self.start_handler(mode.config(), handler.clone())?;

        let sent = Arc::new(AtomicU64::new(0));
        let gen_stop = Arc::new(AtomicBool::new(false));
        let _gen_guard = StopOnDrop(gen_stop.clone());
        let mut flood = UdpFlood::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), LOAD_PORT))
            .payload_len(payload)
            .gso_segments(mode.segments())
            .duration(warmup + window + Duration::from_secs(5))
            .pin_to_cpu(self.gen_cpu)
            .stop_flag(gen_stop.clone())
            .progress(sent.clone());
        if let Some(n) = args.packets {
            flood = flood.count(n);
        }
        if args.queues > 1 {
            // Several flows, so that --queue-balance (a hash of the addresses) spreads them.
            let flows = u8::try_from(u32::from(args.queues) * 4)
                .unwrap_or(250)
                .min(250);
            flood = flood.sources((1..=flows).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))));
        }

        let s0 = self.sample(&running, &handler, &sent)?;
        let t0 = s0.at;
        let generator = self.sandbox.udp_flood(flood);

        // Warm-up: let the queue and the caches settle before the window opens.
        let warm_end = Instant::now() + warmup;
        while Instant::now() < warm_end && !generator.is_finished() && !self.stopped() {
            self.tick(mode, Instant::now(), warmup + window, &sent, t0);
            if running.is_finished() {
                break;
            }
        }
        let start = if generator.is_finished() || self.stopped() {
            s0
        } else {
            self.sample(&running, &handler, &sent)?
        };

        // The window: ends by time, by the generator's count, or on a signal.
        let end_at = start.at + window;
        let mut count_bound = false;
        loop {
            if self.stopped() || running.is_finished() {
                break;
            }
            if generator.is_finished() {
                count_bound = true;
                let _ = wait_until(SETTLE, || self.waiting() == 0);
                break;
            }
            if Instant::now() >= end_at {
                break;
            }
            self.tick(mode, Instant::now(), warmup + window, &sent, t0);
        }
        let end = self.sample(&running, &handler, &sent)?;
        gen_stop.store(true, Ordering::Relaxed);
        let flood_report = match generator.join() {
            Ok(Ok(r)) => Some(r),
            Ok(Err(e)) => return Err(CliError::io("the traffic generator failed", &e)),
            Err(_) => return Err(CliError::new("the traffic generator panicked")),
        };
        let _ = wait_until(SETTLE, || self.waiting() == 0);

        // The same handler, idle now, answers a ping-pong: the latency it adds.
        let latency = if matches!(mode, Mode::PerPacket | Mode::Batched)
            && !self.stopped()
            && !running.is_finished()
        {
            self.progress
                .show(&format!("{}: latency", mode.label()), None);
            Some(self.ping_pong(PING_PORT, mode.label())?)
        } else {
            None
        };
        let live = running.live_counters();
        let mut counters = running.finish()?;
        if counters.is_empty() {
            counters = live;
        }
        for q in 0..args.queues {
            // The next phase binds the same queues: wait until these are gone.
            let _ = wait_until(SETTLE, || {
                matches!(self.sandbox.queue_counters(q), Ok(None))
            });
        }
        Ok(compute(
            mode,
            &start,
            &end,
            counters,
            flood_report,
            latency,
            count_bound,
            self.stopped(),
        ))
    }

    fn tick(&mut self, mode: Mode, now: Instant, total: Duration, sent: &AtomicU64, t0: Instant) {
        let elapsed = now.saturating_duration_since(t0);
        let frac = ratio(elapsed.as_secs_f64(), total.as_secs_f64()).min(1.0);
        let rate = ratio(
            sent.load(Ordering::Relaxed) as f64,
            elapsed.as_secs_f64().max(1e-3),
        );
        self.progress.show(
            &format!("{}: generator {}/s", mode.label(), thousands(rate)),
            Some(frac),
        );
        std::thread::sleep(TICK);
    }

    /// A UDP ping-pong on the handler's core: one thread sends from a client socket, receives
    /// on the server socket, echoes, and receives the echo. Only the request matches a rule.
    fn ping_pong(&mut self, port: u16, label: &str) -> Result<Latency, CliError> {
        self.progress.show(label, None);
        let cpu = self.handler_cpu;
        let limit = self.args.duration;
        let stop = self.interrupted.clone();
        let result = self
            .sandbox
            .spawn(move || {
                let _ = pin_current_thread(cpu);
                ping_pong(port, limit, &stop)
            })
            .join()
            .map_err(|_| CliError::new("the ping-pong thread panicked"))?;
        result.map_err(|e| CliError::io(format!("ping-pong on port {port}"), &e))
    }
}

fn ping_pong(port: u16, limit: Duration, stop: &AtomicBool) -> io::Result<Latency> {
    let server = UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))?;
    let client = UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
    client.connect(server.local_addr()?)?;
    let timeout = Some(Duration::from_secs(1));
    server.set_read_timeout(timeout)?;
    client.set_read_timeout(timeout)?;
    let mut msg = [b'x'; 64];
    let mut buf = [0u8; 2048];
    let mut rtts: Vec<u64> = Vec::with_capacity(PING_COUNT);
    let mut lost = 0;
    let end = Instant::now() + limit;
    for i in 0..PING_WARMUP + PING_COUNT {
        if Instant::now() >= end || stop.load(Ordering::Relaxed) {
            break;
        }
        msg[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let t0 = Instant::now();
        if client.send(&msg).is_err() {
            lost += 1;
            continue;
        }
        let Ok((n, from)) = server.recv_from(&mut buf) else {
            lost += 1;
            continue;
        };
        if server.send_to(&buf[..n], from).is_err() || client.recv(&mut buf).is_err() {
            lost += 1;
            continue;
        }
        let rtt = t0.elapsed();
        if i >= PING_WARMUP {
            rtts.push(u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX));
        }
    }
    if rtts.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no round trip completed ({lost} lost)"),
        ));
    }
    rtts.sort_unstable();
    let pct = |q: f64| rtts[((rtts.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    let mean = rtts.iter().map(|&n| n as f64).sum::<f64>() / rtts.len() as f64 / 1000.0;
    Ok(Latency {
        round_trips: rtts.len(),
        lost,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        mean_us: mean,
    })
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the values are all of one phase"
)]
fn compute(
    mode: Mode,
    start: &Sample,
    end: &Sample,
    counters: Vec<(u16, Counters)>,
    flood: Option<FloodReport>,
    latency: Option<Latency>,
    count_bound: bool,
    interrupted: bool,
) -> Throughput {
    let window = end.at.saturating_duration_since(start.at);
    let secs = window.as_secs_f64().max(1e-9);
    let (mut verdicted, mut offered, mut qdrop, mut udrop) = (0i64, 0i64, 0i64, 0i64);
    for b in &end.queues {
        let Some(a) = start.queues.iter().find(|a| a.queue == b.queue) else {
            continue;
        };
        let ids = i64::from(b.id_sequence.wrapping_sub(a.id_sequence));
        let ud = i64::from(b.user_dropped.wrapping_sub(a.user_dropped));
        let qd = i64::from(b.queue_dropped.wrapping_sub(a.queue_dropped));
        let waiting = i64::from(b.waiting) - i64::from(a.waiting);
        verdicted += ids - ud - waiting;
        offered += ids + qd;
        qdrop += qd;
        udrop += ud;
    }
    let verdicted = verdicted.max(0) as f64 / secs;
    let datagrams = if mode == Mode::Gso {
        end.datagrams.saturating_sub(start.datagrams) as f64 / secs
    } else {
        verdicted
    };
    let input = match (start.input, end.input) {
        (Some((ta, a)), Some((tb, b))) => {
            let s = tb.saturating_duration_since(ta).as_secs_f64().max(1e-9);
            Some(b.saturating_sub(a) as f64 / s)
        }
        _ => None,
    };
    let handler = end
        .threads
        .iter()
        .zip(&start.threads)
        .map(|(b, a)| b.since(a))
        .fold(ThreadTimes::default(), |acc, t| {
            let mut sum = acc;
            sum.user += t.user;
            sum.system += t.system;
            sum.on_cpu = match (acc.on_cpu, t.on_cpu) {
                (Some(x), Some(y)) => Some(x + y),
                (None, y) if acc.total().is_zero() => y,
                _ => None,
            };
            sum
        });
    let cpu_delta = |a: Option<CpuTimes>, b: Option<CpuTimes>| Some(b?.since(&a?));
    Throughput {
        mode,
        window,
        verdicted,
        datagrams,
        input,
        offered: offered.max(0) as f64 / secs,
        queue_dropped: qdrop.max(0) as f64 / secs,
        user_dropped: udrop.max(0) as f64 / secs,
        sent: end.sent.saturating_sub(start.sent) as f64 / secs,
        handler,
        handler_cpu: cpu_delta(start.handler_cpu, end.handler_cpu),
        gen_cpu: cpu_delta(start.gen_cpu, end.gen_cpu),
        counters,
        flood,
        latency,
        count_bound,
        interrupted,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// `1234567.8` as `1,234,568`.
fn thousands(x: f64) -> String {
    let n = x.round().max(0.0) as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

impl Results {
    fn render(&self, bench: &Bench<'_>) -> String {
        let args = bench.args;
        let mut s = String::new();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        let _ = writeln!(
            s,
            "nfqueue bench: Linux {kernel}, {} CPUs; generator on CPU {}, handler on CPU {}; \
             {}-byte UDP payloads; rules by {}",
            bench.cpus,
            bench.gen_cpu,
            bench.handler_cpu,
            args.payload,
            bench.rules.backend()
        );
        let _ = writeln!(
            s,
            "queue: the library's Queue::run accepting everything, default Config (max length \
             1024, copy range 65531, receive buffer sized for the queue); window {:.1} s after \
             {:.1} s of warm-up{}",
            args.duration.as_secs_f64(),
            bench.warmup().as_secs_f64(),
            args.packets
                .map(|n| format!(", at most {} datagrams a phase", thousands(n as f64)))
                .unwrap_or_default()
        );
        s.push('\n');

        let mut rows: Vec<[String; 9]> = vec![[
            "phase".into(),
            "verdicted/s".into(),
            "datagrams/s".into(),
            "INPUT rule/s".into(),
            "offered/s".into(),
            "kernel drops/s (queue + user)".into(),
            "generator sent/s".into(),
            "verdicts/send".into(),
            "window s".into(),
        ]];
        for p in &self.phases {
            let mut label = p.mode.label().replace("payload", &args.payload.to_string());
            if p.interrupted {
                label.push_str(" (interrupted)");
            } else if p.count_bound {
                label.push_str(" (count)");
            }
            rows.push([
                label,
                thousands(p.verdicted),
                thousands(p.datagrams),
                p.input.map_or("-".into(), thousands),
                thousands(p.offered),
                format!(
                    "{} ({} + {})",
                    thousands(p.drops()),
                    thousands(p.queue_dropped),
                    thousands(p.user_dropped)
                ),
                thousands(p.sent),
                format!("{:.1}", p.verdicts_per_send()),
                format!("{:.2}", p.window.as_secs_f64()),
            ]);
        }
        table(&mut s, &rows);
        s.push('\n');

        let mut rows: Vec<[String; 8]> = vec![[
            "handler CPU".into(),
            "user s".into(),
            "system s".into(),
            "busy".into(),
            "user-space share".into(),
            "us/packet".into(),
            "CPU busy (user/sys/softirq)".into(),
            "CPU us/packet".into(),
        ]];
        for p in &self.phases {
            let cpu = p.handler_cpu.map_or("-".into(), |c| {
                let t = c.total().as_secs_f64();
                format!(
                    "{} ({}/{}/{})",
                    pct(c.busy_share()),
                    pct(ratio(c.user.as_secs_f64(), t)),
                    pct(ratio(c.system.as_secs_f64(), t)),
                    pct(ratio(c.softirq.as_secs_f64(), t))
                )
            });
            rows.push([
                p.mode.label().replace("payload", &args.payload.to_string()),
                format!("{:.2}", p.handler.user.as_secs_f64()),
                format!("{:.2}", p.handler.system.as_secs_f64()),
                pct(p.handler_share()),
                format!("{:.1}%", p.handler.user_share() * 100.0),
                format!("{:.2}", p.handler_us_per_packet()),
                cpu,
                p.cpu_us_per_packet()
                    .map_or("-".into(), |v| format!("{v:.2}")),
            ]);
        }
        table(&mut s, &rows);
        let _ = writeln!(
            s,
            "(user and system time of the handler thread{}; CPU columns: the whole handler \
             CPU {}, softirq included)",
            if args.queues > 1 { "s" } else { "" },
            bench.handler_cpu
        );
        s.push('\n');

        let mut rows: Vec<[String; 6]> = vec![[
            "latency (UDP ping-pong, 64 B, handler's core)".into(),
            "round trips".into(),
            "p50 us".into(),
            "p99 us".into(),
            "added p50 us".into(),
            "added p99 us".into(),
        ]];
        if let Some(b) = &self.baseline {
            rows.push([
                "without the rule".into(),
                thousands(b.round_trips as f64),
                format!("{:.1}", b.p50_us),
                format!("{:.1}", b.p99_us),
                "-".into(),
                "-".into(),
            ]);
        }
        for p in &self.phases {
            let Some(l) = &p.latency else { continue };
            let (d50, d99) = match &self.baseline {
                Some(b) => (
                    format!("{:+.1}", l.p50_us - b.p50_us),
                    format!("{:+.1}", l.p99_us - b.p99_us),
                ),
                None => ("-".into(), "-".into()),
            };
            rows.push([
                format!("through the queue, {}", p.mode.label()),
                thousands(l.round_trips as f64),
                format!("{:.1}", l.p50_us),
                format!("{:.1}", l.p99_us),
                d50,
                d99,
            ]);
        }
        table(&mut s, &rows);

        if args.queues > 1 {
            s.push('\n');
            let mut rows: Vec<[String; 4]> = vec![[
                "queue packets (library counters)".into(),
                "per-packet".into(),
                "batched".into(),
                "GSO".into(),
            ]];
            for q in 0..args.queues {
                let mut row = [q.to_string(), "-".into(), "-".into(), "-".into()];
                for p in &self.phases {
                    let i = match p.mode {
                        Mode::PerPacket => 1,
                        Mode::Batched => 2,
                        Mode::Gso => 3,
                    };
                    if let Some((_, c)) = p.counters.iter().find(|(n, _)| *n == q) {
                        row[i] = thousands(c.received as f64);
                    }
                }
                rows.push(row);
            }
            table(&mut s, &rows);
            let _ = writeln!(
                s,
                "note: this machine has {} CPUs; the generator needs one, so the {} workers \
                 share the rest{} and scaling with queues is not measurable here.",
                bench.cpus,
                args.queues,
                if bench.cpus <= 2 {
                    " (all on CPU 1)"
                } else {
                    ""
                }
            );
        }
        let notes = self.notes();
        if !notes.is_empty() {
            s.push('\n');
            for n in notes {
                let _ = writeln!(s, "note: {n}");
            }
        }
        s
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for p in &self.phases {
            if p.drops() < p.verdicted * 0.001 && !p.count_bound && !p.interrupted {
                notes.push(format!(
                    "{}: no kernel drops, so the generator was the limit, not the handler; \
                     compare CPU us/packet",
                    p.mode.label()
                ));
            }
            if let Some(cpu) = p.handler_cpu {
                // User time on the handler's CPU that the handler did not spend: other
                // programs ran there, and the figures of this phase are not the handler's own.
                let foreign = cpu.user.saturating_sub(p.handler.user).as_secs_f64();
                let share = ratio(foreign, cpu.total().as_secs_f64());
                if share > 0.05 {
                    notes.push(format!(
                        "{}: other programs used {} of CPU {} (user time outside the \
                         handler); the machine was not quiet, so repeat the run",
                        p.mode.label(),
                        pct(share),
                        self.handler_cpu
                    ));
                }
            }
            if let Some(f) = &p.flood {
                if f.errors > 0 {
                    notes.push(format!(
                        "{}: {} generator send errors (first: {})",
                        p.mode.label(),
                        f.errors,
                        f.first_error.as_deref().unwrap_or("?")
                    ));
                }
            }
        }
        if self.interrupted {
            notes.push("interrupted: the phases after the current one were skipped".into());
        }
        notes
    }

    fn to_json(&self, bench: &Bench<'_>) -> Value {
        let lat = |l: &Latency| {
            json!({
                "round_trips": l.round_trips,
                "lost": l.lost,
                "p50_us": l.p50_us,
                "p99_us": l.p99_us,
                "mean_us": l.mean_us,
            })
        };
        let phases: Vec<Value> = self
            .phases
            .iter()
            .map(|p| {
                let added = match (&p.latency, &self.baseline) {
                    (Some(l), Some(b)) => json!({
                        "p50_us": l.p50_us - b.p50_us,
                        "p99_us": l.p99_us - b.p99_us,
                    }),
                    _ => Value::Null,
                };
                json!({
                    "phase": p.mode.key(),
                    "window_s": p.window.as_secs_f64(),
                    "verdicted_per_s": p.verdicted,
                    "datagrams_per_s": p.datagrams,
                    "input_rule_per_s": p.input,
                    "offered_per_s": p.offered,
                    "queue_dropped_per_s": p.queue_dropped,
                    "user_dropped_per_s": p.user_dropped,
                    "generator_sent_per_s": p.sent,
                    "verdicts_per_send": p.verdicts_per_send(),
                    "handler_user_s": p.handler.user.as_secs_f64(),
                    "handler_system_s": p.handler.system.as_secs_f64(),
                    "handler_on_cpu_s": p.handler.on_cpu.map(|d| d.as_secs_f64()),
                    "handler_busy": p.handler_share(),
                    "user_space_share": p.handler.user_share(),
                    "handler_us_per_packet": p.handler_us_per_packet(),
                    "cpu_busy": p.handler_cpu.map(|c| c.busy_share()),
                    "cpu_us_per_packet": p.cpu_us_per_packet(),
                    "generator_cpu_busy": p.gen_cpu.map(|c| c.busy_share()),
                    "queues": p.counters.iter().map(|(q, c)| json!({
                        "queue": q,
                        "received": c.received,
                        "verdicts": c.verdicts,
                        "verdict_sends": c.verdict_sends,
                        "overruns": c.overruns,
                    })).collect::<Vec<_>>(),
                    "generator": p.flood.as_ref().map(|f| json!({
                        "datagrams": f.datagrams,
                        "messages": f.messages,
                        "calls": f.calls,
                        "errors": f.errors,
                        "elapsed_s": f.elapsed.as_secs_f64(),
                    })),
                    "latency": p.latency.as_ref().map(lat),
                    "added_latency": added,
                    "count_bound": p.count_bound,
                    "interrupted": p.interrupted,
                })
            })
            .collect();
        json!({
            "cpus": bench.cpus,
            "generator_cpu": bench.gen_cpu,
            "handler_cpu": bench.handler_cpu,
            "queues": bench.args.queues,
            "payload": bench.args.payload,
            "rules": bench.rules.backend(),
            "window_s": bench.args.duration.as_secs_f64(),
            "warmup_s": bench.warmup().as_secs_f64(),
            "baseline_latency": self.baseline.as_ref().map(lat),
            "phases": phases,
            "interrupted": self.interrupted,
            "notes": self.notes(),
        })
    }
}

/// Writes rows as a table: the first column left-aligned, the others right-aligned.
fn table<const N: usize>(out: &mut String, rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i == 0 {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(line, "  {cell:>w$}");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// Progress on stderr, only when stderr is a terminal: `[2/4] ⠋ batched verdicts ... 45%`.
struct Progress {
    on: bool,
    step: usize,
    steps: usize,
    spin: usize,
}

impl Progress {
    fn new(steps: usize) -> Self {
        Self {
            on: io::stderr().is_terminal(),
            step: 0,
            steps,
            spin: 0,
        }
    }

    fn step(&mut self, label: &str) {
        self.step += 1;
        self.show(label, None);
    }

    fn show(&mut self, label: &str, frac: Option<f64>) {
        if !self.on {
            return;
        }
        const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
        self.spin = (self.spin + 1) % SPINNER.len();
        let percent = frac.map_or(String::new(), |f| format!(" {:>3.0}%", f * 100.0));
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K[{}/{}] {} {label}{percent}",
            self.step, self.steps, SPINNER[self.spin]
        );
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.on {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(-5.0), "0");
    }

    #[test]
    fn tables_align() {
        let mut s = String::new();
        table(
            &mut s,
            &[
                ["a".to_string(), "bb".to_string()],
                ["ccc".to_string(), "1".to_string()],
            ],
        );
        assert_eq!(s, "a    bb\nccc   1\n");
    }

    #[test]
    fn modes_configure_the_queue() {
        assert!(
            !Mode::PerPacket
                .config()
                .requested_flags()
                .contains(linux_nfqueue::ConfigFlags::GSO)
        );
        assert!(
            Mode::Gso
                .config()
                .requested_flags()
                .contains(linux_nfqueue::ConfigFlags::GSO)
        );
        assert_eq!(Mode::Gso.segments(), 16);
        assert_eq!(Mode::Batched.segments(), 1);
    }

    fn stats(id: u32, waiting: u32, qd: u32, ud: u32) -> QueueStats {
        QueueStats::parse_proc(&format!("0 1 {waiting} 2 65531 {qd} {ud} {id} 1\n")).unwrap()[0]
    }

    #[test]
    fn rates_come_from_the_kernel_counters() {
        let t0 = Instant::now();
        let sample = |at: Instant, s: QueueStats, sent: u64| Sample {
            at,
            queues: vec![s],
            threads: Vec::new(),
            handler_cpu: None,
            gen_cpu: None,
            sent,
            datagrams: 0,
            input: None,
        };
        // Over 2 s: 1000 ids given, 100 lost at the socket, 10 more waiting, 50 never queued;
        // the id counter wraps around in between.
        let a = sample(t0, stats(u32::MAX - 499, 5, 0, 0), 0);
        let b = sample(t0 + Duration::from_secs(2), stats(500, 15, 50, 100), 1200);
        let p = compute(Mode::Batched, &a, &b, Vec::new(), None, None, false, false);
        assert_eq!(p.verdicted, (1000.0 - 100.0 - 10.0) / 2.0);
        assert_eq!(p.offered, 1050.0 / 2.0);
        assert_eq!(p.drops(), 75.0);
        assert_eq!(p.sent, 600.0);
        assert_eq!(p.datagrams, p.verdicted);
    }
}
