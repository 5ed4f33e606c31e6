//! Pure-Rust access to the Linux netfilter NFQUEUE subsystem.
#![deny(missing_docs)]

pub mod wire;
pub mod checksum;
pub mod stats;

pub use stats::{QueueStats, StatsParseError, StatsParseErrorKind};
