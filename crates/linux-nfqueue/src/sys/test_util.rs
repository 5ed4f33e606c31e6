// SPDX-License-Identifier: MIT OR Apache-2.0
//! Helpers for the `sys` unit tests: a privilege gate and a hand-written NFQUEUE config message,
//! so these tests depend on nothing but the kernel.

use std::env;

/// Whether tests that need root may run. Without root they are skipped with a message on
/// stderr, unless `NFQUEUE_REQUIRE_KERNEL_TESTS=1`, which turns the skip into a panic.
pub(crate) fn root_or_skip(test: &str) -> bool {
    if super::is_root() {
        return true;
    }
    let reason = format!("{test}: skipped, needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)");
    assert!(
        env::var("NFQUEUE_REQUIRE_KERNEL_TESTS").as_deref() != Ok("1"),
        "{reason}, and NFQUEUE_REQUIRE_KERNEL_TESTS=1 forbids skipping"
    );
    eprintln!("{reason}");
    false
}

/// `NFQNL_MSG_CONFIG` with `NLM_F_REQUEST | NLM_F_ACK`: BIND plus PARAMS (copy packet, range
/// 0xffff), for `queue`, with sequence number `seq`. Layout from `protocol.md` §1 and §4.
pub(crate) fn bind_message(queue: u16, seq: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&0x0302u16.to_ne_bytes()); // NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_CONFIG
    m.extend_from_slice(&(0x1u16 | 0x4).to_ne_bytes()); // NLM_F_REQUEST | NLM_F_ACK
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
    m.extend_from_slice(&[0, 0]); // nfgen_family AF_UNSPEC, version 0
    m.extend_from_slice(&queue.to_be_bytes()); // res_id
    m.extend_from_slice(&8u16.to_ne_bytes()); // NFQA_CFG_CMD, len 8
    m.extend_from_slice(&1u16.to_ne_bytes());
    m.extend_from_slice(&[1, 0, 0, 0]); // BIND, pad, pf 0
    m.extend_from_slice(&9u16.to_ne_bytes()); // NFQA_CFG_PARAMS, len 9
    m.extend_from_slice(&2u16.to_ne_bytes());
    m.extend_from_slice(&0xffffu32.to_be_bytes()); // copy_range
    m.extend_from_slice(&[2, 0, 0, 0]); // NFQNL_COPY_PACKET + padding
    assert_eq!(m.len(), 40);
    m
}

/// `(seq, errno)` of an `NLMSG_ERROR` message (errno 0 is an ack), or `None`.
pub(crate) fn parse_ack(msg: &[u8]) -> Option<(u32, i32)> {
    if msg.len() < 20 || u16::from_ne_bytes([msg[4], msg[5]]) != 2 {
        return None;
    }
    let seq = u32::from_ne_bytes(msg[8..12].try_into().ok()?);
    let error = i32::from_ne_bytes(msg[16..20].try_into().ok()?);
    Some((seq, -error))
}
