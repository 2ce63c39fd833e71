//! Each parsed batch typed as the first one was, shown whole to the observer, narrowed to
//! the flow's columns and added to the sums; a batch that does not fit the first one's
//! types asks for another pass.

use polars::prelude::*;

use super::parse::Parsed;
use super::sums::Sums;
use super::{Pass, Reading, counting_file_rows};
use crate::data::columns::{ColumnPlan, Skipped, narrow_counting, parse_error};
use crate::data::dates::DateFormat;
use crate::data::error::DataError;
use crate::data::loader::{LoadOptions, Narrowed, WholeBatch, WholeFrameObserver};
use crate::data::profile::{DataProfile, Grouped, NumberStats};
use crate::data::source::unreadable;

/// The pass's batches, as they come, added up into the dataset.
pub(super) fn add_up(
    r: &Reading<'_>,
    observe: &mut Option<WholeFrameObserver<'_>>,
    batches: impl IntoIterator<Item = Parsed>,
) -> Result<Pass, DataError> {
    let Reading {
        opened,
        required,
        options,
        types,
    } = *r;
    let path = opened.path();
    let progress = options.progress.get();
    if let Some(p) = progress {
        p.set_total(opened.scan.bytes);
        p.start_batches();
    }
    let mut first: Option<First> = None;
    let mut rows_before = 0usize;
    let mut skipped = Skipped::default();
    let mut sums: Option<Sums> = None;
    let mut numbers: Vec<NumberStats> = Vec::new();
    let mut analysed = 0usize;
    for parsed in batches {
        let parsed = match parsed {
            Parsed::Frame(frame, consumed) => {
                if let Some(p) = progress {
                    p.add_read(consumed);
                }
                frame
            }
            Parsed::Failed { first: false, .. } if !types.all_text => return Ok(Pass::AllText),
            Parsed::Failed { error, .. } => return Err(parse_error(path, error)),
            Parsed::Unreadable(e) => return Err(unreadable(path, e)),
        };
        let whole =
            keep_text(opened.typed(parsed.clone())?, &parsed, &types.keep_text).map_err(|e| parse_error(path, e))?;
        if let Some(f) = &first {
            let retyped = f.retyped(&whole);
            if !retyped.is_empty() {
                return Ok(Pass::KeepText(retyped));
            }
        }
        let whole = match &first {
            Some(f) => f.aligned(whole, &parsed).map_err(|e| parse_error(path, e))?,
            None => whole,
        };
        if let Some(observe) = observe.as_mut() {
            observe(WholeBatch {
                frame: &whole,
                first: first.is_none(),
            });
        }
        let rows = whole.height();
        if first.is_none() {
            let mut profile = opened.profile(&whole);
            let (plan, unavailable) =
                opened
                    .plan(required, options, &profile, &whole)
                    .map_err(|missing| DataError::MissingColumns {
                        path: path.to_path_buf(),
                        missing,
                        found: opened.header.join(", "),
                        profile: Some(Box::new(counting_file_rows(profile.clone(), opened))),
                    })?;
            profile.unavailable = unavailable;
            first = Some(First {
                dtypes: whole.columns().iter().map(|c| c.dtype().clone()).collect(),
                notes: std::mem::take(&mut profile.notes),
                profile,
                plan,
                options: options.clone(),
                derived: None,
                order: Vec::new(),
            });
        }
        let f = first.as_mut().expect("set above");
        let narrowed = match narrow_counting(opened, &whole, &f.plan, &f.options, &mut f.profile) {
            Ok(n) => Some(n),
            // A batch whose every row is skipped: the file may still have rows.
            Err(DataError::NoRows { .. }) => None,
            Err(e) => return Err(e.after_rows(rows_before)),
        };
        rows_before += rows;
        drop(whole);
        let Some(narrowed) = narrowed else { continue };
        if f.derived.is_none() {
            // Later batches read dates in the format the first one's were found in.
            if f.options.date_format.is_none() {
                f.options.date_format = f.profile.date_format.as_deref().and_then(format_described);
            }
            f.order = narrowed
                .frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect();
            f.derived = Some(narrowed.derived);
        }
        skipped.add(narrowed.skipped, &f.order);
        analysed += narrowed.frame.height();
        add_number_stats(&mut numbers, &narrowed.frame).map_err(|e| parse_error(path, e))?;
        let s = sums.get_or_insert_with(|| Sums::of(&narrowed.frame));
        s.add(narrowed.frame).map_err(|e| parse_error(path, e))?;
    }
    let (Some(f), Some(sums)) = (first, sums) else {
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
        });
    };
    let frame = sums.finish().map_err(|e| parse_error(path, e))?;
    let mut profile = f.profile;
    profile.rows = rows_before;
    profile.notes = f.notes;
    profile.notes.extend(skipped.notes());
    profile.notes.extend(f.derived.unwrap_or_default());
    profile.grouped = Some(Grouped {
        rows: analysed,
        numbers,
    });
    Ok(Pass::Done(Box::new(Narrowed { frame, profile })))
}

