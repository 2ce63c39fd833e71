//! Context items: the pieces a step's prompt is built from, each ready at up to three
//! levels of detail (full, summary, reference) with exact token counts and the facts each
//! level carries.

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

use super::Tokenizer;
use super::layout::layout_order;
use super::memo::Memo;
use super::render::{dataset_full, dataset_shape, render_json};
use crate::data::Dataset;
use crate::flow::{ContextSource, StepDef};
use crate::reference::Reference;
use crate::settings::Priority;
use crate::tools::{Fact, ToolOutput, fact_check, fact_list as statements, profile, unique_by_key};

/// One rendering of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    pub text: String,
    pub tokens: usize,
    /// Keys of the facts a reader of this text has.
    pub facts: Vec<String>,
}

impl Rendition {
    fn new(text: String, facts: Vec<String>, tokenizer: &Tokenizer) -> Self {
        Rendition {
            tokens: tokenizer.count(&text),
            text,
            facts,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextItem {
    pub key: String,
    pub source: ContextSource,
    /// The flow's default; overrides apply at pruning.
    pub priority: Priority,
    /// None when the source has nothing to give (a branch that did not run, empty memory).
    pub full: Option<Rendition>,
    pub summary: Option<Rendition>,
    pub reference: Option<Rendition>,
}

/// A step's context items and the facts they can carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextBundle {
    pub items: Vec<ContextItem>,
    pub facts: Vec<Fact>,
}

/// What a step's context is built from.
pub struct ContextInputs<'a> {
    pub step: &'a StepDef,
    pub dataset: &'a Dataset,
    /// This step's tool outputs with their references.
    pub own: &'a [(Reference, Arc<ToolOutput>)],
    /// Earlier steps' outputs (absent when the step did not run).
    pub upstream: &'a [Upstream<'a>],
    /// Long-term memory's hits for this step, one line each, best first.
    pub memory: &'a [String],
}

/// What an earlier step hands a later one's context: its answer and facts, and the
/// reference its full output is stored under.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    pub step: &'a str,
    pub answer: &'a str,
    pub facts: &'a [Fact],
    /// Keys of the facts whose values the answer carries.
    pub answer_facts: &'a [String],
    /// Figures the answer states that nothing it was given holds: lines carrying them are
    /// not passed on.
    pub unsupported: &'a [String],
    pub reference: Reference,
}

fn keys<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> Vec<String> {
    facts.into_iter().map(|f| f.key.clone()).collect()
}

/// Every persona says where the figures come from: a model that is not told asks for the
/// data file, writes code to load it, or makes up figures.
pub const GROUNDING: &str = "Use the exact figures given below; no file or code is needed.";

/// Dataset renderings (full, summary) cached by the frame's reference (flows reading other
/// columns of one file see other frames): the full one needs a profiling pass.
static RENDERINGS: LazyLock<Memo<Reference, Arc<(String, String)>>> = LazyLock::new(|| Memo::new(4096));

fn dataset_renderings(dataset: &Dataset) -> Arc<(String, String)> {
    let frame = dataset.frame_reference();
    RENDERINGS.get_or_insert_with(frame, || {
        let rows = crate::tools::Rows {
            dataset: Some(frame),
            grouped: dataset.profile.grouped.as_ref(),
            ..(&dataset.frame).into()
        };
        let full = match profile::of(rows) {
            Ok(p) => dataset_full(dataset, &p),
            Err(_) => dataset_shape(dataset),
        };
        Arc::new((full, dataset_shape(dataset)))
    })
}

static TABLES: LazyLock<Memo<Reference, Arc<String>>> = LazyLock::new(|| Memo::new(4096));

/// A tool output as compact tables, cached by the output's reference.
fn output_table(reference: Reference, output: &ToolOutput) -> Arc<String> {
    TABLES.get_or_insert_with(reference, || {
        Arc::new(render_json(&output.call.label(), &output.result))
    })
}

