// SPDX-License-Identifier: MIT OR Apache-2.0
//! `nfqueue run`: bind one queue or a range, judge every packet, print what was judged.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use linux_nfqueue::{
    Config, CtUpdate, FanOut, Packet, PacketView, StopHandle, Verdict, VerdictAttrs,
};

use crate::args::RunArgs;
use crate::error::CliError;
use crate::output::{Format, PacketLine, PacketPrinter, hook_label};
use crate::pcap::PcapSink;
use crate::summary::PacketSummary;

/// How often the main thread checks for signals, the timeout and the count.
const TICK: Duration = Duration::from_millis(20);

/// The queue configuration the options ask for.
pub(crate) fn config_for(args: &RunArgs) -> Config {
    let mut config = Config::new(args.queue.first)
        .fail_open(args.fail_open)
        .gso(args.gso)
        .conntrack(args.conntrack)
        .uid_gid(args.uid_gid)
        .batch_verdicts(!args.no_batch);
    if let Some(range) = args.copy_range {
        config = config.copy_range(range);
    }
    if let Some(n) = args.recv_batch {
        config = config.recv_batch(usize::from(n));
    }
    if let Some(len) = args.max_queue_len {
        config = config.max_queue_len(len);
    }
    if let Some(ns) = &args.netns {
        config = config.netns(ns);
    }
    config
}

/// Everything the workers share; per-packet work touches only atomics unless output is on.
struct Judge {
    verdict: Verdict,
    verdict_name: String,
    mark: Option<u32>,
    connmark: Option<u32>,
    limit: Option<u64>,
    judged: AtomicU64,
    extra: AtomicU64,
    done: AtomicBool,
    stops: OnceLock<Vec<StopHandle>>,
    printer: Option<Mutex<(PacketPrinter, io::Stdout)>>,
    pcap: Option<Mutex<PcapSink<BufWriter<File>>>>,
    failures: AtomicU64,
}

impl Judge {
    fn attrs(&self) -> VerdictAttrs<'static> {
        let mut attrs = VerdictAttrs::new();
        if let Some(m) = self.mark {
            attrs = attrs.with_mark(m);
        }
        if let Some(m) = self.connmark {
            attrs = attrs.with_conntrack(CtUpdate::new().with_mark(m, u32::MAX));
        }
        attrs
    }

    fn request_stop(&self) {
        self.done.store(true, Ordering::Release);
        if let Some(stops) = self.stops.get() {
            stops.iter().for_each(StopHandle::stop);
        }
    }

    fn handle(&self, packet: Packet<'_>) {
        let n = self.judged.fetch_add(1, Ordering::Relaxed) + 1;
        if self.limit.is_some_and(|k| n > k) {
            // Past --count: answer as asked, but neither show nor count it.
            self.judged.fetch_sub(1, Ordering::Relaxed);
            self.extra.fetch_add(1, Ordering::Relaxed);
            let _ = packet.verdict_with(self.verdict, &self.attrs());
            return;
        }
        if self.printer.is_some() || self.pcap.is_some() {
            self.record(&packet.view());
        }
        if let Err(e) = packet.verdict_with(self.verdict, &self.attrs()) {
            self.failures.fetch_add(1, Ordering::Relaxed);
            log_once(&e);
        }
        if self.limit.is_some_and(|k| n >= k) {
            self.request_stop();
        }
    }

    fn record(&self, view: &PacketView<'_>) {
        let payload = view.payload().unwrap_or(&[]);
        if let Some(printer) = &self.printer {
            let line = PacketLine {
                id: view.id(),
                queue: view.queue(),
                hook: hook_label(view.hook()),
                family: view.family().name(),
                len: payload.len(),
                cap_len: view.cap_len(),
                mark: view.mark(),
                uid: view.uid(),
                gid: view.gid(),
                indev: view.indev(),
                outdev: view.outdev(),
                gso: view.skb_info().gso(),
                summary: PacketSummary::decode(view.family(), view.hw_protocol(), payload),
                verdict: &self.verdict_name,
            };
            let mut guard = printer.lock().unwrap_or_else(|e| e.into_inner());
            let (printer, stdout) = &mut *guard;
            if printer.write(&mut stdout.lock(), &line).is_err() {
                // Standard output is gone (for example `| head`): stop quietly.
                drop(guard);
                self.request_stop();
            }
        }
        if let Some(pcap) = &self.pcap {
            let when = view
                .timestamp()
                .and_then(|t| t.to_system_time())
                .unwrap_or_else(SystemTime::now);
            let mut sink = pcap.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = sink.write_packet(when, payload, view.cap_len()) {
                eprintln!("nfqueue: warning: cannot write the capture file: {e}");
            }
        }
    }
}

