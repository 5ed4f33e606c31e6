// SPDX-License-Identifier: MIT OR Apache-2.0
//! Queue and counting rules, loaded with nft where the kernel has the `queue` statement, else
//! with iptables / ip6tables; and reading a rule's packet and byte counters.

use std::env;
use std::fmt;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use super::sandbox::Sandbox;

static COMMENTS: AtomicU32 = AtomicU32::new(0);

/// The nft table the testkit uses (family `inet`: one table for IPv4 and IPv6).
const NFT_TABLE: &str = "nfqtk";

/// A netfilter hook, named after the iptables chain on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Chain {
    /// `PREROUTING`: every incoming packet, before routing (tables mangle, raw, nat).
    PreRouting,
    /// `INPUT`: packets for this host.
    Input,
    /// `FORWARD`: packets routed through this host.
    Forward,
    /// `OUTPUT`: packets this host sends (on `lo`, both directions of a local exchange pass
    /// here, so a ping is seen twice: the request and the reply).
    Output,
    /// `POSTROUTING`: every outgoing packet, after routing (tables mangle, nat).
    PostRouting,
}

impl Chain {
    fn iptables(self) -> &'static str {
        match self {
            Self::PreRouting => "PREROUTING",
            Self::Input => "INPUT",
            Self::Forward => "FORWARD",
            Self::Output => "OUTPUT",
            Self::PostRouting => "POSTROUTING",
        }
    }

    fn nft_hook(self) -> &'static str {
        match self {
            Self::PreRouting => "prerouting",
            Self::Input => "input",
            Self::Forward => "forward",
            Self::Output => "output",
            Self::PostRouting => "postrouting",
        }
    }
}

/// The address family a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Family {
    /// IPv4 (`iptables`, nft `meta nfproto ipv4`).
    #[default]
    Ipv4,
    /// IPv6 (`ip6tables`, nft `meta nfproto ipv6`).
    Ipv6,
}

/// The transport protocol a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// Every packet of the family.
    #[default]
    Any,
    /// UDP; ports can be matched.
    Udp,
    /// TCP; ports can be matched.
    Tcp,
    /// ICMP (IPv4 rules only).
    Icmp,
    /// ICMPv6 (IPv6 rules only).
    Icmpv6,
}

impl Protocol {
    fn name(self) -> Option<&'static str> {
        match self {
            Self::Any => None,
            Self::Udp => Some("udp"),
            Self::Tcp => Some("tcp"),
            Self::Icmp => Some("icmp"),
            Self::Icmpv6 => Some("icmpv6"),
        }
    }
}

/// The table (iptables) or chain priority (nft) a rule goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Table {
    /// `filter` (priority 0); hooks INPUT, FORWARD and OUTPUT only.
    #[default]
    Filter,
    /// `mangle` (priority -150); every hook.
    Mangle,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Filter => "filter",
            Self::Mangle => "mangle",
        }
    }

    fn priority(self) -> i32 {
        match self {
            Self::Filter => 0,
            Self::Mangle => -150,
        }
    }
}

/// How rules are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleBackend {
    /// `iptables -w` / `ip6tables -w` (with the nf_tables or legacy backend): `-j NFQUEUE`
    /// (xt_NFQUEUE). Counters are found through a `-m comment` on each rule.
    Iptables,
    /// `nft`, in an `inet nfqtk` table: the `queue` statement (nft_queue). Counters come from a
    /// `counter` on each rule, found through its `comment`.
    Nft,
}

impl RuleBackend {
    /// The process-wide choice: `NFQUEUE_TESTKIT_BACKEND=nft|iptables` if set, else nft when
    /// the kernel accepts an nft `queue` statement (probed once, in a throwaway sandbox), else
    /// iptables. Many kernels build `xt_NFQUEUE` but not `nft_queue`; the choice is transparent
    /// to tests.
    pub fn detect() -> Self {
        static CHOICE: OnceLock<RuleBackend> = OnceLock::new();
        *CHOICE.get_or_init(|| match env::var("NFQUEUE_TESTKIT_BACKEND").as_deref() {
            Ok("nft") => Self::Nft,
            Ok("iptables") => Self::Iptables,
            _ => {
                if Self::kernel_has_nft_queue() {
                    Self::Nft
                } else {
                    Self::Iptables
                }
            }
        })
    }

