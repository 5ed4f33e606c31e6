// SPDX-License-Identifier: MIT OR Apache-2.0
//! Checks against the kernel's own numbers: per-queue counters from /proc, rule counters, and
//! what the receivers got, in one call that names every mismatch.

use std::error::Error;
use std::fmt;
use std::io;
use std::ops::{RangeFrom, RangeInclusive, RangeToInclusive};
use std::thread;
use std::time::{Duration, Instant};

use crate::QueueStats;

use super::rules::RuleHandle;
use super::sandbox::Sandbox;
use super::traffic::{PingReport, SinkReport, TransferReport};

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

impl Sandbox {
    /// Every queue of the sandbox: the rows of its `/proc/net/netfilter/nfnetlink_queue`, read
    /// from a thread inside.
    pub fn all_queue_counters(&self) -> io::Result<Vec<QueueStats>> {
        self.try_run(QueueStats::read_all)?
    }

    /// The row of queue `queue`, or `None` if nobody has bound it.
    pub fn queue_counters(&self, queue: u16) -> io::Result<Option<QueueStats>> {
        Ok(self
            .all_queue_counters()?
            .into_iter()
            .find(|q| q.queue == queue))
    }

    /// Waits until queue `queue` is bound (listed in /proc), polling like the kernel
    /// selftests do; returns whether it happened within `timeout`.
    pub fn wait_for_queue_bound(&self, queue: u16, timeout: Duration) -> bool {
        wait_until(timeout, || {
            matches!(self.queue_counters(queue), Ok(Some(_)))
        })
    }
}

/// An expected number: exactly, at least, at most, or within a range.
///
/// Built from a `u64` (exactly) or a range: `5..` (at least 5), `..=5` (at most 5),
/// `5..=9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Want {
    /// Exactly this many.
    Exactly(u64),
    /// This many or more.
    AtLeast(u64),
    /// This many or fewer.
    AtMost(u64),
    /// Between the two, inclusive.
    Between(u64, u64),
}

impl Want {
    /// Whether `n` satisfies this.
    pub fn accepts(self, n: u64) -> bool {
        match self {
            Self::Exactly(w) => n == w,
            Self::AtLeast(w) => n >= w,
            Self::AtMost(w) => n <= w,
            Self::Between(lo, hi) => (lo..=hi).contains(&n),
        }
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exactly(w) => write!(f, "{w}"),
            Self::AtLeast(w) => write!(f, "at least {w}"),
            Self::AtMost(w) => write!(f, "at most {w}"),
            Self::Between(lo, hi) => write!(f, "between {lo} and {hi}"),
        }
    }
}

impl From<u64> for Want {
    fn from(n: u64) -> Self {
        Self::Exactly(n)
    }
}

impl From<RangeFrom<u64>> for Want {
    fn from(r: RangeFrom<u64>) -> Self {
        Self::AtLeast(r.start)
    }
}

impl From<RangeToInclusive<u64>> for Want {
    fn from(r: RangeToInclusive<u64>) -> Self {
        Self::AtMost(r.end)
    }
}

impl From<RangeInclusive<u64>> for Want {
    fn from(r: RangeInclusive<u64>) -> Self {
        Self::Between(*r.start(), *r.end())
    }
}

/// Which /proc column a check reads.
#[derive(Debug, Clone, Copy)]
enum QueueField {
    Waiting,
    QueueDropped,
    UserDropped,
    IdSequence,
}

impl QueueField {
    fn name(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::QueueDropped => "queue_dropped",
            Self::UserDropped => "user_dropped",
            Self::IdSequence => "id_sequence",
        }
    }

    fn read(self, q: &QueueStats) -> u64 {
        u64::from(match self {
            Self::Waiting => q.waiting,
            Self::QueueDropped => q.queue_dropped,
            Self::UserDropped => q.user_dropped,
            Self::IdSequence => q.id_sequence,
        })
    }
}

#[derive(Debug)]
enum Item<'a> {
    Value {
        what: String,
        got: u64,
        want: Want,
    },
    Holds {
        what: String,
        ok: bool,
        detail: String,
    },
    Queue {
        queue: u16,
        field: QueueField,
        want: Want,
    },
    Bound {
        queue: u16,
        bound: bool,
    },
    Rule {
        rule: &'a RuleHandle<'a>,
        bytes: bool,
        want: Want,
    },
}

