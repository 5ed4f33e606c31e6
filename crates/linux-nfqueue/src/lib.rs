//! Pure-Rust access to Linux NFQUEUE: the netfilter feature that holds packets in the kernel,
//! hands them to a user-space program and waits for that program's verdict.
//!
//! A firewall rule sends packets to a numbered queue. A program binds the queue, receives each
//! packet with its metadata (and as many of its bytes as it asked for), and answers: accept,
//! drop, requeue, repeat or stop, optionally with a new packet mark, connection mark, priority
//! or replacement payload. This crate speaks the kernel's netlink protocol itself (no
//! libnetfilter_queue, no C), hands out packets as zero-copy views, and makes sure every packet
//! gets exactly one verdict.
//!
//! # Quick start
//!
//! Send packets to queue 0 with a rule (either tool; the table and chain must exist for nft):
//!
//! ```sh
//! iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 0 --queue-bypass
//! nft add rule inet filter input udp dport 9999 queue num 0 bypass
//! ```
//!
//! and run this as root (or with `CAP_NET_ADMIN`, see [Privileges](#privileges)):
//!
//! ```no_run
//! use linux_nfqueue::{Config, Queue};
//!
//! fn main() -> Result<(), linux_nfqueue::Error> {
//!     // One acknowledged message binds the queue: copy whole packets, 1024 slots, no flags.
//!     let mut queue = Queue::open(Config::new(0))?;
//!     loop {
//!         // Borrows the queue's receive buffer: nothing is copied.
//!         let packet = queue.recv()?;
//!         println!(
//!             "packet {} from hook {}: {} bytes",
//!             packet.id(),
//!             packet.hook().name(),
//!             packet.payload().map_or(0, <[u8]>::len),
//!         );
//!         // The verdict consumes the packet.
//!         packet.accept()?;
//!     }
//! }
//! ```
//!
//! [`Queue::run`] is the same loop with a callback (it catches panics, and ends on a
//! [`StopHandle`]); [`FanOut`] runs one such loop per queue on its own thread; the
//! [`tokio`][tokio-mod] module receives with `.await`. The crate's `examples/` directory has
//! complete programs, each with the rules it needs in its header: `accept_all`,
//! `port_firewall`, `mark_flows` (connection marks), `rewrite_udp` (payload rewriting with
//! [`checksum`]), `async_pipeline`, `fan_out` and `netns_queue`.
//!
//! # The verdict guarantee
//!
//! The kernel keeps a queued packet until it gets a verdict for it. There is **no timeout**:
//! a forgotten packet holds one of the queue's slots (1024 by default) until the queue is
//! unbound, and once the slots are gone the kernel drops every new packet (or accepts it,
//! with [`Config::fail_open`]). This crate therefore answers every packet exactly once:
//!
//! * [`Queue::recv`] returns a [`Packet`], which its verdict consumes ([`Packet::accept`],
//!   [`Packet::drop`], [`Packet::verdict`], [`Packet::verdict_with`]). A second verdict for the
//!   same packet does not compile.
//! * A `Packet` dropped without a verdict (an early `return`, a `?`, a panic unwinding through
//!   it) sends the queue's default verdict, [`Config::default_verdict`]: [`Verdict::Accept`]
//!   unless you choose otherwise (a security tool may prefer [`Verdict::Drop`]).
//! * To answer later or elsewhere, [`Packet::into_token`] turns the packet into a
//!   [`VerdictToken`]: small, owned, `Send`, under the same rules (one verdict, default verdict
//!   when dropped). Tokens send their verdict on the shared socket themselves, from any thread,
//!   in any order, without a lock against the receiving thread. [`Packet::into_owned`] also
//!   keeps a copy of the bytes ([`OwnedPacket`]).
//! * A verdict that cannot be sent is reported, and the default verdict goes out instead;
//!   [`Packet::try_verdict_with`] hands the packet back instead, for another try. A replacement
//!   payload the kernel would silently drop (shorter than its headers, longer than 65531
//!   bytes) or that would cut the real packet short (the copy was truncated) is refused before
//!   anything is sent.
//! * [`Queue::close`] sends the verdicts still pending, answers packets still held by tokens
//!   and packets waiting in the socket with the default verdict, and unbinds; dropping the
//!   queue does the same on a best-effort basis.
//! * A kernel error answering a verdict (typically `ENOENT`: the packet was gone already) comes
//!   back later on the socket. It is matched to the packet, counted in [`Counters`], logged and
//!   given to [`Config::on_verdict_error`]; it never ends the receive loop.
//!
//! Verdicts given on the receiving thread are coalesced: collected in one buffer (runs of the
//! same plain verdict as one batch message) and sent at the latest before the next receive
//! would wait, or by [`Queue::flush`]. [`Config::batch_verdicts`] turns that off. The only way
//! to name packets by raw id is explicit: [`Queue::batch_verdict`] and the [`wire`] encoders.
//!
//! # Layers
//!
//! Each layer uses only the ones listed before it.
//!
//! | layer | where | what it is and what it promises |
//! | --- | --- | --- |
//! | wire format | [`wire`] | Parsing and building the netlink messages. No I/O, no `unsafe`, no allocation when reading; no panic on any input (fuzz targets, property tests, and captures of real kernel messages). Builds on every OS, so it can read captures anywhere. |
//! | protocol state | internal | Sequence numbers, matching each acknowledgement or error to the request that caused it, planning coalesced verdicts. No I/O. |
//! | socket | internal | The netlink socket and every system call, and the crate's only `unsafe` code. The socket is always opened with `SOCK_CLOEXEC` (a child process cannot keep the queue bound), only datagrams sent by the kernel are accepted, `recvmmsg` receives in batches, oversized datagrams are detected rather than parsed half. |
//! | queue | crate root: [`Queue`], [`Packet`], [`VerdictToken`], [`OwnedPacket`], [`FanOut`], [`Config`], [`Error`]; modules [`checksum`], [`stats`], [`privileges`] | The blocking API. Binding is one acknowledged message (bind, copy mode and range, queue length, flags), so no packet is lost to a half-configured queue; flags the kernel refuses are dropped and reported ([`Queue::granted_flags`]) unless [`Config::strict_flags`]. Errors say what happened and what to do ([`ErrorKind`]). |
//! | async | [`tokio`][tokio-mod] (feature `tokio`) | [`AsyncQueue`][async-queue] waits for readiness with tokio and runs the same non-blocking code as [`Queue`]; its `recv` is cancel-safe. |
//! | test kit | [`testkit`][testkit-mod] (feature `testkit`) | Network-namespace sandboxes, queue and counting rules, bounded traffic and kernel-counter checks, to test your handler against the real kernel. |
//!
//! # Privileges
//!
//! The kernel checks `CAP_NET_ADMIN` over the socket's network namespace on **every** message:
//! the bind, each configuration change and each verdict, in the thread that sends it. A program
//! that binds as root and then gives the capability up finds that every later verdict fails
//! with `EPERM`, and its packets stay queued. Keep the capability for the socket's whole life:
//! run as root, give the binary the capability (`setcap cap_net_admin+ep`), or become an
//! unprivileged user that keeps only `CAP_NET_ADMIN` with [`privileges::drop_to_user`].
//!
//! Without the capability [`Queue::open`] fails with [`ErrorKind::PermissionDenied`]. The
//! kernel gives the same `EPERM` when another socket already holds the queue number; the
//! library tells the two apart from `/proc/net/netfilter/nfnetlink_queue` and reports
//! [`ErrorKind::QueueBusy`] with the owner's port id ([`Error::owner_portid`]). Queues belong to
//! a network namespace: a socket serves the queues of the namespace it was created in
//! ([`Config::netns`] creates it in another one). Inside a user namespace with its own network
//! namespace (`unshare -Urn`) an unprivileged user holds the capability over that namespace,
//! and everything works except enlarging the receive buffer beyond the system limit.
//!
//! # Rules
//!
//! Nothing reaches a queue until a rule sends it there, and what happens around the queue is
//! decided by the rules. The common forms (more in `docs/rules.md` in the repository):
//!
//! | what | iptables / ip6tables (`-j NFQUEUE`) | nft (`queue` statement) |
//! | --- | --- | --- |
//! | to queue 0 | `--queue-num 0` | `queue num 0` |
//! | accept while no program is bound | `--queue-num 0 --queue-bypass` | `queue num 0 bypass` |
//! | spread over queues 0-3 by address hash | `--queue-balance 0:3` | `queue num 0-3` |
//! | spread over queues 0-3 by CPU | `--queue-balance 0:3 --queue-cpu-fanout` | `queue num 0-3 fanout` |
//!
//! **Bypass, and why you want it.** A rule without `--queue-bypass` (nft `bypass`) drops every
//! packet it matches while no program has the queue bound: before the program starts, after it
//! exits or crashes, during a restart. For most programs that means a dead network. With
//! bypass such packets are accepted instead. Add it unless failing closed is the point.
//!
//! **Fail-open is a different switch.** [`Config::fail_open`] sets a flag on the queue, not on
//! the rule: it makes the kernel accept packets when the queue is *full* or the socket's
//! receive buffer overflows, while the program is running but too slow. Bypass covers "nobody
//! listens", fail-open covers "the listener is behind"; neither covers the other. A packet
//! already waiting in the queue when the program dies is dropped either way.
//!
//! **ACCEPT ends the chain.** [`Verdict::Accept`] does not return the packet to the rule after
//! the queue rule: the rest of that chain is skipped and the packet continues with the next
//! table or hook. A mark set by the verdict therefore cannot be matched by a later rule of the
//! same chain; match it in a later hook (say POSTROUTING), or use [`Verdict::Repeat`].
//!
//! **REPEAT needs a mark.** [`Verdict::Repeat`] runs the whole table (nft: base chain) that
//! queued the packet again from its start. If nothing changed, the packet is queued again, with
//! a new id, for ever. Give it a mark in the same verdict
//! ([`VerdictAttrs::with_mark`]) and let the rules act on the mark before the queue rule, for
//! example `-m mark --mark 0x2 -j REJECT` to refuse a connection with a proper reply. The mark
//! replaces all 32 bits: keep the bits other software uses (`packet.mark()` tells them).
//!
//! **Connection marks** let a flow skip user space after its first packet: the verdict sets a
//! mark on the connection ([`CtUpdate`] in [`VerdictAttrs::with_conntrack`]) and a rule before
//! the queue rule accepts packets of marked connections (`-m connmark --mark 0x1/0x1 -j
//! ACCEPT`). Setting connection marks from a verdict needs the kernel's ctnetlink glue
//! (`nf_conntrack_netlink`, loaded by asking for [`Config::conntrack`]); without it the kernel
//! ignores them silently. Setting the packet mark and copying it with
//! `CONNMARK --save-mark` works on every kernel; the `mark_flows` example does both.
//!
//! **Rewriting means checksums.** A replacement payload ([`VerdictAttrs::with_payload`]) is
//! taken as it is: the kernel recomputes no checksum and no length. Fix them with
//! [`checksum::finalize_rewrite`] before sending, or the receiver drops the packet.
//!
//! **Rule changes flush queues.** Removing a netfilter hook anywhere in the namespace
//! (deleting an nft table or base chain, flushing the ruleset, unloading an iptables table)
//! drops every packet waiting in every queue of that namespace; their verdicts then get
//! `ENOENT`, which this crate counts as [`ErrorKind::PacketGone`] and otherwise ignores.
//!
//! **Kernels differ.** The nft `queue` statement needs the `nft_queue` module, which some
//! kernels lack while `xt_NFQUEUE` (iptables) is present; this project's own kernel tests
//! install iptables rules for that reason. NFQUEUE itself needs `nfnetlink_queue`
//! ([`ErrorKind::SubsystemMissing`] when it is absent).
//!
//! # Large packets and GSO
//!
//! Without [`Config::gso`], the kernel segments every GSO packet (a large TCP or UDP send on
//! the local host, or a GRO-merged packet being forwarded) before queueing it and completes its
//! checksums: correct, but expensive, and each segment is its own packet to judge. With
//! `Config::gso(true)` (`nfqueue run --gso`) the packet is queued whole, and a handler must
//! then expect:
//!
//! * packets larger than the MTU (up to 64 KiB, or more with BIG TCP): size the copy range for
//!   what you inspect, and check [`PacketView::cap_len`] / [`PacketView::is_truncated`];
//! * checksums not filled in yet ([`SkbInfo::csum_not_ready`](wire::SkbInfo::csum_not_ready),
//!   and [`SkbInfo::gso`](wire::SkbInfo::gso) on the packet): **do not validate checksums** of
//!   such packets, the hardware or the stack fills them in on the way out;
//! * no rewrite of a packet larger than 65 531 bytes: a replacement payload cannot hold more,
//!   and writing back a truncated capture would cut the real packet (the library refuses it).
//!
//! Verdicts, marks and conntrack changes apply to the whole GSO packet, which is why GSO is
//! the cheap path: one verdict for up to 64 KiB of traffic.
//!
//! # Features
//!
//! | feature | adds | dependencies |
//! | --- | --- | --- |
//! | `tokio` | [`tokio`][tokio-mod]: [`AsyncQueue`][async-queue] and a `Stream` of owned packets | `tokio` (`net`, `rt`), `futures-core` |
//! | `testkit` | [`testkit`][testkit-mod]: sandboxes, rules, traffic and checks for tests | `socket2` |
//!
//! Without features the crate depends on `libc` and `log` only.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (the `rust-version` of the workspace, edition 2024).
//!
//! # References
//!
//! `netlink(7)`; the kernel's `include/uapi/linux/netfilter/nfnetlink_queue.h` and
//! `net/netfilter/nfnetlink_queue.c`; the iptables `NFQUEUE` target and nft `queue` statement
//! documentation; libnetfilter_queue's documentation.
//!
#![cfg_attr(feature = "tokio", doc = "[tokio-mod]: crate::tokio")]
#![cfg_attr(feature = "tokio", doc = "[async-queue]: crate::tokio::AsyncQueue")]
#![cfg_attr(not(feature = "tokio"), doc = "[tokio-mod]: #features")]
#![cfg_attr(not(feature = "tokio"), doc = "[async-queue]: #features")]
#![cfg_attr(feature = "testkit", doc = "[testkit-mod]: crate::testkit")]
#![cfg_attr(not(feature = "testkit"), doc = "[testkit-mod]: #features")]
#![deny(missing_docs)]

