//! Loads a sales file once: hashes its bytes, reads it whatever its format (CSV in any
//! common dialect, Parquet, Excel), maps its columns to roles, converts the values the flow
//! needs (decimal commas, currency, quarters as `Q3`, dates in any common order), derives
//! what can be derived, and says what it did.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::dates::{self, DateFormat, DateProblem};
use super::numbers::{Decimal, detect_decimal, parse_number};
use super::profile::{ColumnProfile, DataProfile, MissingColumn, describe_missing};
use super::roles::{self, ExplicitColumn, Mapping, MappingError, candidates_for, dimension_role, find_column};
use super::schema::{ColumnKind, Derivation, column_spec};
use super::source::{self, CsvScope, FileFormat, Scan, file_stamp, first_line};
use crate::reference::Reference;

/// A loaded dataset. Flow state refers to it by `reference`, never by content.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: PathBuf,
    /// Columns named by role (`total_revenue`, `brand`, …) or, for a dimension the flow
    /// names by a column of the file, by that name.
    pub frame: DataFrame,
    /// What every downstream result is keyed by: the file's bytes, and the column mapping
    /// when it is not every role read from the column of its own name.
    pub reference: Reference,
    /// blake3 of the file's bytes.
    pub file_reference: Reference,
    pub file_bytes: u64,
    /// Every column in the file's header, read or not.
    pub file_columns: Vec<String>,
    /// What the loader did beyond reading: mapping, derived columns, skipped rows.
    pub notes: Vec<String>,
    /// Format, dialect, columns and roles.
    pub profile: DataProfile,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.frame.height()
    }

    pub fn columns(&self) -> Vec<String> {
        self.frame.get_column_names().iter().map(|c| c.to_string()).collect()
    }
}

/// How to read a file beyond what can be detected: explicit roles, the date format, the
/// sheet of a workbook.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// `ROLE=COLUMN` pairs; a later pair for the same role wins.
    pub columns: Vec<ExplicitColumn>,
    pub date_format: Option<DateFormat>,
    pub sheet: Option<String>,
    /// Where to report how far the load has got (bytes read, then parsing).
    pub progress: super::Progress,
}

impl LoadOptions {
    /// What these options change about results, for the dataset's reference.
    fn signature(&self) -> String {
        let date = self.date_format.as_ref().map(DateFormat::describe).unwrap_or_default();
        format!("{date}\u{1f}{}", self.sheet.as_deref().unwrap_or_default())
    }
}

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
}

