// SPDX-License-Identifier: MIT OR Apache-2.0
//! Socket tests. Most use `NETLINK_USERSOCK` (protocol 2), which needs no privileges: a socket
//! sends to its own portid or to a second socket, so framing, `MSG_TRUNC`, the sender check and
//! `recvmmsg` are tested without any kernel subsystem. The last test binds a real queue in a
//! private network namespace (root only).

use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::super::test_util::{bind_message, parse_ack, root_or_skip};
use super::super::{RecvBatch, in_new_netns};
use super::{MAX_SEND_PARTS, NetlinkSocket};

fn usersock() -> NetlinkSocket {
    let s = NetlinkSocket::open_protocol(libc::NETLINK_USERSOCK).expect("open NETLINK_USERSOCK");
    s.set_recv_timeout(Some(Duration::from_secs(5)))
        .expect("SO_RCVTIMEO");
    s
}

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = assert_send_sync::<NetlinkSocket>();
const _: () = assert_send_sync::<RecvBatch>();

#[test]
fn open_netfilter_socket_has_portid_and_protocol() {
    let s = NetlinkSocket::open().expect("open NETLINK_NETFILTER");
    assert_ne!(s.portid().unwrap(), 0, "autobind gives a non-zero portid");
    assert_eq!(s.protocol().unwrap(), libc::NETLINK_NETFILTER);
    s.set_no_enobufs(true).unwrap();
    s.set_cap_ack(true).unwrap();
    s.set_ext_ack(true).unwrap();
    s.set_send_buffer(1 << 16).unwrap();
    let dbg = format!("{s:?}");
    assert!(dbg.contains("portid"), "{dbg}");
}

#[test]
fn two_sockets_get_distinct_portids() {
    let a = usersock();
    let b = usersock();
    assert_ne!(a.portid().unwrap(), b.portid().unwrap());
}

