// SPDX-License-Identifier: MIT OR Apache-2.0
//! Parse one kernel-captured packet and build its ACCEPT verdict into a reused buffer.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use linux_nfqueue::wire::{
    MessageBuffer, PacketView, Verdict, VerdictAttrs, encode_verdict, encode_verdict_head,
};

/// Decodes the hex lines of a capture fixture, skipping `#` comments.
fn fixture(text: &str) -> Vec<u8> {
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn bench(c: &mut Criterion) {
    // UDP 'hello' queued on OUTPUT (3 attributes), and a packet with 7 attributes.
    let small = fixture(include_str!("../tests/fixtures/pkt_udp4_output_hello.hex"));
    let rich = fixture(include_str!("../tests/fixtures/pkt_udp4_mark_prio_uid.hex"));

    let mut g = c.benchmark_group("parse_emit");
    g.throughput(Throughput::Elements(1));
    for (name, pkt) in [("udp4_output", &small), ("mark_prio_uid", &rich)] {
        let mut out = [0u8; 64];
        g.bench_function(format!("parse+accept/{name}"), |b| {
            b.iter(|| {
                let p = PacketView::parse_bytes(black_box(pkt)).unwrap();
                let n = encode_verdict(
                    &mut out,
                    1,
                    0,
                    p.queue(),
                    p.id(),
                    Verdict::Accept,
                    &VerdictAttrs::new(),
                )
                .unwrap();
                black_box(&out[..n]);
            })
        });
        g.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| black_box(PacketView::parse_bytes(black_box(pkt)).unwrap()))
        });
    }
    let mut out = [0u8; 64];
    g.bench_function("encode_verdict/mark", |b| {
        let a = VerdictAttrs::new().with_mark(7);
        b.iter(|| {
            black_box(encode_verdict(
                &mut out,
                1,
                0,
                5,
                black_box(1),
                Verdict::Accept,
                &a,
            ))
        })
    });
    g.bench_function("encode_verdict_head/payload", |b| {
        let a = VerdictAttrs::new().with_payload(&small[40..]);
        b.iter(|| {
            black_box(encode_verdict_head(
                &mut out,
                1,
                0,
                5,
                black_box(1),
                Verdict::Accept,
                &a,
            ))
        })
    });
    let mut mb = MessageBuffer::with_capacity(32 * 64);
    g.throughput(Throughput::Elements(64));
    g.bench_function("message_buffer/64_accepts", |b| {
        b.iter(|| {
            mb.clear();
            for id in 1..=64 {
                mb.push_verdict(id, 0, 5, id, Verdict::Accept, &VerdictAttrs::new())
                    .unwrap();
            }
            black_box(mb.as_bytes());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
