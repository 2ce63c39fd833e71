//! Flows: the definition a TOML file declares, its validation into a step graph, and
//! loading from the built-ins or a path. Below the engine, which runs them.

mod coverage;
mod def;
mod load;
mod validate;

pub use coverage::{Coverage, StepCoverage, Verdict, lacking};
pub use def::{
    Agent, BUDGET_RANGE, BUILTIN_FLOWS, Condition, ContextItemDef, ContextSource, DEFAULT_BUDGET, FlowData, FlowDef,
    Join, Op, Route, Router, StepDef, budget_problem,
};
pub use load::{Flow, FlowError};
pub use validate::Dag;
