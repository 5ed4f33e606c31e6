// SPDX-License-Identifier: MIT OR Apache-2.0
//! [`Sandbox`]: a named network namespace for one test, and ways to run code inside it.

use std::env;
use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Write};
use std::marker::PhantomData;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{self, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::{self, JoinHandle};

use crate::sys;

use super::rules::RuleBackend;

/// The environment variable that turns a skipped kernel test into a failure.
const REQUIRE_VAR: &str = "NFQUEUE_REQUIRE_KERNEL_TESTS";

static SANDBOXES: AtomicU32 = AtomicU32::new(0);
static LINKS: AtomicU32 = AtomicU32::new(0);

/// A fresh, named network namespace for one test.
///
/// Created with `ip netns add nfqtk-<pid>-<n>`, so `ip netns exec`, `ip -n` and veth pairs
/// work with it; `lo` is up with `127.0.0.1` and `::1`, and ICMP echo sockets are allowed for
/// every group (`net.ipv4.ping_group_range`). Dropping the sandbox deletes the namespace (`ip
/// netns del`), also while unwinding from a panic; the kernel tears it down once no thread,
/// socket or process is left inside.
///
/// Code runs inside on a thread: [`run`](Self::run) (a scoped thread, joined),
/// [`spawn`](Self::spawn) (a detached thread) or [`enter`](Self::enter) (moves the current
/// thread until the guard drops). Sockets, including netlink sockets, belong to the namespace of
/// the thread that creates them, and keep it wherever they are used later.
pub struct Sandbox {
    name: String,
    path: PathBuf,
    ns: OwnedFd,
    backend: Option<RuleBackend>,
}

/// Keeps the current thread inside a [`Sandbox`]; dropping it moves the thread back to the
/// namespace it was in. Not `Send`: a namespace belongs to a thread.
///
/// ```compile_fail
/// fn is_send<T: Send>() {}
/// is_send::<linux_nfqueue::testkit::NetnsGuard<'static>>();
/// ```
#[must_use = "the thread leaves the sandbox when the guard is dropped"]
pub struct NetnsGuard<'a> {
    previous: OwnedFd,
    _sandbox: PhantomData<&'a Sandbox>,
    _not_send: PhantomData<*const ()>,
}

/// Two ends of a veth pair made by [`Sandbox::connect`], with their addresses.
///
/// `a_*` is in the sandbox `connect` was called on, `b_*` in the other one. IPv4 addresses come
/// from 198.18.0.0/15 (reserved for benchmarking, RFC 2544, so they cannot clash with a real
/// network), one /24 per link; IPv6 addresses from the unique-local fd00::/8, one /64 per link,
/// added without duplicate address detection so they work at once.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VethLink {
    /// Interface name in the first sandbox.
    pub a_if: String,
    /// Interface name in the second sandbox.
    pub b_if: String,
    /// IPv4 address of the first end (prefix 24).
    pub a_v4: Ipv4Addr,
    /// IPv4 address of the second end (prefix 24).
    pub b_v4: Ipv4Addr,
    /// IPv6 address of the first end (prefix 64).
    pub a_v6: Ipv6Addr,
    /// IPv6 address of the second end (prefix 64).
    pub b_v6: Ipv6Addr,
}

/// Whether `NFQUEUE_REQUIRE_KERNEL_TESTS=1` is set: kernel tests must run, never skip.
pub fn kernel_tests_required() -> bool {
    env::var(REQUIRE_VAR).as_deref() == Ok("1")
}

/// Reports a skipped kernel test: prints `reason` to stderr and returns `None`, or panics with
/// it when [`kernel_tests_required`].
pub fn skip_or_panic<T>(reason: &str) -> Option<T> {
    assert!(
        !kernel_tests_required(),
        "{reason} ({REQUIRE_VAR}=1 forbids skipping kernel tests)"
    );
    eprintln!("kernel test skipped: {reason}");
    None
}