    /// Whether an nft `queue` statement loads here (tried in a throwaway sandbox).
    fn kernel_has_nft_queue() -> bool {
        let Ok(probe) = Sandbox::new() else {
            return false;
        };
        probe
            .nft(
                "table inet nfqtk_probe {\n chain c {\n  type filter hook output priority 0;\n  \
                 udp dport 9 queue num 0 bypass\n }\n}\n",
            )
            .is_ok()
    }
}

/// What a rule matches; shared by [`QueueRule`] and [`CountRule`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Matches {
    chain: Chain,
    family: Family,
    table: Table,
    protocol: Protocol,
    sport: Option<u16>,
    dport: Option<u16>,
    /// (negate, value, mask)
    mark: Option<(bool, u32, u32)>,
}

impl Matches {
    fn new(chain: Chain) -> Self {
        Self {
            chain,
            family: Family::Ipv4,
            table: Table::Filter,
            protocol: Protocol::Any,
            sport: None,
            dport: None,
            mark: None,
        }
    }

    fn validate(&self) -> io::Result<()> {
        let bad = |msg: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()));
        if (self.sport.is_some() || self.dport.is_some())
            && !matches!(self.protocol, Protocol::Udp | Protocol::Tcp)
        {
            return bad("ports can only be matched with Protocol::Udp or Protocol::Tcp");
        }
        match (self.family, self.protocol) {
            (Family::Ipv6, Protocol::Icmp) => return bad("use Protocol::Icmpv6 in an IPv6 rule"),
            (Family::Ipv4, Protocol::Icmpv6) => return bad("use Protocol::Icmp in an IPv4 rule"),
            _ => {}
        }
        if self.table == Table::Filter
            && matches!(self.chain, Chain::PreRouting | Chain::PostRouting)
        {
            return bad(
                "the filter table has no PREROUTING or POSTROUTING chain; use Table::Mangle",
            );
        }
        Ok(())
    }

    fn iptables_args(&self, comment: &str) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "-t".into(),
            self.table.name().into(),
            "-A".into(),
            self.chain.iptables().into(),
        ];
        if let Some(p) = self.protocol.name() {
            a.extend(["-p".into(), p.into()]);
        }
        if let Some(p) = self.sport {
            a.extend(["--sport".into(), p.to_string()]);
        }
        if let Some(p) = self.dport {
            a.extend(["--dport".into(), p.to_string()]);
        }
        if let Some((negate, value, mask)) = self.mark {
            a.extend(["-m".into(), "mark".into()]);
            if negate {
                a.push("!".into());
            }
            a.extend(["--mark".into(), format!("{value:#x}/{mask:#x}")]);
        }
        a.extend([
            "-m".into(),
            "comment".into(),
            "--comment".into(),
            comment.into(),
        ]);
        a
    }

    fn nft_chain(&self) -> String {
        format!("{}_{}", self.table.name(), self.chain.nft_hook())
    }

    fn nft_matches(&self) -> String {
        let mut m = String::from(match self.family {
            Family::Ipv4 => "meta nfproto ipv4",
            Family::Ipv6 => "meta nfproto ipv6",
        });
        if let Some(p) = self.protocol.name() {
            let l4 = if p == "icmpv6" { "ipv6-icmp" } else { p };
            m.push_str(&format!(" meta l4proto {l4}"));
            if let Some(port) = self.sport {
                m.push_str(&format!(" {p} sport {port}"));
            }
            if let Some(port) = self.dport {
                m.push_str(&format!(" {p} dport {port}"));
            }
        }
        if let Some((negate, value, mask)) = self.mark {
            let op = if negate { "!=" } else { "==" };
            m.push_str(&format!(" meta mark & {mask:#x} {op} {value:#x}"));
        }
        m
    }
}

