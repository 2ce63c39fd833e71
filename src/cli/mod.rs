//! The `mrflow-tui` binary's front ends over the library: argument parsing (`args`, which
//! turns flags into a `Session` through its builder), headless `run`, the TUI's launch
//! (`tui`), and one file per other command.

pub mod args;
pub mod bench;
pub mod cache;
pub mod data;
pub mod eval;
pub mod flows;
pub mod gen_data;
pub mod memory;
pub mod models;
pub mod progress;
pub mod run;
pub mod runs;
pub mod shell;
pub mod tokens;
pub mod tui;

pub use args::*;
