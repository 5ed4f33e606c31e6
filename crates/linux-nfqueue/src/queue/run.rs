// SPDX-License-Identifier: MIT OR Apache-2.0
//! The callback loop ([`Queue::run`]) and the [`StopHandle`] that ends it from another thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use super::shared::bump;
use super::{Packet, Queue};
use crate::error::{ErrorKind, Result};

/// The stop request of a queue: a flag, and the task to wake for the async layer.
#[derive(Debug, Default)]
pub(crate) struct StopState {
    flag: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl StopState {
    pub(crate) fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Registers the task to wake on [`StopHandle::stop`]; returns whether the stop was
    /// already requested (checked after registering, so no request is missed).
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "used by the async layer")
    )]
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        let mut slot = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
        drop(slot);
        self.is_stopped()
    }
}

/// Ends [`Queue::run`] (and makes a blocked [`Queue::recv`] or an awaiting
/// `AsyncQueue::recv` (feature `tokio`) return [`ErrorKind::Closed`]) from any
/// thread. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopHandle {
    state: Arc<StopState>,
}

impl StopHandle {
    pub(super) fn new(state: Arc<StopState>) -> Self {
        Self { state }
    }

    /// Asks the loop to stop. A blocking receive notices within the queue's wakeup interval
    /// (250 ms by default), after answering the packet in hand; an awaiting async receive is
    /// woken at once.
    pub fn stop(&self) {
        self.state.flag.store(true, Ordering::Release);
        let waker = self
            .state
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True once [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.state.is_stopped()
    }
}

impl Queue {
    /// Calls `handler` for every packet until [`StopHandle::stop`] is called or a fatal error
    /// occurs: the loop for those who know go-nfqueue's `Register`.
    ///
    /// The handler receives the [`Packet`] and answers it (`packet.accept()`, ...); a packet
    /// it drops unanswered gets the default verdict. A **panic** in the handler is caught: the
    /// packet gets the default verdict, the panic is counted and logged, and the loop goes on.
    /// Overruns, vanished packets and malformed messages are counted and skipped. Returns
    /// `Ok(())` when stopped; pending verdicts are sent before it returns.
    ///
    /// ```no_run
    /// use linux_nfqueue::{Config, Queue};
    /// let mut queue = Queue::open(Config::new(0))?;
    /// let stop = queue.stop_handle();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_secs(10));
    ///     stop.stop();
    /// });
    /// queue.run(|packet| {
    ///     let _ = packet.accept();
    /// })?;
    /// # Ok::<(), linux_nfqueue::Error>(())
    /// ```
    pub fn run<F>(&mut self, mut handler: F) -> Result<()>
    where
        F: FnMut(Packet<'_>),
    {
        let shared = self.sink.shared.clone();
        loop {
            let packet = match self.recv() {
                Ok(p) => p,
                Err(e) if e.kind() == ErrorKind::Closed => break,
                Err(e) if e.is_transient() || e.kind() == ErrorKind::Malformed => {
                    log::debug!("receive: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let panicked = catch_unwind(AssertUnwindSafe(|| handler(packet))).is_err();
            if panicked {
                bump(&shared.counters.panics);
                log::error!("the packet handler panicked; the packet got the default verdict");
            }
        }
        self.sink.flush()
    }
}
