// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`FanOut`]: a range of queues, one socket and one worker thread each, one shared handler.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::shared::Shared;
use super::{Counters, Packet, Queue, StopHandle};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::wire::ConfigFlags;

/// Serves a range of queue numbers, as filled by `--queue-balance a:b` or
/// `--queue-cpu-fanout` rules, with one socket and one thread per queue.
///
/// Why it scales: each worker owns its socket, receive buffers and verdict buffer; the only
/// thing the workers share is the handler (`Fn + Sync`, called without a lock) and relaxed
/// atomic counters, each on its own queue. Nothing on the per-packet path takes a lock or
/// allocates, so N queues on N cores run independently; the kernel spreads flows by hash
/// (`--queue-balance`, ports not included) or by CPU (`--queue-cpu-fanout`).
///
/// ```no_run
/// use linux_nfqueue::{Config, FanOut};
/// // iptables -A FORWARD -j NFQUEUE --queue-balance 0:3 --queue-cpu-fanout --queue-bypass
/// let fan = FanOut::start(Config::new(0), 0..=3, true, |packet| {
///     let _ = packet.accept();
/// })?;
/// // ... later, from anywhere:
/// fan.stop();
/// fan.join()?;
/// # Ok::<(), linux_nfqueue::Error>(())
/// ```
pub struct FanOut {
    workers: Vec<(u16, JoinHandle<Result<()>>)>,
    stops: Vec<StopHandle>,
    shared: Vec<(u16, Arc<Shared>)>,
    granted: Vec<(u16, ConfigFlags)>,
}

impl FanOut {
    /// Binds every queue of `queues` with `config` (its queue numbers are replaced), then starts
    /// one thread per queue running [`Queue::run`] with `handler`. With `pin`, worker `i` is
    /// pinned to CPU `i % cpus`. Binding happens before any thread starts, so a busy queue
    /// number fails here, with nothing left bound.
    pub fn start<F>(
        config: Config,
        queues: RangeInclusive<u16>,
        pin: bool,
        handler: F,
    ) -> Result<Self>
    where
        F: Fn(Packet<'_>) + Send + Sync + 'static,
    {
        let mut opened = Vec::new();
        for q in queues {
            let mut c = config.clone();
            c.queues = vec![q];
            opened.push((q, Queue::open(c).map_err(|e| e.with_queue(q))?));
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let handler = Arc::new(handler);
        let mut fan = Self {
            workers: Vec::new(),
            stops: Vec::new(),
            shared: Vec::new(),
            granted: Vec::new(),
        };
        for (i, (q, mut queue)) in opened.into_iter().enumerate() {
            fan.stops.push(queue.stop_handle());
            fan.granted.extend_from_slice(queue.granted_flags());
            fan.shared.push((q, queue.sink.shared.clone()));
            let handler = handler.clone();
            let cpu = pin.then_some(i % cpus);
            let worker = std::thread::Builder::new()
                .name(format!("nfqueue-{q}"))
                .spawn(move || {
                    if let Some(cpu) = cpu {
                        if let Err(e) = crate::sys::pin_current_thread(cpu) {
                            log::warn!("queue {q}: could not pin to CPU {cpu}: {e}");
                        }
                    }
                    queue.run(|p| handler(p))
                })
                .map_err(|e| Error::io("spawn worker", e))?;
            fan.workers.push((q, worker));
        }
        Ok(fan)
    }

    /// The queue numbers served.
    pub fn queues(&self) -> impl Iterator<Item = u16> + '_ {
        self.workers.iter().map(|(q, _)| *q)
    }

    /// The flags the kernel granted each queue.
    pub fn granted_flags(&self) -> &[(u16, ConfigFlags)] {
        &self.granted
    }

    /// True when a worker has ended (stopped, or failed: [`join`](Self::join) tells).
    pub fn any_finished(&self) -> bool {
        self.workers.iter().any(|(_, w)| w.is_finished())
    }

    /// The library's counters of each queue.
    pub fn counters(&self) -> Vec<(u16, Counters)> {
        self.shared
            .iter()
            .map(|(q, s)| (*q, s.counters.snapshot()))
            .collect()
    }

    /// Asks every worker to stop (they notice within the wakeup interval).
    pub fn stop(&self) {
        for s in &self.stops {
            s.stop();
        }
    }

    /// A handle that stops every worker, for signal handlers and other threads.
    pub fn stop_handles(&self) -> Vec<StopHandle> {
        self.stops.clone()
    }

    /// Waits for every worker; returns the first error (a worker panic becomes an error too).
    /// Each worker unbinds its queue as it ends.
    pub fn join(self) -> Result<()> {
        let mut first = Ok(());
        for (q, w) in self.workers {
            let r = match w.join() {
                Ok(r) => r,
                Err(_) => Err(Error::invalid(
                    "fan-out worker",
                    "the worker thread panicked",
                )),
            };
            if let Err(e) = r {
                log::error!("queue {q}: worker ended with {e}");
                if first.is_ok() {
                    first = Err(e.with_queue(q));
                }
            }
        }
        first
    }
}

impl fmt::Debug for FanOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut")
            .field("queues", &self.queues().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
