//! The binary headless: `run`, its errors, `runs`, completions and man page.
//!
//! One test binary with a module per concern (as ripgrep keeps its tests): every binary
//! links polars, so a few binaries build and link in a fraction of the time of one each.

#[path = "../common/mod.rs"]
mod common;

mod cli_errors;
mod cli_run;
mod cli_shell;
mod runs_cli;