macro_rules! match_methods {
    () => {
        /// Sets the address family (default IPv4).
        pub fn family(mut self, family: Family) -> Self {
            self.m.family = family;
            self
        }

        /// Shorthand for `family(Family::Ipv6)`.
        pub fn ipv6(self) -> Self {
            self.family(Family::Ipv6)
        }

        /// Sets the table (default `filter`).
        pub fn table(mut self, table: Table) -> Self {
            self.m.table = table;
            self
        }

        /// Matches a transport protocol (default: any).
        pub fn protocol(mut self, protocol: Protocol) -> Self {
            self.m.protocol = protocol;
            self
        }

        /// Shorthand for `protocol(Protocol::Udp)`.
        pub fn udp(self) -> Self {
            self.protocol(Protocol::Udp)
        }

        /// Shorthand for `protocol(Protocol::Tcp)`.
        pub fn tcp(self) -> Self {
            self.protocol(Protocol::Tcp)
        }

        /// Matches a destination port (UDP or TCP only).
        pub fn dport(mut self, port: u16) -> Self {
            self.m.dport = Some(port);
            self
        }

        /// Matches a source port (UDP or TCP only).
        pub fn sport(mut self, port: u16) -> Self {
            self.m.sport = Some(port);
            self
        }
    };
}

/// A rule that sends matching packets to an NFQUEUE queue (`-j NFQUEUE`, nft `queue`).
///
/// ```
/// use linux_nfqueue::testkit::{Chain, QueueRule};
/// let rule = QueueRule::new(Chain::Output, 5).udp().dport(9999).bypass();
/// assert_eq!(
///     rule.iptables_args("nfqtk-0").join(" "),
///     "-t filter -A OUTPUT -p udp --dport 9999 -m comment --comment nfqtk-0 \
///      -j NFQUEUE --queue-num 5 --queue-bypass"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRule {
    m: Matches,
    first: u16,
    last: u16,
    bypass: bool,
    cpu_fanout: bool,
}

impl QueueRule {
    /// Packets on `chain` go to queue `queue`.
    pub fn new(chain: Chain, queue: u16) -> Self {
        Self::balance(chain, queue, queue)
    }

    /// Packets on `chain` are spread over queues `first..=last` (`--queue-balance`; the hash
    /// covers addresses and protocol, not ports).
    pub fn balance(chain: Chain, first: u16, last: u16) -> Self {
        Self {
            m: Matches::new(chain),
            first,
            last,
            bypass: false,
            cpu_fanout: false,
        }
    }

    match_methods!();

    /// With nobody bound to the queue, accept the packets instead of dropping them
    /// (`--queue-bypass`, nft `bypass`). Without it such packets are dropped ("blackhole").
    pub fn bypass(mut self) -> Self {
        self.bypass = true;
        self
    }

    /// With a balance range, pick the queue by CPU instead of by hash (`--queue-cpu-fanout`,
    /// nft `fanout`).
    pub fn cpu_fanout(mut self) -> Self {
        self.cpu_fanout = true;
        self
    }

    /// Leaves packets whose mark equals `mark` alone (`-m mark ! --mark MARK`), so a handler
    /// can mark packets it has seen and re-inject them with `NF_REPEAT`.
    pub fn skip_if_mark(self, mark: u32) -> Self {
        self.skip_if_mark_masked(mark, u32::MAX)
    }

    /// Like [`skip_if_mark`](Self::skip_if_mark), comparing only the bits in `mask`.
    pub fn skip_if_mark_masked(mut self, mark: u32, mask: u32) -> Self {
        self.m.mark = Some((true, mark & mask, mask));
        self
    }

