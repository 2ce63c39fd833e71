//! The baseline's `describe(include='all')` of a file read in batches: each column's
//! figures added up batch by batch, so a file too large to hold is described from what
//! passes. Counts, means, minima, maxima, text counts and the top are exact; standard
//! deviations come from running sums (equal to the two-pass figure to about 1e-12 of it);
//! quartiles are exact up to [`VALUE_LIMIT`] values of a column with many distinct values,
//! and past it within [`RELATIVE_ERROR`] of the value (said under the table).

use std::collections::BTreeMap;
use std::sync::Mutex;

use polars::prelude::*;

use crate::data::dictionary::Dictionary;

use super::pandas::{
    COUNTING_LIMIT, STAT_ROWS, head_table, interpolated_quartiles, pandas_table, quartiles, quartiles_of_counts,
};
use super::value_counts::ValueCounts;

/// Values of one column kept for exact quartiles (128 MiB of them); past it, the column's
/// values are counted in narrow ranges instead.
pub const VALUE_LIMIT: usize = 1 << 24;

/// Bits of a value's order key that name its range past [`VALUE_LIMIT`]: sign, exponent
/// and 12 bits of mantissa, so a range spans less than 2^-12 of the values in it.
const RANGE_BITS: u32 = 24;

/// How far an approximate quartile can be from the exact one, relative to the larger of
/// the two values it lies between: a range's width (2^-12).
pub const RELATIVE_ERROR: f64 = 1.0 / 4096.0;

/// describe(include='all') and head(20) of a file's batches, in file order.
pub struct Description {
    /// Values of a column kept for its quartiles ([`VALUE_LIMIT`]).
    value_limit: usize,
    names: Vec<String>,
    columns: Vec<Mutex<Figures>>,
    head: Option<DataFrame>,
}

enum Figures {
    Numbers(Numbers),
    Text(Text),
}

#[derive(Default)]
struct Numbers {
    value_limit: usize,
    count: usize,
    /// The running sum in row order: the mean is what one pass over the column gives.
    sum: f64,
    /// Sums of each value less the first, and of their squares, for the deviation.
    shift: Option<f64>,
    shifted: f64,
    squares: f64,
    min: f64,
    max: f64,
    order: Order,
}

/// What the quartiles are read from.
enum Order {
    /// Each distinct value's count, while there are few.
    Counts(ValueCounts),
    /// Every value.
    Values(Vec<f64>),
    /// Counts, least and greatest value of each narrow range of values.
    Ranges(BTreeMap<u64, (usize, f64, f64)>),
}

impl Default for Order {
    fn default() -> Order {
        Order::Counts(ValueCounts::default())
    }
}

#[derive(Default)]
struct Text {
    present: usize,
    /// Each value's count and the position it was first seen at.
    counts: PlHashMap<String, (usize, usize)>,
}

/// The baseline's preview of what a loader shows of a file (`WholeBatch`es): a file read
/// whole is described whole ([`super::pandas::describe`]); a file read in batches is
/// added up as they pass. A read given up on (its batches start again) is forgotten.
#[derive(Default)]
pub struct FilePreview {
    /// The read's first batch, described whole if no other follows.
    first: Option<DataFrame>,
    batches: Option<Description>,
    failed: Option<PolarsError>,
}

impl FilePreview {
    pub fn add(&mut self, batch: &DataFrame, first: bool) {
        if first {
            *self = FilePreview {
                first: Some(batch.clone()),
                ..FilePreview::default()
            };
            return;
        }
        let description = self.batches.get_or_insert_with(Description::new);
        let added = match self.first.take() {
            Some(first) => description.add(&first).and_then(|_| description.add(batch)),
            None => description.add(batch),
        };
        if let Err(e) = added {
            self.failed.get_or_insert(e);
        }
    }

    /// The preview; empty when nothing was shown.
    pub fn text(self) -> PolarsResult<String> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match (self.first, self.batches) {
            (Some(whole), _) => super::pandas::describe(&whole),
            (None, Some(description)) => Ok(description.text()),
            (None, None) => Ok(String::new()),
        }
    }
}

impl Default for Description {
    fn default() -> Description {
        Description {
            value_limit: VALUE_LIMIT,
            names: Vec::new(),
            columns: Vec::new(),
            head: None,
        }
    }
}

impl Description {
    pub fn new() -> Description {
        Description::default()
    }

    /// Adds a batch: every column of the next rows of the file.
    pub fn add(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        if self.head.is_none() {
            self.names = batch.get_column_names().iter().map(|c| c.to_string()).collect();
            self.columns = batch
                .columns()
                .iter()
                .map(|c| {
                    Mutex::new(if c.dtype().is_primitive_numeric() {
                        Figures::Numbers(Numbers {
                            value_limit: self.value_limit,
                            min: f64::INFINITY,
                            max: f64::NEG_INFINITY,
                            ..Numbers::default()
                        })
                    } else {
                        Figures::Text(Text::default())
                    })
                })
                .collect();
        }
        let head = self.head.get_or_insert_with(|| batch.head(Some(0)));
        if head.height() < 20 {
            let more = batch.head(Some(20 - head.height()));
            head.vstack_mut(&more)?;
        }
        let work: Vec<(&Mutex<Figures>, &Column)> = self.columns.iter().zip(batch.columns()).collect();
        crate::parallel::map(&work, |(figures, column)| {
            let mut figures = figures.lock().unwrap_or_else(|e| e.into_inner());
            match &mut *figures {
                Figures::Numbers(n) => n.add(column),
                Figures::Text(t) => t.add(column),
            }
        })
        .into_iter()
        .collect()
    }

