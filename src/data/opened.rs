//! A file opened: scanned (hash, format, dialect), its header read and mapped to roles,
//! its decimal separator decided, before its body is parsed.

use std::path::Path;

use polars::prelude::*;

use super::columns::{ColumnPlan, parse_each, parse_error, plan_columns};
use super::dates;
use super::error::DataError;
use super::loader::{Dataset, LoadOptions};
use super::numbers::{Decimal, detect_decimal, parse_number};
use super::profile::{ColumnProfile, DataProfile, MissingColumn};
use super::read_mode::ReadMode;
use super::roles::Mapping;
use super::schema::{ColumnKind, column_spec};
use super::source::{self, CsvScope, FileFormat, Scan};
use crate::reference::Reference;

/// A file whose header, mapping and dialect are known, before its body is parsed.
pub(super) struct Opened {
    pub(super) scan: Scan,
    pub(super) header: Vec<String>,
    pub(super) mapping: Mapping,
    /// The decimal separator, decided from the CSV's first records.
    pub(super) decimal: Decimal,
    /// Whole or in batches, decided from the scan.
    pub(super) mode: ReadMode,
    /// Parquet read whole and workbooks are read to learn their columns.
    pub(super) frame: Option<DataFrame>,
    pub(super) sheet: Option<String>,
}

pub(super) fn open(path: &Path, options: &LoadOptions) -> Result<Opened, DataError> {
    let scan = source::scan(path, options.progress.get())?;
    if let Some(p) = options.progress.get() {
        p.set_stage(super::Stage::Parsing);
    }
    open_scanned(scan, options)
}

/// A file opened from its scan (or a CSV's from its first MiB: [`source::scan_head`]).
pub(super) fn open_scanned(scan: Scan, options: &LoadOptions) -> Result<Opened, DataError> {
    let path = scan.path.clone();
    let path = path.as_path();
    let mode = ReadMode::of(&scan, options.streams_from());
    let (header, frame, sheet) = match scan.format {
        FileFormat::Csv => {
            let csv = scan.csv.as_ref().expect("CSV scan");
            let mut header: Vec<String> = csv.sample.first().cloned().unwrap_or_default();
            if let Some(first) = header.first_mut() {
                *first = first.trim_start_matches('\u{feff}').to_string();
            }
            let header: Vec<String> = header.into_iter().map(|h| h.trim().to_string()).collect();
            (header, None, None)
        }
        // A large Parquet file is read a few row groups at a time (`stream`): its columns
        // come from its footer.
        FileFormat::Parquet if mode == ReadMode::Batches => (source::parquet_layout(path)?.0, None, None),
        FileFormat::Parquet => {
            let frame = source::read_parquet(path)?;
            let header = frame.get_column_names().iter().map(|c| c.to_string()).collect();
            (header, Some(frame), None)
        }
        FileFormat::Xlsx | FileFormat::Xls => {
            let (frame, sheet) = source::read_workbook(path, scan.format, options.sheet.as_deref())?;
            let header = frame.get_column_names().iter().map(|c| c.to_string()).collect();
            (header, Some(frame), Some(sheet))
        }
        // A scan reads files; a warehouse is read by `warehouse`, before any scan.
        FileFormat::Postgres => {
            return Err(DataError::Unreadable {
                path: path.to_path_buf(),
                reason: "a warehouse URL, not a file".into(),
            });
        }
    };
    let mut seen = std::collections::HashSet::new();
    for name in &header {
        if !seen.insert(name) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                column: name.clone(),
            });
        }
    }
    let mapping = Mapping::resolve(&header, &options.columns).map_err(|source| DataError::Mapping {
        path: path.to_path_buf(),
        source,
    })?;
    let decimal = match &scan.csv {
        Some(csv) => {
            // Values of columns that are not dates or dimensions say how decimals are written.
            let skip: Vec<usize> = header
                .iter()
                .enumerate()
                .filter(|(_, h)| {
                    mapping.role_of(h).is_some_and(|r| {
                        matches!(
                            column_spec(r).map(|s| s.kind),
                            Some(ColumnKind::Text | ColumnKind::Date)
                        )
                    })
                })
                .map(|(i, _)| i)
                .collect();
            let values = csv.sample.iter().skip(1).flat_map(|r| {
                r.iter()
                    .enumerate()
                    .filter(|(i, _)| !skip.contains(i))
                    .map(|(_, v)| v.as_str())
            });
            detect_decimal(values).unwrap_or(if csv.delimiter == b';' {
                Decimal::Comma
            } else {
                Decimal::Point
            })
        }
        None => Decimal::Point,
    };
    Ok(Opened {
        scan,
        header,
        mapping,
        decimal,
        mode,
        frame,
        sheet,
    })
}

