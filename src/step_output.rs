//! What a finished step leaves behind, stored by reference: above the context and the
//! model (it holds both), below the cache that keeps it.

use serde::{Deserialize, Serialize};

use crate::context::{self, ContextBundle, Encoding, OverBudget, PrunedContext, Tokenizer, Upstream};
use crate::flow::StepDef;
use crate::llm::Usage;
use crate::reference::Reference;
use crate::settings::StepSettings;
use crate::tools::Fact;
use crate::tools::fact_check;

/// One tool call a step made, by reference to its memoized output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    pub label: String,
    pub output_ref: Reference,
    pub cached: bool,
}

/// The output of a step: its tool results (by reference), their facts, and the agent's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    pub step: String,
    pub tools: Vec<ToolRecord>,
    /// Facts of this step's tools, one per key.
    pub facts: Vec<Fact>,
    /// The agent's answer, Markdown.
    pub answer: String,
    /// Keys of the facts whose values the answer carries.
    pub answer_facts: Vec<String>,
    /// The downstream step a router chose.
    pub route: Option<String>,
    /// Who wrote the answer (see [`crate::llm::Analyst::identity`]).
    #[serde(default)]
    pub analyst: String,
    /// Token usage as the model's server reported it; none for the offline analyst.
    #[serde(default)]
    pub reported: Option<Usage>,
    /// The context the step was given.
    pub context: StepContext,
    /// How the answer fared against the step's critical figures.
    #[serde(default)]
    pub check: AnswerCheck,
    /// What the step left out and why: tools the data lacks roles for, a route that fell
    /// back for want of history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// An answer checked against the exact figures its prompt held, as it arrived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnswerCheck {
    /// Keys of the critical facts the answer should carry: a step's own that its prompt
    /// held; for the final report, every critical fact its prompt held.
    pub expected: Vec<String>,
    /// Keys of those the answer lacks.
    pub missing: Vec<String>,
    /// Money and percent figures the answer states that neither its prompt nor the exact
    /// results hold.
    pub unsupported: Vec<String>,
    /// The answer carries none of its expected facts, or (the final report) lacks any of
    /// them or states unsupported figures.
    pub flagged: bool,
    /// The answer was asked for a second time with a note naming what was wrong
    /// (`[llm] answer_check = "retry"`); the better of the two is kept.
    pub retried: bool,
    /// Tokens of the retry's prompt and of the answer not kept (counted in the ledger).
    pub retry_prompt_tokens: usize,
    pub retry_completion_tokens: usize,
}

impl AnswerCheck {
    /// Checks `answer` against the facts it should carry (`expected`), and its money and
    /// percent figures against its `prompt` and the exact results (`ground`).
    pub fn of(answer: &str, expected: &[&Fact], prompt: &str, ground: &[&Fact], is_final: bool) -> AnswerCheck {
        let missing: Vec<String> = fact_check::missing(answer, expected.iter().copied())
            .iter()
            .map(|f| f.key.clone())
            .collect();
        let unsupported = fact_check::unsupported(answer, prompt, ground);
        let none_kept = !expected.is_empty() && missing.len() == expected.len();
        let flagged = none_kept || (is_final && (!missing.is_empty() || !unsupported.is_empty()));
        AnswerCheck {
            expected: expected.iter().map(|f| f.key.clone()).collect(),
            missing,
            unsupported,
            flagged,
            ..AnswerCheck::default()
        }
    }

    /// How many of the expected facts the answer carries.
    pub fn kept(&self) -> usize {
        self.expected.len() - self.missing.len()
    }

    /// Orders answers: more facts kept first, then fewer unsupported figures.
    pub fn score(&self) -> (usize, std::cmp::Reverse<usize>) {
        (self.kept(), std::cmp::Reverse(self.unsupported.len()))
    }

    /// `2 of 5 critical figures, 1 unsupported`.
    pub fn summary(&self) -> String {
        let mut s = format!("{} of {} critical figures", self.kept(), self.expected.len());
        if !self.unsupported.is_empty() {
            s.push_str(&format!(", {} unsupported", self.unsupported.len()));
        }
        s
    }
}

/// A step's context: every item at every level (so budgets can be re-tried without running
/// the step), what pruning chose, and the token counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepContext {
    pub encoding: Encoding,
    pub bundle: ContextBundle,
    pub pruned: PrunedContext,
    pub completion_tokens: usize,
}

impl StepOutput {
    /// What the step's prompt would be with another budget, strategy or priorities, without
    /// running it again: the items are kept at every level, so this only re-prunes.
    pub fn what_if(&self, step: &StepDef, settings: &StepSettings) -> Result<PrunedContext, OverBudget> {
        context::prune(
            &self.context.bundle,
            settings,
            &step.task,
            &Tokenizer::new(self.context.encoding),
        )
    }

    /// Whether this output's context was fitted with `settings`: the one rule for whether
    /// a step is stale after the analyst tunes it.
    pub fn computed_with(&self, settings: &StepSettings) -> bool {
        let pruned = &self.context.pruned;
        pruned.budget == settings.budget
            && pruned.strategy == settings.strategy
            && self
                .context
                .bundle
                .items
                .iter()
                .zip(&pruned.decisions)
                .all(|(item, d)| settings.priority_of(&item.key, item.priority) == d.priority)
    }

    /// What a later step's context reads of this output, stored under `reference`.
    pub fn as_upstream(&self, reference: Reference) -> Upstream<'_> {
        Upstream {
            step: &self.step,
            answer: &self.answer,
            facts: &self.facts,
            answer_facts: &self.answer_facts,
            unsupported: &self.check.unsupported,
            reference,
        }
    }

    /// Content address of the output.
    /// Whether a tool's result came from the cache is how this run got it, not what the
    /// output is: the same output has the same reference either way (a rerun after a
    /// cancelled run finds the tools it had already run in the cache).
    pub fn reference(&self) -> Reference {
        let mut content = self.clone();
        for t in &mut content.tools {
            t.cached = false;
        }
        Reference::of_parts([
            b"step-output/v1".as_slice(),
            &serde_json::to_vec(&content).expect("outputs serialize"),
        ])
    }
}
