//! Grouped sums on polars, shared by the tools.

use polars::prelude::*;

use crate::data::Grouped;
pub use crate::data::coded::Key;
use crate::data::coded::{Coded, SCALE, cents_of, sums_by_codes};
use crate::reference::Reference;

/// One group: its keys (in the order asked) and the sums of the value columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub keys: Vec<Key>,
    pub sums: Vec<f64>,
}

/// The sum of a column in integer cents. Integer addition does not depend on the order
/// polars' parallel group-by happens to add partial sums in, so the same data always gives
/// bit-identical results (and so the same content references).
fn exact_sum(name: &str) -> Expr {
    cents(name).sum().alias(name)
}

/// A column in whole cents, rounded half away from zero.
fn cents(name: &str) -> Expr {
    let scaled = col(name) * lit(SCALE);
    let rounded = when(scaled.clone().gt_eq(lit(0.0)))
        .then(scaled.clone() + lit(0.5))
        .otherwise(scaled - lit(0.5));
    rounded.cast(DataType::Int64).alias(name)
}

/// The measures a rollup sums.
const MEASURES: [&str; 4] = ["total_revenue", "total_cost", "profit", "units_sold"];

/// A frame's measures converted once to whole cents, beside the columns the flow's tools
/// group by, each dictionary-coded: every tool's group-by is then a pass of integer
/// additions indexed by small codes, instead of hashing text keys and scaling and rounding
/// every value again. Integer sums are exact, so results are bit-identical to grouping the
/// frame itself.
#[derive(Debug, Clone)]
pub struct Rollup {
    keys: Vec<(String, Coded)>,
    /// Each measure's cents per row; a missing value counts 0, as polars' sum skips it.
    values: Vec<(String, Vec<i64>)>,
}

impl Rollup {
    /// The cents of `frame`'s measures beside its `keys` (the columns the flow's tools group
    /// by) that are text or integers, or `None` when there is nothing to sum or group.
    pub fn build(frame: &DataFrame, keys: &[String]) -> PolarsResult<Option<Rollup>> {
        let has = |name: &str| frame.column(name).is_ok();
        let measures: Vec<&str> = MEASURES.iter().copied().filter(|m| has(m)).collect();
        let key_columns: Vec<(&String, &Column)> = keys
            .iter()
            .filter_map(|k| frame.column(k).ok().map(|c| (k, c)))
            .collect();
        if measures.is_empty() || key_columns.is_empty() {
            return Ok(None);
        }
        // Each column is its own pass over the rows: they run side by side.
        let coded = crate::parallel::map(&key_columns, |(k, c)| {
            Coded::of(c).map(|coded| coded.map(|coded| (k.to_string(), coded)))
        })
        .into_iter()
        .collect::<PolarsResult<Vec<_>>>();
        let values = crate::parallel::map(&measures, |m| Ok((m.to_string(), cents_of(frame.column(m)?)?)))
            .into_iter()
            .collect::<PolarsResult<Vec<(String, Vec<i64>)>>>();
        let coded: Vec<(String, Coded)> = coded?.into_iter().flatten().collect();
        if coded.is_empty() {
            return Ok(None);
        }
        let values = values?;
        Ok(Some(Rollup { keys: coded, values }))
    }

    fn covers(&self, keys: &[&str], values: &[&str]) -> bool {
        keys.iter().all(|k| self.keys.iter().any(|(r, _)| r == k))
            && values.iter().all(|v| self.values.iter().any(|(r, _)| r == v))
    }

    /// [`sums_by`] on the codes: each row's key codes combined into one index (mixed radix,
    /// so indices order as the key tuples do), the cents added up per index.
    fn sums_by(&self, keys: &[&str], values: &[&str]) -> Vec<Group> {
        let find_key = |k: &str| &self.keys.iter().find(|(r, _)| r == k).expect("covered").1;
        let find_value = |v: &str| &self.values.iter().find(|(r, _)| r == v).expect("covered").1;
        let coded: Vec<&Coded> = keys.iter().map(|k| find_key(k)).collect();
        let cents: Vec<&[i64]> = values.iter().map(|v| find_value(v).as_slice()).collect();
        sums_by_codes(&coded, &cents)
            .into_iter()
            .map(|(codes, sums)| Group {
                keys: codes
                    .iter()
                    .zip(&coded)
                    .map(|(&code, c)| c.dictionary[code as usize].clone())
                    .collect(),
                sums: sums.into_iter().map(|x| x as f64 / SCALE).collect(),
            })
            .collect()
    }
}

/// The rows a tool reads: the frame, and its rollup when one was built.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub frame: &'a DataFrame,
    pub rollup: Option<&'a Rollup>,
    /// The frame's reference (`Dataset::frame_reference`), under which what is computed
    /// from the whole frame once (its profile) is kept; `None` for a frame of no dataset.
    pub dataset: Option<Reference>,
    /// When the frame holds sums by key (a file read in batches): the row figures.
    pub grouped: Option<&'a Grouped>,
}

impl<'a> From<&'a DataFrame> for Rows<'a> {
    fn from(frame: &'a DataFrame) -> Rows<'a> {
        Rows {
            frame,
            rollup: None,
            dataset: None,
            grouped: None,
        }
    }
}

impl<'a> From<&Rows<'a>> for Rows<'a> {
    fn from(rows: &Rows<'a>) -> Rows<'a> {
        *rows
    }
}

