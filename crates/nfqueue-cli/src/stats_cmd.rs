// SPDX-License-Identifier: MIT OR Apache-2.0
//! `nfqueue stats`: the kernel's table of bound queues, once or refreshed with per-second rates.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use linux_nfqueue::QueueStats;

use crate::args::StatsArgs;
use crate::error::CliError;

/// Runs `nfqueue stats`.
///
/// # Errors
///
/// When the table cannot be read (module not loaded, not root) or standard output fails.
pub(crate) fn run(args: &StatsArgs) -> Result<(), CliError> {
    if args.watch {
        watch(args)
    } else {
        let stats = read()?;
        let mut out = io::stdout().lock();
        let mut text = Vec::new();
        render(&mut text, &stats, None).map_err(|e| CliError::stdout(&e))?;
        out.write_all(&text)
            .and_then(|()| out.flush())
            .map_err(|e| CliError::stdout(&e))
    }
}

/// Reads the table, sorted by queue number.
fn read() -> Result<Vec<QueueStats>, CliError> {
    let mut stats = QueueStats::read_all()
        .map_err(|e| CliError::new(format!("cannot read the kernel's queue table: {e}")))?;
    stats.sort_by_key(|s| s.queue);
    Ok(stats)
}

/// The previous reading and how long ago it was taken, for rates.
type Previous<'a> = (&'a [QueueStats], Duration);

/// Column headers and widths; the copy mode is left-aligned, numbers right-aligned.
const HEADER: &str =
    "queue      portid  waiting  copy mode  copy range  queue dropped  user dropped     last id";
const RATE_HEADER: &str = "  queued/s  qdrop/s  udrop/s";

