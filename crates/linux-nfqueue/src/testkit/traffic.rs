// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bounded test traffic: UDP senders and sinks, a checksummed TCP transfer, ICMP echo.
//!
//! Every function stops after a given count **and** a given time. The free functions use the
//! network namespace of the calling thread: call them inside [`Sandbox::run`] or
//! [`Sandbox::spawn`], or use the `Sandbox` methods of the same name, which do that for you.
//! A socket keeps the namespace it was created in, so a [`UdpSink`] or [`TcpReceiver`] made
//! inside a sandbox can be read from any thread.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::sandbox::Sandbox;

/// What [`send_udp`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SendReport {
    /// Datagrams handed to the kernel successfully.
    pub sent: u64,
    /// Sends refused synchronously (`EPERM`: a rule dropped the packet on the way out).
    pub refused: u64,
    /// Whether the time limit stopped the sender before `count`.
    pub timed_out: bool,
}

/// Sends `count` UDP datagrams of `payload_len` bytes to `dst` from an ephemeral port, stopping
/// early after `timeout`. When `payload_len >= 8`, each payload starts with its sequence number
/// (big-endian u64, from 0) so a [`UdpSink`] can count distinct datagrams and duplicates; the
/// rest of the payload is the low byte of the sequence number repeated.
///
/// Uses the calling thread's namespace; see [`Sandbox::send_udp`].
pub fn send_udp(
    dst: SocketAddr,
    count: u64,
    payload_len: usize,
    timeout: Duration,
) -> io::Result<SendReport> {
    let bind: SocketAddr = match dst {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
        SocketAddr::V6(_) => "[::]:0".parse().expect("literal"),
    };
    let socket = UdpSocket::bind(bind)?;
    socket.set_write_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    let deadline = Instant::now() + timeout;
    let mut payload = vec![0u8; payload_len];
    let mut report = SendReport::default();
    for seq in 0..count {
        if Instant::now() >= deadline {
            report.timed_out = true;
            break;
        }
        payload.fill(seq as u8);
        if payload_len >= 8 {
            payload[..8].copy_from_slice(&seq.to_be_bytes());
        }
        match socket.send_to(&payload, dst) {
            Ok(_) => report.sent += 1,
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => report.refused += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// What a [`UdpSink`] received so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SinkReport {
    /// Datagrams received.
    pub datagrams: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Distinct sequence numbers seen (payloads of at least 8 bytes from [`send_udp`]).
    pub distinct: u64,
    /// Datagrams whose sequence number was already seen.
    pub duplicates: u64,
    /// The first payloads, as many as [`UdpSink::keep_payloads`] allows (none by default).
    pub payloads: Vec<Vec<u8>>,
}

/// A bound UDP socket that counts what arrives, with time limits on every wait.
#[derive(Debug)]
pub struct UdpSink {
    socket: UdpSocket,
    keep: usize,
    seen: HashSet<u64>,
    report: SinkReport,
    buf: Vec<u8>,
}

/// Largest datagram the sink reads whole.
const MAX_DATAGRAM: usize = 65536;

impl UdpSink {
    /// Binds `addr` in the calling thread's namespace; see [`Sandbox::udp_sink`].
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            socket: UdpSocket::bind(addr)?,
            keep: 0,
            seen: HashSet::new(),
            report: SinkReport::default(),
            buf: vec![0u8; MAX_DATAGRAM],
        })
    }

    /// Keeps up to `max` received payloads in the report (to check rewritten contents).
    pub fn keep_payloads(&mut self, max: usize) -> &mut Self {
        self.keep = max;
        self
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Receives until `count` datagrams have arrived in total, or `timeout` passes. Returns
    /// whether the count was reached.
    pub fn wait_for(&mut self, count: u64, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        while self.report.datagrams < count {
            if !self.receive_one(deadline)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Receives whatever arrives during `duration` (to check that nothing, or nothing more,
    /// arrives).
    pub fn collect_for(&mut self, duration: Duration) -> io::Result<()> {
        let deadline = Instant::now() + duration;
        while self.receive_one(deadline)? {}
        Ok(())
    }

    /// Receives one datagram unless `deadline` passes first; returns whether one arrived.
    fn receive_one(&mut self, deadline: Instant) -> io::Result<bool> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(io::ErrorKind::TimedOut.into());
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv_from(&mut buf) {
                // A signal interrupted the wait: wait again for the time that is left.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        if let Ok((n, _)) = result {
            self.record(&buf[..n]);
        }
        self.buf = buf;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn record(&mut self, payload: &[u8]) {
        let r = &mut self.report;
        r.datagrams += 1;
        r.bytes += payload.len() as u64;
        if let Some(head) = payload.first_chunk::<8>() {
            if self.seen.insert(u64::from_be_bytes(*head)) {
                r.distinct += 1;
            } else {
                r.duplicates += 1;
            }
        }
        if r.payloads.len() < self.keep {
            r.payloads.push(payload.to_vec());
        }
    }

    /// What arrived so far.
    pub fn report(&self) -> &SinkReport {
        &self.report
    }

    /// The report, consuming the sink.
    pub fn into_report(self) -> SinkReport {
        self.report
    }
}

/// Length and FNV-1a 64 hash of a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamDigest {
    /// Bytes in the stream.
    pub bytes: u64,
    /// FNV-1a 64-bit hash of the bytes.
    pub fnv64: u64,
}

impl StreamDigest {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Self {
            bytes: 0,
            fnv64: Self::OFFSET,
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        let mut h = self.fnv64;
        for &b in data {
            h = (h ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
        self.fnv64 = h;
    }

    /// The digest of `data` (to compare with what a [`TcpReceiver`] reports).
    pub fn of(data: &[u8]) -> Self {
        let mut d = Self::new();
        d.update(data);
        d
    }
}

/// What [`tcp_transfer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferReport {
    /// Bytes asked for.
    pub expected: u64,
    /// What the client wrote.
    pub sent: StreamDigest,
    /// What the server read.
    pub received: StreamDigest,
    /// Whether a time limit cut the transfer short.
    pub timed_out: bool,
    /// Wall time from connect to the server's end of stream.
    pub elapsed: Duration,
}

impl TransferReport {
    /// Whether every byte arrived, in order, unchanged.
    pub fn matches(&self) -> bool {
        !self.timed_out && self.sent.bytes == self.expected && self.received == self.sent
    }
}

/// A TCP server that accepts one connection and digests everything it reads.
#[derive(Debug)]
pub struct TcpReceiver {
    listener: TcpListener,
}

impl TcpReceiver {
    /// Listens on `addr` in the calling thread's namespace (port 0 picks one).
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr)?,
        })
    }

    /// The listening address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts a thread that accepts one connection and reads it to the end, giving up after
    /// `timeout` (then the digest so far is returned with `true` for "timed out").
    pub fn start(self, timeout: Duration) -> JoinHandle<io::Result<(StreamDigest, bool)>> {
        thread::spawn(move || self.serve(timeout))
    }

    fn serve(self, timeout: Duration) -> io::Result<(StreamDigest, bool)> {
        let deadline = Instant::now() + timeout;
        self.listener.set_nonblocking(true)?;
        let stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Ok((StreamDigest::new(), true));
                    }
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        };
        stream.set_nonblocking(false)?;
        let mut stream = stream;
        let mut digest = StreamDigest::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((digest, true));
            }
            stream.set_read_timeout(Some(left))?;
            match stream.read(&mut buf) {
                Ok(0) => return Ok((digest, false)),
                Ok(n) => digest.update(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok((digest, true));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Connects to `dst` and writes `bytes` pseudo-random bytes (a fixed xorshift sequence), then
/// closes the sending side. Returns the digest of what was written and whether `timeout` cut
/// it short. Uses the calling thread's namespace.
pub fn tcp_send(
    dst: SocketAddr,
    bytes: u64,
    timeout: Duration,
) -> io::Result<(StreamDigest, bool)> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&dst, timeout.max(Duration::from_millis(1)))?;
    let mut digest = StreamDigest::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunk = vec![0u8; 64 * 1024];
    while digest.bytes < bytes {
        let n = (bytes - digest.bytes).min(chunk.len() as u64) as usize;
        for word in chunk[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let mut written = 0;
        while written < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok((digest, true));
            }
            stream.set_write_timeout(Some(left))?;
            match stream.write(&chunk[written..n]) {
                Ok(w) => {
                    digest.update(&chunk[written..written + w]);
                    written += w;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok((digest, true));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    Ok((digest, false))
}

/// Sends `bytes` over one TCP connection to a server on `server` (both in the calling thread's
/// namespace), within `timeout`, and reports whether every byte arrived unchanged. Use a port
/// nothing else listens on. See [`Sandbox::tcp_transfer`].
pub fn tcp_transfer(
    server: SocketAddr,
    bytes: u64,
    timeout: Duration,
) -> io::Result<TransferReport> {
    let receiver = TcpReceiver::bind(server)?;
    let addr = receiver.local_addr()?;
    let start = Instant::now();
    let server_thread = receiver.start(timeout);
    let sent = tcp_send(addr, bytes, timeout);
    let served = server_thread
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    let (sent, send_timed_out) = sent?;
    let (received, recv_timed_out) = served?;
    Ok(TransferReport {
        expected: bytes,
        sent,
        received,
        timed_out: send_timed_out || recv_timed_out,
        elapsed: start.elapsed(),
    })
}

/// What [`ping`] got back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PingReport {
    /// Echo requests sent.
    pub sent: u64,
    /// Distinct echo replies received.
    pub received: u64,
}

/// Sends `count` ICMP echo requests to `dst` (IPv4 or IPv6) from an unprivileged ICMP
/// datagram socket and counts the replies that arrive within `timeout`. Uses the calling
/// thread's namespace; a [`Sandbox`] allows such sockets for every group
/// (`net.ipv4.ping_group_range`). See [`Sandbox::ping`].
pub fn ping(dst: IpAddr, count: u16, timeout: Duration) -> io::Result<PingReport> {
    let (domain, protocol, request, reply) = match dst {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, 8u8, 0u8),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, 128u8, 129u8),
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(protocol))?;
    let to = SockAddr::from(SocketAddr::new(dst, 0));
    let deadline = Instant::now() + timeout;
    let mut report = PingReport::default();
    for seq in 0..count {
        // type, code, checksum (the kernel fills it), identifier (the kernel sets it to the
        // socket's), sequence, then a small payload.
        let mut msg = [0u8; 24];
        msg[0] = request;
        msg[6..8].copy_from_slice(&seq.to_be_bytes());
        msg[8..].copy_from_slice(b"linux-nfqueue-tk");
        socket.send_to(&msg, &to)?;
        report.sent += 1;
    }
    let mut seen = HashSet::new();
    let mut buf = [0u8; 512];
    while (seen.len() as u64) < report.sent {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        match (&socket).read(&mut buf) {
            Ok(n) if n >= 8 && buf[0] == reply => {
                seen.insert(u16::from_be_bytes([buf[6], buf[7]]));
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    report.received = seen.len() as u64;
    Ok(report)
}

impl Sandbox {
    /// [`send_udp`] from inside the sandbox.
    pub fn send_udp(
        &self,
        dst: SocketAddr,
        count: u64,
        payload_len: usize,
        timeout: Duration,
    ) -> io::Result<SendReport> {
        self.try_run(|| send_udp(dst, count, payload_len, timeout))?
    }

    /// A [`UdpSink`] bound to `addr` inside the sandbox.
    pub fn udp_sink(&self, addr: SocketAddr) -> io::Result<UdpSink> {
        self.try_run(|| UdpSink::bind(addr))?
    }

    /// A [`TcpReceiver`] listening on `addr` inside the sandbox.
    pub fn tcp_receiver(&self, addr: SocketAddr) -> io::Result<TcpReceiver> {
        self.try_run(|| TcpReceiver::bind(addr))?
    }

    /// [`tcp_send`] from inside the sandbox.
    pub fn tcp_send(
        &self,
        dst: SocketAddr,
        bytes: u64,
        timeout: Duration,
    ) -> io::Result<(StreamDigest, bool)> {
        self.try_run(|| tcp_send(dst, bytes, timeout))?
    }

    /// [`tcp_transfer`] inside the sandbox.
    pub fn tcp_transfer(
        &self,
        server: SocketAddr,
        bytes: u64,
        timeout: Duration,
    ) -> io::Result<TransferReport> {
        self.try_run(|| tcp_transfer(server, bytes, timeout))?
    }

    /// [`ping`] from inside the sandbox.
    pub fn ping(&self, dst: IpAddr, count: u16, timeout: Duration) -> io::Result<PingReport> {
        self.try_run(|| ping(dst, count, timeout))?
    }
}
