//! The engine that runs a flow's steps on a background task. Knows nothing of terminals.

mod events;
mod report;
mod runner;

pub use events::{EngineCommand, EngineEvent, RunState, StepStatus};
pub use report::{CacheSummary, DataSummary, Measure, PreviewJob, RunReport, StepReport};
pub use runner::{Engine, EngineConfig, EngineHandle, FlowSnapshot, StepState};