impl DataError {
    /// The file's profile, when the file could be read but not used as the flow needs.
    pub fn profile(&self) -> Option<&DataProfile> {
        match self {
            DataError::MissingColumns { profile, .. } => profile.as_deref(),
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

fn describe_all(missing: &[MissingColumn]) -> String {
    missing.iter().map(describe_missing).collect::<Vec<_>>().join("; ")
}

/// Somewhere loaded frames can be kept between launches, keyed by the file's bytes, the
/// mapping and the columns read, so a large file is parsed once.
pub trait FrameStore {
    fn get_frame(&self, key: &Reference) -> Option<(DataFrame, DataProfile)>;
    fn put_frame(&self, key: &Reference, frame: &DataFrame, profile: &DataProfile, source: &Path);
}

/// Sees every column of a file as it is read, before the frame is narrowed to the columns
/// a flow needs; given the dataset's reference.
pub type WholeFrameObserver<'a> = &'a mut dyn FnMut(&Reference, &DataFrame);

/// Loads `path` with detection alone, reading the `required` roles.
pub fn load_csv(path: &Path, required: &[&str]) -> Result<Dataset, DataError> {
    load(path, required, &LoadOptions::default(), None, None)
}

/// Loads `path`, reading the `required` roles (deriving those that are missing but
/// derivable) and any other required name as a column of the file. The parsed frame comes
/// from `frames` when this file was loaded under the same mapping before; the file is still
/// hashed and checked every time. `observe` sees every column once, before narrowing (the
/// baseline's `describe()` comes from it, so the file is parsed once).
pub fn load(
    path: &Path,
    required: &[&str],
    options: &LoadOptions,
    frames: Option<&dyn FrameStore>,
    observe: Option<WholeFrameObserver<'_>>,
) -> Result<Dataset, DataError> {
    let opened = open(path, options)?;
    let reference = opened.dataset_reference(options);
    let key = Reference::of_parts([
        b"frame/v2".as_slice(),
        reference.to_string().as_bytes(),
        required.join(",").as_bytes(),
    ]);
    if let Some((frame, profile)) = frames.and_then(|f| f.get_frame(&key)) {
        return Ok(opened.into_dataset(reference, frame, profile));
    }
    let stamp = opened.scan.stamp;
    // With nobody to see every column, a CSV's other columns are typed from its sampled
    // first records and only the columns the flow reads are parsed whole.
    let projected = observe.is_none() && opened.frame.is_none();
    let scope = CsvScope {
        columns: None,
        head_only: projected,
    };
    let first = opened.read(&scope)?;
    let mut profile = opened.profile(&first);
    let plan = match plan_columns(&opened, required, &profile) {
        Ok(plan) => plan,
        Err(missing) => {
            if projected {
                // The profile shown beside the error is of the whole file.
                profile = opened.profile(&opened.read(&CsvScope::default())?);
            }
            return Err(DataError::MissingColumns {
                path: path.to_path_buf(),
                missing,
                found: opened.header.join(", "),
                profile: Some(Box::new(profile)),
            });
        }
    };
    let whole = if projected {
        let read = opened.read(&CsvScope {
            columns: Some(opened.positions(&plan)),
            head_only: false,
        })?;
        opened.complete_profile(&mut profile, &read);
        read
    } else {
        first
    };
    if let Some(observe) = observe {
        observe(&reference, &whole);
    }
    let frame = narrow(&opened, &whole, &plan, options, &mut profile)?;
    drop(whole);
    // The hash and the parse are two reads; a file being written meanwhile would leave a
    // frame that is not what the reference names (and would be cached under it).
    if stamp != file_stamp(path) {
        return Err(DataError::ChangedWhileReading {
            path: path.to_path_buf(),
        });
    }
    if let Some(f) = frames {
        f.put_frame(&key, &frame, &profile, path);
    }
    if let Some(p) = options.progress.get() {
        p.set_stage(super::Stage::Done);
    }
    Ok(opened.into_dataset(reference, frame, profile))
}

/// What `mrflow-tui data` shows: the file, how it maps, and what keeps a flow from it.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub profile: DataProfile,
    /// Roles or columns the flow needs that the file does not give.
    pub missing: Vec<MissingColumn>,
    /// A value or date the flow needs that cannot be read.
    pub problem: Option<String>,
}

impl Inspection {
    pub fn usable(&self) -> bool {
        self.missing.is_empty() && self.problem.is_none()
    }
}

/// What the file is and how it maps, and what of `required` it cannot give. Fails only
/// when the file cannot be read at all.
pub fn inspect(path: &Path, required: &[&str], options: &LoadOptions) -> Result<Inspection, DataError> {
    let opened = open(path, options)?;
    let whole = opened.read(&CsvScope::default())?;
    let mut profile = opened.profile(&whole);
    let (missing, problem) = match plan_columns(&opened, required, &profile) {
        Ok(plan) => {
            // Convert what a run would convert, so a bad value or date is found here too.
            let mut converted = profile.clone();
            match narrow(&opened, &whole, &plan, options, &mut converted) {
                Ok(_) => {
                    profile = converted;
                    (Vec::new(), None)
                }
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        }
        Err(missing) => (missing, None),
    };
    Ok(Inspection {
        profile,
        missing,
        problem,
    })
}

/// A file whose header, mapping and dialect are known, before its body is parsed.
struct Opened {
    scan: Scan,
    header: Vec<String>,
    mapping: Mapping,
    /// The decimal separator, decided from the CSV's first records.
    decimal: Decimal,
    /// Parquet and workbooks are read whole to learn their columns.
    frame: Option<DataFrame>,
    sheet: Option<String>,
}

fn open(path: &Path, options: &LoadOptions) -> Result<Opened, DataError> {
    let scan = source::scan(path, options.progress.get())?;
    if let Some(p) = options.progress.get() {
        p.set_stage(super::Stage::Parsing);
    }
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
        frame,
        sheet,
    })
}

impl Opened {
    fn path(&self) -> &Path {
        &self.scan.path
    }

