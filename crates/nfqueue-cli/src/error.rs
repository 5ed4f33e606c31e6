// SPDX-License-Identifier: MIT OR Apache-2.0
//! The CLI's runtime error: one line that says what failed, why, and what to do.

use std::fmt;
use std::io;

/// A runtime failure, printed by `main` as `nfqueue: error: <message>` with exit status 1.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    /// Set when the cause is standard output going away (`nfqueue ... | head`), which ends the
    /// program quietly with status 0 instead.
    broken_pipe: bool,
}

impl CliError {
    /// An error with a complete one-line message (what failed, why, what to do).
    pub(crate) fn new(message: impl Into<String>) -> Self {
        let mut message = message.into();
        // One line, whatever the cause text contained.
        if message.contains('\n') {
            message = message.replace('\n', " ");
        }
        Self {
            message,
            broken_pipe: false,
        }
    }

    /// An I/O error with what was being done: `"<context>: <error>"`.
    pub(crate) fn io(context: impl fmt::Display, err: &io::Error) -> Self {
        let mut e = Self::new(format!("{context}: {err}"));
        e.broken_pipe = err.kind() == io::ErrorKind::BrokenPipe;
        e
    }

    /// A failure writing to standard output.
    pub(crate) fn stdout(err: &io::Error) -> Self {
        Self::io("cannot write to standard output", err)
    }

    /// Standard output was closed by its reader; not worth an error message.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_and_broken_pipe() {
        let e = CliError::new("a\nb");
        assert_eq!(e.to_string(), "a b");
        assert!(!e.is_broken_pipe());
        let e = CliError::stdout(&io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(e.is_broken_pipe());
        assert!(
            e.to_string()
                .starts_with("cannot write to standard output: ")
        );
    }
}
