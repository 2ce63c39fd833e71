//! The terminal UI: snapshots of every view, and the real binary in a pseudo-terminal.
//!
//! One test binary with a module per concern (as ripgrep keeps its tests): every binary
//! links polars, so a few binaries build and link in a fraction of the time of one each.

#[path = "../common/mod.rs"]
mod common;

mod docs;
mod tui_e2e;
mod tui_snapshots;
