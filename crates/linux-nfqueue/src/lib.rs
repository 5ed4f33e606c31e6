//! Pure-Rust access to the Linux netfilter NFQUEUE subsystem.
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
