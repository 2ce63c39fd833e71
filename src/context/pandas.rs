//! pandas, as the naive pipeline prints data: `describe(include='all')` of every column
//! (count, unique, top, freq, mean, std, min, quartiles by linear interpolation, max) and
//! `head(20)`, in pandas' 80-column wrapped tables. The baseline pastes this text
//! (`baseline`), so its token count is the real pipeline's; `describe` adds it up for a file
//! read in batches, and a warehouse's figures are printed here too.

use polars::prelude::*;

use super::value_counts::ValueCounts;
use crate::data::dictionary::Dictionary;

/// The preview of a frame holding every column of the file.
pub fn describe(frame: &DataFrame) -> PolarsResult<String> {
    let names: Vec<String> = frame.get_column_names().iter().map(|c| c.to_string()).collect();

    // Each column is a pass of its own (a selection for the quartiles, a hash table for the
    // text): they run side by side.
    let describe = crate::parallel::map(frame.columns(), |c| {
        describe_column(c.as_materialized_series(), STAT_ROWS.len())
    })
    .into_iter()
    .collect::<PolarsResult<Vec<_>>>()?;
    let index: Vec<String> = STAT_ROWS.iter().map(|s| s.to_string()).collect();
    let mut out = pandas_table(&names, &index, &describe);
    out.push_str("\n\n");
    out.push_str(&head_table(&frame.head(Some(20))));
    Ok(out)
}

/// The preview of a warehouse relation, printed as [`describe`] prints a file's, from the
/// figures its aggregate statements gave.
pub fn describe_figures(figures: &crate::data::warehouse::TableFigures) -> String {
    use crate::data::warehouse::{ColumnFigures, Quartiles};
    let shown = |x: Option<f64>| x.map_or_else(|| "NaN".to_string(), |x| format!("{x:.6}"));
    let cells: Vec<Vec<String>> = figures
        .columns
        .iter()
        .map(|c| {
            let mut cells = vec!["NaN".to_string(); STAT_ROWS.len()];
            match c {
                ColumnFigures::Numbers {
                    count,
                    mean,
                    std,
                    min,
                    quartiles,
                    max,
                } => {
                    if *count > 0 {
                        let quartiles = match quartiles {
                            Quartiles::Counts(counts) if !counts.is_empty() => {
                                let n = counts.iter().map(|(_, c)| c).sum();
                                let (q1, q2, q3) = quartiles_of_counts(counts, n);
                                [Some(q1), Some(q2), Some(q3)]
                            }
                            Quartiles::Counts(_) => [None; 3],
                            Quartiles::Interpolated(q) => *q,
                        };
                        let numbers = [
                            Some(*count as f64),
                            *mean,
                            *std,
                            *min,
                            quartiles[0],
                            quartiles[1],
                            quartiles[2],
                            *max,
                        ];
                        for (i, x) in numbers.iter().enumerate() {
                            cells[if i == 0 { 0 } else { i + 3 }] = shown(*x);
                        }
                    }
                }
                ColumnFigures::Text { count, unique, top } => {
                    cells[0] = count.to_string();
                    cells[1] = unique.to_string();
                    let (top, freq) = top.clone().unwrap_or_else(|| ("NaN".into(), 0));
                    cells[2] = top;
                    cells[3] = freq.to_string();
                }
            }
            cells
        })
        .collect();
    let index: Vec<String> = STAT_ROWS.iter().map(|s| s.to_string()).collect();
    let mut out = pandas_table(&figures.names, &index, &cells);
    out.push_str("\n\n");
    out.push_str(&head_table(&figures.head));
    out
}

/// describe(include='all')'s rows: count, unique, top, freq, mean, std, min, 25%, 50%,
/// 75%, max.
pub(super) const STAT_ROWS: [&str; 11] = [
    "count", "unique", "top", "freq", "mean", "std", "min", "25%", "50%", "75%", "max",
];

/// `head` printed as pandas prints `df.head(20)`.
pub(super) fn head_table(head: &DataFrame) -> String {
    let names: Vec<String> = head.get_column_names().iter().map(|c| c.to_string()).collect();
    let rows = head.height();
    let mut columns: Vec<Vec<String>> = Vec::new();
    for column in head.columns() {
        let s = column.as_materialized_series();
        columns.push(
            (0..rows)
                .map(|i| {
                    s.get(i)
                        .map(|v| v.to_string().trim_matches('"').to_string())
                        .unwrap_or_default()
                })
                .collect(),
        );
    }
    let index: Vec<String> = (0..rows).map(|i| i.to_string()).collect();
    pandas_table(&names, &index, &columns)
}

