//! mrflow: flow-based, token-economical LLM pipelines for marketing research.
//!
//! The engine is a library with no terminal code: [`engine`] runs flows of steps declared in
//! TOML over a dataset loaded once ([`data`]) and passed by reference ([`cache`]); [`tools`]
//! compute exact analytics with polars; [`llm`] writes the steps' answers; [`memory`]
//! keeps key insights across runs; [`history`] keeps every run for comparison. The
//! `mrflow-tui` binary's headless and terminal front ends both drive this API; the terminal
//! one ([`tui`], the `tui` feature, on by default) is the only code here that knows a
//! terminal.

pub mod cache;
pub mod clock;
pub mod config;
pub mod context;
pub mod data;
pub mod dirs;
pub mod engine;
pub mod eval;
pub mod flow;
pub mod format;
pub mod history;
pub mod llm;
pub mod memory;
pub mod models;
mod net;
pub mod parallel;
pub mod private_file;
pub mod reference;
pub mod sample;
pub mod secret;
pub mod session;
pub mod settings;
pub mod step_output;
pub mod tools;
#[cfg(feature = "tui")]
pub mod tui;
