//! What the naive baseline would paste of a warehouse relation, `describe(include='all')`
//! and `head(20)`, from aggregate statements: count, mean, standard deviation and extremes
//! of every number column in one statement the server can run in parallel; quartiles from
//! each distinct value's count where a column has few (as the file path counts them), else
//! `PERCENTILE_CONT` (pandas' linear interpolation); for the rest, the distinct count and
//! most frequent value in one hashed group-by per column; the head reads 20 rows.

use polars::prelude::*;

use super::client::{Connection, Failure};
use super::source::{WarehouseSource, quote};
use super::statement::SqlKind;

/// Distinct values of a column whose counts are read back for its quartiles (what the
/// file path counts over, [`crate::context`]'s `COUNTING_LIMIT`); past it the server
/// interpolates them.
pub const COUNTED_VALUES: usize = 1 << 16;

/// Each column's figures, in the relation's order, and its first 20 rows.
#[derive(Debug, Clone)]
pub struct TableFigures {
    pub names: Vec<String>,
    pub columns: Vec<ColumnFigures>,
    pub head: DataFrame,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnFigures {
    /// `None` where pandas prints NaN (no values; one value's deviation).
    Numbers {
        count: usize,
        mean: Option<f64>,
        std: Option<f64>,
        min: Option<f64>,
        quartiles: Quartiles,
        max: Option<f64>,
    },
    /// The most frequent value is the least in sort order among equals (a table has no
    /// row order to take the first seen from).
    Text {
        count: usize,
        unique: usize,
        top: Option<(String, usize)>,
    },
}

/// Where a number column's quartiles come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Quartiles {
    /// Each distinct value and its count, ascending: the reader interpolates.
    Counts(Vec<(f64, usize)>),
    /// The server's `PERCENTILE_CONT` at 0.25, 0.5 and 0.75.
    Interpolated([Option<f64>; 3]),
}

pub(super) async fn figures(
    connection: &Connection,
    source: &WarehouseSource,
    progress: Option<&crate::data::LoadProgress>,
) -> Result<TableFigures, Failure> {
    let from = source.from_item();
    // PostgreSQL lets a scan join one already running (the load's group-by) part way
    // through the table: the head would then be rows from its middle, not its first.
    connection.try_setting("SET synchronize_seqscans = off").await;
    let statement = connection
        .prepare(source, &format!("SELECT * FROM {from} LIMIT 0"))
        .await?;
    let columns: Vec<(String, SqlKind)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), SqlKind::of(c.type_())))
        .collect();
    let said = |e: tokio_postgres::Error| Failure::Said(e.to_string());
    // Plain aggregates of every column: one statement, parallel where the server can.
    let mut select = Vec::new();
    for (name, kind) in &columns {
        let c = quote(name);
        select.push(format!("COUNT({c})"));
        if kind.is_numeric() {
            let f = format!("CAST({c} AS DOUBLE PRECISION)");
            for aggregate in ["AVG", "STDDEV_SAMP", "MIN", "MAX"] {
                select.push(format!("{aggregate}({f})"));
            }
        }
    }
    let row = connection
        .query(source, &format!("SELECT {} FROM {from}", select.join(", ")), progress)
        .await?;
    let row = row
        .first()
        .ok_or_else(|| Failure::Said("the describe statement returned no row".into()))?;
    let mut figures = Vec::with_capacity(columns.len());
    let mut at = 0;
    for (name, kind) in &columns {
        let count = row.try_get::<_, i64>(at).map_err(said)? as usize;
        let c = quote(name);
        if kind.is_numeric() {
            let get = |i: usize| row.try_get::<_, Option<f64>>(at + i).map_err(said);
            let (mean, std, min, max) = (get(1)?, get(2)?, get(3)?, get(4)?);
            at += 5;
            let f = format!("CAST({c} AS DOUBLE PRECISION)");
            let counted = connection
                .query(
                    source,
                    &format!(
                        "SELECT {f}, COUNT(*) FROM {from} WHERE {c} IS NOT NULL GROUP BY 1 LIMIT {}",
                        COUNTED_VALUES + 1
                    ),
                    progress,
                )
                .await?;
            let quartiles = if counted.len() <= COUNTED_VALUES {
                let mut counts = counted
                    .iter()
                    .map(|r| Ok((r.try_get::<_, f64>(0)?, r.try_get::<_, i64>(1)? as usize)))
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                    .map_err(said)?;
                counts.sort_by(|a, b| a.0.total_cmp(&b.0));
                Quartiles::Counts(counts)
            } else {
                let percentiles: Vec<String> = ["0.25", "0.5", "0.75"]
                    .iter()
                    .map(|p| format!("PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY {f})"))
                    .collect();
                let r = connection
                    .query(
                        source,
                        &format!("SELECT {} FROM {from}", percentiles.join(", ")),
                        progress,
                    )
                    .await?;
                let r = r.first().ok_or_else(|| Failure::Said("no quartiles returned".into()))?;
                let q = |i: usize| r.try_get::<_, Option<f64>>(i).map_err(said);
                Quartiles::Interpolated([q(0)?, q(1)?, q(2)?])
            };
            figures.push(ColumnFigures::Numbers {
                count,
                mean,
                std,
                min,
                quartiles,
                max,
            });
        } else {
            at += 1;
            // Distinct values hashed, not sorted; the most frequent beside their number.
            let top = connection
                .query(
                    source,
                    &format!(
                        "SELECT COUNT(*) OVER (), v, n FROM (SELECT CAST({c} AS TEXT) AS v, COUNT(*) AS n \
                         FROM {from} WHERE {c} IS NOT NULL GROUP BY 1) AS g ORDER BY n DESC, v LIMIT 1"
                    ),
                    progress,
                )
                .await?;
            let (unique, top) = match top.first() {
                Some(r) => (
                    r.try_get::<_, i64>(0).map_err(said)? as usize,
                    Some((
                        r.try_get::<_, String>(1).map_err(said)?,
                        r.try_get::<_, i64>(2).map_err(said)? as usize,
                    )),
                ),
                None => (0, None),
            };
            figures.push(ColumnFigures::Text { count, unique, top });
        }
    }
    let head_select: Vec<String> = columns
        .iter()
        .map(|(name, kind)| match kind {
            SqlKind::Integer => format!("CAST({} AS BIGINT)", quote(name)),
            SqlKind::Number => format!("CAST({} AS DOUBLE PRECISION)", quote(name)),
            _ => format!("CAST({} AS TEXT)", quote(name)),
        })
        .collect();
    let rows = connection
        .query(
            source,
            &format!("SELECT {} FROM {from} LIMIT 20", head_select.join(", ")),
            None,
        )
        .await?;
    let mut head = Vec::with_capacity(columns.len());
    for (i, (name, kind)) in columns.iter().enumerate() {
        let name = PlSmallStr::from(name.as_str());
        let column = match kind {
            SqlKind::Integer => Column::new(
                name,
                rows.iter()
                    .map(|r| r.try_get::<_, Option<i64>>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(said)?,
            ),
            SqlKind::Number => Column::new(
                name,
                rows.iter()
                    .map(|r| r.try_get::<_, Option<f64>>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(said)?,
            ),
            _ => Column::new(
                name,
                rows.iter()
                    .map(|r| r.try_get::<_, Option<String>>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(said)?,
            ),
        };
        head.push(column);
    }
    let head = DataFrame::new(rows.len(), head).map_err(|e| Failure::Said(e.to_string()))?;
    Ok(TableFigures {
        names: columns.into_iter().map(|(n, _)| n).collect(),
        columns: figures,
        head,
    })
}