/// One column of describe(include='all'): count, mean, std, min, quartiles and max of
/// numbers; count, unique, top and freq of the rest; `NaN` where pandas prints it.
fn describe_column(s: &Series, stats: usize) -> PolarsResult<Vec<String>> {
    let mut cells = vec!["NaN".to_string(); stats];
    if s.dtype().is_primitive_numeric() {
        let floats = s.cast(&DataType::Float64)?;
        let floats = floats.f64()?;
        let mut v: Vec<f64> = Vec::with_capacity(floats.len() - floats.null_count());
        for chunk in floats.downcast_iter() {
            match chunk.validity().filter(|valid| valid.unset_bits() > 0) {
                None => v.extend_from_slice(chunk.values().as_slice()),
                Some(valid) => v.extend(
                    chunk
                        .values()
                        .iter()
                        .zip(valid.iter())
                        .filter(|(_, ok)| *ok)
                        .map(|(x, _)| *x),
                ),
            }
        }
        if v.is_empty() {
            return Ok(cells);
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let (q1, q2, q3, min, max) = quartiles_by_counting(&v, COUNTING_LIMIT).unwrap_or_else(|| quartiles(&mut v));
        let numbers = [n, mean, std, min, q1, q2, q3, max];
        for (i, x) in numbers.iter().enumerate() {
            cells[if i == 0 { 0 } else { i + 3 }] = format!("{x:.6}");
        }
    } else {
        // The top is the most frequent value, the first seen among equals (the lowest code).
        let text = s.str()?;
        let dictionary = Dictionary::of(text);
        let counts = dictionary.counts();
        let present = text.len() - text.null_count();
        let unique = dictionary.values.iter().flatten().count();
        let (top, freq) = dictionary
            .values
            .iter()
            .zip(&counts)
            .filter_map(|(v, n)| v.map(|v| (v, *n)))
            .fold(None, |best: Option<(&str, usize)>, (v, n)| match best {
                Some((_, m)) if m >= n => best,
                _ => Some((v, n)),
            })
            .unwrap_or(("NaN", 0));
        cells[0] = present.to_string();
        cells[1] = unique.to_string();
        cells[2] = top.to_string();
        cells[3] = freq.to_string();
    }
    Ok(cells)
}

/// Distinct values up to which a column's quartiles are read from each value's count
/// ([`quartiles_by_counting`]; a file read in batches counts them up to it too).
pub(super) const COUNTING_LIMIT: usize = 1 << 16;

/// What [`quartiles`] gives, for a column of few distinct values (years, months, units,
/// prices): each distinct value counted, then the order positions read off the running
/// counts; one counting pass ([`ValueCounts`]) and a sort of the distinct values, instead
/// of three selections. `None` when more values follow `limit` distinct ones, or for a NaN
/// or a negative zero, where the selection's order and minimum are kept.
fn quartiles_by_counting(v: &[f64], limit: usize) -> Option<(f64, f64, f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let mut counts = ValueCounts::default();
    if counts.add_while(v, limit) < v.len() {
        return None;
    }
    let distinct = counts.into_ascending();
    let (q1, q2, q3) = quartiles_of_counts(&distinct, v.len());
    Some((q1, q2, q3, distinct.first()?.0, distinct.last()?.0))
}

/// The quartiles (pandas' linear interpolation) of `count` values from each distinct
/// value's count, in ascending order of the values; `count` is at least 1.
pub(super) fn quartiles_of_counts(distinct: &[(f64, usize)], count: usize) -> (f64, f64, f64) {
    // The order position one past each distinct value's last.
    let ends: Vec<usize> = distinct
        .iter()
        .scan(0, |end, (_, n)| {
            *end += n;
            Some(*end)
        })
        .collect();
    interpolated_quartiles(count, |k| distinct[ends.partition_point(|&end| end <= k)].0)
}

/// The quartiles (pandas' linear interpolation between neighbouring order positions) of
/// `count` values, given the value at each order position.
pub(super) fn interpolated_quartiles(count: usize, at: impl Fn(usize) -> f64) -> (f64, f64, f64) {
    let last = count - 1;
    let quantile = |p: f64| {
        let pos = p * last as f64;
        let (k, frac) = (pos.floor() as usize, pos - pos.floor());
        let a = at(k);
        if frac == 0.0 || k == last {
            a
        } else {
            a + (at(k + 1) - a) * frac
        }
    };
    (quantile(0.25), quantile(0.5), quantile(0.75))
}

/// The quartiles (pandas' linear interpolation), minimum and maximum of `v`, reordering
/// it. One selection for the median over the whole column, then one in each half for the
/// other quartiles; each interpolation's upper neighbour is the minimum of what lies above
/// the selected element. O(n), about two passes, instead of a sort.
pub(super) fn quartiles(v: &mut [f64]) -> (f64, f64, f64, f64, f64) {
    let last = v.len() - 1;
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in v.iter() {
        min = min.min(x);
        max = max.max(x);
    }
    let position = |p: f64| {
        let pos = p * last as f64;
        (pos.floor() as usize, pos - pos.floor())
    };
    let lowest = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
    // The value at order position `k` of `s` and of `k + 1` (if any), interpolated by `frac`.
    let at = |s: &mut [f64], k: usize, frac: f64| -> f64 {
        let (_, &mut a, above) = s.select_nth_unstable_by(k, f64::total_cmp);
        if frac == 0.0 || above.is_empty() {
            a
        } else {
            a + (lowest(above) - a) * frac
        }
    };
    let (k2, f2) = position(0.5);
    let q2 = at(v, k2, f2);
    let (k1, f1) = position(0.25);
    let q1 = if k1 < k2 {
        // Order positions below k2 are all in v[..k2]; k1 + 1 may be k2 itself.
        let (below, rest) = v.split_at_mut(k2);
        let (_, &mut a, above) = below.select_nth_unstable_by(k1, f64::total_cmp);
        let next = if above.is_empty() { rest[0] } else { lowest(above) };
        if f1 == 0.0 { a } else { a + (next - a) * f1 }
    } else {
        at(v, k1, f1)
    };
    let (k3, f3) = position(0.75);
    let q3 = if k3 > k2 {
        at(&mut v[k2 + 1..], k3 - k2 - 1, f3)
    } else {
        at(v, k3, f3)
    };
    (q1, q2, q3, min, max)
}

/// A table printed like pandas: right-aligned columns two spaces apart, wrapped into blocks
/// of at most 80 characters, each block repeating the index and marked with ` \` when more
/// follow.
pub(super) fn pandas_table(names: &[String], index: &[String], columns: &[Vec<String>]) -> String {
    const WIDTH: usize = 80;
    let index_width = index.iter().map(String::len).max().unwrap_or(0);
    let widths: Vec<usize> = names
        .iter()
        .zip(columns)
        .map(|(n, c)| {
            c.iter()
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
                .max(n.chars().count())
        })
        .collect();
    let mut blocks: Vec<Vec<usize>> = vec![vec![]];
    let mut line = index_width;
    for (i, w) in widths.iter().enumerate() {
        let current = blocks.last_mut().expect("one block");
        if !current.is_empty() && line + 2 + w > WIDTH {
            blocks.push(vec![]);
            line = index_width;
        }
        blocks.last_mut().expect("one block").push(i);
        line += 2 + w;
    }
    let mut out = Vec::new();
    for (b, block) in blocks.iter().enumerate() {
        let mut header = " ".repeat(index_width);
        for &c in block {
            header.push_str(&format!("  {:>w$}", names[c], w = widths[c]));
        }
        if b + 1 < blocks.len() {
            header.push_str("  \\");
        }
        out.push(header);
        for (r, idx) in index.iter().enumerate() {
            let mut row = format!("{idx:<index_width$}");
            for &c in block {
                row.push_str(&format!("  {:>w$}", columns[c][r], w = widths[c]));
            }
            out.push(row);
        }
        if b + 1 < blocks.len() {
            out.push(String::new());
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::{quartiles, quartiles_by_counting};

    /// pandas' quantile by linear interpolation over the sorted values, as a reference.
    fn reference(v: &[f64], p: f64) -> f64 {
        let mut sorted = v.to_vec();
        sorted.sort_by(f64::total_cmp);
        let pos = p * (sorted.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
    }

    #[test]
    fn quartiles_by_selection_equal_those_of_a_sort() {
        let mut seed = 7u64;
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 10, 11, 100, 1001] {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((seed >> 33) % 50) as f64 / 4.0
                })
                .collect();
            let (q1, q2, q3, min, max) = quartiles(&mut v.clone());
            assert_eq!(
                (q1, q2, q3, min, max),
                (
                    reference(&v, 0.25),
                    reference(&v, 0.5),
                    reference(&v, 0.75),
                    reference(&v, 0.0),
                    reference(&v, 1.0)
                ),
                "n = {n}"
            );
        }
    }

    #[test]
    fn quartiles_by_counting_equal_those_of_a_sort_or_decline() {
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for (n, distinct) in [
            (1usize, 1u64),
            (2, 2),
            (5, 3),
            (10, 10),
            (101, 7),
            (1000, 40),
            (4096, 300),
        ] {
            let v: Vec<f64> = (0..n).map(|_| (next() % distinct) as f64 * 0.37 - 5.0).collect();
            let counted = quartiles_by_counting(&v, 1 << 16).expect("few distinct values");
            assert_eq!(counted, quartiles(&mut v.clone()), "n = {n}, distinct = {distinct}");
        }
        let many: Vec<f64> = (0..5000).map(|i| i as f64).collect();
        assert_eq!(quartiles_by_counting(&many, 1000), None);
        assert_eq!(quartiles_by_counting(&[1.0, f64::NAN], 10), None);
        assert_eq!(quartiles_by_counting(&[1.0, -0.0], 10), None);
        assert_eq!(quartiles_by_counting(&[], 10), None);
    }

    use super::*;

    /// count, unique, top and freq as pandas defines them, by the plainest means.
    fn naive_text_stats(values: &[Option<&str>]) -> Vec<String> {
        let present: Vec<&str> = values.iter().flatten().copied().collect();
        let mut order: Vec<&str> = Vec::new();
        for v in &present {
            if !order.contains(v) {
                order.push(v);
            }
        }
        let count = |v: &str| present.iter().filter(|p| **p == v).count();
        // The most frequent; the first seen among equals.
        let top = order.iter().copied().fold(None, |best: Option<&str>, v| match best {
            Some(b) if count(b) >= count(v) => Some(b),
            _ => Some(v),
        });
        vec![
            present.len().to_string(),
            order.len().to_string(),
            top.unwrap_or("NaN").to_string(),
            top.map_or(0, count).to_string(),
        ]
    }

    #[test]
    fn text_columns_are_described_as_pandas_does() {
        let long_a = "Starbucks Cold Brew";
        let long_b = "Starbucks Cold Brew Oat";
        let cases: Vec<Vec<Option<&str>>> = vec![
            // A long value and a short one tie; the long one was seen first.
            vec![Some(long_a), Some("Evian"), Some("Evian"), Some(long_a), Some("Tea")],
            // Short ones tie; long ones sharing a prefix are told apart.
            vec![
                Some("b"),
                Some(long_b),
                Some("a"),
                Some(long_a),
                Some("a"),
                Some("b"),
                Some(long_b),
            ],
            // Missing values are not counted.
            vec![None, Some("x"), None, Some("twelve bytes"), Some("twelve bytes")],
            vec![None, None],
        ];
        for values in cases {
            let series = Series::new("c".into(), &values);
            let cells = describe_column(&series, 11).unwrap();
            assert_eq!(cells[..4].to_vec(), naive_text_stats(&values), "{values:?}");
        }
    }

    #[test]
    fn tables_wrap_like_pandas() {
        let names: Vec<String> = (0..6).map(|i| format!("column_number_{i}")).collect();
        let columns: Vec<Vec<String>> = (0..6).map(|i| vec![format!("{i}.5"), "NaN".into()]).collect();
        let t = pandas_table(&names, &["count".into(), "mean".into()], &columns);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].ends_with("  \\"));
        assert!(lines.iter().all(|l| l.len() <= 83), "{t}");
        assert!(lines[1].starts_with("count") && lines[1].ends_with(".5"), "{t}");
    }
}