/// Sums `values` grouped by `keys`, ordered by the keys ascending; exact to the cent and
/// deterministic. Reads the rollup when it has the keys and values, else the frame.
pub fn sums_by<'a>(rows: impl Into<Rows<'a>>, keys: &[&str], values: &[&str]) -> PolarsResult<Vec<Group>> {
    let rows = rows.into();
    if let Some(rollup) = rows.rollup.filter(|r| r.covers(keys, values)) {
        return Ok(rollup.sums_by(keys, values));
    }
    let by = keys.iter().map(|k| col(*k)).collect::<Vec<_>>();
    let grouped = rows
        .frame
        .clone()
        .lazy()
        .group_by(by)
        .agg(values.iter().map(|v| exact_sum(v)).collect::<Vec<_>>());
    let grouped = grouped
        .sort(
            keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            SortMultipleOptions::default(),
        )
        .collect()?;
    let mut key_columns: Vec<Vec<Key>> = Vec::with_capacity(keys.len());
    for k in keys {
        let column = grouped.column(k)?;
        let read: Vec<Key> = if column.dtype() == &DataType::String {
            column
                .str()?
                .iter()
                .map(|v| Key::Text(v.unwrap_or_default().to_string()))
                .collect()
        } else {
            column
                .cast(&DataType::Int64)?
                .i64()?
                .iter()
                .map(|v| Key::Int(v.unwrap_or_default()))
                .collect()
        };
        key_columns.push(read);
    }
    let mut value_columns: Vec<Vec<f64>> = Vec::with_capacity(values.len());
    for v in values {
        let column = grouped.column(v)?.cast(&DataType::Int64)?;
        value_columns.push(column.i64()?.iter().map(|x| x.unwrap_or(0) as f64 / SCALE).collect());
    }
    Ok((0..grouped.height())
        .map(|row| Group {
            keys: key_columns.iter().map(|c| c[row].clone()).collect(),
            sums: value_columns.iter().map(|c| c[row]).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many rows over few groups, with amounts whose float sums depend on their order.
    fn many_rows() -> DataFrame {
        let n = 4000;
        let brands = ["A", "B", "C"];
        let regions = ["North", "South"];
        df! {
            "brand" => (0..n).map(|i| brands[i % 3]).collect::<Vec<_>>(),
            "region" => (0..n).map(|i| regions[i % 2]).collect::<Vec<_>>(),
            "year" => (0..n).map(|i| 2023 + (i % 2) as i64).collect::<Vec<_>>(),
            "month" => (0..n).map(|i| 1 + (i % 12) as i64).collect::<Vec<_>>(),
            "total_revenue" => (0..n).map(|i| 0.1 + i as f64 * 0.37).collect::<Vec<_>>(),
            "total_cost" => (0..n).map(|i| 0.2 + i as f64 * 0.11).collect::<Vec<_>>(),
            "profit" => (0..n).map(|i| -0.05 + i as f64 * 0.26).collect::<Vec<_>>(),
            "units_sold" => (0..n).map(|i| (i % 7) as f64).collect::<Vec<_>>(),
        }
        .unwrap()
    }

    #[test]
    fn the_rollup_gives_exactly_what_the_frame_gives() {
        let frame = many_rows();
        let keys: Vec<String> = ["brand", "region", "year", "month"].map(String::from).to_vec();
        let rollup = Rollup::build(&frame, &keys)
            .unwrap()
            .expect("few groups: worth a rollup");
        let with = Rows {
            frame: &frame,
            rollup: Some(&rollup),
            dataset: None,
            grouped: None,
        };
        for keys in [&["brand"][..], &["region", "brand"], &["year", "month"]] {
            let values = ["total_revenue", "total_cost", "profit", "units_sold"];
            assert_eq!(
                sums_by(with, keys, &values).unwrap(),
                sums_by(&frame, keys, &values).unwrap(),
                "{keys:?}"
            );
        }
        // A key the rollup lacks is read from the frame.
        assert!(!rollup.covers(&["store_id"], &["profit"]));
    }

    #[test]
    fn the_rollup_matches_the_frame_with_missing_values_and_a_large_key_space() {
        let n = 5000;
        let frame = df! {
            "brand" => (0..n).map(|i| (i % 7 != 0).then(|| ["Zeta", "alpha", "Beta", ""][i % 4])).collect::<Vec<_>>(),
            "store_id" => (0..n).map(|i| format!("S-{:04}", (i * 7919) % 2003)).collect::<Vec<_>>(),
            "order" => (0..n).map(|i| Some(((i * 104_729) % 1999) as i64 - 900)).collect::<Vec<_>>(),
            "total_revenue" => (0..n).map(|i| (i % 5 != 0).then_some(0.01 + i as f64 * 1.37)).collect::<Vec<_>>(),
            "profit" => (0..n).map(|i| -0.05 + i as f64 * 0.26).collect::<Vec<_>>(),
        }
        .unwrap();
        let keys: Vec<String> = ["brand", "store_id", "order"].map(String::from).to_vec();
        let rollup = Rollup::build(&frame, &keys).unwrap().expect("a rollup");
        let with = Rows {
            frame: &frame,
            rollup: Some(&rollup),
            dataset: None,
            grouped: None,
        };
        // The last pair has 2003 x 1999 possible keys: counted in a hash table.
        for keys in [&["brand"][..], &["order"], &["brand", "order"], &["store_id", "order"]] {
            let values = ["total_revenue", "profit"];
            assert!(rollup.covers(keys, &values));
            assert_eq!(
                sums_by(with, keys, &values).unwrap(),
                sums_by(&frame, keys, &values).unwrap(),
                "{keys:?}"
            );
        }
    }

    #[test]
    fn no_rollup_without_measures_or_keys() {
        let frame = df! { "order_id" => ["O1", "O2"], "note" => ["a", "b"] }.unwrap();
        assert!(Rollup::build(&frame, &["order_id".to_string()]).unwrap().is_none());
        assert!(
            Rollup::build(&many_rows(), &["store_id".to_string()])
                .unwrap()
                .is_none()
        );
    }
}
