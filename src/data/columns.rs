//! From the file's columns to the flow's: which to read and which to derive, each value
//! converted to its role's type, and the rows that cannot be analysed dropped with a note.

use std::path::Path;

use polars::prelude::*;

use super::dates;
use super::derive::{derive_columns, derive_dates};
use super::error::DataError;
use super::loader::LoadOptions;
use super::numbers::{Decimal, parse_number};
use super::opened::Opened;
use super::profile::{DataProfile, MissingColumn};
use super::roles::{self, Mapping, TextColumn, candidates_for, dimension_role, find_column};
use super::schema::{ColumnKind, Derivation, column_spec};
use super::source::first_line;

/// Which columns to read (frame name, file column) and which to derive, in dependency order.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ColumnPlan {
    pub(super) read: Vec<(String, String)>,
    pub(super) derive: Vec<(String, Derivation)>,
}

/// The plan for `required` (all of them, or the ones missing) and `optional` (those the
/// file gives; the ones it does not are returned beside the plan, as missing).
pub(super) fn plan_columns(
    mapping: &Mapping,
    header: &[String],
    required: &[&str],
    optional: &[String],
    profile: &DataProfile,
    frame: &DataFrame,
) -> Result<(ColumnPlan, Vec<MissingColumn>), Vec<MissingColumn>> {
    let mut plan = ColumnPlan::default();
    let mut missing = Vec::new();
    // Distinct values over the first rows only: enough to rank candidates, and free on a
    // file of millions. Counted only when a dimension is missing.
    let text_columns = || -> Vec<TextColumn> {
        profile
            .columns
            .iter()
            .filter(|c| c.kind == "text")
            .map(|c| TextColumn {
                name: c.name.clone(),
                distinct: frame
                    .column(&c.name)
                    .ok()
                    .and_then(|col| col.slice(0, 1_000).n_unique().ok()),
            })
            .collect()
    };
    let text_columns = std::cell::LazyCell::new(text_columns);
    let optional: Vec<&str> = optional
        .iter()
        .map(String::as_str)
        .filter(|o| !required.contains(o))
        .collect();
    for name in required.iter().chain(&optional) {
        let role = roles::roles().find(|r| r == name).or_else(|| dimension_role(name));
        match role {
            Some(role) => {
                if !add_role(mapping, role, &mut plan, &mut Vec::new()) {
                    let spec = column_spec(role);
                    let ambiguous = mapping.ambiguous.get(role);
                    let kind = spec.map_or(ColumnKind::Text, |s| s.kind);
                    missing.push(MissingColumn {
                        name: role.to_string(),
                        kind,
                        derivation: spec.and_then(|s| s.derivation()),
                        candidates: match ambiguous {
                            Some(c) => c.clone(),
                            None if kind == ColumnKind::Text => candidates_for(role, &text_columns, mapping),
                            None => Vec::new(),
                        },
                        ambiguous: ambiguous.is_some(),
                    });
                }
            }
            None => match find_column(header, name) {
                Some(column) => {
                    if !plan.read.iter().any(|(n, _)| n == name) {
                        plan.read.push((name.to_string(), column.to_string()));
                    }
                }
                None => missing.push(MissingColumn {
                    name: name.to_string(),
                    kind: ColumnKind::Text,
                    derivation: None,
                    candidates: text_columns.iter().map(|c| c.name.clone()).collect(),
                    ambiguous: false,
                }),
            },
        }
    }
    let position = |role: &str| missing.iter().position(|m| m.name == role && !m.ambiguous);
    if let (Some(b), Some(c)) = (position("brand"), position("category")) {
        let mut brand = std::mem::take(&mut missing[b].candidates);
        let mut category = std::mem::take(&mut missing[c].candidates);
        roles::unswap_proposals(&mut brand, &mut category, &text_columns);
        missing[b].candidates = brand;
        missing[c].candidates = category;
    }
    let is_required = |m: &MissingColumn| required.contains(&m.name.as_str());
    if missing.iter().any(is_required) {
        Err(missing.into_iter().filter(is_required).collect())
    } else {
        Ok((plan, missing))
    }
}

