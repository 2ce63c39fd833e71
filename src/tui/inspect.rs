//! The cache inspector's content: a dataset as a table, a result as pretty JSON, a step
//! output as its answer and exact prompt.

use super::app::Action;
use crate::cache::{Reference, ResultStore, StoredValue};
use crate::data::preview::preview_lines;
use crate::tools::format::grouped;

/// Rows of a dataset shown in the inspector.
const PREVIEW_ROWS: usize = 200;

pub fn inspect(store: &ResultStore, reference: &Reference) -> Action {
    let Some(value) = store.peek(reference) else {
        return Action::Notice(format!("{} is no longer cached", reference.short()));
    };
    let (title, lines) = match value {
        StoredValue::Dataset(d) => {
            let lines = preview_lines(&d.frame, PREVIEW_ROWS);
            let title = match &d.profile.grouped {
                // A file read in batches is held as its sums by key.
                Some(_) => format!(
                    "dataset {} · {} rows summed into {} by key (first {} shown)",
                    reference.short(),
                    grouped(d.rows() as f64),
                    grouped(d.frame.height() as f64),
                    lines.len() - 1
                ),
                None => format!(
                    "dataset {} · {} rows (first {} shown)",
                    reference.short(),
                    grouped(d.rows() as f64),
                    lines.len() - 1
                ),
            };
            (title, lines)
        }
        StoredValue::ToolOutput(t) => {
            let json = serde_json::to_string_pretty(&t.result).unwrap_or_default();
            (
                format!("{} · {}", t.call.label(), reference.short()),
                json.lines().map(String::from).collect(),
            )
        }
        StoredValue::StepOutput(o) => {
            let mut lines: Vec<String> = o.answer.lines().map(String::from).collect();
            lines.push(String::new());
            lines.push(format!("── prompt ({} tokens) ──", o.context.pruned.tokens));
            lines.extend(o.context.pruned.prompt.lines().map(String::from));
            (format!("step {} output · {}", o.step, reference.short()), lines)
        }
        StoredValue::Summary(s) => (
            format!("{} · {}", s.producer, reference.short()),
            s.text.lines().map(String::from).collect(),
        ),
    };
    Action::Inspect { title, lines }
}
