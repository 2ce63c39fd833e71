//! What the naive baseline would paste of a warehouse relation, `describe(include='all')`
//! and `head(20)`, from aggregate statements: count, mean, standard deviation, extremes and
//! `percentile_cont` quartiles (pandas' linear interpolation) of each number column, and
//! count, distinct count and most frequent value of the rest; the head reads 20 rows.

use polars::prelude::*;

use super::client::{Connection, Failure};
use super::source::{WarehouseSource, quote};
use super::statement::SqlKind;

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
        quartiles: [Option<f64>; 3],
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

pub(super) async fn figures(connection: &Connection, source: &WarehouseSource) -> Result<TableFigures, Failure> {
    let from = source.from_item();
    let statement = connection
        .prepare(source, &format!("SELECT * FROM {from} LIMIT 0"))
        .await?;
    let columns: Vec<(String, SqlKind)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), SqlKind::of(c.type_())))
        .collect();
    // One statement for every column's counts and figures.
    let mut select = Vec::new();
    for (name, kind) in &columns {
        let c = quote(name);
        if kind.is_numeric() {
            let f = format!("CAST({c} AS DOUBLE PRECISION)");
            select.push(format!("COUNT({c})"));
            select.push(format!("AVG({f})"));
            select.push(format!("STDDEV_SAMP({f})"));
            select.push(format!("MIN({f})"));
            for p in ["0.25", "0.5", "0.75"] {
                select.push(format!("PERCENTILE_CONT({p}) WITHIN GROUP (ORDER BY {f})"));
            }
            select.push(format!("MAX({f})"));
        } else {
            select.push(format!("COUNT({c})"));
            select.push(format!("COUNT(DISTINCT {c})"));
        }
    }
    let row = connection
        .query(source, &format!("SELECT {} FROM {from}", select.join(", ")), None)
        .await?;
    let row = row
        .first()
        .ok_or_else(|| Failure::Said("the describe statement returned no row".into()))?;
    let said = |e: tokio_postgres::Error| Failure::Said(e.to_string());
    let mut figures = Vec::with_capacity(columns.len());
    let mut at = 0;
    for (name, kind) in &columns {
        let count: i64 = row.try_get(at).map_err(said)?;
        if kind.is_numeric() {
            let get = |i: usize| row.try_get::<_, Option<f64>>(at + i).map_err(said);
            figures.push(ColumnFigures::Numbers {
                count: count as usize,
                mean: get(1)?,
                std: get(2)?,
                min: get(3)?,
                quartiles: [get(4)?, get(5)?, get(6)?],
                max: get(7)?,
            });
            at += 8;
        } else {
            let unique: i64 = row.try_get(at + 1).map_err(said)?;
            let c = quote(name);
            let top = connection
                .query(
                    source,
                    &format!(
                        "SELECT CAST({c} AS TEXT), COUNT(*) FROM {from} WHERE {c} IS NOT NULL \
                         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
                    ),
                    None,
                )
                .await?;
            let top = match top.first() {
                Some(r) => Some((
                    r.try_get::<_, String>(0).map_err(said)?,
                    r.try_get::<_, i64>(1).map_err(said)? as usize,
                )),
                None => None,
            };
            figures.push(ColumnFigures::Text {
                count: count as usize,
                unique: unique as usize,
                top,
            });
            at += 2;
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