/// Checks once per process that sandboxes can work here; the error says what is missing.
fn preflight() -> io::Result<()> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            if !sys::is_root() {
                return Err("not root: a sandbox needs CAP_SYS_ADMIN and CAP_NET_ADMIN".into());
            }
            if !program_works("ip", &["-V"]) {
                return Err("`ip` (iproute2) is not installed".into());
            }
            if !program_works("iptables", &["-V"]) && !program_works("nft", &["-v"]) {
                return Err("neither `iptables` nor `nft` is installed".into());
            }
            let proc = Path::new("/proc/net/netfilter/nfnetlink_queue");
            if !proc.exists() {
                let _ = Command::new("modprobe")
                    .args(["-q", "nfnetlink_queue"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            if !proc.exists() {
                return Err("the kernel has no nfnetlink_queue (module not loaded)".into());
            }
            remove_stale_sandboxes();
            Ok(())
        })
        .clone()
        .map_err(|msg| io::Error::new(io::ErrorKind::Unsupported, msg))
}

/// Deletes sandboxes left behind by test processes that were killed before their `Drop` ran
/// (`nfqtk-<pid>-<n>` whose pid is gone). A name whose pid is alive is never touched.
fn remove_stale_sandboxes() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("nfqtk-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let mut del = Command::new("ip");
            del.args(["netns", "del", &name]);
            if output(del, None).is_ok() {
                eprintln!("testkit: removed stale network namespace {name}");
            }
        }
    }
}