fn log_once(e: &linux_nfqueue::Error) {
    static SHOWN: AtomicBool = AtomicBool::new(false);
    if !SHOWN.swap(true, Ordering::Relaxed) {
        eprintln!("nfqueue: warning: a verdict failed: {e}");
    }
}

/// Runs `nfqueue run`.
pub(crate) fn run(args: &RunArgs) -> Result<(), CliError> {
    if let Some(name) = &args.netns {
        check_netns(name)?;
    }
    let started = Instant::now();
    // A timeout too long for the clock to represent is no time limit (not an overflow panic).
    let deadline = args.timeout.and_then(|t| started.checked_add(t));
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, signalled.clone())
            .map_err(|e| CliError::io("cannot install the signal handler", &e))?;
    }
    let pcap = match &args.pcap {
        Some(path) => Some(Mutex::new(PcapSink::create(path).map_err(|e| {
            CliError::io(
                format!("cannot create the capture file {}", path.display()),
                &e,
            )
        })?)),
        None => None,
    };
    let printer = (!args.quiet).then(|| {
        let format = if args.json {
            Format::Json
        } else {
            Format::Human
        };
        Mutex::new((PacketPrinter::for_stdout(format), io::stdout()))
    });
    let judge = Arc::new(Judge {
        verdict: args.verdict,
        verdict_name: args.verdict.to_string(),
        mark: args.mark,
        connmark: args.connmark,
        limit: args.count,
        judged: AtomicU64::new(0),
        extra: AtomicU64::new(0),
        done: AtomicBool::new(false),
        stops: OnceLock::new(),
        printer,
        pcap,
        failures: AtomicU64::new(0),
    });
    let config = config_for(args);
    let worker_judge = judge.clone();
    let fan = FanOut::start(
        config,
        args.queue.first..=args.queue.last,
        args.queue.len() > 1,
        move |packet| worker_judge.handle(packet),
    )
    .map_err(|e| CliError::new(format!("{e}")))?;
    let _ = judge.stops.set(fan.stop_handles());
    let wanted = config_for(args).requested_flags();
    for &(q, flags) in fan.granted_flags() {
        if flags != wanted {
            eprintln!(
                "nfqueue: warning: queue {q}: the kernel granted flags {flags:?} of {wanted:?}"
            );
        }
    }
    loop {
        let stop = signalled.load(Ordering::Relaxed)
            || judge.done.load(Ordering::Acquire)
            || deadline.is_some_and(|d| Instant::now() >= d)
            || fan.any_finished();
        if stop {
            break;
        }
        std::thread::sleep(TICK);
    }
    fan.stop();
    let per_queue = fan.counters();
    let result = fan.join();
    if let Some(pcap) = &judge.pcap {
        let mut sink = pcap.lock().unwrap_or_else(|e| e.into_inner());
        sink.flush()
            .map_err(|e| CliError::io("cannot write the capture file", &e))?;
    }
    if let Some(printer) = &judge.printer {
        let mut guard = printer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = guard.1.flush();
    }
    print_summary(&judge, &per_queue, started.elapsed());
    result.map_err(|e| CliError::new(format!("{e}")))
}

/// Says which namespace is missing and how to find the right name, before the library's
/// terser "open network namespace failed: No such file or directory".
fn check_netns(name: &str) -> Result<(), CliError> {
    let path = std::path::Path::new("/run/netns").join(name);
    match std::fs::metadata(&path) {
        Ok(_) => Ok(()),
        Err(e) => Err(CliError::new(format!(
            "cannot use network namespace {name} ({}): {e}; `ip netns list` shows the \
             namespaces there are, `ip netns add {name}` makes one",
            path.display()
        ))),
    }
}

fn print_summary(judge: &Judge, per_queue: &[(u16, linux_nfqueue::Counters)], took: Duration) {
    let judged = judge.judged.load(Ordering::Relaxed);
    let mut line = format!("{judged} packets judged in {:.1} s", took.as_secs_f64());
    let extra = judge.extra.load(Ordering::Relaxed);
    if extra > 0 {
        line.push_str(&format!(" (+{extra} answered while stopping)"));
    }
    if per_queue.len() > 1 {
        let parts: Vec<String> = per_queue
            .iter()
            .map(|(q, c)| format!("q{q} {}", c.verdicts))
            .collect();
        line.push_str(&format!(" [{}]", parts.join(", ")));
    }
    let overruns: u64 = per_queue.iter().map(|(_, c)| c.overruns).sum();
    if overruns > 0 {
        line.push_str(&format!(
            "; {overruns} socket overruns (packets lost in the kernel)"
        ));
    }
    let failures = judge.failures.load(Ordering::Relaxed);
    if failures > 0 {
        line.push_str(&format!("; {failures} verdicts failed"));
    }
    eprintln!("{line}");
}
