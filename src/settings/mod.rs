//! The vocabulary of a step's settings, shared below the engine: how much a context item
//! matters ([`Priority`]), how a context is fitted into its budget ([`Strategy`]), and
//! the settings of one step together ([`StepSettings`]).

mod priority;
mod step;
mod strategy;

pub use priority::Priority;
pub use step::StepSettings;
pub use strategy::Strategy;