/// Several expectations checked in one call, so a test reads in one line and a failure names
/// every mismatch at once.
///
/// Values from reports ([`SinkReport`], [`TransferReport`], [`PingReport`]) are taken when
/// added; kernel counters (rules, queues) are read when [`check`](Self::check) runs.
///
/// ```no_run
/// # use linux_nfqueue::testkit::*;
/// # fn t(sandbox: &Sandbox, sink: &UdpSink, rule: &RuleHandle<'_>) {
/// Expectation::new()
///     .delivered(sink.report(), 100)
///     .no_duplicates(sink.report())
///     .rule_packets(rule, 100)
///     .queue_dropped(5, 0)
///     .user_dropped(5, 0)
///     .waiting(5, 0)
///     .assert(sandbox);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Expectation<'a> {
    items: Vec<Item<'a>>,
}

impl<'a> Expectation<'a> {
    /// Nothing expected yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Any named number.
    pub fn value(mut self, what: impl Into<String>, got: u64, want: impl Into<Want>) -> Self {
        self.items.push(Item::Value {
            what: what.into(),
            got,
            want: want.into(),
        });
        self
    }

    /// The sink received this many datagrams.
    pub fn delivered(self, sink: &SinkReport, want: impl Into<Want>) -> Self {
        self.value("datagrams delivered", sink.datagrams, want)
    }

    /// No datagram arrived twice.
    pub fn no_duplicates(self, sink: &SinkReport) -> Self {
        self.value("duplicate datagrams", sink.duplicates, 0)
    }

    /// The TCP transfer arrived complete and unchanged.
    pub fn transfer_ok(mut self, report: &TransferReport) -> Self {
        self.items.push(Item::Holds {
            what: "TCP transfer byte-exact".into(),
            ok: report.matches(),
            detail: format!(
                "expected {} bytes, sent {} (fnv {:#x}), received {} (fnv {:#x}){}",
                report.expected,
                report.sent.bytes,
                report.sent.fnv64,
                report.received.bytes,
                report.received.fnv64,
                if report.timed_out { ", timed out" } else { "" }
            ),
        });
        self
    }

    /// This many echo replies came back.
    pub fn ping_replies(self, report: &PingReport, want: impl Into<Want>) -> Self {
        self.value("echo replies", report.received, want)
    }

    /// The rule's packet counter.
    pub fn rule_packets(mut self, rule: &'a RuleHandle<'a>, want: impl Into<Want>) -> Self {
        self.items.push(Item::Rule {
            rule,
            bytes: false,
            want: want.into(),
        });
        self
    }

    /// The rule's byte counter.
    pub fn rule_bytes(mut self, rule: &'a RuleHandle<'a>, want: impl Into<Want>) -> Self {
        self.items.push(Item::Rule {
            rule,
            bytes: true,
            want: want.into(),
        });
        self
    }

    /// Queue `queue` is bound (listed in /proc).
    pub fn queue_bound(mut self, queue: u16) -> Self {
        self.items.push(Item::Bound { queue, bound: true });
        self
    }

    /// Queue `queue` is not bound.
    pub fn queue_unbound(mut self, queue: u16) -> Self {
        self.items.push(Item::Bound {
            queue,
            bound: false,
        });
        self
    }

    fn queue_field(mut self, queue: u16, field: QueueField, want: Want) -> Self {
        self.items.push(Item::Queue { queue, field, want });
        self
    }

    /// Packets of queue `queue` waiting for a verdict (`queue_total`).
    pub fn waiting(self, queue: u16, want: impl Into<Want>) -> Self {
        self.queue_field(queue, QueueField::Waiting, want.into())
    }

    /// Packets queue `queue` dropped because it was full (`queue_dropped`).
    pub fn queue_dropped(self, queue: u16, want: impl Into<Want>) -> Self {
        self.queue_field(queue, QueueField::QueueDropped, want.into())
    }

    /// Packets queue `queue` dropped because the socket buffer overran (`queue_user_dropped`).
    pub fn user_dropped(self, queue: u16, want: impl Into<Want>) -> Self {
        self.queue_field(queue, QueueField::UserDropped, want.into())
    }

    /// The last packet id queue `queue` assigned (`id_sequence`): packets queued since bind.
    pub fn id_sequence(self, queue: u16, want: impl Into<Want>) -> Self {
        self.queue_field(queue, QueueField::IdSequence, want.into())
    }

    /// Checks everything now; the error lists every expectation that failed.
    pub fn check(&self, sandbox: &Sandbox) -> Result<(), ExpectationError> {
        self.evaluate(Some(sandbox))
    }

