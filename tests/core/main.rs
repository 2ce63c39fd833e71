//! Engine, session, ledger, cache and invariants: the library through its public API.
//!
//! One test binary with a module per concern (as ripgrep keeps its tests): every binary
//! links polars, so a few binaries build and link in a fraction of the time of one each.

#[path = "../common/mod.rs"]
mod common;

mod architecture;
mod cache;
mod engine;
mod ledger;
mod properties;
mod session;
mod tokenizer_parity;
