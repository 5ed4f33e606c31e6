// SPDX-License-Identifier: MIT OR Apache-2.0
//! Command-line arguments: the clap definitions and the value parsers behind them.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use linux_nfqueue::Verdict;

const EXAMPLES: &str = "\
Examples:
  nfqueue demo                               see it work in a private network namespace
  nfqueue run -q 0                           accept everything on queue 0, one line per packet
  nfqueue run -q 0-3 --verdict drop --count 100
  nfqueue run -q 5 --mark 0x10 --json        mark packets, print JSON lines
  nfqueue run -q 5 --pcap out.pcap --quiet   record packets for tcpdump or Wireshark
  nfqueue stats --watch                      the kernel's queue table, refreshed every second
  nfqueue bench --duration 5                 packets judged per second on this machine

Queue packets to it with a rule such as
  nft add rule inet filter output udp dport 9999 queue num 0
  iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0
Binding a queue needs CAP_NET_ADMIN (root).";

const RUN_EXAMPLES: &str = "\
Examples:
  nfqueue run -q 0
      #17 q0 output ipv4 udp 127.0.0.1:40000 > 127.0.0.1:9999 len 92 mark 0 -> accept
  nfqueue run -q 0-3 --verdict queue:8:bypass     pass everything on to queue 8, or accept
  nfqueue run -q 5 --verdict repeat --mark 1      re-run the hook with mark 1 set
  nfqueue run -q 5 --count 10 --json > packets.jsonl
  nfqueue run -q 5 --timeout 30 --pcap out.pcap --quiet
  nfqueue run -q 5 --netns blue                   inside /run/netns/blue

It stops after --count packets, after --timeout, or on Ctrl-C or SIGTERM, then prints
'<N> packets judged' on stderr, unbinds and exits 0.";

/// `nfqueue`: watch, judge, record, count and benchmark netfilter NFQUEUE queues.
#[derive(Debug, Parser)]
#[command(
    name = "nfqueue",
    version,
    about = "Watch, judge, record and benchmark netfilter NFQUEUE queues",
    after_help = EXAMPLES,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Bind one queue or a range, judge every packet and print what was judged
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Print the kernel's table of bound queues (/proc/net/netfilter/nfnetlink_queue)
    Stats(StatsArgs),
    /// Show NFQUEUE at work in a private network namespace with its own traffic (needs root)
    Demo(DemoArgs),
    /// Measure packets judged per second and added latency in a private network namespace
    Bench(BenchArgs),
}