    /// The table, as [`super::pandas::describe`] prints it, and a line under it for any
    /// column whose quartiles are approximate.
    pub fn text(self) -> String {
        let approximate: Vec<&str> = self
            .names
            .iter()
            .zip(&self.columns)
            .filter(|(_, f)| {
                matches!(
                    &*f.lock().unwrap_or_else(|e| e.into_inner()),
                    Figures::Numbers(Numbers {
                        order: Order::Ranges(_),
                        ..
                    })
                )
            })
            .map(|(n, _)| n.as_str())
            .collect();
        let note = (!approximate.is_empty()).then(|| {
            format!(
                "25%, 50% and 75% of {} are approximate (more than {} values): each within \
                 {:.3}% of the exact value.",
                approximate.join(", "),
                self.value_limit,
                RELATIVE_ERROR * 100.0
            )
        });
        let cells: Vec<Vec<String>> = self
            .columns
            .into_iter()
            .map(|f| match f.into_inner().unwrap_or_else(|e| e.into_inner()) {
                Figures::Numbers(n) => n.cells(),
                Figures::Text(t) => t.cells(),
            })
            .collect();
        let index: Vec<String> = STAT_ROWS.iter().map(|s| s.to_string()).collect();
        let mut out = pandas_table(&self.names, &index, &cells);
        if let Some(note) = note {
            out.push('\n');
            out.push_str(&note);
        }
        out.push_str("\n\n");
        if let Some(head) = &self.head {
            out.push_str(&head_table(head));
        }
        out
    }
}

impl Numbers {
    fn add(&mut self, column: &Column) -> PolarsResult<()> {
        let floats = column.cast(&DataType::Float64)?;
        for chunk in floats.f64()?.downcast_iter() {
            let values = chunk.values().as_slice();
            match chunk.validity().filter(|valid| valid.unset_bits() > 0) {
                None => self.add_values(values),
                Some(valid) => {
                    let present: Vec<f64> = values
                        .iter()
                        .zip(valid.iter())
                        .filter(|(_, ok)| *ok)
                        .map(|(x, _)| *x)
                        .collect();
                    self.add_values(&present);
                }
            }
        }
        Ok(())
    }

    fn add_values(&mut self, values: &[f64]) {
        let Some(&shift) = self.shift.as_ref().or(values.first()) else {
            return;
        };
        self.shift = Some(shift);
        self.count += values.len();
        for &x in values {
            self.sum += x;
            self.shifted += x - shift;
            self.squares += (x - shift) * (x - shift);
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.order.add_all(values, self.value_limit);
    }

    fn cells(self) -> Vec<String> {
        let mut cells = vec!["NaN".to_string(); STAT_ROWS.len()];
        if self.count == 0 {
            return cells;
        }
        let n = self.count as f64;
        let mean = self.sum / n;
        // A NaN among the values stays NaN, as in the two-pass figure.
        let variance = (self.squares - self.shifted * self.shifted / n) / (n - 1.0);
        let std = if variance < 0.0 { 0.0 } else { variance.sqrt() };
        let (q1, q2, q3) = self.order.quartiles(self.count);
        let numbers = [n, mean, std, self.min, q1, q2, q3, self.max];
        for (i, x) in numbers.iter().enumerate() {
            cells[if i == 0 { 0 } else { i + 3 }] = format!("{x:.6}");
        }
        cells
    }
}

/// A value's place in the order of all values (`f64::total_cmp`'s) as an unsigned number.
fn order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

impl Order {
    fn add_all(&mut self, values: &[f64], value_limit: usize) {
        let mut rest = values;
        while !rest.is_empty() {
            match self {
                Order::Counts(counts) => {
                    rest = &rest[counts.add_while(rest, COUNTING_LIMIT)..];
                    if !rest.is_empty() {
                        let distinct = std::mem::take(counts).into_ascending();
                        let mut kept: Vec<f64> = Vec::with_capacity(distinct.iter().map(|d| d.1).sum::<usize>() * 2);
                        for (value, n) in distinct {
                            kept.extend(std::iter::repeat_n(value, n));
                        }
                        *self = Order::Values(kept);
                    }
                }
                Order::Values(kept) => {
                    let room = value_limit.saturating_sub(kept.len()).min(rest.len());
                    kept.extend_from_slice(&rest[..room]);
                    rest = &rest[room..];
                    if !rest.is_empty() {
                        let mut ranges = BTreeMap::new();
                        for &v in kept.iter() {
                            add_to_range(&mut ranges, v);
                        }
                        *self = Order::Ranges(ranges);
                    }
                }
                Order::Ranges(ranges) => {
                    for &x in rest {
                        add_to_range(ranges, x);
                    }
                    rest = &[];
                }
            }
        }
    }

