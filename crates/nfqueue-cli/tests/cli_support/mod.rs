// SPDX-License-Identifier: MIT OR Apache-2.0
//! Helpers for the kernel tests of the `nfqueue` binary: start it inside a sandbox, wait for
//! its queue, collect what it printed, stop it with a signal, all with time limits.
#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::ffi::OsStr;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use linux_nfqueue::testkit::Sandbox;

/// The upper bound of every wait; tests normally finish far sooner.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// How long a test listens to make sure nothing (more) arrives.
pub(crate) const QUIET: Duration = Duration::from_millis(300);

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_nfqueue");

/// Runs `nfqueue ARGS` to its end in the test's own namespace, with standard input closed.
pub(crate) fn nfqueue<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the nfqueue binary runs")
}

/// What a process printed, as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `127.0.0.1:port`.
pub(crate) fn v4(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// A running `nfqueue` process whose standard output and error are being collected.
pub(crate) struct Running {
    child: Child,
    what: String,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// How a process ended and what it printed.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Finished {
    /// The exit code; panics (with the output) when a signal ended the process.
    pub(crate) fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("nfqueue was killed by a signal: {self:?}"))
    }

    /// Asserts exit status 0, showing the output otherwise.
    pub(crate) fn assert_success(&self) {
        assert_eq!(
            self.code(),
            0,
            "nfqueue failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }

    /// Asserts that nothing on stderr looks like a panic or a Rust backtrace.
    pub(crate) fn assert_no_panic(&self) {
        for bad in ["panicked", "internal error", "RUST_BACKTRACE"] {
            assert!(
                !self.stderr.contains(bad),
                "stderr mentions {bad:?}:\n{}",
                self.stderr
            );
        }
    }

    /// The summary line (`<N> packets judged ...`) from stderr; panics if it is missing.
    pub(crate) fn summary(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.contains(" packets judged"))
            .unwrap_or_else(|| panic!("no summary line on stderr:\n{}", self.stderr))
    }

    /// The number at the start of the summary line.
    pub(crate) fn judged(&self) -> u64 {
        let line = self.summary();
        line.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the summary does not start with a number: {line}"))
    }

    /// The non-empty lines of standard output.
    pub(crate) fn lines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| !l.is_empty()).collect()
    }
}

fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Starts `cmd` with its output collected on two threads.
pub(crate) fn start(mut cmd: Command) -> Running {
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = child.stdout.take().map(collect);
    let stderr = child.stderr.take().map(collect);
    Running {
        child,
        what,
        stdout,
        stderr,
    }
}

/// Starts `nfqueue ARGS` inside the sandbox (`ip netns exec NAME nfqueue ARGS`, which execs the
/// binary, so the child's pid is nfqueue's own).
pub(crate) fn start_in(sb: &Sandbox, args: &[&str]) -> Running {
    let mut cmd = sb.command(BIN);
    cmd.args(args);
    start(cmd)
}

/// Runs `nfqueue ARGS` inside the sandbox to its end (bounded by [`WAIT`]).
pub(crate) fn run_in(sb: &Sandbox, args: &[&str]) -> Finished {
    start_in(sb, args).finish(WAIT)
}

/// Sends `signal` (a name such as `TERM`) to `pid` with the shell's `kill` built-in.
pub(crate) fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{signal} {pid}"))
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

impl Running {
    /// The process id (nfqueue's own: `ip netns exec` replaces itself with it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has ended already.
    pub(crate) fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits until the sandbox's queue `queue` is bound; panics with the process's output when
    /// it is not bound within [`WAIT`] or the process ended first.
    pub(crate) fn wait_bound(&mut self, sb: &Sandbox, queue: u16) {
        let deadline = Instant::now() + WAIT;
        loop {
            if matches!(sb.queue_counters(queue), Ok(Some(_))) {
                return;
            }
            if self.has_exited() || Instant::now() >= deadline {
                let what = self.what.clone();
                let out = self.kill_and_collect();
                panic!("{what}: queue {queue} was never bound:\n{out:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to end within `timeout`; panics (after killing it, with its
    /// output) when it does not.
    pub(crate) fn finish(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return self.collect_output(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    let what = self.what.clone();
                    let out = self.kill_and_collect();
                    panic!("{what} did not end within {timeout:?}:\n{out:?}");
                }
                Err(e) => panic!("waiting for {} failed: {e}", self.what),
            }
        }
    }

    /// Sends `signal` and waits (bounded) for the process to end.
    pub(crate) fn signal_and_finish(self, signal: &str) -> Finished {
        send_signal(self.pid(), signal);
        self.finish(WAIT)
    }

    fn kill_and_collect(&mut self) -> Finished {
        let _ = self.child.kill();
        self.collect_output()
    }

    fn collect_output(&mut self) -> Finished {
        let status = self.child.wait().expect("wait for the child");
        let take = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap_or_default());
        Finished {
            status,
            stdout: take(self.stdout.take()).unwrap_or_default(),
            stderr: take(self.stderr.take()).unwrap_or_default(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that panicked halfway leaves no process behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
