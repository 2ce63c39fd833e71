//! The vocabulary of a step's settings, shared below the engine: how much a context item
//! matters ([`Priority`]) and how a context is fitted into its budget ([`Strategy`]).

mod priority;
mod strategy;

pub use priority::Priority;
pub use strategy::Strategy;
