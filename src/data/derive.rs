//! Roles derived from others: year and month from a date column (its format detected or
//! given), profit from revenue and cost, and the rest of the schema's derivations.

use std::path::Path;

use polars::prelude::*;

use super::columns::{ColumnPlan, parse_error};
use super::dates::{self, DateProblem};
use super::error::DataError;
use super::loader::LoadOptions;
use super::profile::DataProfile;
use super::schema::{ColumnKind, Derivation};

/// Derives year and month from the date column, before rows with empty values are dropped
/// so a bad date's line number is the file's (one line per record). The format comes from
/// the options or from the values; the column is rewritten as ISO dates.
pub(super) fn derive_dates(
    path: &Path,
    mut frame: DataFrame,
    plan: &ColumnPlan,
    options: &LoadOptions,
    profile: &mut DataProfile,
) -> Result<DataFrame, DataError> {
    let wanted: Vec<(&str, bool)> = plan
        .derive
        .iter()
        .filter_map(|(name, d)| match d {
            Derivation::YearOfDate(_) => Some((name.as_str(), true)),
            Derivation::MonthOfDate(_) => Some((name.as_str(), false)),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return Ok(frame);
    }
    let file_column = profile
        .roles
        .get("sale_date")
        .cloned()
        .unwrap_or_else(|| "sale_date".into());
    let line = |row: usize| row + 2;
    let values = frame
        .column("sale_date")
        .and_then(|c| c.str().cloned())
        .map_err(|e| parse_error(path, e))?;
    let format = match &options.date_format {
        Some(f) => f.clone(),
        None => dates::detect(values.iter()).map_err(|problem| match problem {
            DateProblem::Unreadable { row, value } => DataError::BadValue {
                path: path.to_path_buf(),
                line: line(row),
                column: file_column.clone(),
                kind: ColumnKind::Date,
                value,
            },
            DateProblem::Ambiguous { examples } => DataError::AmbiguousDates {
                path: path.to_path_buf(),
                column: file_column.clone(),
                examples: examples.join("`, `"),
            },
            DateProblem::Mixed { day_first, month_first } => DataError::MixedDayMonth {
                path: path.to_path_buf(),
                column: file_column.clone(),
                day_first: Box::new((line(day_first.0), day_first.1)),
                month_first: Box::new((line(month_first.0), month_first.1)),
            },
            DateProblem::DoesNotMatch { .. } => unreachable!("detect does not parse"),
        })?,
    };
    let parsed = dates::year_months(values.iter(), &format).map_err(|problem| match problem {
        DateProblem::DoesNotMatch {
            row,
            value,
            format,
            first: Some((first_row, first_value)),
        } => DataError::MixedDates {
            path: path.to_path_buf(),
            line: line(row),
            column: file_column.clone(),
            value,
            format: format.describe(),
            first: Box::new((line(first_row), first_value)),
        },
        DateProblem::DoesNotMatch { row, value, .. } | DateProblem::Unreadable { row, value } => DataError::BadValue {
            path: path.to_path_buf(),
            line: line(row),
            column: file_column.clone(),
            kind: ColumnKind::Date,
            value: format!("{value}` (read as {})`", format.describe()),
        },
        other => unreachable!("year_months reports only unmatched values: {other:?}"),
    })?;
    profile.date_format = Some(format.describe());
    for (name, want_year) in wanted {
        let column: Vec<Option<i64>> = parsed
            .iter()
            .map(|d| d.map(|(y, m)| if want_year { y } else { m }))
            .collect();
        frame
            .with_column(Column::new(PlSmallStr::from(name), column))
            .map_err(|e| parse_error(path, e))?;
    }
    Ok(frame)
}

pub(super) fn derive_columns(
    frame: DataFrame,
    derive: &[(String, Derivation)],
    notes: &mut Vec<String>,
) -> PolarsResult<DataFrame> {
    if derive.is_empty() {
        return Ok(frame);
    }
    let mut lazy = frame.lazy();
    for (name, derivation) in derive {
        let expr = match *derivation {
            Derivation::Product(a, b) => col(a) * col(b),
            Derivation::Difference(a, b) => col(a) - col(b),
            Derivation::Ratio(a, b) => col(a) / col(b),
            Derivation::Percent(a, b) => col(a) / col(b) * lit(100.0),
            Derivation::QuarterOfMonth(m) => (col(m) - lit(1i64)) / lit(3i64) + lit(1i64),
            // Already derived (and checked) by `derive_dates`.
            Derivation::YearOfDate(_) | Derivation::MonthOfDate(_) => {
                notes.push(format!("derived `{name}` as {derivation}"));
                continue;
            }
        };
        lazy = lazy.with_column(expr.alias(name.as_str()));
        notes.push(format!("derived `{name}` as {derivation}"));
    }
    lazy.collect()
}