impl Opened {
    /// The plan of the flow's columns in `frame` (this file's first records, or its
    /// whole), by this file's mapping; what the flow requires and the file lacks otherwise.
    pub(super) fn plan(
        &self,
        required: &[&str],
        options: &LoadOptions,
        profile: &DataProfile,
        frame: &DataFrame,
    ) -> Result<(ColumnPlan, Vec<MissingColumn>), Vec<MissingColumn>> {
        plan_columns(&self.mapping, &self.header, required, &options.optional, profile, frame)
    }

    pub(super) fn path(&self) -> &Path {
        &self.scan.path
    }

    /// Whether `other` reads the file as this does: the same bytes (by size and time), the
    /// same encoding, delimiter, decimal separator, header and roles; so what was read
    /// after one holds for the other.
    pub(super) fn reads_as(&self, other: &Opened) -> bool {
        let dialect = |o: &Opened| {
            o.scan
                .csv
                .as_ref()
                .map(|c| (c.encoding, c.delimiter, c.transcoded.is_some()))
        };
        self.scan.stamp == other.scan.stamp
            && self.scan.format == other.scan.format
            && dialect(self) == dialect(other)
            && self.decimal == other.decimal
            && self.header == other.header
            && self.mapping == other.mapping
            && self.frame.is_none()
            && other.frame.is_none()
    }

    pub(super) fn dataset_reference(&self, options: &LoadOptions) -> Reference {
        let mapping = self.mapping.signature();
        let options = options.signature();
        if mapping.is_empty() && options == "\u{1f}" {
            return self.scan.reference;
        }
        Reference::of_parts([
            b"dataset/v1".as_slice(),
            self.scan.reference.to_string().as_bytes(),
            mapping.as_bytes(),
            options.as_bytes(),
        ])
    }

    /// The file's columns in `scope` (a CSV's; a workbook or Parquet file is read whole),
    /// typed as far as the values allow: numbers written with grouping, currency or decimal
    /// commas become numbers, so the baseline's describe() sees what an analyst sees.
    pub(super) fn read(&self, scope: &CsvScope) -> Result<DataFrame, DataError> {
        let frame = match &self.frame {
            Some(frame) => Ok(frame.clone()),
            None if self.scan.format == FileFormat::Parquet => return self.typed(source::read_parquet(self.path())?),
            None => source::read_csv(&self.scan, self.decimal == Decimal::Comma, scope)
                // A value past the rows types were inferred from: read text, convert below.
                .or_else(|_| source::read_csv(&self.scan, true, scope)),
        }
        .map_err(|e| parse_error(self.path(), e))?;
        self.typed(frame)
    }

    /// Whether a CSV parsed whole before the scan finished ([`source::EarlyParse`]) is what
    /// [`read`](Opened::read) would parse: a CSV whose numbers have decimal points.
    pub(super) fn takes_early_parse(&self) -> bool {
        self.frame.is_none() && self.scan.csv.is_some() && self.decimal != Decimal::Comma
    }

    /// Text columns of numbers (currency, decimal commas, percentages) as numbers; not
    /// dimensions, dates and periods, which stay as read: a store id `101` is not a number.
    /// [`read`](Opened::read) types what it parses so, and the loader an early parse.
    pub(super) fn typed(&self, frame: DataFrame) -> Result<DataFrame, DataError> {
        let keep_text: Vec<&str> = self
            .mapping
            .roles
            .iter()
            .filter(|(role, _)| {
                matches!(
                    column_spec(role).map(|s| s.kind),
                    Some(ColumnKind::Text | ColumnKind::Date | ColumnKind::Integer)
                )
            })
            .map(|(_, (column, _))| column.as_str())
            .collect();
        let columns: Vec<Column> = frame
            .columns()
            .iter()
            .map(|c| {
                if c.dtype() == &DataType::String && !keep_text.contains(&c.name().as_str()) {
                    numbers_if_all(c, self.decimal).unwrap_or_else(|| c.clone())
                } else {
                    c.clone()
                }
            })
            .collect();
        DataFrame::new(frame.height(), columns).map_err(|e| parse_error(self.path(), e))
    }

