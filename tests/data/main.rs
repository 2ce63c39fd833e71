//! Other people's data: exports as tools write them, batches, bad input, `data`.
//!
//! One test binary with a module per concern (as ripgrep keeps its tests): every binary
//! links polars, so a few binaries build and link in a fraction of the time of one each.

#[path = "../common/mod.rs"]
mod common;

mod bad_input_corpus;
mod byod;
mod cli_data;
mod stream;