    fn validate(&self) -> io::Result<()> {
        self.m.validate()?;
        if self.first > self.last {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "queue balance range: first > last",
            ));
        }
        Ok(())
    }

    /// The iptables arguments (after `iptables -w`) that append this rule, tagged with
    /// `comment`.
    pub fn iptables_args(&self, comment: &str) -> Vec<String> {
        let mut a = self.m.iptables_args(comment);
        a.extend(["-j".into(), "NFQUEUE".into()]);
        if self.first == self.last {
            a.extend(["--queue-num".into(), self.first.to_string()]);
        } else {
            a.extend([
                "--queue-balance".into(),
                format!("{}:{}", self.first, self.last),
            ]);
            if self.cpu_fanout {
                a.push("--queue-cpu-fanout".into());
            }
        }
        if self.bypass {
            a.push("--queue-bypass".into());
        }
        a
    }

    /// The nft rule body (what follows `add rule inet nfqtk CHAIN`), tagged with `comment`.
    pub fn nft_rule(&self, comment: &str) -> String {
        let mut flags = Vec::new();
        if self.bypass {
            flags.push("bypass");
        }
        if self.cpu_fanout && self.first != self.last {
            flags.push("fanout");
        }
        let target = if self.first == self.last {
            self.first.to_string()
        } else {
            format!("{}-{}", self.first, self.last)
        };
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("flags {} ", flags.join(","))
        };
        format!(
            "{} counter queue {flags}to {target} comment \"{comment}\"",
            self.m.nft_matches()
        )
    }
}

/// A rule that only counts matching packets: no target, so packets go on to the next rule
/// unchanged. Read the count with [`RuleHandle::packets`].
///
/// ```
/// use linux_nfqueue::testkit::{Chain, CountRule};
/// let rule = CountRule::new(Chain::Input).udp().dport(9999).mark(0x77);
/// assert_eq!(
///     rule.iptables_args("nfqtk-1").join(" "),
///     "-t filter -A INPUT -p udp --dport 9999 -m mark --mark 0x77/0xffffffff \
///      -m comment --comment nfqtk-1"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRule {
    m: Matches,
}

impl CountRule {
    /// Counts packets on `chain`.
    pub fn new(chain: Chain) -> Self {
        Self {
            m: Matches::new(chain),
        }
    }

    match_methods!();

    /// Counts only packets whose mark equals `mark` (`-m mark --mark MARK`).
    pub fn mark(self, mark: u32) -> Self {
        self.mark_masked(mark, u32::MAX)
    }

    /// Counts only packets whose mark, masked with `mask`, equals `mark`.
    pub fn mark_masked(mut self, mark: u32, mask: u32) -> Self {
        self.m.mark = Some((false, mark & mask, mask));
        self
    }

    /// The iptables arguments (after `iptables -w`) that append this rule.
    pub fn iptables_args(&self, comment: &str) -> Vec<String> {
        self.m.iptables_args(comment)
    }

    /// The nft rule body (what follows `add rule inet nfqtk CHAIN`).
    pub fn nft_rule(&self, comment: &str) -> String {
        format!("{} counter comment \"{comment}\"", self.m.nft_matches())
    }
}

/// A rule's packet and byte counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Counters {
    /// Packets that matched.
    pub packets: u64,
    /// Their bytes (IP header included).
    pub bytes: u64,
}

/// A rule installed in a [`Sandbox`]; reads its counters. The rule stays until the sandbox is
/// dropped or [`delete`](Self::delete) is called.
pub struct RuleHandle<'a> {
    sandbox: &'a Sandbox,
    backend: RuleBackend,
    family: Family,
    table: Table,
    chain: Chain,
    nft_chain: String,
    comment: String,
    iptables_args: Vec<String>,
}

