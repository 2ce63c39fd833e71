//! The cache inspector's content: a dataset as a table, a result as pretty JSON, a step
//! output as its answer and exact prompt.

use polars::prelude::AnyValue;

use super::app::Action;
use crate::cache::{Reference, ResultStore, StoredValue};
use crate::tools::format::grouped;

/// Rows of a dataset shown in the inspector.
const PREVIEW_ROWS: usize = 200;

pub fn inspect(store: &ResultStore, reference: &Reference) -> Action {
    let Some(value) = store.peek(reference) else {
        return Action::Notice(format!("{} is no longer cached", reference.short()));
    };
    let (title, lines) = match value {
        StoredValue::Dataset(d) => {
            let frame = d.frame.head(Some(PREVIEW_ROWS));
            let columns = frame.columns();
            let cells: Vec<Vec<String>> = columns
                .iter()
                .map(|c| {
                    let s = c.as_materialized_series();
                    (0..frame.height())
                        .map(|i| match s.get(i) {
                            Ok(AnyValue::String(v)) => v.to_string(),
                            Ok(v) => v.to_string(),
                            Err(_) => String::new(),
                        })
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = columns
                .iter()
                .zip(&cells)
                .map(|(c, v)| {
                    v.iter()
                        .map(|x| x.chars().count())
                        .max()
                        .unwrap_or(0)
                        .max(c.name().chars().count())
                })
                .collect();
            let row = |values: Vec<String>| -> String {
                values
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v:>w$}"))
                    .collect::<Vec<_>>()
                    .join(" │ ")
            };
            let mut lines = vec![row(columns.iter().map(|c| c.name().to_string()).collect())];
            for i in 0..frame.height() {
                lines.push(row(cells.iter().map(|c| c[i].clone()).collect()));
            }
            let title = format!(
                "dataset {} · {} rows (first {} shown)",
                reference.short(),
                grouped(d.rows() as f64),
                frame.height()
            );
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
    };
    Action::Inspect { title, lines }
}
