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

/// A frame's measures converted once to whole cents (Int64), beside the columns the flow's
/// tools group by: each tool's group-by then only adds integers, instead of scaling and
/// rounding every value again. Integer sums are exact, so results are bit-identical to
/// grouping the frame itself.
#[derive(Debug, Clone)]
pub struct Rollup {
    sums: DataFrame,
    keys: Vec<String>,
    values: Vec<String>,
}

impl Rollup {
    /// The cents of `frame`'s measures beside its `keys` (the columns the flow's tools group
    /// by), or `None` when there is nothing to sum or group.
    pub fn build(frame: &DataFrame, keys: &[String]) -> PolarsResult<Option<Rollup>> {
        let has = |name: &str| frame.column(name).is_ok();
        let values: Vec<String> = MEASURES.iter().filter(|m| has(m)).map(|m| m.to_string()).collect();
        let keys: Vec<String> = keys.iter().filter(|k| has(k)).cloned().collect();
        if values.is_empty() || keys.is_empty() {
            return Ok(None);
        }
        let sums = frame
            .clone()
            .lazy()
            .select(
                keys.iter()
                    .map(|k| col(k.as_str()))
                    .chain(values.iter().map(|v| cents(v)))
                    .collect::<Vec<_>>(),
            )
            .collect()?;
        Ok(Some(Rollup { sums, keys, values }))
    }

    fn covers(&self, keys: &[&str], values: &[&str]) -> bool {
        keys.iter().all(|k| self.keys.iter().any(|r| r == k))
            && values.iter().all(|v| self.values.iter().any(|r| r == v))
    }
}

/// The rows a tool reads: the frame, and its rollup when one was built.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub frame: &'a DataFrame,
    pub rollup: Option<&'a Rollup>,
}

impl<'a> From<&'a DataFrame> for Rows<'a> {
    fn from(frame: &'a DataFrame) -> Rows<'a> {
        Rows { frame, rollup: None }
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
    let by = keys.iter().map(|k| col(*k)).collect::<Vec<_>>();
    let grouped = match rows.rollup.filter(|r| r.covers(keys, values)) {
        // Cent sums regrouped: integer addition, so exactly what the frame would give.
        Some(rollup) => rollup
            .sums
            .clone()
            .lazy()
            .group_by(by)
            .agg(values.iter().map(|v| col(*v).sum()).collect::<Vec<_>>()),
        None => rows
            .frame
            .clone()
            .lazy()
            .group_by(by)
            .agg(values.iter().map(|v| exact_sum(v)).collect::<Vec<_>>()),
    };
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
