// SPDX-License-Identifier: MIT OR Apache-2.0
//! The sandbox itself: made, usable, and removed on drop, even after a panic inside it.

use std::panic;
use std::path::PathBuf;
use std::process::Command;

use linux_nfqueue::testkit::Sandbox;

fn netns_listed(name: &str) -> bool {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn sandbox_is_a_fresh_namespace_with_loopback_up() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    assert!(sb.name().starts_with("nfqtk-"));
    assert_eq!(
        sb.netns_path(),
        PathBuf::from(format!("/run/netns/{}", sb.name()))
    );
    assert!(netns_listed(sb.name()));

    // lo is up with both loopback addresses; nothing else exists.
    let links = sb.ip(&["-o", "link", "show"]).unwrap();
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    let addrs = sb.ip(&["-o", "addr", "show", "dev", "lo"]).unwrap();
    assert!(addrs.contains("127.0.0.1/8"), "{addrs}");
    assert!(addrs.contains("::1/128"), "{addrs}");

    // The namespace differs from ours, whichever way we get into it.
    let ours = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let inside = sb.run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap());
    assert_ne!(ours, inside);
    let spawned = sb
        .spawn(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
        .join()
        .unwrap();
    assert_eq!(spawned, inside);
    {
        let _guard = sb.enter().unwrap();
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            inside
        );
    }
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        ours
    );

    // Commands run inside too, and failures carry stderr.
    assert_eq!(sb.sh("ip -o link show | wc -l").unwrap().trim(), "1");
    let err = sb.sh("echo oops >&2; exit 3").unwrap_err();
    assert!(err.to_string().contains("oops"), "{err}");
    assert_eq!(
        sb.sysctl("net.ipv4.ping_group_range").unwrap(),
        "0\t2147483647"
    );
}

#[test]
fn dropping_the_sandbox_deletes_the_namespace() {
    let Some(sb) = Sandbox::new_or_skip() else {
        return;
    };
    let name = sb.name().to_string();
    let path = sb.netns_path().to_path_buf();
    assert!(path.exists());
    drop(sb);
    assert!(!path.exists());
    assert!(!netns_listed(&name));
}

#[test]
fn namespace_is_deleted_after_a_panic_inside_run() {
    let Some(probe) = Sandbox::new_or_skip() else {
        return;
    };
    drop(probe);
    let mut name = String::new();
    let result = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let sb = Sandbox::new().unwrap();
        name = sb.name().to_string();
        sb.run(|| panic!("handler blew up"));
    }));
    let payload = result.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"handler blew up"));
    assert!(!name.is_empty());
    assert!(!netns_listed(&name), "{name} survived the panic");
}

#[test]
fn parallel_sandboxes_get_distinct_names() {
    let Some(a) = Sandbox::new_or_skip() else {
        return;
    };
    let b = Sandbox::new().unwrap();
    assert_ne!(a.name(), b.name());
    let ia = a.run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap());
    let ib = b.run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap());
    assert_ne!(ia, ib);
}
