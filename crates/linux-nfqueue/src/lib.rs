//! Pure-Rust access to the Linux netfilter NFQUEUE subsystem.
#![deny(missing_docs)]

pub mod wire;