/// Plans to read or derive `role`; false if neither is possible. Derivations are tried in
/// order, none through a role already being derived (profit from cost from profit). An
/// ambiguous role is not derived around: the analyst meant one of its candidates.
fn add_role(mapping: &Mapping, role: &'static str, plan: &mut ColumnPlan, deriving: &mut Vec<&'static str>) -> bool {
    if plan.read.iter().any(|(c, _)| c == role) || plan.derive.iter().any(|(c, _)| c == role) {
        return true;
    }
    if let Some(column) = mapping.column(role) {
        plan.read.push((role.to_string(), column.to_string()));
        return true;
    }
    if mapping.ambiguous.contains_key(role) || deriving.contains(&role) {
        return false;
    }
    let Some(spec) = column_spec(role) else {
        return false;
    };
    deriving.push(role);
    for derivation in spec.derivations {
        let (reads, derives) = (plan.read.len(), plan.derive.len());
        if derivation
            .inputs()
            .into_iter()
            .all(|input| add_role(mapping, input, plan, deriving))
        {
            plan.derive.push((role.to_string(), *derivation));
            deriving.pop();
            return true;
        }
        plan.read.truncate(reads);
        plan.derive.truncate(derives);
    }
    deriving.pop();
    false
}

/// The planned columns, converted to their roles' types and named by role; then rows that
/// cannot be analysed dropped and missing roles derived.
pub(super) fn narrow(
    opened: &Opened,
    whole: &DataFrame,
    plan: &ColumnPlan,
    options: &LoadOptions,
    profile: &mut DataProfile,
) -> Result<DataFrame, DataError> {
    let narrowed = narrow_counting(opened, whole, plan, options, profile)?;
    profile.notes.extend(narrowed.skipped.notes());
    profile.notes.extend(narrowed.derived);
    Ok(narrowed.frame)
}

/// Rows dropped because they cannot be analysed, by why; added up over batches.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Skipped {
    /// Rows with an empty value: how many, of how many, and in which columns.
    pub(super) incomplete: Option<(usize, usize, Vec<String>)>,
    /// Rows with NaN or an infinite number, of those left.
    pub(super) non_finite: Option<(usize, usize, Vec<String>)>,
}

impl Skipped {
    /// `other`'s rows added to these; columns listed in `order`.
    pub(super) fn add(&mut self, other: Skipped, order: &[String]) {
        fn sum(a: &mut Option<(usize, usize, Vec<String>)>, b: Option<(usize, usize, Vec<String>)>, order: &[String]) {
            let Some((dropped, of, columns)) = b else { return };
            let (d, o, c) = a.get_or_insert_with(|| (0, 0, Vec::new()));
            *d += dropped;
            *o += of;
            c.extend(columns.into_iter().filter(|n| !c.contains(n)).collect::<Vec<_>>());
            c.sort_by_key(|n| order.iter().position(|o| o == n));
        }
        sum(&mut self.incomplete, other.incomplete, order);
        sum(&mut self.non_finite, other.non_finite, order);
    }

    /// What the notes say. A batch that dropped nothing still counts its rows in `of`.
    pub(super) fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some((dropped, of, columns)) = &self.incomplete
            && *dropped > 0
        {
            notes.push(format!(
                "skipped {dropped} of {of} rows with empty values in {}",
                columns.join(", ")
            ));
        }
        if let Some((dropped, of, columns)) = &self.non_finite
            && *dropped > 0
        {
            notes.push(format!(
                "skipped {dropped} of {of} rows with NaN or infinite numbers in {}",
                columns.join(", ")
            ));
        }
        notes
    }
}

/// The flow's columns of one frame of the file, with the rows dropped and the notes on
/// derived columns kept apart, so batches of a file can be added up.
pub(super) struct Narrowed {
    pub(super) frame: DataFrame,
    pub(super) skipped: Skipped,
    pub(super) derived: Vec<String>,
}

/// [`narrow`], leaving `profile.notes` as they were.
pub(super) fn narrow_counting(
    opened: &Opened,
    whole: &DataFrame,
    plan: &ColumnPlan,
    options: &LoadOptions,
    profile: &mut DataProfile,
) -> Result<Narrowed, DataError> {
    let path = opened.path();
    let mut columns = Vec::with_capacity(plan.read.len());
    for (name, source) in &plan.read {
        let column = whole.column(source).map_err(|e| parse_error(path, e))?;
        let kind = column_spec(name).map_or(ColumnKind::Text, |s| s.kind);
        columns.push(convert(path, column, name, kind, opened.decimal)?);
    }
    let frame = DataFrame::new(whole.height(), columns).map_err(|e| parse_error(path, e))?;
    let frame = derive_dates(path, frame, plan, options, profile)?;
    let mut skipped = Skipped::default();
    let frame = drop_incomplete_rows(frame, &mut skipped).map_err(|e| parse_error(path, e))?;
    let frame = drop_non_finite_rows(frame, &mut skipped).map_err(|e| parse_error(path, e))?;
    if frame.height() == 0 {
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
        });
    }
    let mut derived = Vec::new();
    let frame = derive_columns(frame, &plan.derive, &mut derived).map_err(|e| parse_error(path, e))?;
    Ok(Narrowed {
        frame,
        skipped,
        derived,
    })
}