    /// Checks every item; queue items are skipped without a sandbox (unit tests).
    fn evaluate(&self, sandbox: Option<&Sandbox>) -> Result<(), ExpectationError> {
        let mut failures = Vec::new();
        let needs_proc = self
            .items
            .iter()
            .any(|i| matches!(i, Item::Queue { .. } | Item::Bound { .. }));
        let queues = match sandbox.filter(|_| needs_proc) {
            Some(sandbox) => match sandbox.all_queue_counters() {
                Ok(q) => Some(q),
                Err(e) => {
                    failures.push(format!("cannot read the queue counters: {e}"));
                    None
                }
            },
            None => None,
        };
        let row = |n: u16| queues.as_ref()?.iter().find(|q| q.queue == n);
        for item in &self.items {
            match item {
                Item::Value { what, got, want } => {
                    if !want.accepts(*got) {
                        failures.push(format!("{what}: expected {want}, got {got}"));
                    }
                }
                Item::Holds { what, ok, detail } => {
                    if !ok {
                        failures.push(format!("{what}: {detail}"));
                    }
                }
                Item::Rule { rule, bytes, want } => {
                    let what = if *bytes { "bytes" } else { "packets" };
                    match rule.counters() {
                        Ok(c) => {
                            let got = if *bytes { c.bytes } else { c.packets };
                            if !want.accepts(got) {
                                failures.push(format!(
                                    "rule {} {what}: expected {want}, got {got}",
                                    rule.comment()
                                ));
                            }
                        }
                        Err(e) => failures.push(format!(
                            "rule {} {what}: cannot read the counter: {e}",
                            rule.comment()
                        )),
                    }
                }
                Item::Bound { queue, bound } => {
                    if queues.is_some() && row(*queue).is_some() != *bound {
                        let state = if *bound { "bound" } else { "unbound" };
                        failures.push(format!("queue {queue}: expected {state}"));
                    }
                }
                Item::Queue { queue, field, want } => match row(*queue) {
                    Some(q) => {
                        let got = field.read(q);
                        if !want.accepts(got) {
                            failures.push(format!(
                                "queue {queue} {}: expected {want}, got {got}",
                                field.name()
                            ));
                        }
                    }
                    None if queues.is_some() => failures.push(format!(
                        "queue {queue} {}: expected {want}, but the queue is not bound",
                        field.name()
                    )),
                    None => {}
                },
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ExpectationError { failures })
        }
    }

    /// Like [`check`](Self::check), retrying for up to `timeout` while it fails (kernel
    /// counters can trail the traffic a little).
    pub fn check_within(
        &self,
        sandbox: &Sandbox,
        timeout: Duration,
    ) -> Result<(), ExpectationError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.check(sandbox) {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Checks now and panics with every mismatch.
    #[track_caller]
    pub fn assert(&self, sandbox: &Sandbox) {
        if let Err(e) = self.check(sandbox) {
            panic!("{e}");
        }
    }
}

/// The expectations that failed, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectationError {
    failures: Vec<String>,
}

impl ExpectationError {
    /// One message per failed expectation.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }
}

impl fmt::Display for ExpectationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} expectation(s) failed:", self.failures.len())?;
        for line in &self.failures {
            write!(f, "\n  - {line}")?;
        }
        Ok(())
    }
}

impl Error for ExpectationError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn want_forms() {
        assert!(Want::from(3).accepts(3));
        assert!(!Want::from(3).accepts(4));
        assert!(Want::from(3..).accepts(9));
        assert!(!Want::from(..=2).accepts(3));
        assert!(Want::from(2..=4).accepts(4));
        assert_eq!(Want::from(2..=4).to_string(), "between 2 and 4");
    }

    #[test]
    fn every_mismatch_is_named() {
        let sink = SinkReport {
            datagrams: 7,
            duplicates: 1,
            ..SinkReport::default()
        };
        let e = Expectation::new()
            .delivered(&sink, 10)
            .no_duplicates(&sink)
            .value("custom", 5, 5);
        let err = e.evaluate(None).unwrap_err();
        assert_eq!(err.failures().len(), 2);
        let text = err.to_string();
        assert!(text.starts_with("2 expectation(s) failed:"), "{text}");
        assert!(
            text.contains("datagrams delivered: expected 10, got 7"),
            "{text}"
        );
        assert!(
            text.contains("duplicate datagrams: expected 0, got 1"),
            "{text}"
        );
    }
}
