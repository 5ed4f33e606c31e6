// SPDX-License-Identifier: MIT OR Apache-2.0
//! Any datagram through the message iterator, the classifier, every packet accessor and the
//! conntrack decoder: no panic, and every iterator ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linux_nfqueue::wire::{
    AttrIter, ConfigMsgView, CtView, Message, NlMsgIter, PacketView, VerdictMsgView,
};

fn ct(c: CtView<'_>, data_len: usize) -> usize {
    let mut n = c.raw().len();
    n += c.id().is_some() as usize + c.mark().is_some() as usize + c.zone().is_some() as usize;
    n += c.status().map_or(0, |s| s.bits() as usize);
    n += c.timeout().is_some() as usize + c.use_count().is_some() as usize;
    n += c.labels().map_or(0, <[u8]>::len);
    for t in [c.orig(), c.reply()].into_iter().flatten() {
        n += t.src.is_some() as usize + t.dst.is_some() as usize + t.proto.is_some() as usize;
        n += t.src_port.is_some() as usize + t.icmp_type.is_some() as usize;
    }
    let mut k = 0;
    for a in c.attrs() {
        k += 1;
        assert!(k <= data_len / 4 + 1, "conntrack attribute walk must end");
        if let Ok(a) = a {
            let mut j = 0;
            for _ in a.nested() {
                j += 1;
                assert!(j <= data_len / 4 + 1);
            }
        }
    }
    n
}

fn packet(p: &PacketView<'_>, data_len: usize) -> usize {
    let mut n = p.id() as usize + usize::from(p.queue()) + usize::from(p.hw_protocol());
    n += p.family().name().len() + p.hook().name().len();
    n += p.mark().is_some() as usize + p.priority().is_some() as usize;
    n += p
        .timestamp()
        .map_or(0, |t| t.to_system_time().is_some() as usize);
    n += [
        p.indev(),
        p.outdev(),
        p.physindev(),
        p.physoutdev(),
        p.uid(),
        p.gid(),
    ]
    .into_iter()
    .flatten()
    .count();
    n += p.cgroup_classid().is_some() as usize + p.cap_len().is_some() as usize;
    n += p.is_truncated() as usize + p.skb_info().bits() as usize;
    n += p.hw_addr().map_or(0, <[u8]>::len);
    assert!(p.hw_addr().is_none_or(|h| h.len() <= 8));
    n += p.payload().map_or(0, <[u8]>::len) + p.l2hdr().map_or(0, <[u8]>::len);
    n += p.secctx().map_or(0, <[u8]>::len) + p.exp_raw().map_or(0, <[u8]>::len);
    n += p
        .vlan()
        .map_or(0, |v| usize::from(v.id()) + usize::from(v.pcp()));
    n += p.ct_info().map_or(0, |c| u32::from(c) as usize);
    n += p.ct_raw().map_or(0, <[u8]>::len);
    if let Some(c) = p.ct() {
        n += ct(c, data_len);
    }
    let mut k = 0;
    for _ in p.attrs() {
        k += 1;
        assert!(k <= data_len / 4 + 1, "attribute walk must end");
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let mut count = 0;
    let mut it = NlMsgIter::new(data);
    for m in it.by_ref() {
        count += 1;
        assert!(count <= data.len() / 16 + 1, "message walk must end");
        let Ok(m) = m else { continue };
        let mut k = 0;
        for _ in AttrIter::new(m.payload(), m.offset() + 16) {
            k += 1;
            assert!(k <= data.len() / 4 + 1);
        }
        match Message::parse(m) {
            Ok(Message::Packet(p)) => {
                std::hint::black_box(packet(&p, data.len()));
            }
            Ok(Message::Error(e)) => {
                std::hint::black_box((
                    e.errno(),
                    e.seq(),
                    e.capped(),
                    e.echoed_payload(),
                    e.ext_ack_msg(),
                    e.ext_ack_offset(),
                ));
            }
            _ => {}
        }
        if let Ok(v) = VerdictMsgView::parse(m) {
            std::hint::black_box((v.verdict(), v.ct_update(), v.payload(), v.mark()));
        }
        if let Ok(c) = ConfigMsgView::parse(m) {
            std::hint::black_box((c.cmd(), c.params(), c.flags(), c.mask(), c.maxlen()));
        }
    }
    assert!(it.next().is_none(), "fused after the end");
});