fn program_works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd`, feeding `stdin` if given; returns stdout, or an error carrying the command line,
/// the exit status and stderr.
pub(super) fn output(mut cmd: Command, stdin: Option<&str>) -> io::Result<String> {
    let line = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("{line}: {e}")))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{line} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Sandbox {
    /// Makes a sandbox: a new named namespace with `lo` up. Fails with `Unsupported` when this
    /// machine cannot (not root, no `ip`, no `iptables`/`nft`, no `nfnetlink_queue`).
    pub fn new() -> io::Result<Self> {
        preflight()?;
        let n = SANDBOXES.fetch_add(1, Ordering::Relaxed);
        let name = format!("nfqtk-{}-{n}", process::id());
        let mut add = Command::new("ip");
        add.args(["netns", "add", &name]);
        if let Err(e) = output(add, None) {
            // A namespace left behind by a killed process that had the same pid: remove it
            // (nothing alive owns our pid's names) and try once more.
            if !e.to_string().contains("File exists") {
                return Err(e);
            }
            let mut del = Command::new("ip");
            del.args(["netns", "del", &name]);
            output(del, None)?;
            let mut add = Command::new("ip");
            add.args(["netns", "add", &name]);
            output(add, None)?;
        }
        let path = PathBuf::from(format!("/run/netns/{name}"));
        let ns = match sys::open_netns_path(&path) {
            Ok(fd) => fd,
            Err(e) => {
                let mut del = Command::new("ip");
                del.args(["netns", "del", &name]);
                let _ = output(del, None);
                return Err(e);
            }
        };
        // From here on, Drop cleans up whatever fails.
        let sandbox = Self {
            name,
            path,
            ns,
            backend: None,
        };
        sandbox.setup()?;
        Ok(sandbox)
    }

    fn setup(&self) -> io::Result<()> {
        self.try_run(|| {
            // IPv6 may be disabled by default on this host; enable it before `lo` comes up so
            // that `::1` is assigned. Absent when the kernel has no IPv6 at all.
            let v6 = Path::new("/proc/sys/net/ipv6/conf/lo/disable_ipv6");
            if v6.exists() {
                std::fs::write(v6, "0")?;
            }
            // Let every group open ICMP echo ("ping") datagram sockets in this namespace.
            std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
        })??;
        self.ip(&["link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Like [`new`](Self::new), but when this machine cannot make a sandbox, prints the reason
    /// to stderr and returns `None`, so the test can `return` (skipped). With
    /// `NFQUEUE_REQUIRE_KERNEL_TESTS=1` it panics with the reason instead.
    pub fn new_or_skip() -> Option<Self> {
        match Self::new() {
            Ok(s) => Some(s),
            Err(e) => skip_or_panic(&format!("cannot make a network namespace sandbox: {e}")),
        }
    }

    /// The namespace's name, as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace file, `/run/netns/NAME`.
    pub fn netns_path(&self) -> &Path {
        &self.path
    }

    /// Moves the current thread into the sandbox until the guard is dropped.
    ///
    /// Everything the thread creates meanwhile (sockets, queues) belongs to the sandbox, and so
    /// do threads it spawns. Prefer [`run`](Self::run) unless the code must run on this thread
    /// (for example a current-thread async runtime).
    pub fn enter(&self) -> io::Result<NetnsGuard<'_>> {
        let previous = sys::current_netns()?;
        sys::enter_netns(self.ns.as_fd())?;
        Ok(NetnsGuard {
            previous,
            _sandbox: PhantomData,
            _not_send: PhantomData,
        })
    }

    /// Runs `f` on a new thread inside the sandbox and returns its result; the calling thread
    /// does not move. A panic in `f` is resumed here.
    ///
    /// # Panics
    ///
    /// If the thread cannot enter the namespace (see [`try_run`](Self::try_run)).
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.try_run(f)
            .unwrap_or_else(|e| panic!("cannot enter sandbox {}: {e}", self.name))
    }

    /// Like [`run`](Self::run), returning an error when the thread cannot be made or cannot
    /// enter the namespace.
    pub fn try_run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> io::Result<R> {
        sys::in_netns(self.ns.as_fd(), f)
    }

    /// Starts `f` on a new thread inside the sandbox (for servers and queue listeners that run
    /// while the test sends traffic). Join the handle to get the result or the panic.
    ///
    /// # Panics
    ///
    /// If the thread cannot be created; the spawned thread panics if it cannot enter the
    /// namespace.
    pub fn spawn<R, F>(&self, f: F) -> JoinHandle<R>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let ns = self
            .ns
            .try_clone()
            .expect("duplicate the sandbox's namespace descriptor");
        let name = self.name.clone();
        thread::Builder::new()
            .name(format!("{}-thread", self.name))
            .spawn(move || {
                if let Err(e) = sys::enter_netns(ns.as_fd()) {
                    panic!("cannot enter sandbox {name}: {e}");
                }
                drop(ns);
                f()
            })
            .expect("spawn a sandbox thread")
    }

    /// A command that runs `program` inside the sandbox (`ip netns exec NAME program`).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs a shell script inside the sandbox (`sh -c`) and returns its stdout; a non-zero exit
    /// is an error carrying stderr.
    pub fn sh(&self, script: &str) -> io::Result<String> {
        let mut cmd = self.command("sh");
        cmd.args(["-c", script]);
        output(cmd, None)
    }

    /// Runs `ip -n NAME args...` (iproute2 inside the sandbox) and returns its stdout.
    pub fn ip(&self, args: &[&str]) -> io::Result<String> {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &self.name]).args(args);
        output(cmd, None)
    }

    /// Runs `iptables -w args...` inside the sandbox and returns its stdout.
    pub fn iptables(&self, args: &[&str]) -> io::Result<String> {
        let mut cmd = self.command("iptables");
        cmd.arg("-w").args(args);
        output(cmd, None)
    }

    /// Runs `ip6tables -w args...` inside the sandbox and returns its stdout.
    pub fn ip6tables(&self, args: &[&str]) -> io::Result<String> {
        let mut cmd = self.command("ip6tables");
        cmd.arg("-w").args(args);
        output(cmd, None)
    }

    /// Loads an nft script (`nft -f -`) inside the sandbox and returns its stdout.
    pub fn nft(&self, script: &str) -> io::Result<String> {
        let mut cmd = self.command("nft");
        cmd.args(["-f", "-"]);
        output(cmd, Some(script))
    }

    /// Marks outgoing IPv4 UDP packets to `dport` with `mark` before any filter rule sees them
    /// (`iptables -t mangle -A OUTPUT -p udp --dport DPORT -j MARK --set-mark MARK`), the way
    /// other software on a host marks traffic.
    pub fn mark_udp_output(&self, dport: u16, mark: u32) -> io::Result<()> {
        let (port, mark) = (dport.to_string(), format!("{mark:#x}"));
        self.iptables(&[
            "-t",
            "mangle",
            "-A",
            "OUTPUT",
            "-p",
            "udp",
            "--dport",
            &port,
            "-j",
            "MARK",
            "--set-mark",
            &mark,
        ])
        .map(drop)
    }

    /// Writes a sysctl of the sandbox (`key` in dotted form, e.g. `net.ipv4.ip_forward`).
    pub fn set_sysctl(&self, key: &str, value: &str) -> io::Result<()> {
        let path = sysctl_path(key);
        self.try_run(|| std::fs::write(path, value))?
    }

    /// Reads a sysctl of the sandbox, trimmed.
    pub fn sysctl(&self, key: &str) -> io::Result<String> {
        let path = sysctl_path(key);
        let text = self.try_run(|| std::fs::read_to_string(path))??;
        Ok(text.trim().to_string())
    }

    /// Turns IPv4 and IPv6 forwarding on or off (a router between two other sandboxes).
    pub fn set_forwarding(&self, on: bool) -> io::Result<()> {
        let v = if on { "1" } else { "0" };
        self.set_sysctl("net.ipv4.ip_forward", v)?;
        self.set_sysctl("net.ipv6.conf.all.forwarding", v)
    }

    /// Two new sandboxes joined by a veth pair (see [`connect`](Self::connect)).
    pub fn pair() -> io::Result<(Self, Self, VethLink)> {
        let a = Self::new()?;
        let b = Self::new()?;
        let link = a.connect(&b)?;
        Ok((a, b, link))
    }

    /// Joins this sandbox to `other` with a veth pair, brings both ends up and gives them
    /// addresses (see [`VethLink`]). Each call makes a new pair in a new subnet.
    pub fn connect(&self, other: &Self) -> io::Result<VethLink> {
        let n = LINKS.fetch_add(1, Ordering::Relaxed);
        // Interface names are at most 15 bytes; they only need to be unique per namespace.
        let link = VethLink {
            a_if: format!("nfqv{n}a"),
            b_if: format!("nfqv{n}b"),
            a_v4: Ipv4Addr::new(198, 18 + ((n / 256) % 2) as u8, (n % 256) as u8, 1),
            b_v4: Ipv4Addr::new(198, 18 + ((n / 256) % 2) as u8, (n % 256) as u8, 2),
            a_v6: Ipv6Addr::new(0xfd00, 0x6e66, 0x71, (n % 65536) as u16, 0, 0, 0, 1),
            b_v6: Ipv6Addr::new(0xfd00, 0x6e66, 0x71, (n % 65536) as u16, 0, 0, 0, 2),
        };
        self.ip(&[
            "link",
            "add",
            &link.a_if,
            "type",
            "veth",
            "peer",
            "name",
            &link.b_if,
            "netns",
            &other.name,
        ])?;
        for (sb, ifname, v4, v6) in [
            (self, &link.a_if, link.a_v4, link.a_v6),
            (other, &link.b_if, link.b_v4, link.b_v6),
        ] {
            sb.ip(&["addr", "add", &format!("{v4}/24"), "dev", ifname])?;
            sb.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                ifname,
                "nodad",
            ])?;
            sb.ip(&["link", "set", ifname, "up"])?;
        }
        Ok(link)
    }

    /// The rule backend [`install`](Self::install) uses here: the one forced with
    /// [`set_rule_backend`](Self::set_rule_backend), else the process-wide choice (see
    /// [`RuleBackend::detect`]).
    pub fn rule_backend(&self) -> RuleBackend {
        self.backend.unwrap_or_else(RuleBackend::detect)
    }

    /// Forces the rule backend for this sandbox (for example to test both).
    pub fn set_rule_backend(&mut self, backend: RuleBackend) {
        self.backend = Some(backend);
    }
}

fn sysctl_path(key: &str) -> PathBuf {
    PathBuf::from("/proc/sys").join(key.replace('.', "/"))
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let mut del = Command::new("ip");
        del.args(["netns", "del", &self.name]);
        if let Err(e) = output(del, None) {
            eprintln!(
                "testkit: could not delete network namespace {}: {e}",
                self.name
            );
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Drop for NetnsGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = sys::enter_netns(self.previous.as_fd()) {
            // Staying inside a namespace that is about to be deleted would silently break
            // everything this thread does next.
            if thread::panicking() {
                eprintln!("testkit: could not leave the sandbox: {e}");
            } else {
                panic!("testkit: could not leave the sandbox: {e}");
            }
        }
    }
}

impl fmt::Debug for NetnsGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetnsGuard").finish_non_exhaustive()
    }
}