impl Sandbox {
    /// Installs a queue rule, appended at the end of its chain. See [`RuleBackend::detect`] for
    /// how the rule is loaded.
    pub fn install(&self, rule: &QueueRule) -> io::Result<RuleHandle<'_>> {
        rule.validate()?;
        let comment = next_comment();
        let args = rule.iptables_args(&comment);
        let nft = rule.nft_rule(&comment);
        self.install_parts(&rule.m, comment, args, &nft)
    }

    /// Installs a counting rule, appended at the end of its chain.
    pub fn install_count(&self, rule: &CountRule) -> io::Result<RuleHandle<'_>> {
        rule.m.validate()?;
        let comment = next_comment();
        let args = rule.iptables_args(&comment);
        let nft = rule.nft_rule(&comment);
        self.install_parts(&rule.m, comment, args, &nft)
    }

    /// Shorthand: counts IPv4 packets of `protocol` to port `dport` on `chain`.
    pub fn count_rule(
        &self,
        chain: Chain,
        protocol: Protocol,
        dport: u16,
    ) -> io::Result<RuleHandle<'_>> {
        self.install_count(&CountRule::new(chain).protocol(protocol).dport(dport))
    }

    fn install_parts(
        &self,
        m: &Matches,
        comment: String,
        iptables_args: Vec<String>,
        nft_rule: &str,
    ) -> io::Result<RuleHandle<'_>> {
        let backend = self.rule_backend();
        let nft_chain = m.nft_chain();
        match backend {
            RuleBackend::Iptables => {
                let args: Vec<&str> = iptables_args.iter().map(String::as_str).collect();
                match m.family {
                    Family::Ipv4 => self.iptables(&args)?,
                    Family::Ipv6 => self.ip6tables(&args)?,
                };
            }
            RuleBackend::Nft => {
                self.nft(&format!(
                    "add table inet {NFT_TABLE}\n\
                     add chain inet {NFT_TABLE} {nft_chain} {{ type filter hook {} priority {}; }}\n\
                     add rule inet {NFT_TABLE} {nft_chain} {nft_rule}\n",
                    m.chain.nft_hook(),
                    m.table.priority(),
                ))?;
            }
        }
        Ok(RuleHandle {
            sandbox: self,
            backend,
            family: m.family,
            table: m.table,
            chain: m.chain,
            nft_chain,
            comment,
            iptables_args,
        })
    }
}

fn next_comment() -> String {
    format!("nfqtk-{}", COMMENTS.fetch_add(1, Ordering::Relaxed))
}

impl RuleHandle<'_> {
    /// The comment that identifies the rule (`nfqtk-<n>`).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// How the rule was loaded.
    pub fn backend(&self) -> RuleBackend {
        self.backend
    }

    /// Packets that matched so far.
    pub fn packets(&self) -> io::Result<u64> {
        Ok(self.counters()?.packets)
    }

    /// Bytes that matched so far.
    pub fn bytes(&self) -> io::Result<u64> {
        Ok(self.counters()?.bytes)
    }

    /// Both counters, read from the kernel now.
    pub fn counters(&self) -> io::Result<Counters> {
        let listing = self.listing()?;
        let found = match self.backend {
            RuleBackend::Iptables => parse_iptables_counters(&listing, &self.comment),
            RuleBackend::Nft => parse_nft_counters(&listing, &self.comment),
        };
        found.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("rule {} not found in:\n{listing}", self.comment),
            )
        })
    }

    fn listing(&self) -> io::Result<String> {
        match self.backend {
            RuleBackend::Iptables => {
                let args = [
                    "-t",
                    self.table.name(),
                    "-L",
                    self.chain.iptables(),
                    "-v",
                    "-x",
                    "-n",
                ];
                match self.family {
                    Family::Ipv4 => self.sandbox.iptables(&args),
                    Family::Ipv6 => self.sandbox.ip6tables(&args),
                }
            }
            RuleBackend::Nft => {
                let mut cmd = self.sandbox.command("nft");
                cmd.args(["-a", "list", "chain", "inet", NFT_TABLE, &self.nft_chain]);
                super::sandbox::output(cmd, None)
            }
        }
    }

    /// Removes the rule.
    pub fn delete(self) -> io::Result<()> {
        match self.backend {
            RuleBackend::Iptables => {
                let mut args: Vec<&str> = self.iptables_args.iter().map(String::as_str).collect();
                // "-t T -A CHAIN ..." becomes "-t T -D CHAIN ...".
                args[2] = "-D";
                match self.family {
                    Family::Ipv4 => self.sandbox.iptables(&args)?,
                    Family::Ipv6 => self.sandbox.ip6tables(&args)?,
                };
            }
            RuleBackend::Nft => {
                let listing = self.listing()?;
                let handle = listing
                    .lines()
                    .filter(|l| l.contains(&format!("comment \"{}\"", self.comment)))
                    .find_map(|l| {
                        l.rsplit_once("# handle ")
                            .map(|(_, h)| h.trim().to_string())
                    })
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "rule handle"))?;
                self.sandbox.nft(&format!(
                    "delete rule inet {NFT_TABLE} {} handle {handle}\n",
                    self.nft_chain
                ))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RuleHandle<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleHandle")
            .field("sandbox", &self.sandbox.name())
            .field("backend", &self.backend)
            .field("comment", &self.comment)
            .finish_non_exhaustive()
    }
}

