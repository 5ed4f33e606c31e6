// SPDX-License-Identifier: MIT OR Apache-2.0
//! Judge the first packet of each flow only: accept it with a mark that conntrack keeps, so the
//! kernel accepts the rest of the flow without sending it to user space.
//!
//! The rules, in this order (bit 0x1 of the marks means "judged"):
//!
//! ```sh
//! # 1. Packets of judged flows skip the queue.
//! iptables -A OUTPUT -m connmark --mark 0x1/0x1 -j ACCEPT
//! # 2. Everything else (of interest) is queued.
//! iptables -A OUTPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! # 3. Copy the bit from the packet mark into the connection mark as the packet leaves.
//! iptables -t mangle -A POSTROUTING -m mark --mark 0x1/0x1 -j CONNMARK --save-mark --mask 0x1
//! ```
//!
//! Rule 3 must only fire for packets that carry the bit: an unconditional `--save-mark` would
//! copy the unmarked packet mark of the flow's *next* packet back into the connection and clear
//! the bit again.
//!
//! The same with nft (chains `output` at priority `filter`, `postrouting` at `mangle`):
//!
//! ```sh
//! nft add rule inet filter output ct mark and 0x1 == 0x1 accept
//! nft add rule inet filter output udp dport 9999 queue num 0 bypass
//! nft add rule inet filter postrouting meta mark and 0x1 == 0x1 ct mark set ct mark or 0x1
//! ```
//!
//! The verdict sets the bit twice: in the packet mark (`NFQA_MARK`, which rule 3 saves) and
//! in the connection mark directly (`NFQA_CT` with `CTA_MARK`). The direct way needs the
//! kernel's ctnetlink glue (`CONFIG_NETFILTER_NETLINK_GLUE_CT` and the `nf_conntrack_netlink`
//! module, which the CONNTRACK queue flag loads); without it the kernel ignores `NFQA_CT`
//! without a word, and rule 3 alone does the job. The program says which case it is in.
//!
//! Why rule 3 sits in POSTROUTING: an ACCEPT verdict ends the chain that queued the packet
//! (later rules of OUTPUT never see it) but the packet still passes the later hooks.
//!
//! ```sh
//! cargo run --example mark_flows -- [QUEUE] [COUNT] [SECONDS]
//! ```
//!
//! The program ends after `COUNT` packets or `SECONDS` seconds (0 = no limit) and prints
//! `judged N` as its last line.

mod common;

use common::{arg, stop_after};

use linux_nfqueue::{Config, ConfigFlags, CtUpdate, ErrorKind, Queue, Verdict, VerdictAttrs};

const USAGE: &str = "usage: mark_flows [QUEUE] [COUNT] [SECONDS]";

/// The mark bit that means "this flow was judged". Other bits of the marks belong to other
/// software and are left as they are.
const JUDGED: u32 = 0x1;

fn main() -> Result<(), linux_nfqueue::Error> {
    let queue_num: u16 = arg(1, 0, USAGE);
    let count: u64 = arg(2, 0, USAGE);
    let seconds: u64 = arg(3, 0, USAGE);

    // Ask for conntrack information: it loads nf_conntrack_netlink where the kernel can, which
    // makes connection-mark verdicts work. A kernel that refuses the flag binds without it.
    let mut queue = Queue::open(Config::new(queue_num).conntrack(true))?;
    let direct = queue
        .granted_flags()
        .iter()
        .all(|(_, flags)| flags.contains(ConfigFlags::CONNTRACK));
    if direct {
        eprintln!("conntrack glue present: the verdict sets the connection mark itself");
    } else {
        eprintln!(
            "this kernel refused the CONNTRACK flag (no ctnetlink glue): connection marks in \
             verdicts are ignored, the CONNMARK --save-mark rule must copy the packet mark"
        );
    }
    stop_after(queue.stop_handle(), seconds);

    let mut judged = 0u64;
    while count == 0 || judged < count {
        let packet = match queue.recv() {
            Ok(packet) => packet,
            Err(e) if e.kind() == ErrorKind::Closed => break,
            Err(e) if e.is_transient() => continue,
            Err(e) => return Err(e),
        };
        // With the glue, the packet carries its connection (id, state, mark).
        let connection = packet.ct().and_then(|ct| ct.id());
        println!(
            "judged packet {} (connection {}, state {:?}); later packets of its flow skip the queue",
            packet.id(),
            connection.map_or_else(|| "unknown".to_string(), |id| id.to_string()),
            packet.ct_info(),
        );
        // Keep the other bits of the packet mark; NFQA_MARK replaces the whole value.
        let mark = packet.mark().unwrap_or(0) | JUDGED;
        let attrs = VerdictAttrs::new()
            .with_mark(mark)
            // Only the JUDGED bit of the connection mark changes (value, mask).
            .with_conntrack(CtUpdate::new().with_mark(JUDGED, JUDGED));
        packet.verdict_with(Verdict::Accept, &attrs)?;
        judged += 1;
    }
    println!("judged {judged}");
    queue.close()
}
