//! Flows, their validation, and the engine that runs them. Knows nothing of terminals.

mod dag;
mod events;
mod flow;
mod report;
mod runner;
mod step;

pub use dag::Dag;
pub use events::{EngineCommand, EngineEvent, RunState, StepStatus};
pub use flow::{
    Agent, BUDGET_RANGE, BUILTIN_FLOWS, Condition, ContextItemDef, ContextSource, DEFAULT_BUDGET, Flow, FlowDef,
    FlowError, Join, Op, Route, Router, StepDef, budget_problem,
};
pub use report::{CacheSummary, DataSummary, Measure, PreviewJob, RunReport, StepReport};
pub use runner::{Engine, EngineConfig, EngineHandle, FlowSnapshot, StepState};
pub use step::{StepContext, StepOutput, ToolRecord};
