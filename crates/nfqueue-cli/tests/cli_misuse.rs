// SPDX-License-Identifier: MIT OR Apache-2.0
//! More command-line misuse, beyond `cli_usage.rs`: repeated options, stray arguments, missing
//! values, out-of-range numbers, invalid UTF-8. Each is a usage error (status 2, the tool's
//! prefix, no panic, nothing on stdout). A missing namespace is a runtime error (status 1).

mod cli_support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use cli_support::{nfqueue, text};

/// Status 2, `nfqueue: error: ` first, `expect` somewhere in the message, a pointer to the
/// help, no panic, empty stdout.
fn usage_error<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S], expect: &str) {
    let out = nfqueue(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("nfqueue: error: "), "{args:?}: {stderr}");
    assert!(
        stderr.contains(expect),
        "{args:?}: {expect:?} missing: {stderr}"
    );
    assert!(
        stderr.contains("--help"),
        "{args:?}: no pointer to the help: {stderr}"
    );
    for bad in ["panicked", "internal error", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(bad), "{args:?}: {stderr}");
    }
    assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
}

#[test]
fn repeated_options() {
    usage_error(
        &["run", "-q", "1", "-q", "2"],
        "cannot be used multiple times",
    );
    usage_error(&["run", "-q", "1", "--json", "--json"], "--json");
    usage_error(
        &["run", "-q", "1", "--verdict", "drop", "--verdict", "accept"],
        "--verdict",
    );
}

#[test]
fn stray_arguments() {
    usage_error(&["run", "-q", "1", "extra"], "extra");
    usage_error(&["stats", "extra"], "extra");
    usage_error(&["demo", "extra"], "extra");
    usage_error(&["demo", "--count", "3"], "--count");
    usage_error(&["help", "frobnicate"], "frobnicate");
}

#[test]
fn missing_values() {
    usage_error(&["run", "-q", "1", "--pcap"], "--pcap");
    usage_error(&["run", "-q", "1", "--mark"], "--mark");
    usage_error(&["run", "-q", "1", "--verdict"], "--verdict");
    usage_error(&["run", "--queue="], "missing");
    usage_error(&["run", "-q", "1", "--netns="], "namespace");
}

#[test]
fn out_of_range_and_malformed_numbers() {
    usage_error(&["run", "-q", "1", "--timeout", "0"], "more than 0");
    usage_error(&["run", "-q", "1", "--timeout", "-1"], "-1");
    usage_error(&["run", "-q", "1", "--timeout", "1e9"], "seconds");
    usage_error(
        &["run", "-q", "1", "--timeout", "18446744073709551616"],
        "too long",
    );
    usage_error(&["run", "-q", "1", "--count", "-5"], "-5");
    usage_error(&["run", "-q", "1", "--verdict", "queue:70000"], "65535");
    usage_error(&["run", "-q", "1", "--copy-range", "0x"], "not a number");
    usage_error(
        &["run", "-q", "1", "--max-queue-len", "0x100000000"],
        "too large",
    );
    usage_error(&["bench", "--duration", "0"], "more than 0");
    usage_error(&["bench", "--packets", "0"], "at least 1");
    usage_error(&["stats", "--watch", "--interval", "x"], "seconds");
}

#[test]
fn invalid_utf8_argument() {
    let bad = OsStr::from_bytes(b"\xff");
    usage_error(&[OsStr::new("run"), OsStr::new("-q"), bad], "UTF-8");
}

/// A namespace that does not exist is not a usage error but a runtime one: status 1, one line
/// that names the namespace and says how to list the existing ones.
#[test]
fn missing_namespace_is_a_runtime_error_naming_it() {
    let name = format!("nfqueue-test-missing-{}", std::process::id());
    let out = nfqueue(&["run", "-q", "1", "--netns", &name]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("nfqueue: error: "), "{stderr}");
    assert!(lines[0].contains(&name), "names the namespace: {stderr}");
    assert!(
        lines[0].contains("ip netns list"),
        "says what to do: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
