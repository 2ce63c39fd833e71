//! A frame's first rows as aligned text, for the cache inspector and `cache show`.

use polars::prelude::{AnyValue, DataFrame};

/// The header and the first `rows` rows, columns right-aligned and separated by ` │ `.
pub fn first_rows_table(frame: &DataFrame, rows: usize) -> Vec<String> {
    let frame = frame.head(Some(rows));
    let columns = frame.columns();
    let cells: Vec<Vec<String>> = columns
        .iter()
        .map(|c| {
            let s = c.as_materialized_series();
            (0..frame.height())
                .map(|i| match s.get(i) {
                    Ok(AnyValue::String(v)) => v.to_string(),
                    // polars writes large sums as `1.7946e8`; every digit is more use.
                    Ok(AnyValue::Float64(x)) if x.is_finite() && (x.abs() >= 1e6) => x.to_string(),
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

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    #[test]
    fn large_numbers_are_written_out() {
        let frame = df! { "revenue" => [179_460_012.25, 12.5] }.unwrap();
        let lines = super::first_rows_table(&frame, 10);
        assert_eq!(lines[1].trim(), "179460012.25");
        assert_eq!(lines[2].trim(), "12.5");
    }
}
