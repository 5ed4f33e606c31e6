// SPDX-License-Identifier: MIT OR Apache-2.0
//! The `nfqueue` command-line tool: watch, judge, record, count and benchmark NFQUEUE queues.
//!
//! Exit status: 0 on success (including Ctrl-C, SIGTERM, `--count` and `--timeout` endings),
//! 1 on a runtime error, 2 on a usage error. Errors are one line on stderr starting
//! `nfqueue: error: `.

mod args;
mod bench_cmd;
mod demo_cmd;
mod error;
mod output;
mod pcap;
mod run_cmd;
mod stats_cmd;
mod summary;

use std::io::{self, IsTerminal};

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::{Cli, Command};

/// Exit status for a runtime error.
const EXIT_FAILURE: i32 = 1;
/// Exit status for a usage error (clap's own choice too).
const EXIT_USAGE: i32 = 2;

fn main() {
    std::process::exit(try_main())
}

/// Parses the arguments, runs the subcommand, and turns the outcome into an exit status.
fn try_main() -> i32 {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage(&err),
    };
    let result = match &cli.command {
        Command::Stats(stats) => stats_cmd::run(stats),
        Command::Run(run) => run_cmd::run(run),
        Command::Demo(demo) => demo_cmd::run(demo),
        Command::Bench(b) => bench_cmd::run(b),
    };
    match result {
        Ok(()) => 0,
        // The reader of our standard output went away (`nfqueue ... | head`): not an error.
        Err(err) if err.is_broken_pipe() => 0,
        Err(err) => {
            eprintln!("nfqueue: error: {err}");
            EXIT_FAILURE
        }
    }
}

/// Prints a clap outcome: help and version on stdout with status 0, usage errors on stderr as
/// `nfqueue: error: ...` followed by clap's usage hint, with status 2.
fn usage(err: &clap::Error) -> i32 {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Printing help can only fail if stdout is gone; nothing to report then.
            let _ = err.print();
            0
        }
        // `nfqueue` or `nfqueue run` alone: the help, on stderr, as a usage error.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", err.render());
            EXIT_USAGE
        }
        _ => {
            let rendered = if io::stderr().is_terminal() {
                err.render().ansi().to_string()
            } else {
                err.render().to_string()
            };
            // clap's text starts with "error: ".
            eprint!("nfqueue: {rendered}");
            if !rendered.ends_with('\n') {
                eprintln!();
            }
            EXIT_USAGE
        }
    }
}

/// A panic is a bug: report it in the tool's error format instead of a backtrace dump.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_owned());
        eprintln!("nfqueue: error: internal error (a bug){location}: {payload}; please report it");
    }));
}
