//! Every column of a file read into a frame as the file has it, before roles apply: a
//! CSV (whole, some columns, or its first records), Parquet (whole or some row groups), a
//! workbook's sheet.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader as _};
use polars::prelude::*;

use super::{FileFormat, Scan, unreadable};
use crate::data::DataError;
use crate::data::columns::parse_error;

/// Which part of a CSV file to read.
#[derive(Debug, Clone, Default)]
pub struct CsvScope {
    /// Only these columns (by position in the header); every column when `None`.
    pub columns: Option<Vec<usize>>,
    /// Only the sampled first records ([`CsvScan::head`]), not the whole file.
    pub head_only: bool,
}

/// How polars reads a CSV: the header, the delimiter, `"` quotes, and types inferred from
/// the first 10,000 records, or every column as text.
pub(in crate::data) fn csv_options(delimiter: u8, all_text: bool) -> CsvReadOptions {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_parse_options(
            CsvParseOptions::default()
                .with_separator(delimiter)
                .with_quote_char(Some(b'"')),
        )
        .with_infer_schema_length(Some(if all_text { 0 } else { 10_000 }))
}

/// The columns of a CSV file in `scope` into a frame: typed as polars infers them (as
/// pandas would, which the baseline's describe() imitates), or as text when `all_text` (a
/// file with decimal commas, or a typed read that failed).
pub fn read_csv(scan: &Scan, all_text: bool, scope: &CsvScope) -> PolarsResult<DataFrame> {
    let csv = scan.csv.as_ref().expect("a CSV scan");
    let options = csv_options(csv.delimiter, all_text).with_projection(scope.columns.clone().map(Arc::new));
    let first = match &csv.transcoded {
        _ if scope.head_only => options
            .clone()
            .into_reader_with_file_handle(Cursor::new(csv.head.as_slice()))
            .finish(),
        Some(bytes) => options
            .clone()
            .into_reader_with_file_handle(Cursor::new(bytes.as_slice()))
            .finish(),
        None => options
            .clone()
            .try_into_reader_with_file_path(Some(scan.path.clone()))?
            .finish(),
    };
    match first {
        Ok(frame) => Ok(frame),
        Err(e) => {
            // Quoting polars' parser does not take (a bare quote inside an unquoted field):
            // read the fields as csv-core reads them instead.
            let raw = match &csv.transcoded {
                _ if scope.head_only => csv.head.clone(),
                Some(bytes) => bytes.clone(),
                None => std::fs::read(&scan.path).map_err(|_| e)?,
            };
            let text = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&raw);
            let requoted = crate::data::csv::requote(text, csv.delimiter);
            options.into_reader_with_file_handle(Cursor::new(requoted)).finish()
        }
    }
}

/// A Parquet file's columns.
pub fn read_parquet(path: &Path) -> Result<DataFrame, DataError> {
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    ParquetReader::new(file).finish().map_err(|e| parse_error(path, e))
}

/// A Parquet file's columns and the rows of each of its row groups, from its footer.
pub fn parquet_layout(path: &Path) -> Result<(Vec<String>, Vec<usize>), DataError> {
    let fail = |e| parse_error(path, e);
    let file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut reader = ParquetReader::new(file);
    let columns = reader
        .schema()
        .map_err(fail)?
        .iter_names()
        .map(|n| n.to_string())
        .collect();
    let groups = reader
        .get_metadata()
        .map_err(fail)?
        .row_groups
        .iter()
        .map(|g| g.num_rows())
        .collect();
    Ok((columns, groups))
}

/// `len` rows of a Parquet file from row `start`: a file too large to read at once is read
/// a few row groups at a time.
pub fn read_parquet_rows(path: &Path, start: usize, len: usize) -> PolarsResult<DataFrame> {
    let file = File::open(path)?;
    ParquetReader::new(file).with_slice(Some((start, len))).finish()
}