    pub(super) fn profile(&self, whole: &DataFrame) -> DataProfile {
        let columns = whole
            .columns()
            .iter()
            .map(|c| {
                let name = c.name().to_string();
                let role = self.mapping.role_of(&name);
                ColumnProfile {
                    kind: kind_of(c, self.decimal).to_string(),
                    matched: role.and_then(|r| self.mapping.roles.get(r)).map(|(_, m)| *m),
                    role: role.map(str::to_string),
                    name,
                }
            })
            .collect();
        let csv = self.scan.csv.as_ref();
        let mut notes = Vec::new();
        if let Some(csv) = csv
            && csv.encoding != source::TextEncoding::Utf8
        {
            notes.push(format!("read as {} (not UTF-8) and transcoded", csv.encoding.as_str()));
        }
        let renamed: Vec<String> = self
            .mapping
            .roles
            .iter()
            .filter(|(role, (column, _))| **role != column.as_str())
            .map(|(role, (column, _))| format!("{role} ← `{column}`"))
            .collect();
        if !renamed.is_empty() {
            notes.push(format!("mapped {}", renamed.join(", ")));
        }
        if csv.is_some() && self.decimal == Decimal::Comma {
            notes.push("numbers read with decimal commas".into());
        }
        DataProfile {
            path: self.path().to_path_buf(),
            format: self.scan.format,
            encoding: csv.map(|c| c.encoding.as_str().to_string()),
            delimiter: csv.map(|c| (c.delimiter as char).to_string()),
            decimal: csv.map(|_| self.decimal.char().to_string()),
            sheet: self.sheet.clone(),
            date_format: None,
            rows: whole.height(),
            columns,
            roles: self
                .mapping
                .roles
                .iter()
                .map(|(r, (c, _))| (r.to_string(), c.clone()))
                .collect(),
            ambiguous: self
                .mapping
                .ambiguous
                .iter()
                .map(|(r, c)| (r.to_string(), c.clone()))
                .collect(),
            notes,
            grouped: None,
            unavailable: Vec::new(),
        }
    }

    /// Where the planned columns sit in the header, in file order.
    pub(super) fn positions(&self, plan: &ColumnPlan) -> Vec<usize> {
        let mut positions: Vec<usize> = plan
            .read
            .iter()
            .filter_map(|(_, source)| self.header.iter().position(|h| h == source))
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions
    }

    /// A profile made from the first rows, corrected by the columns then read whole: the
    /// row count, and those columns' kinds.
    pub(super) fn complete_profile(&self, profile: &mut DataProfile, read: &DataFrame) {
        profile.rows = read.height();
        for column in read.columns() {
            if let Some(p) = profile.columns.iter_mut().find(|p| p.name == column.name().as_str()) {
                p.kind = kind_of(column, self.decimal).to_string();
            }
        }
    }

    pub(super) fn into_dataset(self, reference: Reference, frame: DataFrame, profile: DataProfile) -> Dataset {
        Dataset {
            path: self.scan.path,
            frame,
            reference,
            file_reference: self.scan.reference,
            file_bytes: self.scan.bytes,
            file_columns: self.header,
            notes: profile.notes.clone(),
            profile,
            sums: None,
        }
    }
}

/// What a column's values are: from its type, or for text from its values.
pub(super) fn kind_of(c: &Column, decimal: Decimal) -> &'static str {
    let dtype = c.dtype();
    if c.null_count() == c.len() {
        return "empty";
    }
    if dtype.is_integer() {
        return "integer";
    }
    if dtype.is_float() {
        return "number";
    }
    if dtype.is_temporal() {
        return "date";
    }
    if dtype == &DataType::Boolean {
        return "boolean";
    }
    let Ok(values) = c.str() else { return "text" };
    let sample: Vec<&str> = values
        .iter()
        .flatten()
        .filter(|v| !v.trim().is_empty())
        .take(1000)
        .collect();
    if sample.is_empty() {
        "empty"
    } else if sample.iter().all(|v| parse_number(v, decimal).is_some()) {
        "number"
    } else if sample.iter().all(|v| dates::looks_like_date(v)) {
        "date"
    } else {
        "text"
    }
}

/// A text column as numbers when every value reads as one; `None` otherwise.
pub(super) fn numbers_if_all(c: &Column, decimal: Decimal) -> Option<Column> {
    let values = c.str().ok()?;
    let first = values.iter().flatten().find(|v| !v.trim().is_empty())?;
    parse_number(first, decimal)?;
    let out = parse_each(values, |v| parse_number(v, decimal)).ok()?;
    Some(Column::new(c.name().clone(), out))
}
