//! Who writes answers and what is remembered: LLM servers and long-term memory.
//!
//! One test binary with a module per concern (as ripgrep keeps its tests): every binary
//! links polars, so a few binaries build and link in a fraction of the time of one each.

#[path = "../common/mod.rs"]
mod common;

mod llm;
mod memory;
mod warehouse;