pub mod checksum;
pub mod stats;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(all(target_os = "linux", feature = "testkit"))]
pub mod testkit;
pub mod wire;

#[cfg(target_os = "linux")]
mod config;
#[cfg(target_os = "linux")]
mod error;
#[cfg(target_os = "linux")]
pub mod privileges;
#[cfg(target_os = "linux")]
mod proto;
#[cfg(target_os = "linux")]
mod queue;
#[cfg(all(target_os = "linux", feature = "tokio"))]
pub mod tokio;

#[cfg(all(not(target_os = "linux"), feature = "socket"))]
compile_error!(
    "linux-nfqueue: the socket layer (Queue, AsyncQueue, FanOut, testkit) talks to the Linux \
     kernel and builds only on Linux. On other systems use `default-features = false` to get \
     the portable parts: the wire codec (reading captures), checksum helpers and /proc parsing."
);

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, target_os = "linux", feature = "testkit"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

pub use stats::{QueueStats, StatsParseError, StatsParseErrorKind};

#[cfg(target_os = "linux")]
pub use config::{Config, DEFAULT_MAX_QUEUE_LEN, MAX_COPY_RANGE, OverrunPolicy};
#[cfg(target_os = "linux")]
pub use error::{Error, ErrorKind, Result};
#[cfg(target_os = "linux")]
pub use queue::{
    Counters, FanOut, OwnedPacket, Packet, Queue, StopHandle, VerdictError, VerdictToken,
};
pub use wire::{ConfigFlags, CopyMode, CtUpdate, Family, Hook, PacketView, Verdict, VerdictAttrs};