    fn dataset_reference(&self, options: &LoadOptions) -> Reference {
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
    fn read(&self, scope: &CsvScope) -> Result<DataFrame, DataError> {
        // Dimensions, dates and periods stay as read: a store id `101` is not a number.
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
        let frame = match &self.frame {
            Some(frame) => Ok(frame.clone()),
            None => source::read_csv(&self.scan, self.decimal == Decimal::Comma, scope)
                // A value past the rows types were inferred from: read text, convert below.
                .or_else(|_| source::read_csv(&self.scan, true, scope)),
        }
        .map_err(|e| DataError::Parse {
            path: self.path().to_path_buf(),
            reason: first_line(&e.to_string()),
        })?;
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
        DataFrame::new(frame.height(), columns).map_err(|e| DataError::Parse {
            path: self.path().to_path_buf(),
            reason: first_line(&e.to_string()),
        })
    }

    fn profile(&self, whole: &DataFrame) -> DataProfile {
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
        }
    }

    /// Where the planned columns sit in the header, in file order.
    fn positions(&self, plan: &ColumnPlan) -> Vec<usize> {
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
    fn complete_profile(&self, profile: &mut DataProfile, read: &DataFrame) {
        profile.rows = read.height();
        for column in read.columns() {
            if let Some(p) = profile.columns.iter_mut().find(|p| p.name == column.name().as_str()) {
                p.kind = kind_of(column, self.decimal).to_string();
            }
        }
    }

    fn into_dataset(self, reference: Reference, frame: DataFrame, profile: DataProfile) -> Dataset {
        Dataset {
            path: self.scan.path,
            frame,
            reference,
            file_reference: self.scan.reference,
            file_bytes: self.scan.bytes,
            file_columns: self.header,
            notes: profile.notes.clone(),
            profile,
        }
    }
}

/// What a column's values are: from its type, or for text from its values.
fn kind_of(c: &Column, decimal: Decimal) -> &'static str {
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
fn numbers_if_all(c: &Column, decimal: Decimal) -> Option<Column> {
    let values = c.str().ok()?;
    let first = values.iter().flatten().find(|v| !v.trim().is_empty())?;
    parse_number(first, decimal)?;
    let out = parse_each(values, |v| parse_number(v, decimal)).ok()?;
    Some(Column::new(c.name().clone(), out))
}

/// Every non-empty value through `parse`, empty ones left empty; the first value that does
/// not parse is the error, with its row.
fn parse_each<T>(values: &StringChunked, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<Option<T>>, (usize, &str)> {
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
fn as_text(column: &Column) -> PolarsResult<Column> {
    if column.dtype() == &DataType::String {
        Ok(column.clone())
    } else {
        column.cast(&DataType::String)
    }
}

/// Which columns to read (frame name, file column) and which to derive, in dependency order.
#[derive(Debug, Default, PartialEq)]
struct ColumnPlan {
    read: Vec<(String, String)>,
    derive: Vec<(String, Derivation)>,
}

fn plan_columns(opened: &Opened, required: &[&str], profile: &DataProfile) -> Result<ColumnPlan, Vec<MissingColumn>> {
    let mut plan = ColumnPlan::default();
    let mut missing = Vec::new();
    let text_columns: Vec<String> = profile
        .columns
        .iter()
        .filter(|c| c.kind == "text")
        .map(|c| c.name.clone())
        .collect();
    for name in required {
        let role = roles::roles().find(|r| r == name).or_else(|| dimension_role(name));
        match role {
            Some(role) => {
                if !add_role(opened, role, &mut plan, &mut Vec::new()) {
                    let spec = column_spec(role);
                    let ambiguous = opened.mapping.ambiguous.get(role);
                    let kind = spec.map_or(ColumnKind::Text, |s| s.kind);
                    missing.push(MissingColumn {
                        name: role.to_string(),
                        kind,
                        derivation: spec.and_then(|s| s.derivation()),
                        candidates: match ambiguous {
                            Some(c) => c.clone(),
                            None if kind == ColumnKind::Text => candidates_for(role, &text_columns, &opened.mapping),
                            None => Vec::new(),
                        },
                        ambiguous: ambiguous.is_some(),
                    });
                }
            }
            None => match find_column(&opened.header, name) {
                Some(column) => {
                    if !plan.read.iter().any(|(n, _)| n == name) {
                        plan.read.push((name.to_string(), column.to_string()));
                    }
                }
                None => missing.push(MissingColumn {
                    name: name.to_string(),
                    kind: ColumnKind::Text,
                    derivation: None,
                    candidates: text_columns.clone(),
                    ambiguous: false,
                }),
            },
        }
    }
    if missing.is_empty() { Ok(plan) } else { Err(missing) }
}

/// Plans to read or derive `role`; false if neither is possible. Derivations are tried in
/// order, none through a role already being derived (profit from cost from profit). An
/// ambiguous role is not derived around: the analyst meant one of its candidates.
fn add_role(opened: &Opened, role: &'static str, plan: &mut ColumnPlan, deriving: &mut Vec<&'static str>) -> bool {
    if plan.read.iter().any(|(c, _)| c == role) || plan.derive.iter().any(|(c, _)| c == role) {
        return true;
    }
    if let Some(column) = opened.mapping.column(role) {
        plan.read.push((role.to_string(), column.to_string()));
        return true;
    }
    if opened.mapping.ambiguous.contains_key(role) || deriving.contains(&role) {
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
            .all(|input| add_role(opened, input, plan, deriving))
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
fn narrow(
    opened: &Opened,
    whole: &DataFrame,
    plan: &ColumnPlan,
    options: &LoadOptions,
    profile: &mut DataProfile,
) -> Result<DataFrame, DataError> {
    let path = opened.path();
    let mut columns = Vec::with_capacity(plan.read.len());
    for (name, source) in &plan.read {
        let column = whole.column(source).map_err(|e| parse_error(path, e))?;
        let kind = column_spec(name).map_or(ColumnKind::Text, |s| s.kind);
        columns.push(convert(path, column, name, kind, opened.decimal)?);
    }
    let frame = DataFrame::new(whole.height(), columns).map_err(|e| parse_error(path, e))?;
    let mut notes = std::mem::take(&mut profile.notes);
    let frame = derive_dates(path, frame, plan, options, profile)?;
    let frame = drop_incomplete_rows(frame, &mut notes).map_err(|e| parse_error(path, e))?;
    let frame = drop_non_finite_rows(frame, &mut notes).map_err(|e| parse_error(path, e))?;
    if frame.height() == 0 {
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
        });
    }
    let frame = derive_columns(frame, &plan.derive, &mut notes).map_err(|e| parse_error(path, e))?;
    profile.notes = notes;
    Ok(frame)
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

fn parse_error(path: &Path, e: PolarsError) -> DataError {
    DataError::Parse {
        path: path.to_path_buf(),
        reason: first_line(&e.to_string()),
    }
}

/// Rows with an empty value in a column we read cannot be analysed; drop them and say so.
fn drop_incomplete_rows(frame: DataFrame, notes: &mut Vec<String>) -> PolarsResult<DataFrame> {
    let before = frame.height();
    let nulls: Vec<String> = frame
        .columns()
        .iter()
        .filter(|c| c.null_count() > 0)
        .map(|c| c.name().to_string())
        .collect();
    if nulls.is_empty() {
        return Ok(frame);
    }
    let frame = frame.drop_nulls::<String>(None)?;
    notes.push(format!(
        "skipped {} of {before} rows with empty values in {}",
        before - frame.height(),
        nulls.join(", ")
    ));
    Ok(frame)
}

/// NaN and infinite numbers would poison every sum they reach; drop their rows and say so.
fn drop_non_finite_rows(frame: DataFrame, notes: &mut Vec<String>) -> PolarsResult<DataFrame> {
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
    if columns.is_empty() {
        return Ok(frame);
    }
    let before = frame.height();
    let mask: BooleanChunked = keep.into_iter().collect();
    let frame = frame.filter(&mask)?;
    notes.push(format!(
        "skipped {} of {before} rows with NaN or infinite numbers in {}",
        before - frame.height(),
        columns.join(", ")
    ));
    Ok(frame)
}

/// Derives year and month from the date column, before rows with empty values are dropped
/// so a bad date's line number is the file's (one line per record). The format comes from
/// the options or from the values; the column is rewritten as ISO dates.
fn derive_dates(
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

fn derive_columns(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(content).unwrap();
        f
    }

    fn numbers(d: &Dataset, column: &str) -> Vec<f64> {
        d.frame
            .column(column)
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    }

    const FULL: &str = "brand,units_sold,price_per_unit,cost_per_unit,total_revenue,total_cost,profit\n\
                        A,10,2.0,1.0,20.0,10.0,10.0\n\
                        B,5,4.0,3.0,20.0,15.0,5.0\n";

    #[test]
    fn reads_required_roles_and_hashes_bytes() {
        let f = write(FULL.as_bytes());
        let d = load_csv(f.path(), &["brand", "profit"]).unwrap();
        assert_eq!(d.rows(), 2);
        assert_eq!(d.columns(), vec!["brand", "profit"]);
        assert_eq!(d.reference, Reference::of_bytes(FULL.as_bytes()));
        assert_eq!(d.file_reference, d.reference);
    }

    #[test]
    fn without_an_observer_only_needed_columns_are_parsed_and_the_profile_still_covers_all() {
        let mut text = String::from("Notes,brand,profit,Extra\n");
        for i in 0..5000 {
            text.push_str(&format!("\"note {i}, long\",B{},{i}.5,{i}\n", i % 7));
        }
        let f = write(text.as_bytes());
        let mut seen = Vec::new();
        let mut observe = |_: &Reference, whole: &DataFrame| seen.push(whole.width());
        let observed = load(
            f.path(),
            &["brand", "profit"],
            &LoadOptions::default(),
            None,
            Some(&mut observe),
        )
        .unwrap();
        assert_eq!(seen, [4]);
        let projected = load_csv(f.path(), &["brand", "profit"]).unwrap();
        assert!(projected.frame.equals(&observed.frame));
        assert_eq!(projected.profile, observed.profile);
        assert_eq!(projected.profile.rows, 5000);
        let kinds: Vec<&str> = projected.profile.columns.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["text", "text", "number", "integer"]);
    }

    #[test]
    fn progress_counts_every_byte_and_ends_done() {
        let f = write(FULL.as_bytes());
        let progress = crate::data::LoadProgress::new();
        let options = LoadOptions {
            progress: crate::data::Progress(Some(progress.clone())),
            ..LoadOptions::default()
        };
        load(f.path(), &["brand"], &options, None, None).unwrap();
        let n = FULL.len() as u64;
        assert_eq!(progress.snapshot(), (n, n, crate::data::Stage::Done));
    }

    #[test]
    fn derives_chains_and_alternatives_and_says_so() {
        let f = write(b"brand,units_sold,price_per_unit,cost_per_unit\nA,10,2.0,1.5\n");
        let d = load_csv(f.path(), &["profit"]).unwrap();
        assert_eq!(numbers(&d, "profit"), vec![5.0]);
        assert_eq!(d.notes.len(), 3);
        // Sales and profit but no cost: cost is revenue − profit.
        let f = write(b"Product,Sales,Profit\nA,100,40\nB,50,-5\n");
        let d = load_csv(f.path(), &["total_cost"]).unwrap();
        assert_eq!(numbers(&d, "total_cost"), vec![60.0, 55.0]);
        assert!(
            d.notes
                .iter()
                .any(|n| n == "derived `total_cost` as total_revenue − profit"),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn an_explicit_mapping_is_part_of_the_reference() {
        let f = write(b"Sub-Category,Segment,Sales,Profit,Quantity\nPhones,Consumer,100,40,1\n");
        let options = LoadOptions {
            columns: vec![ExplicitColumn {
                role: "brand".into(),
                column: "Sub-Category".into(),
                origin: "--column".into(),
            }],
            ..LoadOptions::default()
        };
        let a = load(f.path(), &["brand", "profit"], &options, None, None).unwrap();
        assert_eq!(a.file_reference, Reference::of_bytes(&std::fs::read(f.path()).unwrap()));
        assert_ne!(a.reference, a.file_reference);
        let err = load_csv(f.path(), &["brand"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("role `brand` (text); columns that could serve: Sub-Category, Segment"),
            "{err}"
        );
        assert!(err.profile().is_some());
    }

    #[test]
    fn rows_with_empty_values_and_nan_are_skipped_with_notes() {
        let f = write(b"brand,units_sold\nA,1\nB,\nC,NaN\nD,4\n");
        let d = load_csv(f.path(), &["brand", "units_sold"]).unwrap();
        assert_eq!(d.rows(), 2);
        assert_eq!(
            d.notes,
            vec![
                "skipped 1 of 4 rows with empty values in units_sold",
                "skipped 1 of 3 rows with NaN or infinite numbers in units_sold"
            ]
        );
    }

    #[test]
    fn a_utf8_bom_is_accepted() {
        let f = write(b"\xef\xbb\xbfbrand,units_sold\nA,1\n");
        let d = load_csv(f.path(), &["brand", "units_sold"]).unwrap();
        assert_eq!(d.rows(), 1);
    }
}
