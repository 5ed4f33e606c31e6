// SPDX-License-Identifier: MIT OR Apache-2.0
//! Per-packet output of `nfqueue run` and `nfqueue demo`: the human line and the JSON line.
//!
//! Human (scripts depend on this shape; the tail items appear only when the kernel sent them):
//!
//! ```text
//! #17 q0 output ipv4 udp 127.0.0.1:40000 > 127.0.0.1:9999 len 92 mark 0 -> accept
//! #18 q0 output ipv6 tcp [::1]:51000 > [::1]:8888 len 60 cap_len 1500 mark 5 uid 0 gid 0 gso -> drop
//! ```
//!
//! JSON, one object per line, fields in this order and left out when the kernel did not send
//! them: `id, queue, hook, family, len, cap_len, mark, uid, gid, indev, outdev, src, dst, proto,
//! sport, dport, gso, verdict`.

use std::io::{self, IsTerminal, Write};
use std::net::IpAddr;

use linux_nfqueue::Hook;

use crate::summary::PacketSummary;

/// Everything one output line shows about a judged packet, independent of the queue API's types.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketLine<'a> {
    /// The packet id.
    pub(crate) id: u32,
    /// The queue it came from.
    pub(crate) queue: u16,
    /// The hook name (`linux_nfqueue::wire::Hook::name`).
    pub(crate) hook: &'a str,
    /// The family name (`linux_nfqueue::wire::Family::name`).
    pub(crate) family: &'a str,
    /// Bytes of payload received.
    pub(crate) len: usize,
    /// The original length, when the kernel truncated the copy (`NFQA_CAP_LEN`).
    pub(crate) cap_len: Option<u32>,
    /// The packet mark (the kernel sends it only when non-zero; the human line shows 0 then).
    pub(crate) mark: Option<u32>,
    /// The sending socket's uid.
    pub(crate) uid: Option<u32>,
    /// The sending socket's gid.
    pub(crate) gid: Option<u32>,
    /// Input interface index.
    pub(crate) indev: Option<u32>,
    /// Output interface index.
    pub(crate) outdev: Option<u32>,
    /// The packet is a GSO packet (`NFQA_SKB_GSO`).
    pub(crate) gso: bool,
    /// Addresses, protocol and ports.
    pub(crate) summary: PacketSummary,
    /// The verdict as given to `--verdict` (`accept`, `queue:3:bypass`, ...).
    pub(crate) verdict: &'a str,
}

/// Which kind of line to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The human line.
    Human,
    /// One JSON object per line.
    Json,
}

/// Writes packet lines, reusing one buffer so that a line costs no allocation.
#[derive(Debug)]
pub(crate) struct PacketPrinter {
    format: Format,
    colour: bool,
    buf: Vec<u8>,
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";

/// The hook as the output names it: `prerouting|input|forward|output|postrouting|ingress|egress`.
/// ARP's own hooks (in, out, forward) map to input, output and forward; a number the kernel
/// may add later is printed as `unknown`.
pub(crate) fn hook_label(hook: Hook) -> &'static str {
    match hook {
        Hook::ArpIn => "input",
        Hook::ArpOut => "output",
        Hook::ArpForward => "forward",
        Hook::Unknown(_) => "unknown",
        other => other.name(),
    }
}

/// Whether colour suits standard output: a terminal, `NO_COLOR` unset or empty, `TERM` not
/// `dumb`.
pub(crate) fn stdout_wants_colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    io::stdout().is_terminal() && !no_color && !dumb
}

impl PacketPrinter {
    /// A printer for `format`; `colour` applies to the human line only (JSON never has colour).
    pub(crate) fn new(format: Format, colour: bool) -> Self {
        Self {
            format,
            colour: colour && format == Format::Human,
            buf: Vec::with_capacity(256),
        }
    }

    /// A printer for standard output, with colour when it is a terminal.
    pub(crate) fn for_stdout(format: Format) -> Self {
        Self::new(format, stdout_wants_colour())
    }

