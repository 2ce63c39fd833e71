//! The `load_data` tool: a compact profile of the loaded dataset (shape, columns with
//! types, statistics), so an agent learns what the data holds without seeing it.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use std::sync::Mutex;

use super::frame::Rows;
use super::{Analysis, Fact, ToolFailure};
use crate::data::Grouped;
use crate::data::dictionary::Dictionary;
use crate::format::{grouped, money};
use crate::reference::Reference;
use crate::settings::Priority;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    pub dtype: String,
    pub distinct: Option<usize>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub sum: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataProfile {
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

/// The last frame profiled: the `load_data` tool and the context's rendering of the
/// dataset both need its profile, and a session works on one dataset at a time.
static LAST: Mutex<Option<(Reference, DataProfile)>> = Mutex::new(None);

/// The profile of `rows`' frame, computed once per frame of a dataset.
pub fn of(rows: Rows<'_>) -> Result<DataProfile, ToolFailure> {
    let Some(key) = rows.dataset else {
        return run_grouped(rows.frame, rows.grouped);
    };
    let kept = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, profile)) = kept.as_ref().filter(|(k, _)| *k == key) {
        return Ok(profile.clone());
    }
    drop(kept);
    let profile = run_grouped(rows.frame, rows.grouped)?;
    *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, profile.clone()));
    Ok(profile)
}

/// One column's profile: range, mean and sum of numbers, the distinct count of the rest;
/// a number column's figures from `grouped` when the frame holds sums.
fn column_profile(column: &Column, grouped: Option<&Grouped>) -> Result<ColumnProfile, ToolFailure> {
    let series = column.as_materialized_series();
    let numeric = series.dtype().is_primitive_numeric();
    let stats = grouped.and_then(|g| g.stats(column.name()));
    let (min, max, mean, sum) = if let Some(s) = stats.filter(|_| numeric) {
        (s.min, s.max, s.mean(), Some(s.sum))
    } else if numeric {
        let f = series.cast(&DataType::Float64)?;
        let ca = f.f64()?;
        (ca.min(), ca.max(), ca.mean(), Some(ca.sum().unwrap_or(0.0)))
    } else {
        (None, None, None, None)
    };
    let distinct = match series.dtype() {
        _ if numeric => None,
        // Missing counts as a value of its own, as polars' n_unique counts it.
        DataType::String => Some(Dictionary::of(series.str()?).values.len()),
        _ => Some(series.n_unique()?),
    };
    Ok(ColumnProfile {
        name: column.name().to_string(),
        dtype: format!("{}", series.dtype()),
        distinct,
        min,
        max,
        mean,
        sum,
    })
}

pub fn run(frame: &DataFrame) -> Result<DataProfile, ToolFailure> {
    run_grouped(frame, None)
}

/// [`run`] of a frame of sums by key (`grouped`), or of rows (`None`). Every distinct key
/// has a row of its own, so distinct counts and the dates' range read the same off either.
fn run_grouped(frame: &DataFrame, grouped: Option<&Grouped>) -> Result<DataProfile, ToolFailure> {
    // Counting the distinct values of a text column is a hashing pass of its own: the
    // columns are profiled side by side.
    let columns = crate::parallel::map(frame.columns(), |c| column_profile(c, grouped))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let (first_date, last_date) = match frame.column("sale_date").ok().and_then(|c| c.str().ok()) {
        // ISO dates order as text.
        Some(dates) => (
            dates.iter().flatten().min().map(str::to_string),
            dates.iter().flatten().max().map(str::to_string),
        ),
        None => (None, None),
    };
    Ok(DataProfile {
        rows: grouped.map_or(frame.height(), |g| g.rows),
        columns,
        first_date,
        last_date,
    })
}

impl Analysis for DataProfile {
    fn facts(&self) -> Vec<Fact> {
        let mut facts = vec![
            Fact::number(
                "data.rows",
                Priority::Critical,
                self.rows as f64,
                grouped(self.rows as f64),
                format!("Dataset: {} sales rows", grouped(self.rows as f64)),
            )
            .about(&[
                "row",
                "record",
                "transaction",
                "entries",
                "entry",
                "line",
                "observation",
                "sale",
                "order",
            ]),
        ];
        if let (Some(a), Some(b)) = (&self.first_date, &self.last_date) {
            facts.push(Fact::text(
                "data.period",
                Priority::Important,
                &format!("{a} to {b}"),
                format!("Period covered: {a} to {b}"),
            ));
        }
        for c in &self.columns {
            if let (Some(n), "brand" | "region" | "category" | "country") = (c.distinct, c.name.as_str()) {
                facts.push(
                    Fact::number(
                        format!("data.distinct.{}", c.name),
                        Priority::Useful,
                        n as f64,
                        n.to_string(),
                        format!("{} distinct {} values", n, c.name),
                    )
                    .about(&[&c.name, &crate::format::plural(&c.name)]),
                );
            }
            if let (Some(sum), "total_revenue") = (c.sum, c.name.as_str()) {
                facts.push(
                    Fact::number(
                        "data.revenue",
                        Priority::Important,
                        sum,
                        money(sum),
                        format!("Revenue in the data: {}", money(sum)),
                    )
                    .about(&["revenue", "sales", "turnover"]),
                );
            }
        }
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::fixture;

    #[test]
    fn profiles_shape_and_statistics() {
        let p = run(&fixture::sales()).unwrap();
        assert_eq!(p.rows, 8);
        let brand = p.columns.iter().find(|c| c.name == "brand").unwrap();
        assert_eq!(brand.distinct, Some(4));
        let revenue = p.columns.iter().find(|c| c.name == "total_revenue").unwrap();
        assert_eq!(
            (revenue.min, revenue.max, revenue.mean, revenue.sum),
            (Some(50.0), Some(250.0), Some(125.0), Some(1000.0))
        );
        let facts = p.facts();
        assert_eq!(facts[0].statement, "Dataset: 8 sales rows");
    }

    #[test]
    fn text_columns_count_distinct_values_as_polars_does() {
        let frame = df! {
            "region" => [Some("North"), None, Some("South"), Some("North"), None, Some("A rather long region name")],
            "brand" => [Some("a"), Some("b"), Some("a"), Some("c"), Some("b"), Some("a")],
        }
        .unwrap();
        let p = run(&frame).unwrap();
        for column in frame.columns() {
            let profiled = p.columns.iter().find(|c| c.name == column.name().as_str()).unwrap();
            assert_eq!(
                profiled.distinct,
                Some(column.as_materialized_series().n_unique().unwrap())
            );
        }
    }
}