/// Builds every context item the step declares.
pub fn build(inputs: &ContextInputs<'_>, tokenizer: &Tokenizer) -> ContextBundle {
    let step = inputs.step;
    // Every fact an item can carry, in the order items declare them.
    let mut facts: Vec<&Fact> = Vec::new();
    let r = |text: String, facts: Vec<String>| Some(Rendition::new(text, facts, tokenizer));
    let mut items = Vec::with_capacity(step.context.len());
    for def in &step.context {
        let (full, summary, reference) = match &def.source {
            ContextSource::Agent => {
                let a = &step.agent;
                (
                    r(
                        format!("You are {}. Your goal: {}. {} {GROUNDING}", a.role, a.goal, a.backstory),
                        vec![],
                    ),
                    r(
                        format!("You are {}. Your goal: {}. {GROUNDING}", a.role, a.goal),
                        vec![],
                    ),
                    None,
                )
            }
            ContextSource::Task => {
                let cut = tokenizer.truncate(&step.task, 24);
                let summary = (cut.len() < step.task.len()).then(|| format!("{}…", cut.trim_end()));
                (r(step.task.clone(), vec![]), summary.and_then(|s| r(s, vec![])), None)
            }
            ContextSource::Tools => {
                // One line per tool, with every call of it: descriptions are not repeated.
                let mut lines: Vec<(String, Vec<String>)> = Vec::new();
                for t in &step.tools {
                    match lines.iter_mut().find(|(d, _)| d == t.description()) {
                        Some((_, calls)) => calls.push(t.label()),
                        None => lines.push((t.description().to_string(), vec![t.label()])),
                    }
                }
                let names: Vec<String> = step.tools.iter().map(|t| t.label()).collect();
                let lines: Vec<String> = lines
                    .iter()
                    .map(|(d, calls)| format!("- {}: {d}", calls.join(", ")))
                    .collect();
                if lines.is_empty() {
                    (None, None, None)
                } else {
                    (
                        r(lines.join("\n"), vec![]),
                        r(format!("Tools used: {}", names.join(", ")), vec![]),
                        None,
                    )
                }
            }
            ContextSource::Dataset => {
                let d = inputs.dataset;
                let rendered = dataset_renderings(d);
                (
                    r(rendered.0.clone(), vec![]),
                    r(rendered.1.clone(), vec![]),
                    r(format!("dataset (loaded): {} rows", d.rows()), vec![]),
                )
            }
            ContextSource::Results => {
                if inputs.own.is_empty() {
                    (None, None, None)
                } else {
                    let own: Vec<&Fact> = inputs.own.iter().flat_map(|(_, o)| o.facts.iter()).collect();
                    facts.extend(own.iter().copied());
                    let tables: Vec<String> = inputs
                        .own
                        .iter()
                        .map(|(r, o)| output_table(*r, o).to_string())
                        .collect();
                    let key_facts: Vec<&Fact> =
                        unique_by_key(own.iter().copied().filter(|f| f.priority <= Priority::Important));
                    let refs: Vec<String> = inputs
                        .own
                        .iter()
                        .map(|(r, o)| format!("{} → {}", o.call.label(), r.short()))
                        .collect();
                    (
                        r(tables.join("\n\n"), keys(unique_by_key(own.iter().copied()))),
                        r(statements(key_facts.iter().copied()), keys(key_facts.iter().copied())),
                        r(refs.join("\n"), vec![]),
                    )
                }
            }
            ContextSource::Step(id) => match inputs.upstream.iter().find(|u| u.step == id) {
                None => (None, None, None),
                Some(out) => {
                    facts.extend(out.facts);
                    let critical: Vec<&Fact> = out.facts.iter().filter(|f| f.priority == Priority::Critical).collect();
                    // The engine's exact figures reach the step whatever the earlier model
                    // wrote: those its answer lacks go first, the answer beside them.
                    let lacking = fact_check::missing(out.answer, critical.iter().copied());
                    // A line stating a figure the earlier model made up is not passed on.
                    let kept_lines: Vec<&str> = out
                        .answer
                        .lines()
                        .filter(|l| !fact_check::states_any(l, out.unsupported))
                        .collect();
                    let answer = kept_lines.join("\n");
                    let answer = answer.trim();
                    let full = if lacking.is_empty() {
                        answer.to_string()
                    } else {
                        format!(
                            "Exact figures (computed from the data):\n{}\n\nThe {id} analyst wrote:\n{answer}",
                            statements(lacking.iter().copied())
                        )
                    };
                    let mut carried: Vec<&Fact> = critical.clone();
                    carried.extend(out.facts.iter().filter(|f| out.answer_facts.contains(&f.key)));
                    let summary = (!critical.is_empty()).then(|| statements(critical.iter().copied()));
                    (
                        r(full, keys(unique_by_key(carried))),
                        summary.and_then(|s| r(s, keys(critical.iter().copied()))),
                        r(format!("output of {id}: {}", out.reference.short()), vec![]),
                    )
                }
            },
            ContextSource::Memory if inputs.memory.is_empty() => (None, None, None),
            ContextSource::Memory => {
                let all = format!("Insights from earlier analyses:\n{}", inputs.memory.join("\n"));
                let best = format!("Insight from an earlier analysis:\n{}", inputs.memory[0]);
                (
                    r(all, vec![]),
                    (inputs.memory.len() > 1).then(|| r(best, vec![])).flatten(),
                    None,
                )
            }
        };
        items.push(ContextItem {
            key: def.key.clone(),
            source: def.source.clone(),
            priority: def.priority,
            full,
            summary,
            reference,
        });
    }
    // Most stable first, so a provider's prompt cache can serve the longest prefix.
    let sources: Vec<&ContextSource> = items.iter().map(|i| &i.source).collect();
    let order = layout_order(&sources);
    let mut slots: Vec<Option<ContextItem>> = items.into_iter().map(Some).collect();
    let items = order.into_iter().filter_map(|i| slots[i].take()).collect();
    let facts = unique_by_key(facts).into_iter().cloned().collect();
    ContextBundle { items, facts }
}
