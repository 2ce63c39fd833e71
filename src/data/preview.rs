//! A frame's first rows as aligned text, for the cache inspector and `cache show`.

use polars::prelude::{AnyValue, DataFrame};

/// The header and the first `rows` rows, columns right-aligned and separated by ` │ `.
pub fn preview_lines(frame: &DataFrame, rows: usize) -> Vec<String> {
    let frame = frame.head(Some(rows));
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
    lines
}