/// One column as its role needs it; the first value that does not convert is an error
/// naming its line.
fn convert(path: &Path, column: &Column, name: &str, kind: ColumnKind, decimal: Decimal) -> Result<Column, DataError> {
    let target = PlSmallStr::from(name);
    let bad = |(row, value): (usize, &str)| DataError::BadValue {
        path: path.to_path_buf(),
        line: row + 2,
        column: column.name().to_string(),
        kind,
        value: value.chars().take(40).collect(),
    };
    let dtype = column.dtype();
    match kind {
        ColumnKind::Text | ColumnKind::Date => {
            let text = as_text(column).map_err(|e| parse_error(path, e))?;
            Ok(text.with_name(target))
        }
        ColumnKind::Number => {
            if dtype.is_primitive_numeric() {
                let c = column.cast(&DataType::Float64).map_err(|e| parse_error(path, e))?;
                return Ok(c.with_name(target));
            }
            let values = column.str().map_err(|e| parse_error(path, e))?;
            let out = parse_each(values, |v| parse_number(v, decimal)).map_err(bad)?;
            Ok(Column::new(target, out))
        }
        ColumnKind::Integer => {
            let parse: fn(&str) -> Option<i64> = match name {
                "quarter" => dates::parse_quarter,
                "month" => dates::parse_month,
                "year" => dates::parse_year,
                _ => |v| v.trim().parse().ok(),
            };
            if dtype.is_integer() {
                let c = column.cast(&DataType::Int64).map_err(|e| parse_error(path, e))?;
                return Ok(c.with_name(target));
            }
            let text = as_text(column).map_err(|e| parse_error(path, e))?;
            let values = text.str().map_err(|e| parse_error(path, e))?;
            let out = parse_each(values, parse).map_err(bad)?;
            Ok(Column::new(target, out))
        }
    }
}

pub(super) fn parse_error(path: &Path, e: PolarsError) -> DataError {
    DataError::Parse {
        path: path.to_path_buf(),
        reason: first_line(&e.to_string()),
    }
}

/// Rows with an empty value in a column we read cannot be analysed; drop them and count.
fn drop_incomplete_rows(frame: DataFrame, skipped: &mut Skipped) -> PolarsResult<DataFrame> {
    let before = frame.height();
    let nulls: Vec<String> = frame
        .columns()
        .iter()
        .filter(|c| c.null_count() > 0)
        .map(|c| c.name().to_string())
        .collect();
    if nulls.is_empty() {
        skipped.incomplete = Some((0, before, nulls));
        return Ok(frame);
    }
    let frame = frame.drop_nulls::<String>(None)?;
    skipped.incomplete = Some((before - frame.height(), before, nulls));
    Ok(frame)
}

/// NaN and infinite numbers would poison every sum they reach; drop their rows and count.
fn drop_non_finite_rows(frame: DataFrame, skipped: &mut Skipped) -> PolarsResult<DataFrame> {
    let mut keep = vec![true; frame.height()];
    let mut columns = Vec::new();
    for column in frame.columns() {
        let Ok(values) = column.f64() else { continue };
        let mut found = false;
        for (i, v) in values.iter().enumerate() {
            if v.is_some_and(|x| !x.is_finite()) {
                keep[i] = false;
                found = true;
            }
        }
        if found {
            columns.push(column.name().to_string());
        }
    }
    let before = frame.height();
    if columns.is_empty() {
        skipped.non_finite = Some((0, before, columns));
        return Ok(frame);
    }
    let mask: BooleanChunked = keep.into_iter().collect();
    let frame = frame.filter(&mask)?;
    skipped.non_finite = Some((before - frame.height(), before, columns));
    Ok(frame)
}

/// Every non-empty value through `parse`, empty ones left empty; the first value that does
/// not parse is the error, with its row.
pub(super) fn parse_each<T>(
    values: &StringChunked,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<Option<T>>, (usize, &str)> {
    let mut out = Vec::with_capacity(values.len());
    for (row, v) in values.iter().enumerate() {
        match v.filter(|v| !v.trim().is_empty()) {
            None => out.push(None),
            Some(v) => out.push(Some(parse(v).ok_or((row, v))?)),
        }
    }
    Ok(out)
}

/// A column as text, whatever its type.
pub(super) fn as_text(column: &Column) -> PolarsResult<Column> {
    if column.dtype() == &DataType::String {
        Ok(column.clone())
    } else {
        column.cast(&DataType::String)
    }
}
