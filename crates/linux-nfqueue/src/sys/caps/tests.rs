// SPDX-License-Identifier: MIT OR Apache-2.0
//! Capability tests. Dropping privileges changes the whole process, so that test re-runs itself
//! in a child process (the test binary with `--exact`) and checks the child's report.

use std::env;
use std::process::Command;
use std::time::Duration;

use super::super::test_util::{bind_message, parse_ack, root_or_skip};
use super::super::{NetlinkSocket, unshare_netns};
use super::{CAP_NET_ADMIN, capabilities, drop_privileges_keep_net_admin, is_root};

const CHILD_ENV: &str = "NFQ_SYS_DROP_PRIVILEGES_CHILD";
const NOBODY: u32 = 65534;

#[test]
fn capabilities_match_the_effective_uid() {
    let caps = capabilities().unwrap();
    assert_eq!(
        caps.effective & !caps.permitted,
        0,
        "effective is within permitted"
    );
    if is_root() {
        assert!(caps.has_effective(CAP_NET_ADMIN), "{caps:?}");
    }
    assert!(
        !caps.has_effective(64),
        "out-of-range numbers are never set"
    );
}

#[test]
fn drop_privileges_keeps_only_net_admin() {
    if env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    if !root_or_skip("drop_privileges_keeps_only_net_admin") {
        return;
    }
    let exe = env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "sys::caps::tests::drop_privileges_keeps_only_net_admin",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env_remove("NFQUEUE_REQUIRE_KERNEL_TESTS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
    assert!(stderr.contains("child: privileges dropped"), "{stderr}");
}

/// Runs in the child: a private network namespace first (while still root), then the drop, then
/// proof that CAP_NET_ADMIN still works and CAP_SYS_ADMIN is gone.
fn child() {
    unshare_netns().expect("unshare as root");
    drop_privileges_keep_net_admin(NOBODY, NOBODY).expect("drop privileges");

    let caps = capabilities().unwrap();
    let only = 1u64 << CAP_NET_ADMIN;
    assert_eq!(
        (caps.effective, caps.permitted, caps.inheritable),
        (only, only, 0)
    );
    assert!(!is_root());
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        field("Uid:")
            .split_whitespace()
            .skip(1)
            .all(|u| u == "65534"),
        "{status}"
    );
    assert!(
        field("Gid:")
            .split_whitespace()
            .skip(1)
            .all(|g| g == "65534"),
        "{status}"
    );
    assert_eq!(field("Groups:").trim(), "Groups:");
    assert_eq!(field("CapBnd:"), "CapBnd:\t0000000000001000");
    assert_eq!(field("CapAmb:"), "CapAmb:\t0000000000000000");

    // CAP_NET_ADMIN still lets us bind a queue (in the private namespace).
    let s = NetlinkSocket::open().unwrap();
    s.set_recv_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send(&bind_message(3, 9)).unwrap();
    let mut buf = [0u8; 256];
    let d = s.recv(&mut buf, false).unwrap();
    assert_eq!(parse_ack(&buf[..d.len]), Some((9, 0)));

    // CAP_SYS_ADMIN is gone: another namespace cannot be made.
    assert_eq!(
        unshare_netns().unwrap_err().raw_os_error(),
        Some(libc::EPERM)
    );
    eprintln!("child: privileges dropped");
}
