//! Why a data file could not be used: every message names the file, and where it can the
//! line, the column or the role, and what would fix it.

use std::path::PathBuf;

use super::profile::{DataProfile, MissingColumn, describe_missing};
use super::roles::MappingError;
use super::schema::ColumnKind;

/// Why a data file could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },
    #[error("{path}: is a directory, expected a data file (CSV, Parquet, .xlsx or .xls)")]
    IsDirectory { path: PathBuf },
    #[error("{path}: cannot read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path}: file is empty, expected a header line")]
    Empty { path: PathBuf },
    #[error("{path}: not a CSV, Parquet or Excel file (binary content at byte {offset})")]
    Binary { path: PathBuf, offset: usize },
    #[error("{path}: looks like JSON, expected a CSV file with a header line (or Parquet, .xlsx, .xls)")]
    LooksLikeJson { path: PathBuf },
    #[error(
        "{path}: line {line}: not valid UTF-8 (byte 0x{byte:02X}) in a file that is otherwise UTF-8; \
         the file is damaged, or mixes encodings: save it as UTF-8"
    )]
    NotUtf8 { path: PathBuf, line: usize, byte: u8 },
    #[error("{path}: line 1 is longer than {limit} bytes, expected a CSV header line")]
    HeaderTooLong { path: PathBuf, limit: usize },
    #[error("{path}: line 1: duplicate column `{column}`")]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("{path}: {source}")]
    Mapping { path: PathBuf, source: MappingError },
    #[error("{path}: looks like an {kind} but cannot be opened: {reason}")]
    BadWorkbook {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("{path}: no sheet `{sheet}`; its sheets are: {sheets}")]
    NoSuchSheet {
        path: PathBuf,
        sheet: String,
        sheets: String,
    },
    #[error("{path}: missing {}; found columns: {found}", describe_all(.missing))]
    MissingColumns {
        path: PathBuf,
        missing: Vec<MissingColumn>,
        found: String,
        /// What the file is and how it mapped, for a front end to show.
        profile: Option<Box<DataProfile>>,
    },
    /// The file maps, but no analysis of the flow can run on it.
    #[error("{0}")]
    CannotRun(Box<CannotRun>),
    #[error("{path}: line {line}, column `{column}`: expected {kind}, found `{value}`")]
    BadValue {
        path: PathBuf,
        line: usize,
        column: String,
        kind: ColumnKind,
        value: String,
    },
    #[error(
        "{path}: line {line}, column `{column}`: `{value}` is not a date in the column's format ({format}), \
         like line {}'s `{}`; the dates are in mixed formats, use one",
        .first.0,
        .first.1
    )]
    MixedDates {
        path: PathBuf,
        line: usize,
        column: String,
        value: String,
        format: String,
        /// The first date read in the column's format: its line and value.
        first: Box<(usize, String)>,
    },
    #[error(
        "{path}: column `{column}`: every date reads day-first and month-first alike (e.g. `{examples}`); \
         choose with --date-format dmy or --date-format mdy (or [data] date_format in config.toml)"
    )]
    AmbiguousDates {
        path: PathBuf,
        column: String,
        examples: String,
    },
    #[error(
        "{path}: column `{column}`: line {} (`{}`) is day-first but line {} (`{}`) is month-first; use one \
         order (or choose with --date-format)",
        .day_first.0,
        .day_first.1,
        .month_first.0,
        .month_first.1
    )]
    MixedDayMonth {
        path: PathBuf,
        column: String,
        /// Line and value of a date only day-first reads, and of one only month-first reads.
        day_first: Box<(usize, String)>,
        month_first: Box<(usize, String)>,
    },
    #[error(
        "{path}: line {line}: {found} fields, but the header has {expected} (delimiter `{}`){}",
        show_delimiter(*.delimiter),
        if *.spans_lines { "; a quote opened in this record may not be closed" } else { "" }
    )]
    Ragged {
        path: PathBuf,
        line: usize,
        found: usize,
        expected: usize,
        delimiter: char,
        spans_lines: bool,
    },
    #[error("{path}: has a header but no data rows")]
    NoRows { path: PathBuf },
    #[error("{path}: the file changed while it was being read; run again once it is complete")]
    ChangedWhileReading { path: PathBuf },
    #[error("{path}: cannot parse: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// A warehouse could not be read: `path` is its URL without the password, `reason` the
    /// server's or the connection's one line, naming the host and the table or column.
    #[error("{path}: {reason}")]
    Warehouse { path: PathBuf, reason: String },
    #[error("{path}: cancelled; the server was asked to stop the query")]
    Cancelled { path: PathBuf },
}

impl DataError {
    /// This error of a batch of the file's records as an error of the file: its lines moved
    /// past the `rows` records before the batch.
    pub(super) fn after_rows(mut self, rows: usize) -> DataError {
        match &mut self {
            DataError::BadValue { line, .. } | DataError::Ragged { line, .. } => *line += rows,
            DataError::MixedDates { line, first, .. } => {
                *line += rows;
                first.0 += rows;
            }
            DataError::MixedDayMonth {
                day_first, month_first, ..
            } => {
                day_first.0 += rows;
                month_first.0 += rows;
            }
            _ => {}
        }
        self
    }

    /// The file's profile, when the file could be read but not used as the flow needs.
    pub fn profile(&self) -> Option<&DataProfile> {
        match self {
            DataError::MissingColumns { profile, .. } => profile.as_deref(),
            DataError::CannotRun(c) => c.profile.as_deref(),
            _ => None,
        }
    }
}

fn show_delimiter(d: char) -> String {
    match d {
        '\t' => "tab".into(),
        other => other.to_string(),
    }
}

/// A flow none of whose analyses the file can feed.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: flow `{flow}` cannot run on this file: missing {}; found columns: {found}{}",
    describe_all(.missing),
    flows_that_run(.runs_instead)
)]
pub struct CannotRun {
    pub path: PathBuf,
    pub flow: String,
    pub missing: Vec<MissingColumn>,
    pub found: String,
    /// Built-in flows that do run on the file, each with `partly` when it would skip some
    /// of its work.
    pub runs_instead: Vec<String>,
    pub profile: Option<Box<DataProfile>>,
}

fn flows_that_run(flows: &[String]) -> String {
    if flows.is_empty() {
        "; no built-in flow runs on it".into()
    } else {
        format!("; built-in flows that run on it: {} (--flow NAME)", flows.join(", "))
    }
}

/// The roles a failed load lacks, for a front end's table.
impl DataError {
    pub fn missing(&self) -> &[MissingColumn] {
        match self {
            DataError::MissingColumns { missing, .. } => missing,
            DataError::CannotRun(c) => &c.missing,
            _ => &[],
        }
    }
}

fn describe_all(missing: &[MissingColumn]) -> String {
    missing.iter().map(describe_missing).collect::<Vec<_>>().join("; ")
}
