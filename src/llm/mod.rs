//! Writers of step answers. The engine asks an [`Analyst`] for each step's answer; the
//! offline analyst is the default and needs no network or key.

mod offline;

pub use offline::OfflineAnalyst;

use crate::engine::StepDef;
use crate::tools::Fact;

/// What an analyst may use to answer: the step and the facts in its context.
#[derive(Debug, Clone)]
pub struct AnswerRequest<'a> {
    pub flow: &'a str,
    pub step: &'a StepDef,
    /// The flow's last step writes the final report.
    pub is_final: bool,
    /// Facts of this step's own tools.
    pub own_facts: &'a [Fact],
    /// Earlier steps' facts, by step id, in flow order.
    pub upstream: Vec<(&'a str, &'a [Fact])>,
}

pub trait Analyst: Send + Sync {
    fn answer(&self, request: &AnswerRequest<'_>) -> String;
}