/// Options of `nfqueue run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Queue number (0-65535), or an inclusive range N-M with one worker per queue
    #[arg(short, long, value_name = "N|N-M", value_parser = parse_queue_range)]
    pub(crate) queue: QueueRange,

    /// Verdict for every packet: accept, drop, repeat, stop, queue:M or queue:M:bypass
    #[arg(
        long,
        value_name = "V",
        default_value = "accept",
        value_parser = parse_verdict,
        long_help = "Verdict for every packet:\n  \
            accept          let it continue with the next hook entry (default)\n  \
            drop            discard it\n  \
            repeat          run the same hook again (pair it with --mark and a rule that skips \
            marked packets)\n  \
            stop            accept and skip the remaining hook entries\n  \
            queue:M         move it to queue M (dropped if nobody listens there)\n  \
            queue:M:bypass  move it to queue M, or accept it if nobody listens there"
    )]
    pub(crate) verdict: Verdict,

    /// Set the packet mark with every verdict (decimal or 0x hex)
    #[arg(long, value_name = "VALUE", value_parser = parse_u32_value)]
    pub(crate) mark: Option<u32>,

    /// Set the conntrack mark with every verdict (decimal or 0x hex)
    #[arg(long, value_name = "VALUE", value_parser = parse_u32_value)]
    pub(crate) connmark: Option<u32>,

    /// Exit once K packets have been judged (all queues together)
    #[arg(long, value_name = "K", value_parser = parse_positive_u64)]
    pub(crate) count: Option<u64>,

    /// Exit after SECS seconds (fractions allowed, for example 0.5)
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub(crate) timeout: Option<Duration>,

    /// No per-packet output
    #[arg(long, conflicts_with = "json")]
    pub(crate) quiet: bool,

    /// Per-packet output as one JSON object per line
    #[arg(long)]
    pub(crate) json: bool,

    /// Also write every packet to FILE (classic pcap, link type RAW)
    #[arg(long, value_name = "FILE")]
    pub(crate) pcap: Option<PathBuf>,

    /// Let packets through when the queue is full instead of dropping them (kernel flag)
    #[arg(long)]
    pub(crate) fail_open: bool,

    /// Receive GSO packets whole, larger than the MTU, checksums possibly unfinished (kernel flag)
    #[arg(long)]
    pub(crate) gso: bool,

    /// Ask the kernel for each packet's conntrack entry (kernel flag)
    #[arg(long)]
    pub(crate) conntrack: bool,

    /// Ask the kernel for the uid and gid of the sending socket (kernel flag)
    #[arg(long)]
    pub(crate) uid_gid: bool,

    /// Kernel queue length: packets waiting for a verdict before new ones are dropped
    #[arg(long, value_name = "N", value_parser = parse_queue_len)]
    pub(crate) max_queue_len: Option<u32>,

    /// Bytes of each packet copied to user space (the kernel caps it at 65531)
    #[arg(long, value_name = "N", value_parser = parse_u32_value)]
    pub(crate) copy_range: Option<u32>,

    /// Work inside the network namespace /run/netns/NAME
    #[arg(long, value_name = "NAME", value_parser = parse_netns_name)]
    pub(crate) netns: Option<String>,

    /// Send one verdict per packet, each in its own send, instead of coalescing them
    #[arg(long)]
    pub(crate) no_batch: bool,

    /// Datagrams one receive system call may return (recvmmsg), 1 to 1024 [default: 32]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) recv_batch: Option<u16>,
}

/// Options of `nfqueue stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Refresh every second with per-second rates, until Ctrl-C or SIGTERM
    #[arg(short, long)]
    pub(crate) watch: bool,

    /// With --watch: stop after N refreshes
    #[arg(long, value_name = "N", requires = "watch", value_parser = parse_positive_u64)]
    pub(crate) count: Option<u64>,

    /// With --watch: seconds between refreshes
    #[arg(
        long,
        value_name = "SECS",
        requires = "watch",
        default_value = "1",
        value_parser = parse_seconds
    )]
    pub(crate) interval: Duration,
}

/// Options of `nfqueue demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {}

/// Options of `nfqueue bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Length of each phase in seconds
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    pub(crate) duration: Duration,

    /// Number of queues (one worker each)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) queues: u16,

    /// Stop each phase after this many packets
    #[arg(long, value_name = "N", value_parser = parse_positive_u64)]
    pub(crate) packets: Option<u64>,

    /// UDP payload bytes of each generated packet
    #[arg(long, value_name = "BYTES", default_value_t = 64, value_parser = clap::value_parser!(u16).range(0..=65507))]
    pub(crate) payload: u16,

    /// Print the results as one JSON object instead of tables
    #[arg(long)]
    pub(crate) json: bool,
}

/// An inclusive range of queue numbers, `N` or `N-M` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueRange {
    /// The first queue.
    pub(crate) first: u16,
    /// The last queue, at least `first`.
    pub(crate) last: u16,
}

impl QueueRange {
    /// How many queues the range holds (1 to 65536).
    pub(crate) fn len(self) -> usize {
        usize::from(self.last - self.first) + 1
    }
}

impl fmt::Display for QueueRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Parses a plain decimal queue number with a message that names the valid range.
fn parse_queue_number(text: &str, what: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err(format!("{what} is missing: queues are numbered 0 to 65535"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{text}' is not a queue number: use a decimal number from 0 to 65535"
        ));
    }
    text.parse::<u16>()
        .map_err(|_| format!("queue {text} does not exist: queues are numbered 0 to 65535"))
}