/// Writes the table. With `previous`, adds per-second rate columns (watch mode).
fn render(
    out: &mut impl Write,
    stats: &[QueueStats],
    previous: Option<Previous<'_>>,
) -> io::Result<()> {
    let watch = previous.is_some();
    out.write_all(HEADER.as_bytes())?;
    if watch {
        out.write_all(RATE_HEADER.as_bytes())?;
    }
    out.write_all(b"\n")?;
    if stats.is_empty() {
        writeln!(out, "(no queue is bound in this network namespace)")?;
        return Ok(());
    }
    for s in stats {
        write!(
            out,
            "{:>5}  {:>10}  {:>7}  {:<9}  {:>10}  {:>13}  {:>12}  {:>10}",
            s.queue,
            s.portid,
            s.waiting,
            s.copy_mode_name(),
            s.copy_range,
            s.queue_dropped,
            s.user_dropped,
            s.id_sequence
        )?;
        if let Some((before, elapsed)) = previous {
            // Rates only against the same binding: a rebound queue restarts its counters.
            let old = before
                .iter()
                .find(|o| o.queue == s.queue && o.portid == s.portid);
            match old {
                Some(o) if !elapsed.is_zero() => {
                    let secs = elapsed.as_secs_f64();
                    let rate = |new: u32, old: u32| f64::from(new.wrapping_sub(old)) / secs;
                    write!(
                        out,
                        "  {:>8.0}  {:>7.0}  {:>7.0}",
                        rate(s.id_sequence, o.id_sequence),
                        rate(s.queue_dropped, o.queue_dropped),
                        rate(s.user_dropped, o.user_dropped)
                    )?;
                }
                _ => write!(out, "  {:>8}  {:>7}  {:>7}", "-", "-", "-")?,
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Installs SIGINT and SIGTERM handlers that set the returned flag; a second signal ends the
/// process at once.
fn stop_flag() -> Result<Arc<AtomicBool>, CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| CliError::io("cannot install the signal handlers", &e))?;
    }
    Ok(stop)
}

/// `--watch`: refresh every interval until a signal or `--count` refreshes.
fn watch(args: &StatsArgs) -> Result<(), CliError> {
    let stop = stop_flag()?;
    let terminal = io::stdout().is_terminal();
    let mut out = io::stdout().lock();
    let mut frame = Vec::with_capacity(4096);
    let mut previous: Option<(Vec<QueueStats>, Instant)> = None;
    let start = Instant::now();
    let mut refreshes: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let stats = read()?;
        let now = Instant::now();
        frame.clear();
        if terminal {
            // Home and clear, then a title.
            frame.extend_from_slice(b"\x1b[H\x1b[2J");
            writeln!(
                frame,
                "nfqueue stats, every {:?}; Ctrl-C to stop\n",
                args.interval
            )
            .map_err(|e| CliError::stdout(&e))?;
        } else if refreshes > 0 {
            frame.push(b'\n');
        }
        let empty: &[QueueStats] = &[];
        let prev = match &previous {
            Some((old, at)) => (old.as_slice(), now.duration_since(*at)),
            None => (empty, Duration::ZERO),
        };
        render(&mut frame, &stats, Some(prev)).map_err(|e| CliError::stdout(&e))?;
        out.write_all(&frame)
            .and_then(|()| out.flush())
            .map_err(|e| CliError::stdout(&e))?;
        previous = Some((stats, now));
        refreshes += 1;
        if args.count.is_some_and(|count| refreshes >= count) {
            break;
        }
        // Sleep to the next tick (no drift), waking often enough to notice a signal.
        let next = start
            + args
                .interval
                .saturating_mul(u32::try_from(refreshes).unwrap_or(u32::MAX));
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured on Linux 6.18.44; see linux-nfqueue's stats tests for how.
    const CAPTURED: &str = "\
65535 3818515642     0 2   128     0     0        0  1
    5   6741     1 2 65531     2     0        1  1
    7 3818515642     0 1     0     0     0        0  1
";

    fn table(stats: &[QueueStats], previous: Option<Previous<'_>>) -> String {
        let mut out = Vec::new();
        render(&mut out, stats, previous).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_table() {
        let mut stats = QueueStats::parse_proc(CAPTURED).unwrap();
        stats.sort_by_key(|s| s.queue);
        let text = table(&stats, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(
            lines[1],
            "    5        6741        1  packet          65531              2             0           1"
        );
        assert_eq!(
            lines[2],
            "    7  3818515642        0  meta                0              0             0           0"
        );
        assert!(lines[3].starts_with("65535  3818515642"));
        // Columns line up with the header.
        for line in &lines[1..] {
            assert_eq!(line.len(), HEADER.len(), "{line}");
        }
    }

    #[test]
    fn no_queue_bound() {
        assert_eq!(
            table(&[], None),
            format!("{HEADER}\n(no queue is bound in this network namespace)\n")
        );
    }

    #[test]
    fn watch_rates() {
        let before =
            QueueStats::parse_proc("5 100 0 2 65531 10 0 1000 1\n9 1 0 2 0 0 0 5 1").unwrap();
        let after = QueueStats::parse_proc(
            "5 100 3 2 65531 14 1 3000 1\n7 50 0 2 0 0 0 0 1\n9 2 0 2 0 0 0 0 1",
        )
        .unwrap();
        let text = table(&after, Some((&before, Duration::from_secs(2))));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("{HEADER}{RATE_HEADER}"));
        assert!(
            lines[1].ends_with("      1000        2        0"),
            "{}",
            lines[1]
        );
        // New queue and rebound queue (other port id): no rate yet.
        assert!(
            lines[2].ends_with("         -        -        -"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].ends_with("         -        -        -"),
            "{}",
            lines[3]
        );
        // Counters wrap around.
        let before = QueueStats::parse_proc("5 100 0 2 0 0 0 4294967295 1").unwrap();
        let after = QueueStats::parse_proc("5 100 0 2 0 0 0 9 1").unwrap();
        let text = table(&after, Some((&before, Duration::from_secs(1))));
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with("        10        0        0")
        );
    }
}
