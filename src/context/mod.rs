//! Context engineering vocabulary shared by flows and the engine.

mod priority;
mod strategy;

pub use priority::Priority;
pub use strategy::Strategy;