pub fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// The first sheet (or the one named) of a workbook as a frame: the first non-empty row is
/// the header; a column of numbers becomes numbers, a column of Excel dates ISO dates, and
/// anything mixed text as Excel shows it.
pub fn read_workbook(path: &Path, format: FileFormat, sheet: Option<&str>) -> Result<(DataFrame, String), DataError> {
    let fail = |reason: String| DataError::Parse {
        path: path.to_path_buf(),
        reason,
    };
    let mut workbook: calamine::Sheets<_> = match format {
        FileFormat::Xls => calamine::open_workbook::<calamine::Xls<_>, _>(path)
            .map(calamine::Sheets::Xls)
            .map_err(|e| DataError::BadWorkbook {
                path: path.to_path_buf(),
                kind: ".xls workbook",
                reason: first_line(&e.to_string()),
            })?,
        _ => calamine::open_workbook::<calamine::Xlsx<_>, _>(path)
            .map(calamine::Sheets::Xlsx)
            .map_err(|e| DataError::BadWorkbook {
                path: path.to_path_buf(),
                kind: ".xlsx workbook (a zip archive)",
                reason: first_line(&e.to_string()),
            })?,
    };
    let names = workbook.sheet_names();
    let name = match sheet {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted)
            .cloned()
            .ok_or_else(|| DataError::NoSuchSheet {
                path: path.to_path_buf(),
                sheet: wanted.to_string(),
                sheets: names.join(", "),
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| fail("the workbook has no sheets".into()))?,
    };
    let range = workbook
        .worksheet_range(&name)
        .map_err(|e| fail(format!("sheet `{name}`: {e}")))?;
    let mut rows = range.rows().skip_while(|r| r.iter().all(|c| matches!(c, Data::Empty)));
    let Some(header_row) = rows.next() else {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    };
    let header: Vec<String> = header_row.iter().map(|c| cell_text(c).unwrap_or_default()).collect();
    let body: Vec<&[Data]> = rows.filter(|r| r.iter().any(|c| !matches!(c, Data::Empty))).collect();
    let mut seen = std::collections::HashSet::new();
    let mut columns = Vec::with_capacity(header.len());
    for (i, name) in header.iter().enumerate() {
        if name.trim().is_empty() && body.iter().all(|r| r.get(i).is_none_or(|c| matches!(c, Data::Empty))) {
            continue;
        }
        if !seen.insert(name.clone()) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                column: name.clone(),
            });
        }
        let cells = body.iter().map(|r| r.get(i).unwrap_or(&Data::Empty));
        columns.push(column_of(name, cells.collect()));
    }
    let height = body.len();
    let frame = DataFrame::new(height, columns).map_err(|e| fail(first_line(&e.to_string())))?;
    Ok((frame, name))
}

fn column_of(name: &str, cells: Vec<&Data>) -> Column {
    let present = || cells.iter().filter(|c| !matches!(c, Data::Empty | Data::Error(_)));
    let numeric = present().all(|c| matches!(c, Data::Int(_) | Data::Float(_)));
    if numeric && present().next().is_some() {
        let values: Vec<Option<f64>> = cells
            .iter()
            .map(|c| match c {
                Data::Int(i) => Some(*i as f64),
                Data::Float(f) => Some(*f),
                _ => None,
            })
            .collect();
        return Column::new(PlSmallStr::from(name), values);
    }
    let values: Vec<Option<String>> = cells.iter().map(|c| cell_text(c)).collect();
    Column::new(PlSmallStr::from(name), values)
}

/// A cell as text: dates as ISO (`2024-03-01`, with the time when it has one), whole
/// numbers without `.0`.
fn cell_text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty | Data::Error(_) => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(f.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) => d.as_datetime().map(|t| {
            if t.time() == chrono::NaiveTime::MIN {
                t.date().format("%Y-%m-%d").to_string()
            } else {
                t.format("%Y-%m-%d %H:%M:%S").to_string()
            }
        }),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
    }
}
