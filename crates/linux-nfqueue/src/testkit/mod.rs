// SPDX-License-Identifier: MIT OR Apache-2.0
//! Test your NFQUEUE handler against the real kernel (feature `testkit`, Linux only).
//!
//! Unit tests of a packet handler prove little: what matters is what the kernel does with the
//! verdicts. This module gives a test everything our own kernel tests use:
//!
//! * [`Sandbox`]: a fresh, named network namespace with `lo` up (IPv4 and IPv6), deleted when
//!   dropped, even after a panic. Code runs inside it on a thread ([`Sandbox::run`],
//!   [`Sandbox::spawn`], [`Sandbox::enter`]) or as a command ([`Sandbox::command`],
//!   [`Sandbox::sh`]). Two sandboxes can be joined by a veth pair ([`Sandbox::connect`]).
//! * Rules: [`QueueRule`] sends matching packets to a queue, [`CountRule`] only counts them;
//!   [`Sandbox::install`] loads either with nft when the kernel has the nft `queue` statement,
//!   else with iptables / ip6tables, and returns a [`RuleHandle`] whose counters can be read.
//! * Traffic, bounded in count and time: [`send_udp`] and [`UdpSink`], [`tcp_transfer`] (a TCP
//!   stream with a checksum of what arrived), [`ping`] (ICMP echo over IPv4 or IPv6), and for
//!   load [`UdpFlood`] (`sendmmsg` batches, optionally UDP GSO; [`Sandbox::udp_flood`]).
//! * Cost: [`ThreadCpu`] samples a thread's user and system time, [`CpuTimes`] a CPU's.
//! * Checks: the kernel's per-queue counters ([`Sandbox::queue_counters`], the rows of
//!   `/proc/net/netfilter/nfnetlink_queue` as [`QueueStats`](crate::QueueStats)) and an
//!   [`Expectation`] that checks several numbers at once and names every mismatch.
//!
//! # Privileges and skipping
//!
//! Making a namespace needs root (`CAP_SYS_ADMIN` and `CAP_NET_ADMIN`), `ip` from iproute2,
//! `iptables` (or `nft` with the queue statement) and the `nfnetlink_queue` kernel module.
//! [`Sandbox::new_or_skip`] returns `None` (and says why on stderr) when that is not available,
//! so the test can return early; with `NFQUEUE_REQUIRE_KERNEL_TESTS=1` in the environment it
//! panics instead, so a CI job cannot pass by skipping everything.
//!
//! Every sandbox has its own name (`nfqtk-<pid>-<n>`), so tests run in parallel and may reuse
//! queue numbers and ports. All traffic stays inside the sandboxes.
//!
//! # Example
//!
//! A rule with `--queue-bypass` and nobody listening on the queue lets packets through; a test
//! for that reads:
//!
//! ```no_run
//! use std::time::Duration;
//! use linux_nfqueue::testkit::{Chain, Expectation, QueueRule, Sandbox};
//!
//! let Some(sandbox) = Sandbox::new_or_skip() else { return };
//! let rule = sandbox
//!     .install(&QueueRule::new(Chain::Output, 5).udp().dport(9999).bypass())
//!     .unwrap();
//! let mut sink = sandbox.udp_sink("127.0.0.1:9999".parse().unwrap()).unwrap();
//! sandbox
//!     .send_udp("127.0.0.1:9999".parse().unwrap(), 20, 100, Duration::from_secs(5))
//!     .unwrap();
//! sink.wait_for(20, Duration::from_secs(5)).unwrap();
//! Expectation::new()
//!     .delivered(sink.report(), 20)
//!     .rule_packets(&rule, 20)
//!     .queue_unbound(5)
//!     .assert(&sandbox);
//! ```
//!
//! A test of your own handler binds the queue inside the sandbox ([`Config::netns`] with the
//! sandbox's name: a netlink socket stays in the namespace it was created in), runs the handler
//! on a thread, sends traffic and checks what arrived against the kernel's counters:
//!
//! ```no_run
//! use std::time::Duration;
//! use linux_nfqueue::testkit::{Chain, Expectation, QueueRule, Sandbox};
//! use linux_nfqueue::{Config, Packet, Queue};
//!
//! fn my_handler(packet: Packet<'_>) {
//!     let _ = packet.accept();
//! }
//!
//! let Some(sandbox) = Sandbox::new_or_skip() else { return };
//! let dst = "127.0.0.1:7777".parse().unwrap();
//! let t = Duration::from_secs(10);
//! let rule = sandbox.install(&QueueRule::new(Chain::Output, 5).udp().dport(7777)).unwrap();
//! let mut queue = Queue::open(Config::new(5).netns(sandbox.name())).unwrap();
//! let stop = queue.stop_handle();
//! let worker = std::thread::spawn(move || queue.run(my_handler));
//! assert!(sandbox.wait_for_queue_bound(5, t));
//!
//! let mut sink = sandbox.udp_sink(dst).unwrap();
//! sandbox.send_udp(dst, 40, 64, t).unwrap();
//! sink.wait_for(40, t).unwrap();
//! Expectation::new()
//!     .delivered(sink.report(), 40)
//!     .rule_packets(&rule, 40)
//!     .id_sequence(5, 40)
//!     .waiting(5, 0)
//!     .queue_dropped(5, 0)
//!     .user_dropped(5, 0)
//!     .assert(&sandbox);
//! stop.stop();
//! worker.join().unwrap().unwrap();
//! ```
//!
//! [`Config::netns`]: crate::Config::netns

mod checks;
mod cpu;
mod flood;
mod rules;
mod sandbox;
mod traffic;

pub use checks::{Expectation, ExpectationError, Want, wait_until};
pub use cpu::{CpuTimes, ThreadCpu, ThreadTimes, current_thread_times, pin_current_thread};
pub use flood::{FloodEnd, FloodReport, UdpFlood};
pub use rules::{
    Chain, CountRule, Counters, Family, Protocol, QueueRule, RuleBackend, RuleHandle, Table,
};
pub use sandbox::{NetnsGuard, Sandbox, VethLink, kernel_tests_required, skip_or_panic};
pub use traffic::{
    PingReport, SendReport, SinkReport, StreamDigest, TcpReceiver, TransferReport, UdpSink, ping,
    send_udp, tcp_send, tcp_transfer,
};
