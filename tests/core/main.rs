//! Engine, session, ledger, cache and invariants: the library through its public API.
//!
//! One test binary with a module per concern (as ripgrep keeps its tests): every binary
//! links polars, so a few binaries build and link in a fraction of the time of one each.

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod engine;
mod session;
mod ledger;
mod properties;
mod tokenizer_parity;
mod cache;
