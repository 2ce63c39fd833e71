//! The `mrflow-tui` binary's front ends over the library: argument parsing and setup
//! (`args`), headless `run`, the TUI's launch (`tui`), and the `data`, `cache`, `memory`,
//! `runs`, `bench`, completion and man-page commands.

pub mod args;
pub mod bench;
pub mod cache;
pub mod data;
pub mod eval;
pub mod memory;
pub mod models;
pub mod progress;
pub mod run;
pub mod runs;
pub mod shell;
pub mod tui;

pub use args::*;