    /// Writes one line, newline included, with a single `write_all`.
    ///
    /// # Errors
    ///
    /// The error of `out`; a closed pipe shows up as [`io::ErrorKind::BrokenPipe`].
    pub(crate) fn write(&mut self, out: &mut impl Write, line: &PacketLine<'_>) -> io::Result<()> {
        self.render(line);
        out.write_all(&self.buf)
    }

    /// Formats one line into the internal buffer and returns it.
    pub(crate) fn render(&mut self, line: &PacketLine<'_>) -> &[u8] {
        self.buf.clear();
        // Writing into a Vec cannot fail.
        let _ = match self.format {
            Format::Human => human(&mut self.buf, line, self.colour),
            Format::Json => json(&mut self.buf, line),
        };
        &self.buf
    }
}

fn verdict_colour(verdict: &str) -> &'static str {
    if verdict.starts_with("accept") || verdict.starts_with("stop") {
        GREEN
    } else if verdict.starts_with("drop") {
        RED
    } else {
        YELLOW
    }
}

fn endpoint(out: &mut Vec<u8>, addr: Option<IpAddr>, port: Option<u16>) -> io::Result<()> {
    match (addr, port) {
        (Some(IpAddr::V6(a)), Some(p)) => write!(out, "[{a}]:{p}"),
        (Some(a), Some(p)) => write!(out, "{a}:{p}"),
        (Some(a), None) => write!(out, "{a}"),
        (None, _) => out.write_all(b"?"),
    }
}

fn human(out: &mut Vec<u8>, line: &PacketLine<'_>, colour: bool) -> io::Result<()> {
    let (dim, reset) = if colour { (DIM, RESET) } else { ("", "") };
    write!(
        out,
        "{dim}#{}{reset} q{} {} {}",
        line.id, line.queue, line.hook, line.family
    )?;
    let s = &line.summary;
    if s.src.is_some() || s.dst.is_some() {
        write!(out, " {} ", s.proto_name())?;
        endpoint(out, s.src, s.sport)?;
        out.write_all(b" > ")?;
        endpoint(out, s.dst, s.dport)?;
    }
    write!(out, " len {}", line.len)?;
    if let Some(cap_len) = line.cap_len {
        write!(out, " cap_len {cap_len}")?;
    }
    write!(out, " mark {}", line.mark.unwrap_or(0))?;
    if let Some(uid) = line.uid {
        write!(out, " uid {uid}")?;
    }
    if let Some(gid) = line.gid {
        write!(out, " gid {gid}")?;
    }
    if line.gso {
        out.write_all(b" gso")?;
    }
    if colour {
        writeln!(
            out,
            " -> {}{}{RESET}",
            verdict_colour(line.verdict),
            line.verdict
        )
    } else {
        writeln!(out, " -> {}", line.verdict)
    }
}

/// Writes `text` as a JSON string, quotes included.
fn json_str(out: &mut Vec<u8>, text: &str) -> io::Result<()> {
    out.push(b'"');
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let escape: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            c if u32::from(c) < 0x20 => None,
            _ => continue,
        };
        out.extend_from_slice(&text.as_bytes()[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => write!(out, "\\u{:04x}", u32::from(c))?,
        }
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&text.as_bytes()[start..]);
    out.push(b'"');
    Ok(())
}

fn json_opt_u32(out: &mut Vec<u8>, key: &str, value: Option<u32>) -> io::Result<()> {
    match value {
        Some(v) => write!(out, ",\"{key}\":{v}"),
        None => Ok(()),
    }
}