/// What the first batch settles for the rest.
struct First {
    /// The types after [`Opened::typed`].
    dtypes: Vec<DataType>,
    /// The profile's notes before narrowing (mapping, decimals).
    notes: Vec<String>,
    profile: DataProfile,
    plan: ColumnPlan,
    options: LoadOptions,
    /// The notes on derived columns, from the first batch that had rows.
    derived: Option<Vec<String>>,
    /// The narrowed columns, in order.
    order: Vec<String>,
}

impl First {
    /// The columns of numbers in the first batch that are not in this one.
    fn retyped(&self, whole: &DataFrame) -> Vec<String> {
        whole
            .columns()
            .iter()
            .zip(&self.dtypes)
            .filter(|(c, dtype)| c.dtype() != *dtype && *dtype != &DataType::String)
            .map(|(c, _)| c.name().to_string())
            .collect()
    }

    /// A column the first batch left as text, as this batch parsed it, though its values
    /// here are all numbers.
    fn aligned(&self, whole: DataFrame, parsed: &DataFrame) -> PolarsResult<DataFrame> {
        let text: Vec<String> = whole
            .columns()
            .iter()
            .zip(&self.dtypes)
            .filter(|(c, dtype)| c.dtype() != *dtype)
            .map(|(c, _)| c.name().to_string())
            .collect();
        keep_text(whole, parsed, &text)
    }
}

/// `typed` with the `keep` columns as parsed, in text.
fn keep_text(typed: DataFrame, parsed: &DataFrame, keep: &[String]) -> PolarsResult<DataFrame> {
    if keep.is_empty() {
        return Ok(typed);
    }
    let columns = typed
        .columns()
        .iter()
        .map(|c| {
            if keep.iter().any(|k| k == c.name().as_str()) {
                parsed.column(c.name())?.cast(&DataType::String)
            } else {
                Ok(c.clone())
            }
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    DataFrame::new(typed.height(), columns)
}

/// A date format from how [`DateFormat::describe`] says it.
fn format_described(text: &str) -> Option<DateFormat> {
    [DateFormat::YearFirst, DateFormat::DayFirst, DateFormat::MonthFirst]
        .into_iter()
        .find(|f| f.describe() == text)
}

/// Each number column's count, range and sum over `frame`, added to `stats`.
fn add_number_stats(stats: &mut Vec<NumberStats>, frame: &DataFrame) -> PolarsResult<()> {
    for column in frame.columns() {
        if !column.dtype().is_primitive_numeric() {
            continue;
        }
        let floats = column.cast(&DataType::Float64)?;
        let floats = floats.f64()?;
        let batch = NumberStats {
            name: column.name().to_string(),
            count: floats.len() - floats.null_count(),
            min: floats.min(),
            max: floats.max(),
            sum: floats.sum().unwrap_or(0.0),
        };
        match stats.iter_mut().find(|s| s.name == batch.name) {
            Some(s) => s.merge(&batch),
            None => stats.push(batch),
        }
    }
    Ok(())
}
