//! The baseline: what the original sequential pipeline sends, built honestly so the
//! savings are measured against the real thing, not a strawman.
//!
//! # How the baseline prompt of step *k* is built
//! Steps are taken in flow order, counting only steps that ran. Step *k*'s prompt is:
//!
//! 1. its own message: persona (role, goal, backstory), task, and its tools' descriptions;
//! 2. the data as the original loading tool returned it: pandas' `describe(include='all')`
//!    of every column followed by the first 20 rows (`head(20)`), printed the way pandas
//!    prints them (80-column wrapping); never the whole file;
//! 3. every tool output of steps 1..k (its own included, as the agent reads its tool calls'
//!    results), in full, as compact JSON (what `str(dict)` of the result would carry);
//!    the loading tool's output is item 2, counted once;
//! 4. the history: the messages (item 1) and answers of steps 1..k-1.
//!
//! Each part appears once per prompt; nothing is counted twice within a prompt.

use std::path::Path;

use polars::prelude::*;

use crate::flow::StepDef;
use crate::reference::Reference;
use crate::tools::ToolCall;

/// A step that ran, as the baseline needs it.
pub struct BaselineStep<'a> {
    pub step: &'a StepDef,
    /// Tool calls and their results.
    pub outputs: Vec<(&'a ToolCall, &'a serde_json::Value)>,
    pub answer: &'a str,
}

/// The step's own message: persona, task, tools.
pub fn message(step: &StepDef) -> String {
    let a = &step.agent;
    let mut out = format!(
        "You are {}. Your goal: {}. {}\n\nTask: {}",
        a.role, a.goal, a.backstory, step.task
    );
    if !step.tools.is_empty() {
        out.push_str("\n\nTools:");
        for t in &step.tools {
            out.push_str(&format!("\n- {}: {}", t.label(), t.description()));
        }
    }
    out
}

/// The baseline prompt of every step, in order.
pub fn prompts(steps: &[BaselineStep<'_>], data_text: &str) -> Vec<String> {
    (0..steps.len()).map(|k| prompt(steps, k, data_text)).collect()
}

/// The baseline prompt of step `k`: its message, the data, every tool output so far and the
/// answers of the steps before it (step `k`'s own answer is not read).
pub fn prompt(steps: &[BaselineStep<'_>], k: usize, data_text: &str) -> String {
    let mut p = message(steps[k].step);
    p.push_str("\n\nData:\n");
    p.push_str(data_text);
    for s in &steps[..=k] {
        for (call, result) in &s.outputs {
            if matches!(call, ToolCall::LoadData) {
                continue;
            }
            p.push_str(&format!("\n\nTool output {}:\n{}", call.label(), result));
        }
    }
    for s in &steps[..k] {
        p.push_str(&format!(
            "\n\nEarlier task ({}):\n{}\n\nAnswer:\n{}",
            s.step.id,
            message(s.step),
            s.answer
        ));
    }
    p
}

/// Where a dataset's preview is kept: it is the same for the same bytes.
pub fn preview_key(dataset: &Reference) -> Reference {
    Reference::of_parts([b"baseline-preview/v1".as_slice(), dataset.to_string().as_bytes()])
}

/// `df.describe(include='all')` and `df.head(20)` of the whole file, printed as pandas does:
/// read as the loader reads it (its dialect and encoding; a large file in batches, added up
/// as they pass), for a report whose preview was not kept.
pub fn data_preview(path: &Path) -> PolarsResult<String> {
    use crate::data::{LoadOptions, WholeBatch, load};
    if crate::data::warehouse::is_warehouse(path) {
        let figures = crate::data::warehouse::describe_table(path, None)
            .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
        return Ok(super::pandas::describe_figures(&figures));
    }
    let mut preview = super::describe::FilePreview::default();
    load(
        path,
        &[],
        &LoadOptions::default(),
        None,
        Some(&mut |b: WholeBatch<'_>| preview.add(b.frame, b.first)),
    )
    .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
    preview.text()
}

#[cfg(test)]
mod tests {
    use super::data_preview;

    #[test]
    fn preview_describes_every_column_and_shows_twenty_rows() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_sales.csv");
        let text = data_preview(&path).unwrap();
        assert!(text.contains("sale_date"));
        // units_sold: 8 values, mean 17.5.
        assert!(text.contains("17.500000"), "{text}");
        assert!(text.contains("count"));
        assert!(text.lines().any(|l| l.starts_with("7 ")), "{text}");
    }
}