fn json(out: &mut Vec<u8>, line: &PacketLine<'_>) -> io::Result<()> {
    write!(
        out,
        "{{\"id\":{},\"queue\":{},\"hook\":",
        line.id, line.queue
    )?;
    json_str(out, line.hook)?;
    out.extend_from_slice(b",\"family\":");
    json_str(out, line.family)?;
    write!(out, ",\"len\":{}", line.len)?;
    json_opt_u32(out, "cap_len", line.cap_len)?;
    json_opt_u32(out, "mark", line.mark)?;
    json_opt_u32(out, "uid", line.uid)?;
    json_opt_u32(out, "gid", line.gid)?;
    json_opt_u32(out, "indev", line.indev)?;
    json_opt_u32(out, "outdev", line.outdev)?;
    let s = &line.summary;
    if let Some(src) = s.src {
        write!(out, ",\"src\":\"{src}\"")?;
    }
    if let Some(dst) = s.dst {
        write!(out, ",\"dst\":\"{dst}\"")?;
    }
    match s.proto_name() {
        crate::summary::ProtoName::Named(name) => {
            out.extend_from_slice(b",\"proto\":");
            json_str(out, name)?;
        }
        crate::summary::ProtoName::Number(n) => write!(out, ",\"proto\":{n}")?,
        crate::summary::ProtoName::Unknown => {}
    }
    if let Some(sport) = s.sport {
        write!(out, ",\"sport\":{sport}")?;
    }
    if let Some(dport) = s.dport {
        write!(out, ",\"dport\":{dport}")?;
    }
    write!(out, ",\"gso\":{},\"verdict\":", line.gso)?;
    json_str(out, line.verdict)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_labels_stay_in_the_contract() {
        use linux_nfqueue::Family;
        assert_eq!(hook_label(Hook::from_raw(Family::Arp, 0)), "input");
        assert_eq!(hook_label(Hook::from_raw(Family::Arp, 1)), "output");
        assert_eq!(hook_label(Hook::from_raw(Family::Arp, 2)), "forward");
        assert_eq!(hook_label(Hook::from_raw(Family::Ipv4, 3)), "output");
        assert_eq!(hook_label(Hook::from_raw(Family::Netdev, 0)), "ingress");
        assert_eq!(hook_label(Hook::from_raw(Family::Ipv6, 9)), "unknown");
    }
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn udp_line() -> PacketLine<'static> {
        PacketLine {
            id: 17,
            queue: 0,
            hook: "output",
            family: "ipv4",
            len: 92,
            cap_len: None,
            mark: None,
            uid: None,
            gid: None,
            indev: None,
            outdev: Some(1),
            gso: false,
            summary: PacketSummary {
                src: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                dst: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                proto: Some(17),
                sport: Some(40000),
                dport: Some(9999),
                arp: false,
            },
            verdict: "accept",
        }
    }

    fn text(printer: &mut PacketPrinter, line: &PacketLine<'_>) -> String {
        String::from_utf8(printer.render(line).to_vec()).unwrap()
    }

    #[test]
    fn human_line_matches_the_contract() {
        let mut p = PacketPrinter::new(Format::Human, false);
        assert_eq!(
            text(&mut p, &udp_line()),
            "#17 q0 output ipv4 udp 127.0.0.1:40000 > 127.0.0.1:9999 len 92 mark 0 -> accept\n"
        );
    }

    #[test]
    fn human_line_extras() {
        let mut p = PacketPrinter::new(Format::Human, false);
        let line = PacketLine {
            id: 18,
            family: "ipv6",
            len: 60,
            cap_len: Some(1500),
            mark: Some(5),
            uid: Some(0),
            gid: Some(0),
            gso: true,
            summary: PacketSummary {
                src: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                dst: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                proto: Some(6),
                sport: Some(51000),
                dport: Some(8888),
                arp: false,
            },
            verdict: "drop",
            ..udp_line()
        };
        assert_eq!(
            text(&mut p, &line),
            "#18 q0 output ipv6 tcp [::1]:51000 > [::1]:8888 len 60 cap_len 1500 mark 5 uid 0 \
             gid 0 gso -> drop\n"
        );
        // ICMP: addresses without ports; nothing decoded: no address part at all.
        let icmp = PacketLine {
            summary: PacketSummary {
                proto: Some(1),
                sport: None,
                dport: None,
                ..udp_line().summary
            },
            ..udp_line()
        };
        assert_eq!(
            text(&mut p, &icmp),
            "#17 q0 output ipv4 icmp 127.0.0.1 > 127.0.0.1 len 92 mark 0 -> accept\n"
        );
        let meta = PacketLine {
            len: 0,
            summary: PacketSummary::default(),
            ..udp_line()
        };
        assert_eq!(
            text(&mut p, &meta),
            "#17 q0 output ipv4 len 0 mark 0 -> accept\n"
        );
    }

    #[test]
    fn colour_only_when_asked_and_never_in_json() {
        let mut p = PacketPrinter::new(Format::Human, true);
        let t = text(&mut p, &udp_line());
        assert!(t.starts_with("\x1b[2m#17\x1b[0m q0"), "{t:?}");
        assert!(t.ends_with("-> \x1b[32maccept\x1b[0m\n"), "{t:?}");
        let drop = PacketLine {
            verdict: "drop",
            ..udp_line()
        };
        assert!(text(&mut p, &drop).contains("\x1b[31mdrop"));
        let mut j = PacketPrinter::new(Format::Json, true);
        assert!(!text(&mut j, &udp_line()).contains('\x1b'));
    }

    #[test]
    fn json_fields_and_order() {
        let mut p = PacketPrinter::new(Format::Json, false);
        let t = text(&mut p, &udp_line());
        assert_eq!(
            t,
            "{\"id\":17,\"queue\":0,\"hook\":\"output\",\"family\":\"ipv4\",\"len\":92,\
             \"outdev\":1,\"src\":\"127.0.0.1\",\"dst\":\"127.0.0.1\",\"proto\":\"udp\",\
             \"sport\":40000,\"dport\":9999,\"gso\":false,\"verdict\":\"accept\"}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["sport"], 40000);
        assert!(v.get("mark").is_none() && v.get("cap_len").is_none());
    }

    #[test]
    fn json_with_everything_parses() {
        let mut p = PacketPrinter::new(Format::Json, false);
        let line = PacketLine {
            cap_len: Some(65535),
            mark: Some(u32::MAX),
            uid: Some(1000),
            gid: Some(100),
            indev: Some(2),
            gso: true,
            summary: PacketSummary {
                src: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                proto: Some(253),
                ..udp_line().summary
            },
            verdict: "queue:3:bypass",
            ..udp_line()
        };
        let t = text(&mut p, &line);
        assert_eq!(t.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = [
            "id", "queue", "hook", "family", "len", "cap_len", "mark", "uid", "gid", "indev",
            "outdev", "src", "dst", "proto", "sport", "dport", "gso", "verdict",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(v["src"], "::1");
        assert_eq!(v["proto"], 253);
        assert_eq!(v["mark"], u64::from(u32::MAX));
        assert_eq!(v["gso"], true);
        assert_eq!(v["verdict"], "queue:3:bypass");
        // Field order in the text follows the contract.
        let positions: Vec<usize> = [
            "\"id\"",
            "\"queue\"",
            "\"hook\"",
            "\"family\"",
            "\"len\"",
            "\"cap_len\"",
            "\"mark\"",
            "\"uid\"",
            "\"gid\"",
            "\"indev\"",
            "\"outdev\"",
            "\"src\"",
            "\"dst\"",
            "\"proto\"",
            "\"sport\"",
            "\"dport\"",
            "\"gso\"",
            "\"verdict\"",
        ]
        .iter()
        .map(|k| t.find(k).unwrap())
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{t}");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        json_str(&mut out, "a\"b\\c\nd\u{1}é").unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn stdout_printer() {
        assert!(!PacketPrinter::for_stdout(Format::Json).colour);
        assert_eq!(
            PacketPrinter::for_stdout(Format::Human).colour,
            stdout_wants_colour()
        );
    }

    #[test]
    fn write_reuses_the_buffer() {
        let mut p = PacketPrinter::new(Format::Human, false);
        let mut out = Vec::new();
        p.write(&mut out, &udp_line()).unwrap();
        let capacity = p.buf.capacity();
        for _ in 0..100 {
            p.write(&mut out, &udp_line()).unwrap();
        }
        assert_eq!(p.buf.capacity(), capacity);
        assert_eq!(out.split(|&b| b == b'\n').count(), 102);
    }
}
