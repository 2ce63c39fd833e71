//! The cache inspector's content: a dataset as a table, a result as aligned tables of its
//! lists and its figures rounded as a reader wants them, a step output as its answer and
//! exact prompt.

use super::app::Message;
use crate::cache::{ResultStore, StoredValue};
use crate::data::first_rows::first_rows_table;
use crate::format::grouped;
use crate::reference::Reference;

/// Rows of a dataset shown in the inspector.
const FIRST_ROWS: usize = 200;

pub fn inspect(store: &ResultStore, reference: &Reference) -> Message {
    let Some(value) = store.peek(reference) else {
        return Message::Notice(format!("{} is no longer cached", reference.short()));
    };
    let (title, lines) = match value {
        StoredValue::Dataset(d) => {
            let lines = first_rows_table(&d.frame, FIRST_ROWS);
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
            let mut lines = Vec::new();
            // A series reads best as a picture first: revenue per period, oldest first.
            if let Some(points) = t.result.get("points").and_then(|p| p.as_array()) {
                let revenue: Vec<f64> = points
                    .iter()
                    .filter_map(|p| p.get("revenue").and_then(|r| r.as_f64()))
                    .collect();
                let label = |p: Option<&serde_json::Value>| {
                    p.and_then(|p| p.get("label"))
                        .and_then(|l| l.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                if revenue.len() > 1 {
                    lines.push(format!(
                        "revenue {} {} to {}",
                        super::panes::history::sparkline(&revenue),
                        label(points.first()),
                        label(points.last())
                    ));
                }
            }
            lines.extend(result_lines(&t.result));
            (format!("{} · {}", t.call.label(), reference.short()), lines)
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
    Message::Inspect { title, lines }
}

/// A number as a reader wants it: whole numbers as they are, others to two decimals, both
/// with thousands separators.
fn figure(n: &serde_json::Number) -> String {
    match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => grouped(i as f64),
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => grouped(f),
        (None, Some(f)) if f.is_finite() => {
            // Rounded first, so 37.998 is 38.00, not 37 and a carried 1.00.
            let text = format!("{:.2}", f.abs());
            let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
            let digits: Vec<char> = whole.chars().collect();
            let mut grouped_whole = String::new();
            for (i, d) in digits.iter().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped_whole.push(',');
                }
                grouped_whole.push(*d);
            }
            let sign = if f < 0.0 && text != "0.00" { "-" } else { "" };
            format!("{sign}{grouped_whole}.{cents}")
        }
        _ => n.to_string(),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => figure(n),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A tool's result for reading: its scalars as `key: value`, each list of records as an
/// aligned table (numbers right-aligned and rounded), nested objects indented.
pub fn result_lines(value: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    write_value(value, "", &mut out);
    out
}

fn write_value(value: &serde_json::Value, indent: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    let Value::Object(map) = value else {
        out.push(format!("{indent}{}", scalar(value)));
        return;
    };
    for (key, v) in map {
        match v {
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                out.push(String::new());
                out.push(format!("{indent}{key} ({} rows)", items.len()));
                table(items, &format!("{indent}  "), out);
            }
            Value::Array(items) => {
                let shown: Vec<String> = items.iter().map(scalar).collect();
                out.push(format!("{indent}{key}: {}", shown.join(", ")));
            }
            Value::Object(_) => {
                out.push(format!("{indent}{key}:"));
                write_value(v, &format!("{indent}  "), out);
            }
            other => out.push(format!("{indent}{key}: {}", scalar(other))),
        }
    }
}

fn table(items: &[serde_json::Value], indent: &str, out: &mut Vec<String>) {
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        for k in item.as_object().into_iter().flat_map(|o| o.keys()) {
            if !columns.contains(&k.as_str()) {
                columns.push(k);
            }
        }
    }
    let cells: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| item.get(*c).map_or(String::new(), scalar))
                .collect()
        })
        .collect();
    let numeric: Vec<bool> = columns
        .iter()
        .map(|c| {
            items
                .iter()
                .all(|i| i.get(*c).is_none_or(|v| v.is_number() || v.is_null()))
        })
        .collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|j| {
            cells
                .iter()
                .map(|r| r[j].chars().count())
                .chain([columns[j].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let row = |values: Vec<&str>| -> String {
        let parts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                if numeric[j] {
                    format!("{v:>w$}", w = widths[j])
                } else {
                    format!("{v:<w$}", w = widths[j])
                }
            })
            .collect();
        format!("{indent}{}", parts.join("  ").trim_end())
    };
    out.push(row(columns.clone()));
    for r in &cells {
        out.push(row(r.iter().map(String::as_str).collect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_as_tables_with_rounded_figures() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"dimension":"brand","members":[{"member":"Coca-Cola","profit":258663.3,"margin_pct":41.93785854989707},
                {"member":"Red Bull","profit":-3649.0,"margin_pct":62.0}],"totals":{"revenue":3272396.25}}"#,
        )
        .unwrap();
        let lines = result_lines(&v);
        assert_eq!(lines[0], "dimension: brand");
        assert_eq!(lines[2], "members (2 rows)");
        assert_eq!(lines[3], "  member         profit  margin_pct");
        assert_eq!(lines[4], "  Coca-Cola  258,663.30       41.94");
        assert_eq!(lines[5], "  Red Bull       -3,649          62");
        assert_eq!(lines[6], "totals:");
        assert_eq!(lines[7], "  revenue: 3,272,396.25");
        let n = |x: f64| figure(&serde_json::Number::from_f64(x).unwrap());
        assert_eq!(
            (n(37.998), n(-0.004), n(1234567.891)),
            ("38.00".into(), "0.00".into(), "1,234,567.89".into())
        );
    }
}
