//! The `nfqueue` command-line tool.
fn main() {}
