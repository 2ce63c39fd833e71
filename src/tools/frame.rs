//! Grouped sums on polars, shared by the tools.

use polars::prelude::*;

/// A group key as read back from a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Text(String),
    Int(i64),
}

impl Key {
    pub fn text(&self) -> String {
        match self {
            Key::Text(s) => s.clone(),
            Key::Int(i) => i.to_string(),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Key::Int(i) => *i,
            Key::Text(s) => s.parse().unwrap_or_default(),
        }
    }
}

/// One group: its keys (in the order asked) and the sums of the value columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub keys: Vec<Key>,
    pub sums: Vec<f64>,
}

/// Values are summed as whole cents (money has two decimals, units are counts).
const SCALE: f64 = 100.0;

/// The sum of a column in integer cents. Integer addition does not depend on the order
/// polars' parallel group-by happens to add partial sums in, so the same data always gives
/// bit-identical results (and so the same content references).
fn exact_sum(name: &str) -> Expr {
    let scaled = col(name) * lit(SCALE);
    let rounded = when(scaled.clone().gt_eq(lit(0.0)))
        .then(scaled.clone() + lit(0.5))
        .otherwise(scaled - lit(0.5));
    rounded.cast(DataType::Int64).sum().alias(name)
}

/// Sums `values` grouped by `keys`, ordered by the keys ascending; exact to the cent and
/// deterministic.
pub fn sums_by(frame: &DataFrame, keys: &[&str], values: &[&str]) -> PolarsResult<Vec<Group>> {
    let grouped = frame
        .clone()
        .lazy()
        .group_by(keys.iter().map(|k| col(*k)).collect::<Vec<_>>())
        .agg(values.iter().map(|v| exact_sum(v)).collect::<Vec<_>>())
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
