// SPDX-License-Identifier: MIT OR Apache-2.0
//! Random verdicts, batch verdicts and configs: emit, parse back, compare.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use linux_nfqueue::wire::consts::NLM_F_REQUEST;
use linux_nfqueue::wire::{
    ConfigCmd, ConfigFlags, ConfigMsgView, ConfigRequest, CopyMode, CtUpdate, MessageBuffer,
    NlMsgIter, Verdict, VerdictAttrs, VerdictMsgView, encode_verdict, verdict_len,
};

fn verdict(u: &mut Unstructured<'_>) -> Result<Verdict> {
    Ok(match u.int_in_range(0..=4)? {
        0 => Verdict::Drop,
        1 => Verdict::Accept,
        2 => Verdict::Repeat,
        3 => Verdict::Stop,
        _ => Verdict::Queue {
            num: u.arbitrary()?,
            bypass: u.arbitrary()?,
        },
    })
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let seq: u32 = u.arbitrary()?;
    let flags: u16 = u.arbitrary()?;
    let queue: u16 = u.arbitrary()?;
    let id: u32 = u.arbitrary()?;
    let v = verdict(u)?;
    let mut ct = None;
    if u.arbitrary()? {
        let mut c = CtUpdate::new();
        if u.arbitrary()? {
            c = c.with_mark(u.arbitrary()?, u.arbitrary()?);
        }
        if u.arbitrary()? {
            c = c.with_labels(u.arbitrary()?, u.arbitrary()?);
        }
        ct = Some(c);
    }
    let mark: Option<u32> = u.arbitrary()?;
    let priority: Option<u32> = u.arbitrary()?;
    let payload: Option<&[u8]> = if u.arbitrary()? {
        let n = u.int_in_range(0..=2000)?;
        Some(u.bytes(n.min(u.len()))?)
    } else {
        None
    };
    let mut attrs = VerdictAttrs::new();
    attrs.mark = mark;
    attrs.priority = priority;
    attrs.payload = payload;
    attrs.conntrack = ct;

    // Into a slice of random size: either it fits or we get a clean error.
    let mut out = vec![0u8; u.int_in_range(0..=2200)?];
    match encode_verdict(&mut out, seq, flags, queue, id, v, &attrs) {
        Ok(n) => {
            assert_eq!(n, verdict_len(&attrs));
            let m = NlMsgIter::new(&out[..n]).next().unwrap().unwrap();
            assert_eq!(m.header().seq, seq);
            assert_eq!(m.header().flags, flags | NLM_F_REQUEST);
            let p = VerdictMsgView::parse(m).unwrap();
            assert_eq!((p.queue(), p.id(), p.verdict()), (queue, id, Some(v)));
            assert_eq!(
                (p.mark(), p.priority(), p.payload()),
                (mark, priority, payload)
            );
            assert_eq!(p.ct_update(), ct);
        }
        Err(_) => assert!(out.len() < verdict_len(&attrs)),
    }

    let mut req = ConfigRequest::new();
    if u.arbitrary()? {
        req.cmd = Some(ConfigCmd::from(u.arbitrary::<u8>()?));
    }
    if u.arbitrary()? {
        req.params = Some((CopyMode::from(u.arbitrary::<u8>()?), u.arbitrary()?));
    }
    req.queue_maxlen = u.arbitrary()?;
    if u.arbitrary()? {
        req.flags = Some((
            ConfigFlags::from_bits_retain(u.arbitrary()?),
            ConfigFlags::from_bits_retain(u.arbitrary()?),
        ));
    }
    let mut mb = MessageBuffer::new();
    mb.push_config(seq, flags, queue, &req).unwrap();
    mb.push_batch_verdict(seq.wrapping_add(1), flags, queue, id, v, mark, priority)
        .unwrap();
    let msgs: Vec<_> = NlMsgIter::new(mb.as_bytes()).map(|m| m.unwrap()).collect();
    assert_eq!(msgs.len(), 2);
    let c = ConfigMsgView::parse(msgs[0]).unwrap();
    assert_eq!(
        (c.queue(), c.cmd(), c.params(), c.maxlen()),
        (queue, req.cmd, req.params, req.queue_maxlen)
    );
    assert_eq!(
        (c.flags(), c.mask()),
        (req.flags.map(|f| f.0), req.flags.map(|f| f.1))
    );
    let b = VerdictMsgView::parse(msgs[1]).unwrap();
    assert!(b.is_batch());
    assert_eq!(
        (b.id(), b.verdict(), b.mark(), b.priority()),
        (id, Some(v), mark, priority)
    );
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
