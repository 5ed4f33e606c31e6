// SPDX-License-Identifier: MIT OR Apache-2.0
//! Checksum helpers for rewritten packets.