/// Parses `N` or `N-M`.
pub(crate) fn parse_queue_range(text: &str) -> Result<QueueRange, String> {
    let (first, last) = match text.split_once('-') {
        None => {
            let n = parse_queue_number(text, "the queue number")?;
            (n, n)
        }
        Some((a, b)) => (
            parse_queue_number(a, "the first queue of the range")?,
            parse_queue_number(b, "the last queue of the range")?,
        ),
    };
    if first > last {
        return Err(format!(
            "the range {first}-{last} runs backwards: write the lower queue first ({last}-{first})"
        ));
    }
    Ok(QueueRange { first, last })
}

/// Parses a `--verdict` value with the library's parser (`NF_STOLEN` cannot be expressed),
/// adding a hint for the usual mistakes.
pub(crate) fn parse_verdict(text: &str) -> Result<Verdict, String> {
    let lower = text.to_ascii_lowercase();
    if let Ok(v) = lower.parse::<Verdict>() {
        return Ok(v);
    }
    Err(match lower.as_str() {
        "stolen" => "the kernel refuses 'stolen' (NF_STOLEN) from user space: use drop to \
                     discard a packet"
            .to_owned(),
        "queue" => "'queue' needs a target queue: queue:M or queue:M:bypass (for example queue:1)"
            .to_owned(),
        _ => match lower.strip_prefix("queue:") {
            Some(rest) => {
                let (number, option) = rest.split_once(':').unwrap_or((rest, ""));
                match parse_queue_number(number, "the target queue after 'queue:'") {
                    Err(e) => e,
                    Ok(q) => format!(
                        "'{option}' after the queue number is not an option: only \
                         queue:{q}:bypass is"
                    ),
                }
            }
            None => format!(
                "'{text}' is not a verdict: use accept, drop, repeat, stop, queue:M or \
                 queue:M:bypass"
            ),
        },
    })
}

/// Parses a `u32` in decimal or in hex with a `0x` prefix.
pub(crate) fn parse_u32_value(text: &str) -> Result<u32, String> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!(
            "'{text}' is not a number: use decimal (16) or hex with 0x (0x10)"
        ));
    }
    u32::from_str_radix(digits, radix)
        .map_err(|_| format!("'{text}' is too large: the most is 4294967295 (0xffffffff)"))
}

/// Parses a count that must be at least 1.
pub(crate) fn parse_positive_u64(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{text}' is not a whole number"));
    }
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is too large")),
    }
}

/// Parses a kernel queue length: 1 to 2^32 - 1.
fn parse_queue_len(text: &str) -> Result<u32, String> {
    match parse_u32_value(text)? {
        0 => Err("a queue of length 0 would drop every packet: use at least 1".to_owned()),
        n => Ok(n),
    }
}

/// Parses seconds: a positive decimal number, fractions allowed (`10`, `0.5`).
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    let well_formed = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && text.bytes().filter(|&b| b == b'.').count() <= 1
        && text.bytes().any(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(format!(
            "'{text}' is not a number of seconds: use for example 10 or 0.5"
        ));
    }
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if seconds <= 0.0 {
        return Err("must be more than 0 seconds".to_owned());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text} seconds is too long"))
}

