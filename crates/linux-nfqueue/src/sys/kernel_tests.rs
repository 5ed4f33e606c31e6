// SPDX-License-Identifier: MIT OR Apache-2.0
//! `sys` against real queued packets, in testkit sandboxes (root only; the test kit's skip
//! rules apply): `recvmmsg` takes several packet messages at once, `MSG_TRUNC` reports a real
//! packet's full length, and a receive-buffer overrun surfaces as `ENOBUFS` without killing the
//! socket (`protocol.md` §11, §13, Appendix A).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::test_util::{bind_message, parse_ack};
use super::{NetlinkSocket, RecvBatch};
use crate::testkit::{Chain, QueueRule, Sandbox, send_udp};

const T: Duration = Duration::from_secs(5);
const PACKET_MSG: u16 = 0x0300;

fn msg_type(bytes: &[u8]) -> u16 {
    u16::from_ne_bytes([bytes[4], bytes[5]])
}

/// A sandbox whose OUTPUT UDP traffic to port 9999 goes to queue 5 (no bypass).
fn sandbox() -> Option<Sandbox> {
    let sb = Sandbox::new_or_skip()?;
    sb.install(&QueueRule::new(Chain::Output, 5).udp().dport(9999))
        .unwrap();
    Some(sb)
}

/// Opens a socket in the calling thread's namespace and binds queue 5.
fn bound_socket() -> NetlinkSocket {
    let s = NetlinkSocket::open().unwrap();
    s.set_cap_ack(true).unwrap();
    s.set_recv_timeout(Some(T)).unwrap();
    s.send(&bind_message(5, 1)).unwrap();
    let mut buf = [0u8; 256];
    let d = s.recv(&mut buf, false).unwrap();
    assert_eq!(parse_ack(&buf[..d.len]), Some((1, 0)));
    s
}

const DST: &str = "127.0.0.1:9999";

#[test]
fn recv_batch_and_truncation_on_real_packets() {
    let Some(sb) = sandbox() else { return };
    let dst: SocketAddr = DST.parse().unwrap();
    let sock = sb.run(bound_socket);
    sb.run(|| send_udp(dst, 10, 100, T)).unwrap();

    let mut batch = RecvBatch::new(16, 4096);
    let mut got = 0;
    let deadline = Instant::now() + T;
    while got < 10 && Instant::now() < deadline {
        let n = sock.recv_batch(&mut batch, true).unwrap();
        for i in 0..n {
            let (d, bytes) = batch.datagram(i);
            assert!(d.from_kernel(), "{d:?}");
            assert!(!d.truncated());
            assert_eq!(msg_type(bytes), PACKET_MSG);
        }
        got += n;
    }
    assert_eq!(got, 10);

    // A 3000-byte datagram into a 200-byte buffer: the real length comes back, the rest is lost.
    sb.run(|| send_udp(dst, 1, 3000, T)).unwrap();
    let mut small = [0u8; 200];
    let d = sock.recv(&mut small, false).unwrap();
    assert!(d.truncated());
    assert!(d.full_len > 3028, "{d:?}");
    assert_eq!(msg_type(&small), PACKET_MSG);
    assert_eq!(
        sock.recv(&mut small, true).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let waiting = sb.queue_counters(5).unwrap().unwrap().waiting;
    assert_eq!(waiting, 11, "nothing was verdicted");
}

#[test]
fn overrun_reports_enobufs_and_the_socket_survives() {
    let Some(sb) = sandbox() else { return };
    let dst: SocketAddr = DST.parse().unwrap();
    let sock = sb.run(bound_socket);
    // The smallest buffer the kernel allows (it doubles the value): a few packets fit.
    let outcome = sock.set_recv_buffer(4096).unwrap();
    assert!(outcome.forced);
    sb.run(|| send_udp(dst, 50, 1000, T)).unwrap();

    let mut buf = vec![0u8; 8192];
    let err = sock.recv(&mut buf, false).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOBUFS));
    let mut after = 0;
    while sock.recv(&mut buf, true).is_ok() {
        after += 1;
    }
    assert!(
        (1..50).contains(&after),
        "{after} packets after the overrun"
    );
    let q = sb.queue_counters(5).unwrap().unwrap();
    assert_eq!(u64::from(q.user_dropped) + after, 50, "{q:?}");
    // The socket still works: after draining, new packets arrive again.
    sb.run(|| send_udp(dst, 1, 10, T)).unwrap();
    let d = sock.recv(&mut buf, false).unwrap();
    assert_eq!(msg_type(&buf[..d.len]), PACKET_MSG);
}
