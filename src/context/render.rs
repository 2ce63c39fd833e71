//! Compact text renderings of results and data that keep their meaning: tables instead of
//! JSON, numbers rounded sensibly (`422718.16000000003` becomes `422718`).

use serde_json::Value;

use crate::data::Dataset;
use crate::format::grouped;
use crate::tools::profile::DataProfile;

/// A number with as few characters as its size allows: integers from 1,000 up, one decimal
/// from 10, two below; trailing zeros trimmed.
pub fn compact_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let places = if x.abs() >= 1000.0 || x.fract() == 0.0 {
        0
    } else if x.abs() >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{x:.places$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("-".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => n.as_f64().map(compact_number),
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            Some(items.iter().filter_map(scalar).collect::<Vec<_>>().join(","))
        }
        _ => None,
    }
}

/// A JSON result as compact text: scalar fields on one line, nested objects as
/// `name: k=v`, arrays of objects as `|`-separated tables with a header.
pub fn render_json(title: &str, value: &Value) -> String {
    let mut out = format!("{title}\n");
    let Value::Object(map) = value else {
        out.push_str(&scalar(value).unwrap_or_default());
        return out;
    };
    let scalars: Vec<String> = map
        .iter()
        .filter_map(|(k, v)| scalar(v).map(|s| format!("{k}={s}")))
        .collect();
    if !scalars.is_empty() {
        out.push_str(&scalars.join("; "));
        out.push('\n');
    }
    for (k, v) in map {
        match v {
            Value::Object(inner) => {
                let fields: Vec<String> = inner
                    .iter()
                    .filter_map(|(ik, iv)| scalar(iv).map(|s| format!("{ik}={s}")))
                    .collect();
                out.push_str(&format!("{k}: {}\n", fields.join("; ")));
            }
            Value::Array(rows) if rows.iter().any(Value::is_object) => out.push_str(&table(k, rows)),
            _ => {}
        }
    }
    out.trim_end().to_string()
}

fn table(name: &str, rows: &[Value]) -> String {
    let Some(Value::Object(first)) = rows.first() else {
        return String::new();
    };
    let columns: Vec<&String> = first
        .iter()
        .filter(|(_, v)| scalar(v).is_some())
        .map(|(k, _)| k)
        .collect();
    let mut out = format!(
        "{name} ({} rows): {}\n",
        rows.len(),
        columns.iter().map(|c| c.as_str()).collect::<Vec<_>>().join("|")
    );
    for row in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| row.get(c.as_str()).and_then(scalar).unwrap_or_default())
            .collect();
        out.push_str(&cells.join("|"));
        out.push('\n');
    }
    out
}

/// A dataset as shape, the columns the flow reads with their types and compact statistics,
/// and the names of the rest: what an agent needs to reason about the data without seeing it.
pub fn dataset_full(dataset: &Dataset, profile: &DataProfile) -> String {
    let mut out = shape_line(dataset);
    let stats: Vec<String> = profile
        .columns
        .iter()
        .map(|c| {
            let t = short_type(&c.dtype);
            match (c.distinct, c.min, c.mean, c.max) {
                (Some(n), ..) => format!("{} {t} {n} distinct", c.name),
                (None, Some(lo), Some(mean), Some(hi)) => {
                    format!(
                        "{} {t} {}..{} mean {}",
                        c.name,
                        compact_number(lo),
                        compact_number(hi),
                        compact_number(mean)
                    )
                }
                _ => format!("{} {t}", c.name),
            }
        })
        .collect();
    out.push_str(&format!("\n{}", stats.join("; ")));
    let others: Vec<&str> = dataset
        .file_columns
        .iter()
        .filter(|c| !profile.columns.iter().any(|p| &p.name == *c))
        .map(String::as_str)
        .collect();
    if !others.is_empty() {
        out.push_str(&format!("\nother columns: {}", others.join(", ")));
    }
    if let (Some(a), Some(b)) = (&profile.first_date, &profile.last_date) {
        out.push_str(&format!("\nperiod: {a} to {b}"));
    }
    out
}

fn shape_line(dataset: &Dataset) -> String {
    let name = crate::data::source_name(&dataset.path);
    format!(
        "{name} (loaded): {} rows x {} columns",
        grouped(dataset.rows() as f64),
        dataset.file_columns.len()
    )
}

/// Shape and column names only.
pub fn dataset_shape(dataset: &Dataset) -> String {
    format!("{} ({})", shape_line(dataset), dataset.file_columns.join(", "))
}

fn short_type(dtype: &str) -> &str {
    match dtype {
        "f64" | "Float64" => "float",
        "i64" | "Int64" => "int",
        "str" | "String" => "text",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_by_size() {
        assert_eq!(compact_number(422718.16000000003), "422718");
        assert_eq!(compact_number(41.87), "41.9");
        assert_eq!(compact_number(1.2149), "1.21");
        assert_eq!(compact_number(3.0), "3");
        assert_eq!(compact_number(-0.001), "0");
        assert_eq!(compact_number(10.04), "10");
    }

    #[test]
    fn json_renders_as_scalars_and_tables() {
        let v = serde_json::json!({
            "dimension": "brand",
            "totals": {"revenue": 1000.0, "profit": 310.0},
            "members": [
                {"member": "C", "revenue": 300.0, "margin_pct": 60.0},
                {"member": "A", "revenue": 300.0, "margin_pct": 40.0}
            ],
            "top_by_profit": "C"
        });
        let text = render_json("profitability(by=brand)", &v);
        assert_eq!(
            text,
            "profitability(by=brand)\ndimension=brand; top_by_profit=C\ntotals: revenue=1000; profit=310\n\
             members (2 rows): member|revenue|margin_pct\nC|300|60\nA|300|40"
        );
    }
}