/// Finds `/* COMMENT */` in `iptables -L -v -x -n` output; the first two columns are the
/// counters.
fn parse_iptables_counters(listing: &str, comment: &str) -> Option<Counters> {
    let tag = format!("/* {comment} */");
    let line = listing.lines().find(|l| l.contains(&tag))?;
    let mut fields = line.split_whitespace();
    Some(Counters {
        packets: fields.next()?.parse().ok()?,
        bytes: fields.next()?.parse().ok()?,
    })
}

/// Finds `comment "COMMENT"` in `nft list chain` output and reads `counter packets N bytes M`.
fn parse_nft_counters(listing: &str, comment: &str) -> Option<Counters> {
    let tag = format!("comment \"{comment}\"");
    let line = listing.lines().find(|l| l.contains(&tag))?;
    let after = |key: &str| -> Option<u64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    Some(Counters {
        packets: after("packets ")?,
        bytes: after("bytes ")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_queue_args() {
        let r = QueueRule::balance(Chain::PreRouting, 2, 5)
            .table(Table::Mangle)
            .ipv6()
            .tcp()
            .sport(80)
            .cpu_fanout()
            .bypass()
            .skip_if_mark_masked(0x1, 0xff);
        r.validate().unwrap();
        assert_eq!(
            r.iptables_args("c").join(" "),
            "-t mangle -A PREROUTING -p tcp --sport 80 -m mark ! --mark 0x1/0xff \
             -m comment --comment c -j NFQUEUE --queue-balance 2:5 --queue-cpu-fanout \
             --queue-bypass"
        );
        assert_eq!(
            r.nft_rule("c"),
            "meta nfproto ipv6 meta l4proto tcp tcp sport 80 meta mark & 0xff != 0x1 counter \
             queue flags bypass,fanout to 2-5 comment \"c\""
        );
    }

    #[test]
    fn invalid_rules_are_refused() {
        let port_without_l4 = QueueRule::new(Chain::Output, 1).dport(5);
        assert!(port_without_l4.validate().is_err());
        let icmp_v6 = QueueRule::new(Chain::Output, 1)
            .ipv6()
            .protocol(Protocol::Icmp);
        assert!(icmp_v6.validate().is_err());
        let filter_prerouting = QueueRule::new(Chain::PreRouting, 1);
        assert!(filter_prerouting.validate().is_err());
        assert!(QueueRule::balance(Chain::Output, 3, 2).validate().is_err());
        assert!(
            QueueRule::new(Chain::Output, 1)
                .ipv6()
                .protocol(Protocol::Icmpv6)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn counters_are_parsed_from_listings() {
        let ipt = "Chain INPUT (policy ACCEPT 5 packets, 420 bytes)\n    \
                   pkts      bytes target     prot opt in     out     source destination\n      \
                   12     1008            udp  --  *      *       0.0.0.0/0 0.0.0.0/0  udp dpt:9 /* nfqtk-10 */\n       \
                   3      252            udp  --  *      *       0.0.0.0/0 0.0.0.0/0  udp dpt:9 /* nfqtk-1 */\n";
        assert_eq!(
            parse_iptables_counters(ipt, "nfqtk-1"),
            Some(Counters {
                packets: 3,
                bytes: 252
            })
        );
        assert_eq!(parse_iptables_counters(ipt, "nfqtk-2"), None);
        let nft = "table inet nfqtk {\n\tchain filter_output { # handle 1\n\t\t\
                   meta nfproto ipv4 meta l4proto udp udp dport 9 counter packets 7 bytes 588 \
                   comment \"nfqtk-4\" # handle 2\n\t}\n}\n";
        assert_eq!(
            parse_nft_counters(nft, "nfqtk-4"),
            Some(Counters {
                packets: 7,
                bytes: 588
            })
        );
    }
}
