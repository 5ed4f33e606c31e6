// SPDX-License-Identifier: MIT OR Apache-2.0
//! The async layer (feature `tokio`): [`AsyncQueue`] waits for readiness with tokio's
//! `AsyncFd` and calls the same non-blocking code as the blocking [`Queue`].

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;

use crate::error::{Error, ErrorKind, Result};
use crate::{Config, Counters, OwnedPacket, Packet, Queue, StopHandle};

/// A [`Queue`] driven by tokio: `recv().await` instead of a blocking receive.
///
/// Works on current-thread and multi-thread runtimes. Verdicts are the same as on the blocking
/// queue: answer the [`Packet`] directly, or turn it into a
/// [`VerdictToken`](crate::VerdictToken) and move that to any task or thread: tokens send
/// their verdict themselves, so a pipeline of tasks can judge packets out of order while this
/// one keeps receiving.
///
/// ```no_run
/// # async fn demo() -> Result<(), linux_nfqueue::Error> {
/// use linux_nfqueue::{Config, tokio::AsyncQueue};
/// let mut queue = AsyncQueue::open(Config::new(0))?;
/// loop {
///     let packet = queue.recv().await?;
///     let token = packet.into_token();
///     tokio::spawn(async move {
///         // ... decide, maybe after asking something else ...
///         let _ = token.accept();
///     });
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncQueue {
    inner: AsyncFd<Queue>,
}

impl AsyncQueue {
    /// Opens the queue in non-blocking mode and registers it with the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `AsyncFd::new` does).
    pub fn open(config: Config) -> Result<Self> {
        Self::from_queue(Queue::open(config.nonblocking(true))?)
    }

    /// Wraps an open queue; it must have been opened with
    /// [`Config::nonblocking`](crate::Config::nonblocking).
    pub fn from_queue(queue: Queue) -> Result<Self> {
        if !queue.is_nonblocking() {
            return Err(Error::invalid(
                "AsyncQueue::from_queue",
                "the queue must be opened with Config::nonblocking(true)",
            ));
        }
        let inner = crate::sys::register_async_fd(queue)
            .map_err(|e| Error::io("register with tokio", e))?;
        Ok(Self { inner })
    }

    /// Receives the next packet, waiting asynchronously. Pending verdicts are sent before it
    /// waits. Cancel-safe: dropping the future loses nothing. Returns
    /// [`ErrorKind::Closed`] as soon as [`StopHandle::stop`] is called.
    pub async fn recv(&mut self) -> Result<Packet<'_>> {
        std::future::poll_fn(|cx| self.poll_ready_packet(cx)).await?;
        self.inner.get_mut().try_recv()
    }

    /// Ready when a packet can be taken without blocking, or when the queue is stopped.
    fn poll_ready_packet(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            let mut guard = match self.inner.poll_read_ready_mut(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::io("wait for readiness", e))),
                Poll::Pending => {
                    if self.inner.get_ref().stop.register(cx.waker()) {
                        return Poll::Ready(Err(Error::new(ErrorKind::Closed, "recv")));
                    }
                    return Poll::Pending;
                }
            };
            match guard.get_inner_mut().poll_packet() {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) if e.is_transient() => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// The packets as a [`Stream`](futures_core::Stream) of owned packets (each copied out of
    /// the receive buffer: one allocation per packet; `recv` is the zero-copy path).
    pub fn into_stream(self) -> PacketStream {
        PacketStream { queue: self }
    }

    /// The blocking queue inside, for its counters, statistics and configuration.
    pub fn get_ref(&self) -> &Queue {
        self.inner.get_ref()
    }

    /// The blocking queue inside, mutably (for example to [`flush`](Queue::flush)).
    pub fn get_mut(&mut self) -> &mut Queue {
        self.inner.get_mut()
    }

    /// What the library counted so far.
    pub fn counters(&self) -> Counters {
        self.get_ref().counters()
    }

    /// A handle that makes `recv` return [`ErrorKind::Closed`] at its next wakeup.
    pub fn stop_handle(&self) -> StopHandle {
        self.get_ref().stop_handle()
    }

    /// Unwraps the blocking queue (still in non-blocking mode).
    pub fn into_inner(self) -> Queue {
        self.inner.into_inner()
    }
}

/// A stream of [`OwnedPacket`]s from an [`AsyncQueue`]; ends when the queue is stopped.
#[derive(Debug)]
pub struct PacketStream {
    queue: AsyncQueue,
}

impl PacketStream {
    /// The async queue inside.
    pub fn get_mut(&mut self) -> &mut AsyncQueue {
        &mut self.queue
    }
}

impl futures_core::Stream for PacketStream {
    type Item = Result<OwnedPacket>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match ready!(this.queue.poll_ready_packet(cx)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Closed => return Poll::Ready(None),
            Err(e) => return Poll::Ready(Some(Err(e))),
        }
        let item = this.queue.get_mut().try_recv().map(Packet::into_owned);
        Poll::Ready(Some(item))
    }
}
