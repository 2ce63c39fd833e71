//! The engine that runs a flow's steps on a background task. Knows nothing of terminals.

mod actor;
mod events;
mod handle;
mod preview;
mod report;
mod step_job;

pub use events::{EngineCommand, EngineEvent, RunState, StepStatus};
pub use handle::{Engine, EngineConfig, EngineHandle, FlowSnapshot, StepState};
pub use preview::{PreviewJob, baseline_preview};
pub use report::{CacheSummary, DataSummary, Measure, RunReport, StepReport, TokenCounts};