    fn quartiles(self, count: usize) -> (f64, f64, f64) {
        match self {
            Order::Counts(counts) => quartiles_of_counts(&counts.into_ascending(), count),
            Order::Values(mut values) => {
                let (q1, q2, q3, _, _) = quartiles(&mut values);
                (q1, q2, q3)
            }
            Order::Ranges(ranges) => {
                // Each range's values are taken as spread evenly from its least to its greatest.
                let ranges: Vec<(usize, f64, f64)> = ranges.into_values().collect();
                let ends: Vec<usize> = ranges
                    .iter()
                    .scan(0, |end, (n, _, _)| {
                        *end += n;
                        Some(*end)
                    })
                    .collect();
                let at = |k: usize| {
                    let r = ends.partition_point(|&end| end <= k);
                    let (n, lo, hi) = ranges[r];
                    let start = ends[r] - n;
                    if n == 1 {
                        lo
                    } else {
                        lo + (hi - lo) * (k - start) as f64 / (n - 1) as f64
                    }
                };
                interpolated_quartiles(count, at)
            }
        }
    }
}

fn add_to_range(ranges: &mut BTreeMap<u64, (usize, f64, f64)>, x: f64) {
    let range = ranges.entry(order_key(x) >> (64 - RANGE_BITS)).or_insert((0, x, x));
    range.0 += 1;
    range.1 = range.1.min(x);
    range.2 = range.2.max(x);
}

impl Text {
    /// The batch's distinct values (in the order first seen) and counts, then each added
    /// to the file's: a lookup per distinct value, not per row.
    fn add(&mut self, column: &Column) -> PolarsResult<()> {
        let text = column.cast(&DataType::String)?;
        let text = text.str()?;
        let dictionary = Dictionary::of(text);
        self.present += text.len() - text.null_count();
        for (value, n) in dictionary.values.iter().zip(dictionary.counts()) {
            let Some(value) = value else { continue };
            let seen = self.counts.len();
            match self.counts.get_mut(*value) {
                Some((count, _)) => *count += n,
                None => {
                    self.counts.insert(value.to_string(), (n, seen));
                }
            }
        }
        Ok(())
    }

    fn cells(self) -> Vec<String> {
        let mut cells = vec!["NaN".to_string(); STAT_ROWS.len()];
        // The most frequent value, the first seen among equals.
        let top = self
            .counts
            .iter()
            .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
            .map(|(v, (n, _))| (v.clone(), *n))
            .unwrap_or(("NaN".into(), 0));
        cells[0] = self.present.to_string();
        cells[1] = self.counts.len().to_string();
        cells[2] = top.0;
        cells[3] = top.1.to_string();
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(values: &[f64]) -> DataFrame {
        df! { "x" => values, "t" => values.iter().map(|v| format!("k{}", (*v as i64) % 7)).collect::<Vec<_>>() }
            .unwrap()
    }

    /// Many distinct values in three batches, against the whole column's describe().
    fn described(values: &[f64], value_limit: usize) -> (String, String) {
        let mut d = Description {
            value_limit,
            ..Description::default()
        };
        for part in values.chunks(values.len() / 3 + 1) {
            d.add(&frame(part)).unwrap();
        }
        (d.text(), super::super::pandas::describe(&frame(values)).unwrap())
    }

    fn row<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().skip(1).collect()
    }

    #[test]
    fn batches_describe_as_the_whole_column_does() {
        let mut seed = 3u64;
        let values: Vec<f64> = (0..30_000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 33) % 1_000_000) as f64 / 100.0 - 2000.0
            })
            .collect();
        let (batched, whole) = described(&values, VALUE_LIMIT);
        assert_eq!(batched, whole);
        // Few distinct values: counted.
        let few: Vec<f64> = values.iter().map(|v| v.round() % 12.0).collect();
        let (batched, whole) = described(&few, VALUE_LIMIT);
        assert_eq!(batched, whole);
    }

    #[test]
    fn past_the_value_limit_quartiles_are_within_the_stated_error_and_said_so() {
        let mut seed = 5u64;
        let values: Vec<f64> = (0..150_000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 20) % 10_000_000) as f64 / 1000.0 + 0.5
            })
            .collect();
        let (batched, whole) = described(&values, 1000);
        assert!(
            batched.contains("25%, 50% and 75% of x are approximate (more than 1000 values)"),
            "{batched}"
        );
        for stat in ["count", "mean", "std", "min", "max"] {
            assert_eq!(row(&batched, stat), row(&whole, stat), "{stat}");
        }
        for stat in ["25%", "50%", "75%"] {
            let a: f64 = row(&batched, stat)[0].parse().unwrap();
            let b: f64 = row(&whole, stat)[0].parse().unwrap();
            assert!((a - b).abs() <= RELATIVE_ERROR * b.abs(), "{stat}: {a} vs {b}");
        }
    }
}
