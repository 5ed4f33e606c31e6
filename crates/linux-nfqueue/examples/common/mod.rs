// SPDX-License-Identifier: MIT OR Apache-2.0
//! What every example shares: reading its optional numeric arguments and a time limit.

#![allow(dead_code, reason = "each example uses the helpers it needs")]

use std::time::Duration;

use linux_nfqueue::StopHandle;

/// Stops the receive loop after `seconds` (0: never).
pub(crate) fn stop_after(stop: StopHandle, seconds: u64) {
    if seconds > 0 {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(seconds));
            stop.stop();
        });
    }
}

/// The command-line argument at `position` parsed as `T`, or `default` when it is absent; a
/// value that does not parse ends the program with `usage` and exit status 2.
pub(crate) fn arg<T: std::str::FromStr>(position: usize, default: T, usage: &str) -> T {
    let Some(text) = std::env::args().nth(position) else {
        return default;
    };
    text.parse().unwrap_or_else(|_| {
        eprintln!("cannot read argument {position} ({text:?}); {usage}");
        std::process::exit(2)
    })
}
