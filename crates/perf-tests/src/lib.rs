// SPDX-License-Identifier: MIT OR Apache-2.0
//! Nothing here: the crate exists for its tests (`tests/`), which count allocations with a
//! replaced global allocator and so must not share a test binary with anything else.