/// Checks a network namespace name: a file name under /run/netns.
pub(crate) fn parse_netns_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text == "." || text == ".." || text.contains(['/', '\0']) {
        return Err(format!(
            "'{text}' is not a namespace name: give the name of a file in /run/netns, as \
             `ip netns list` shows it"
        ));
    }
    if text.len() > 255 {
        return Err("the namespace name is longer than 255 bytes".to_owned());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn queue_ranges() {
        assert_eq!(parse_queue_range("0"), Ok(QueueRange { first: 0, last: 0 }));
        assert_eq!(
            parse_queue_range("65535"),
            Ok(QueueRange {
                first: 65535,
                last: 65535
            })
        );
        let r = parse_queue_range("3-5").unwrap();
        assert_eq!((r.first, r.last), (3, 5));
        assert_eq!(r.len(), 3);
        assert_eq!(r.to_string(), "3-5");
        assert_eq!(parse_queue_range("7-7").unwrap().to_string(), "7");
        assert_eq!(parse_queue_range("0-65535").unwrap().len(), 65536);

        let e = parse_queue_range("5-3").unwrap_err();
        assert!(e.contains("backwards") && e.contains("3-5"), "{e}");
        let e = parse_queue_range("70000").unwrap_err();
        assert!(e.contains("0 to 65535"), "{e}");
        for bad in [
            "", "-", "1-", "-1", "a", "1-b", "1-2-3", " 1", "+1", "0x1", "1.0",
        ] {
            assert!(parse_queue_range(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(parse_verdict("accept"), Ok(Verdict::Accept));
        assert_eq!(parse_verdict("DROP"), Ok(Verdict::Drop));
        assert_eq!(parse_verdict("repeat"), Ok(Verdict::Repeat));
        assert_eq!(parse_verdict("stop"), Ok(Verdict::Stop));
        assert_eq!(
            parse_verdict("queue:8"),
            Ok(Verdict::Queue {
                num: 8,
                bypass: false
            })
        );
        assert_eq!(
            parse_verdict("queue:65535:bypass"),
            Ok(Verdict::Queue {
                num: 65535,
                bypass: true
            })
        );
        for text in [
            "accept",
            "drop",
            "repeat",
            "stop",
            "queue:0",
            "queue:9:bypass",
        ] {
            assert_eq!(parse_verdict(text).unwrap().to_string(), text);
        }
        assert!(parse_verdict("stolen").unwrap_err().contains("NF_STOLEN"));
        assert!(parse_verdict("queue:").unwrap_err().contains("missing"));
        assert!(parse_verdict("queue").unwrap_err().contains("queue:M"));
        assert!(
            parse_verdict("queue:x")
                .unwrap_err()
                .contains("not a queue number")
        );
        assert!(parse_verdict("queue:70000").unwrap_err().contains("65535"));
        assert!(
            parse_verdict("queue:1:fast")
                .unwrap_err()
                .contains("bypass")
        );
        for bad in ["", "acept", "queue:1:", "queue::bypass", "queue:-1", "1"] {
            assert!(parse_verdict(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32_value("0"), Ok(0));
        assert_eq!(parse_u32_value("42"), Ok(42));
        assert_eq!(parse_u32_value("0x2a"), Ok(42));
        assert_eq!(parse_u32_value("0X2A"), Ok(42));
        assert_eq!(parse_u32_value("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_u32_value("0xffffffff"), Ok(u32::MAX));
        assert!(
            parse_u32_value("4294967296")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_u32_value("0x100000000")
                .unwrap_err()
                .contains("too large")
        );
        for bad in [
            "", "0x", "-1", "+1", "1e3", "0b1", "abc", " 1", "1_000", "0xg",
        ] {
            assert!(
                parse_u32_value(bad).unwrap_err().contains("not a number"),
                "{bad:?}"
            );
        }
        assert_eq!(parse_positive_u64("1"), Ok(1));
        assert!(parse_positive_u64("0").is_err());
        assert!(parse_positive_u64("-3").is_err());
        assert!(parse_positive_u64("99999999999999999999").is_err());
        assert_eq!(parse_queue_len("0x400"), Ok(1024));
        assert!(parse_queue_len("0").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("2."), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds(".25"), Ok(Duration::from_millis(250)));
        for bad in [
            "", "0", "0.0", "-1", "1e3", "inf", "NaN", "1.2.3", ".", "10s",
        ] {
            assert!(parse_seconds(bad).is_err(), "{bad:?}");
        }
        assert!(parse_seconds(&"9".repeat(40)).is_err());
    }

    #[test]
    fn netns_names() {
        assert_eq!(parse_netns_name("blue"), Ok("blue".to_owned()));
        for bad in ["", ".", "..", "a/b", "/run/netns/x", "a\0b"] {
            assert!(parse_netns_name(bad).is_err(), "{bad:?}");
        }
        assert!(parse_netns_name(&"n".repeat(256)).is_err());
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("nfqueue").chain(args.iter().copied()))
    }

    #[test]
    fn run_contract() {
        let cli = parse(&[
            "run",
            "-q",
            "2-3",
            "--verdict",
            "queue:9:bypass",
            "--mark",
            "0x10",
            "--connmark",
            "7",
            "--count",
            "5",
            "--timeout",
            "1.5",
            "--json",
            "--pcap",
            "x.pcap",
            "--fail-open",
            "--gso",
            "--conntrack",
            "--uid-gid",
            "--max-queue-len",
            "4096",
            "--copy-range",
            "128",
            "--netns",
            "blue",
            "--no-batch",
            "--recv-batch",
            "64",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.queue, QueueRange { first: 2, last: 3 });
        assert_eq!(
            run.verdict,
            Verdict::Queue {
                num: 9,
                bypass: true
            }
        );
        assert_eq!(run.mark, Some(16));
        assert_eq!(run.connmark, Some(7));
        assert_eq!(run.count, Some(5));
        assert_eq!(run.timeout, Some(Duration::from_millis(1500)));
        assert!(run.json && !run.quiet);
        assert_eq!(run.pcap, Some(PathBuf::from("x.pcap")));
        assert!(run.fail_open && run.gso && run.conntrack && run.uid_gid && run.no_batch);
        assert_eq!(run.recv_batch, Some(64));
        assert_eq!(run.max_queue_len, Some(4096));
        assert_eq!(run.copy_range, Some(128));
        assert_eq!(run.netns.as_deref(), Some("blue"));

        let Command::Run(run) = parse(&["run", "--queue", "0"]).unwrap().command else {
            panic!("not run")
        };
        assert_eq!(run.verdict, Verdict::Accept);
        assert_eq!(run.mark, None);
        assert!(!run.quiet && !run.json && !run.no_batch);
    }

    #[test]
    fn misuse_is_a_usage_error() {
        use clap::error::ErrorKind;
        let cases: &[&[&str]] = &[
            &["run"],
            &["run", "-q"],
            &["run", "-q", "5-3"],
            &["run", "-q", "70000"],
            &["run", "-q", "1", "--verdict", "queue:"],
            &["run", "-q", "1", "--verdict", "queue:x"],
            &["run", "-q", "1", "--verdict", "stolen"],
            &["run", "-q", "1", "--mark", "x"],
            &["run", "-q", "1", "--mark", "-1"],
            &["run", "-q", "1", "--quiet", "--json"],
            &["run", "-q", "1", "--count", "0"],
            &["run", "-q", "1", "--bogus"],
            &["stats", "--count", "2"],
            &["bench", "--queues", "0"],
            &["bench", "--payload", "70000"],
            &["frobnicate"],
        ];
        for args in cases {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {:?}", err.kind());
            assert!(
                !matches!(
                    err.kind(),
                    ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
                ),
                "{args:?}"
            );
        }
    }

    #[test]
    fn stats_and_bench_defaults() {
        let Command::Stats(stats) = parse(&["stats"]).unwrap().command else {
            panic!("not stats")
        };
        assert!(!stats.watch);
        assert_eq!(stats.interval, Duration::from_secs(1));
        let Command::Stats(stats) = parse(&["stats", "-w", "--count", "3"]).unwrap().command else {
            panic!("not stats")
        };
        assert!(stats.watch);
        assert_eq!(stats.count, Some(3));
        let Command::Bench(bench) = parse(&["bench"]).unwrap().command else {
            panic!("not bench")
        };
        assert_eq!(bench.duration, Duration::from_secs(10));
        assert_eq!(bench.queues, 1);
        assert_eq!(bench.packets, None);
        assert_eq!(bench.payload, 64);
        assert!(matches!(
            parse(&["demo"]).unwrap().command,
            Command::Demo(_)
        ));
    }
}