#[test]
fn msg_trunc_reports_real_length_and_consumes_the_datagram() {
    let s = usersock();
    let me = s.portid().unwrap();
    let big: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    assert_eq!(s.send_to(me, &big).unwrap(), 3000);
    let mut small = [0u8; 200];
    let d = s.recv(&mut small, false).unwrap();
    assert_eq!((d.len, d.full_len), (200, 3000));
    assert!(d.truncated());
    assert_eq!(&small[..], &big[..200]);
    // The rest is gone: the next receive finds nothing.
    let err = s.recv(&mut small, true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
}

#[test]
fn sender_portid_is_reported_and_user_sockets_are_not_the_kernel() {
    let a = usersock();
    let b = usersock();
    a.send_to(b.portid().unwrap(), b"hello").unwrap();
    let mut buf = [0u8; 64];
    let d = b.recv(&mut buf, false).unwrap();
    assert_eq!(&buf[..d.len], b"hello");
    assert!(!d.truncated());
    assert_eq!(d.sender_portid, a.portid().unwrap());
    assert_eq!(d.sender_groups, 0);
    assert!(!d.from_kernel());
}

#[test]
fn recv_batch_takes_several_datagrams_in_one_call() {
    let a = usersock();
    let b = usersock();
    let to = b.portid().unwrap();
    let sizes = [1usize, 16, 100, 256, 300];
    for (i, &n) in sizes.iter().enumerate() {
        a.send_to(to, &vec![i as u8; n]).unwrap();
    }
    let mut batch = RecvBatch::new(8, 256);
    assert_eq!(batch.capacity(), 8);
    assert!(batch.is_empty());
    let n = b.recv_batch(&mut batch, true).unwrap();
    assert_eq!(n, sizes.len());
    assert_eq!(batch.len(), n);
    for (i, &size) in sizes.iter().enumerate() {
        let (d, bytes) = batch.datagram(i);
        assert_eq!(d.full_len, size);
        assert_eq!(d.len, size.min(256));
        assert_eq!(d.truncated(), size > 256);
        assert!(bytes.iter().all(|&x| x == i as u8));
        assert_eq!(d.sender_portid, a.portid().unwrap());
        assert!(!d.from_kernel());
    }
    // Nothing left: without wait_for_one the call does not block.
    let err = b.recv_batch(&mut batch, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(batch.is_empty());
    // The batch is reusable, and is Send: use it from another thread.
    a.send_to(to, b"again").unwrap();
    let got = std::thread::scope(|s| {
        s.spawn(|| {
            b.recv_batch(&mut batch, true).unwrap();
            batch.datagram(0).1.to_vec()
        })
        .join()
        .unwrap()
    });
    assert_eq!(got, b"again");
}

#[test]
#[should_panic(expected = "RecvBatch::datagram")]
fn recv_batch_index_past_the_last_call_panics() {
    let batch = RecvBatch::new(2, 64);
    let _ = batch.datagram(0);
}

#[test]
fn send_vectored_joins_the_parts() {
    let s = usersock();
    let me = s.portid().unwrap();
    let sent = s
        .send_vectored_to(me, &[b"head", b"", b"-", b"payload"])
        .unwrap();
    assert_eq!(sent, 12);
    let mut buf = [0u8; 64];
    let d = s.recv(&mut buf, false).unwrap();
    assert_eq!(&buf[..d.len], b"head-payload");

    let parts = [&b"x"[..]; MAX_SEND_PARTS + 1];
    let err = s.send_vectored_to(me, &parts).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn send_to_the_kernel_on_usersock_is_refused() {
    // No kernel socket serves NETLINK_USERSOCK, so the default destination (portid 0) refuses.
    let s = usersock();
    let err = s.send(b"nobody").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
}

#[test]
fn recv_buffer_outcome_reports_what_the_kernel_set() {
    let s = NetlinkSocket::open().unwrap();
    let want = 1 << 20;
    let out = s.set_recv_buffer(want).unwrap();
    assert_eq!(out.requested, want);
    assert_eq!(out.actual, s.recv_buffer_size().unwrap());
    if out.forced {
        // SO_RCVBUFFORCE is not capped; the kernel doubles the value.
        assert_eq!(out.actual, 2 * want);
    } else {
        // Without CAP_NET_ADMIN in the initial user namespace: capped at 2 * rmem_max.
        assert!(out.actual > 0);
    }
    assert_eq!(out.forced, super::super::is_root());
}

#[test]
fn nonblocking_timeout_and_poll() {
    let s = usersock();
    let me = s.portid().unwrap();
    let mut buf = [0u8; 16];

    s.set_nonblocking(true).unwrap();
    assert_eq!(
        s.recv(&mut buf, false).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    s.set_nonblocking(false).unwrap();

    s.set_recv_timeout(Some(Duration::from_millis(50))).unwrap();
    let t0 = Instant::now();
    assert_eq!(
        s.recv(&mut buf, false).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert!(t0.elapsed() >= Duration::from_millis(40));
    assert_eq!(
        s.set_recv_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    s.set_recv_timeout(None).unwrap();

    let t0 = Instant::now();
    assert!(!s.poll_readable(Some(Duration::from_millis(30))).unwrap());
    assert!(t0.elapsed() >= Duration::from_millis(25));
    s.send_to(me, b"ping").unwrap();
    assert!(s.poll_readable(Some(Duration::from_secs(5))).unwrap());
    assert!(s.poll_readable(None).unwrap());
    assert_eq!(s.recv(&mut buf, true).unwrap().len, 4);
}

#[test]
fn owned_fd_round_trip_and_rejection() {
    let s = usersock();
    let portid = s.portid().unwrap();
    let fd: OwnedFd = s.into_owned_fd();
    let s = NetlinkSocket::from_owned_fd(fd).unwrap();
    assert_eq!(
        s.portid().unwrap(),
        portid,
        "an already bound socket is not rebound"
    );
    let fd: OwnedFd = s.into();
    drop(fd);

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = NetlinkSocket::from_owned_fd(OwnedFd::from(udp)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// The real subsystem, in a private network namespace: BIND acks with 0 and the queue shows up
/// in that namespace's /proc file with our portid; a second socket binding the same queue gets
/// EPERM (`protocol.md` Appendix A).
#[test]
fn bind_a_queue_in_a_private_namespace() {
    if !root_or_skip("bind_a_queue_in_a_private_namespace") {
        return;
    }
    in_new_netns(|| {
        let s = NetlinkSocket::open().unwrap();
        s.set_cap_ack(true).unwrap();
        s.set_recv_timeout(Some(Duration::from_secs(5))).unwrap();
        let portid = s.portid().unwrap();
        s.send(&bind_message(7, 41)).unwrap();
        let mut buf = [0u8; 512];
        let d = s.recv(&mut buf, false).unwrap();
        assert!(d.from_kernel(), "{d:?}");
        assert_eq!(parse_ack(&buf[..d.len]), Some((41, 0)));

        let proc = std::fs::read_to_string("/proc/thread-self/net/netfilter/nfnetlink_queue")
            .expect("nfnetlink_queue is loaded");
        let row: Vec<u64> = proc
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .map(|f| f.parse().unwrap())
                    .collect::<Vec<u64>>()
            })
            .find(|f| f[0] == 7)
            .expect("queue 7 listed");
        assert_eq!(row[1], u64::from(portid));
        assert_eq!(row[3], 2, "copy mode packet");

        let other = NetlinkSocket::open().unwrap();
        other
            .set_recv_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        other.send(&bind_message(7, 42)).unwrap();
        let d = other.recv(&mut buf, false).unwrap();
        assert_eq!(parse_ack(&buf[..d.len]), Some((42, libc::EPERM)));
    })
    .expect("unshare a network namespace");
}
