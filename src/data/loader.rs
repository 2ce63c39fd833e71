//! Loads a sales CSV once: hashes its bytes, checks it is text and CSV, reads only the
//! columns the flow needs with polars, derives what can be derived, and says what it did.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use super::schema::{ColumnKind, Derivation, column_spec};
use crate::cache::Reference;

/// A loaded dataset. Flow state refers to it by `reference`, never by content.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: PathBuf,
    pub frame: DataFrame,
    /// blake3 of the file's bytes.
    pub reference: Reference,
    pub file_bytes: u64,
    /// Every column in the file's header, read or not.
    pub file_columns: Vec<String>,
    /// What the loader did beyond reading: derived columns, skipped rows.
    pub notes: Vec<String>,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.frame.height()
    }

    pub fn columns(&self) -> Vec<String> {
        self.frame.get_column_names().iter().map(|c| c.to_string()).collect()
    }
}

/// Why a data file could not be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: file not found")]
    NotFound { path: PathBuf },
    #[error("{path}: is a directory, expected a CSV file")]
    IsDirectory { path: PathBuf },
    #[error("{path}: cannot read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path}: file is empty, expected a CSV header line")]
    Empty { path: PathBuf },
    #[error("{path}: not a CSV file (binary content at byte {offset})")]
    Binary { path: PathBuf, offset: usize },
    #[error("{path}: looks like JSON, expected a CSV file with a header line")]
    LooksLikeJson { path: PathBuf },
    #[error("{path}: line {line}: not valid UTF-8 (byte 0x{byte:02X}); save the file as UTF-8")]
    NotUtf8 { path: PathBuf, line: usize, byte: u8 },
    #[error("{path}: line 1 is longer than {limit} bytes, expected a CSV header line")]
    HeaderTooLong { path: PathBuf, limit: usize },
    #[error("{path}: line 1: duplicate column `{column}`")]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("{path}: {}; found columns: {found}", describe_missing(.missing))]
    MissingColumns {
        path: PathBuf,
        missing: Vec<MissingColumn>,
        found: String,
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
        "{path}: line {line}, column `{column}`: `{value}` is not a YYYY-MM-DD date like line {first_line}'s \
         `{first_value}`; the dates are in mixed formats, use one"
    )]
    MixedDates {
        path: PathBuf,
        line: usize,
        column: String,
        value: String,
        first_line: usize,
        first_value: String,
    },
    #[error("{path}: line {line}: {found} fields, but the header has {expected}")]
    Ragged {
        path: PathBuf,
        line: usize,
        found: usize,
        expected: usize,
    },
    #[error("{path}: has a header but no data rows")]
    NoRows { path: PathBuf },
    #[error("{path}: the file changed while it was being read; run again once it is complete")]
    ChangedWhileReading { path: PathBuf },
    #[error("{path}: cannot parse as CSV: {reason}")]
    Parse { path: PathBuf, reason: String },
}

/// A column the flow needs that the file lacks.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingColumn {
    pub name: String,
    pub kind: ColumnKind,
    /// How it could have been derived, if it is derivable.
    pub derivation: Option<Derivation>,
}

fn describe_missing(missing: &[MissingColumn]) -> String {
    let one = |m: &MissingColumn| match m.derivation {
        Some(d) => format!("`{}` (expected {}, or the columns to derive it as {d})", m.name, m.kind),
        None => format!("`{}` (expected {})", m.name, m.kind),
    };
    let list: Vec<String> = missing.iter().map(one).collect();
    let noun = if missing.len() == 1 { "column" } else { "columns" };
    format!("missing {noun} {}", list.join(", "))
}

/// Bytes inspected for the header and for binary content.
const SNIFF_BYTES: usize = 1 << 20;

/// Somewhere loaded frames can be kept between launches, keyed by the file's bytes and the
/// columns read, so a large CSV is parsed once.
pub trait FrameStore {
    fn get_frame(&self, key: &Reference) -> Option<(DataFrame, Vec<String>)>;
    fn put_frame(&self, key: &Reference, frame: &DataFrame, notes: &[String], source: &Path);
}

/// Loads `path`, reading the `required` columns (deriving those that are missing but
/// derivable). Unknown names in `required` are read as text.
pub fn load_csv(path: &Path, required: &[&str]) -> Result<Dataset, DataError> {
    load_csv_with(path, required, None)
}

/// As [`load_csv`], taking the parsed frame from `frames` when this exact file was loaded
/// for the same columns before. The file is still hashed and validated every time.
pub fn load_csv_with(path: &Path, required: &[&str], frames: Option<&dyn FrameStore>) -> Result<Dataset, DataError> {
    load_csv_observing(path, required, frames, None)
}

/// Sees every column of a file as it is parsed, before the frame is narrowed to the columns
/// a flow needs; given the file's reference.
pub type WholeFrameObserver<'a> = &'a mut dyn FnMut(&Reference, &DataFrame);

/// As [`load_csv_with`], parsing every column once and showing the whole frame to `observe`
/// (the baseline's `describe()` of the file comes from it, so the file is parsed once, not
/// twice). If a column the flow does not need fails to parse, the file is read again for
/// the needed columns alone and `observe` is not called.
pub fn load_csv_observing(
    path: &Path,
    required: &[&str],
    frames: Option<&dyn FrameStore>,
    observe: Option<WholeFrameObserver<'_>>,
) -> Result<Dataset, DataError> {
    let scan = scan_file(path)?;
    let header = parse_header(path, &scan.head)?;
    if let Some((line, found, expected)) = scan.ragged {
        return Err(DataError::Ragged {
            path: path.to_path_buf(),
            line,
            found,
            expected,
        });
    }
    let plan = plan_columns(path, &header, required)?;
    let key = Reference::of_parts([
        b"frame/v1".as_slice(),
        scan.reference.to_string().as_bytes(),
        required.join(",").as_bytes(),
    ]);
    if let Some((frame, notes)) = frames.and_then(|f| f.get_frame(&key)) {
        return Ok(scan.into_dataset(path, header, frame, notes));
    }
    let stamp = scan.stamp;
    let dataset = parse(path, scan, header, &plan, observe)?;
    // The hash and the parse are two reads; a file being written meanwhile would leave a
    // frame that is not what the reference names (and would be cached under it).
    if stamp != file_stamp(path) {
        return Err(DataError::ChangedWhileReading {
            path: path.to_path_buf(),
        });
    }
    if let Some(f) = frames {
        f.put_frame(&key, &dataset.frame, &dataset.notes, path);
    }
    Ok(dataset)
}

/// Every column, typed as pandas would infer them (the baseline's preview shows them so).
fn read_whole(path: &Path) -> PolarsResult<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(10_000))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))?
        .finish()
}

/// The needed columns of the whole frame, cast strictly to their types (a value that does
/// not convert is an error, and the caller reads the file again to say where).
fn narrow(whole: &DataFrame, plan: &ColumnPlan) -> PolarsResult<DataFrame> {
    let columns = plan
        .read
        .iter()
        .map(|name| {
            let column = whole.column(name)?;
            let dtype = dtype_of(name);
            if column.dtype() == &dtype {
                Ok(column.clone())
            } else {
                column.strict_cast(&dtype)
            }
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(whole.height(), columns)
}

fn parse(
    path: &Path,
    scan: Scan,
    header: Vec<String>,
    plan: &ColumnPlan,
    observe: Option<WholeFrameObserver<'_>>,
) -> Result<Dataset, DataError> {
    if let Some(observe) = observe {
        let narrowed = read_whole(path).and_then(|whole| {
            observe(&scan.reference, &whole);
            narrow(&whole, plan)
        });
        if let Ok(frame) = narrowed {
            return finish(path, scan, header, plan, frame);
        }
    }
    let schema: Schema = plan
        .read
        .iter()
        .map(|name| (PlSmallStr::from(name.as_str()), dtype_of(name)))
        .collect();
    let read_names: Arc<[PlSmallStr]> = plan.read.iter().map(|n| PlSmallStr::from(n.as_str())).collect();
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .with_columns(Some(read_names.clone()))
        .with_schema_overwrite(Some(Arc::new(schema)))
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| diagnose(path, &plan.read, e))?;
    finish(path, scan, header, plan, frame)
}

/// Drops unusable rows and derives missing columns.
fn finish(
    path: &Path,
    scan: Scan,
    header: Vec<String>,
    plan: &ColumnPlan,
    frame: DataFrame,
) -> Result<Dataset, DataError> {
    let mut notes = Vec::new();
    let frame = derive_dates(path, frame, &plan.derive)?;
    let frame = drop_incomplete_rows(frame, &mut notes).map_err(|e| parse_error(path, e))?;
    let frame = drop_non_finite_rows(frame, &mut notes).map_err(|e| parse_error(path, e))?;
    if frame.height() == 0 {
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
        });
    }
    let frame = derive_columns(frame, &plan.derive, &mut notes).map_err(|e| parse_error(path, e))?;
    Ok(scan.into_dataset(path, header, frame, notes))
}

/// Size and modification time: what changes when a file is rewritten.
type Stamp = Option<(u64, std::time::SystemTime)>;

fn file_stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.len(), m.modified().ok()?)))
}

struct Scan {
    reference: Reference,
    stamp: Stamp,
    bytes: u64,
    head: Vec<u8>,
    /// The first record whose field count differs from the header's: line, found, expected.
    ragged: Option<(usize, usize, usize)>,
}

impl Scan {
    fn into_dataset(self, path: &Path, header: Vec<String>, frame: DataFrame, notes: Vec<String>) -> Dataset {
        Dataset {
            path: path.to_path_buf(),
            frame,
            reference: self.reference,
            file_bytes: self.bytes,
            file_columns: header,
            notes,
        }
    }
}

/// One pass over the file: blake3 hash, UTF-8 validation with line numbers, and the first
/// bytes for sniffing. Memory stays bounded whatever the file size.
fn scan_file(path: &Path) -> Result<Scan, DataError> {
    let unreadable = |e: std::io::Error| DataError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound {
            path: path.to_path_buf(),
        },
        _ => unreadable(e),
    })?;
    if meta.is_dir() {
        return Err(DataError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let mut file = File::open(path).map_err(unreadable)?;
    let mut fields = FieldCounter::default();
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 1usize;
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        fields.feed(chunk);
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(n);
            head.extend_from_slice(&chunk[..take]);
            // Text files have no NUL bytes; say "binary" before any UTF-8 complaint.
            if let Some(offset) = head.iter().position(|&b| b == 0) {
                return Err(DataError::Binary {
                    path: path.to_path_buf(),
                    offset,
                });
            }
        }
        total += n as u64;
        // Validate UTF-8 across chunk boundaries by carrying an incomplete trailing sequence.
        carry.extend_from_slice(chunk);
        let valid_up_to = match std::str::from_utf8(&carry) {
            Ok(_) => carry.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                let bad = e.valid_up_to();
                line += count_newlines(&carry[..bad]);
                return Err(DataError::NotUtf8 {
                    path: path.to_path_buf(),
                    line,
                    byte: carry[bad],
                });
            }
        };
        line += count_newlines(&carry[..valid_up_to]);
        carry.drain(..valid_up_to);
    }
    if total == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    if !carry.is_empty() {
        return Err(DataError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            byte: carry[0],
        });
    }
    Ok(Scan {
        reference: Reference::from_hash(hasher.finalize()),
        stamp: meta.modified().ok().map(|t| (meta.len(), t)),
        bytes: total,
        head,
        ragged: fields.finish(),
    })
}

/// Counts the fields of each record as the bytes stream past (quotes respected, so quoted
/// commas and newlines belong to their field) and remembers the first record whose count
/// differs from the header's.
#[derive(Debug, Default)]
struct FieldCounter {
    in_quotes: bool,
    commas: usize,
    /// Bytes other than `\r` seen in the current record.
    content: bool,
    line: usize,
    record_line: usize,
    header: Option<usize>,
    first_bad: Option<(usize, usize)>,
}

impl FieldCounter {
    /// Record by record: a record without quotes is counted with vectorized scans (most
    /// exports have none); one with quotes goes byte by byte.
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.in_quotes {
                self.step(bytes[0]);
                bytes = &bytes[1..];
                continue;
            }
            let end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
            let (record, rest) = bytes.split_at(end);
            if memchr::memchr(b'"', record).is_some() {
                record.iter().for_each(|&b| self.step(b));
            } else {
                self.commas += memchr::memchr_iter(b',', record).count();
                self.content |= record.iter().any(|&b| b != b'\r');
            }
            match rest.split_first() {
                Some((&newline, tail)) => {
                    self.step(newline);
                    bytes = tail;
                }
                None => bytes = rest,
            }
        }
    }

    fn step(&mut self, b: u8) {
        match b {
            b'"' => {
                self.in_quotes = !self.in_quotes;
                self.content = true;
            }
            b',' if !self.in_quotes => {
                self.commas += 1;
                self.content = true;
            }
            b'\n' => {
                self.line += 1;
                if !self.in_quotes {
                    self.end_record();
                }
            }
            b'\r' => {}
            _ => self.content = true,
        }
    }

    fn end_record(&mut self) {
        if self.content {
            let fields = self.commas + 1;
            match self.header {
                None => self.header = Some(fields),
                Some(h) if h != fields && self.first_bad.is_none() => {
                    self.first_bad = Some((self.record_line + 1, fields))
                }
                _ => {}
            }
        }
        self.commas = 0;
        self.content = false;
        self.record_line = self.line;
    }

    /// The first ragged record: its line, its field count and the header's.
    fn finish(mut self) -> Option<(usize, usize, usize)> {
        self.end_record();
        let (line, found) = self.first_bad?;
        Some((line, found, self.header?))
    }
}

fn count_newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

fn parse_header(path: &Path, head: &[u8]) -> Result<Vec<String>, DataError> {
    let text = std::str::from_utf8(head).unwrap_or_else(|e| {
        // The scan validated the file; only a multi-byte sequence cut at the sniff limit remains.
        std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
    });
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Err(DataError::LooksLikeJson {
            path: path.to_path_buf(),
        });
    }
    let Some(end) = text.find('\n') else {
        if head.len() >= SNIFF_BYTES {
            return Err(DataError::HeaderTooLong {
                path: path.to_path_buf(),
                limit: SNIFF_BYTES,
            });
        }
        return Err(DataError::NoRows {
            path: path.to_path_buf(),
        });
    };
    let line = text[..end].trim_end_matches('\r');
    let mut names: Vec<String> = Vec::new();
    for raw in line.split(',') {
        let name = raw.trim().trim_matches('"').to_string();
        if names.contains(&name) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                column: name,
            });
        }
        names.push(name);
    }
    Ok(names)
}

/// Which columns to read from the file and which to derive, in dependency order.
#[derive(Debug, Default, PartialEq)]
struct ColumnPlan {
    read: Vec<String>,
    derive: Vec<(String, Derivation)>,
}

fn plan_columns(path: &Path, header: &[String], required: &[&str]) -> Result<ColumnPlan, DataError> {
    let mut plan = ColumnPlan::default();
    let mut missing = Vec::new();
    for name in required {
        if !add_column(header, name, &mut plan) {
            let spec = column_spec(name);
            missing.push(MissingColumn {
                name: name.to_string(),
                kind: spec.map_or(ColumnKind::Text, |s| s.kind),
                derivation: spec.and_then(|s| s.derivation),
            });
        }
    }
    if missing.is_empty() {
        Ok(plan)
    } else {
        Err(DataError::MissingColumns {
            path: path.to_path_buf(),
            missing,
            found: header.join(", "),
        })
    }
}

/// Plans to read or derive `name`; false if neither is possible.
fn add_column(header: &[String], name: &str, plan: &mut ColumnPlan) -> bool {
    if plan.read.iter().any(|c| c == name) || plan.derive.iter().any(|(c, _)| c == name) {
        return true;
    }
    if header.iter().any(|h| h == name) {
        plan.read.push(name.to_string());
        return true;
    }
    let Some(derivation) = column_spec(name).and_then(|s| s.derivation) else {
        return false;
    };
    if !derivation
        .inputs()
        .into_iter()
        .all(|input| add_column(header, input, plan))
    {
        return false;
    }
    plan.derive.push((name.to_string(), derivation));
    true
}

fn dtype_of(name: &str) -> DataType {
    match column_spec(name).map(|s| s.kind) {
        Some(ColumnKind::Integer) => DataType::Int64,
        Some(ColumnKind::Number) => DataType::Float64,
        Some(ColumnKind::Text | ColumnKind::Date) | None => DataType::String,
    }
}

fn parse_error(path: &Path, e: PolarsError) -> DataError {
    let reason = e.to_string();
    let reason = reason.lines().next().unwrap_or_default().to_string();
    DataError::Parse {
        path: path.to_path_buf(),
        reason,
    }
}

/// Turns a failed typed read into a message that names the line and column: reread the
/// columns as text and find the first value that does not parse as its column's type.
fn diagnose(path: &Path, columns: &[String], original: PolarsError) -> DataError {
    let names: Arc<[PlSmallStr]> = columns.iter().map(|n| PlSmallStr::from(n.as_str())).collect();
    let as_text = CsvReadOptions::default()
        .with_has_header(true)
        .with_columns(Some(names))
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish());
    let Ok(frame) = as_text else {
        return parse_error(path, original);
    };
    for name in columns {
        let Some(kind) = column_spec(name).map(|s| s.kind).filter(|k| *k != ColumnKind::Text) else {
            continue;
        };
        let Ok(values) = frame.column(name).and_then(|c| c.str().cloned()) else {
            continue;
        };
        for (row, value) in values.iter().enumerate() {
            let Some(value) = value else { continue };
            let ok = match kind {
                ColumnKind::Integer => value.trim().parse::<i64>().is_ok(),
                _ => value.trim().parse::<f64>().is_ok(),
            };
            if !ok {
                return DataError::BadValue {
                    path: path.to_path_buf(),
                    line: row + 2,
                    column: name.clone(),
                    kind,
                    value: value.chars().take(40).collect(),
                };
            }
        }
    }
    parse_error(path, original)
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

/// `(year, month)` of `YYYY-MM-DD`, optionally followed by a time.
fn year_month(date: &str) -> Option<(i64, i64)> {
    let b = date.trim().as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .map(|d| d.iter().fold(0i64, |n, c| n * 10 + i64::from(c - b'0')))
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let separators = b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-');
    let rest_ok = b.len() == 10 || matches!(b.get(10), Some(b'T' | b' '));
    (separators && rest_ok && (1..=12).contains(&month) && (1..=31).contains(&day)).then_some((year, month))
}

/// Derives year and month from a date column, before rows with empty values are dropped
/// so a bad date's line number is the file's (one line per record).
fn derive_dates(path: &Path, mut frame: DataFrame, derive: &[(String, Derivation)]) -> Result<DataFrame, DataError> {
    for (name, derivation) in derive {
        let (column, want_year) = match *derivation {
            Derivation::YearOfDate(c) => (c, true),
            Derivation::MonthOfDate(c) => (c, false),
            _ => continue,
        };
        let dates = frame
            .column(column)
            .and_then(|c| c.str().cloned())
            .map_err(|e| parse_error(path, e))?;
        let mut first: Option<(usize, String)> = None;
        let mut values: Vec<Option<i64>> = Vec::with_capacity(dates.len());
        for (row, date) in dates.iter().enumerate() {
            let Some(date) = date.filter(|d| !d.trim().is_empty()) else {
                values.push(None);
                continue;
            };
            match year_month(date) {
                Some((y, m)) => {
                    first.get_or_insert_with(|| (row + 2, date.to_string()));
                    values.push(Some(if want_year { y } else { m }));
                }
                None => {
                    let line = row + 2;
                    return Err(match first {
                        Some((first_line, first_value)) => DataError::MixedDates {
                            path: path.to_path_buf(),
                            line,
                            column: column.to_string(),
                            value: date.to_string(),
                            first_line,
                            first_value,
                        },
                        None => DataError::BadValue {
                            path: path.to_path_buf(),
                            line,
                            column: column.to_string(),
                            kind: ColumnKind::Date,
                            value: date.to_string(),
                        },
                    });
                }
            }
        }
        let series = Series::new(PlSmallStr::from(name.as_str()), values);
        frame
            .with_column(series.into_column())
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

    const FULL: &str = "brand,units_sold,price_per_unit,cost_per_unit,total_revenue,total_cost,profit\n\
                        A,10,2.0,1.0,20.0,10.0,10.0\n\
                        B,5,4.0,3.0,20.0,15.0,5.0\n";

    proptest::proptest! {
        /// The record-at-a-time fast path agrees with the byte-by-byte state machine, in any
        /// chunking, quotes and CRLF included.
        #[test]
        fn field_counting_fast_path_matches_the_state_machine(
            text in "([a-c,\"\r\n]{0,12}\n){0,20}",
            split in 0usize..200,
        ) {
            let bytes = text.as_bytes();
            let mut slow = FieldCounter::default();
            bytes.iter().for_each(|&b| slow.step(b));
            let mut fast = FieldCounter::default();
            let cut = split.min(bytes.len());
            fast.feed(&bytes[..cut]);
            fast.feed(&bytes[cut..]);
            proptest::prop_assert_eq!(fast.finish(), slow.finish());
        }
    }

    #[test]
    fn a_rewritten_file_has_another_stamp() {
        let f = write(FULL.as_bytes());
        let before = file_stamp(f.path());
        assert!(before.is_some());
        assert_eq!(file_stamp(f.path()), before);
        std::fs::OpenOptions::new()
            .append(true)
            .open(f.path())
            .unwrap()
            .write_all(b"C,1,1.0,1.0,1.0,1.0,0.0\n")
            .unwrap();
        assert_ne!(file_stamp(f.path()), before);
    }

    #[test]
    fn dates_are_iso_with_an_optional_time() {
        assert_eq!(year_month("2024-02-29"), Some((2024, 2)));
        assert_eq!(year_month(" 2024-12-01T10:00:00Z"), Some((2024, 12)));
        assert_eq!(year_month("2024-12-01 10:00"), Some((2024, 12)));
        for bad in [
            "01/12/2024",
            "2024/12/01",
            "2024-13-01",
            "2024-1-01",
            "2024-12-011",
            "24-12-01",
            "",
        ] {
            assert_eq!(year_month(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_required_columns_and_hashes_bytes() {
        let f = write(FULL.as_bytes());
        let d = load_csv(f.path(), &["brand", "profit"]).unwrap();
        assert_eq!(d.rows(), 2);
        assert_eq!(d.columns(), vec!["brand", "profit"]);
        assert_eq!(d.reference, Reference::of_bytes(FULL.as_bytes()));
    }

    #[test]
    fn derives_margin_and_says_so() {
        let f = write(FULL.as_bytes());
        let d = load_csv(f.path(), &["profit_margin"]).unwrap();
        let margins: Vec<f64> = d
            .frame
            .column("profit_margin")
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(margins, vec![50.0, 25.0]);
        assert_eq!(d.notes, vec!["derived `profit_margin` as profit / total_revenue × 100"]);
    }

    #[test]
    fn derives_chains_of_columns() {
        let f = write(b"brand,units_sold,price_per_unit,cost_per_unit\nA,10,2.0,1.5\n");
        let d = load_csv(f.path(), &["profit"]).unwrap();
        let profit = d.frame.column("profit").unwrap().f64().unwrap().get(0).unwrap();
        assert_eq!(profit, 5.0);
        assert_eq!(d.notes.len(), 3);
    }

    #[test]
    fn missing_column_names_file_column_and_derivation() {
        let f = write(b"brand,units_sold\nA,1\n");
        let err = load_csv(f.path(), &["profit"]).unwrap_err().to_string();
        assert!(err.starts_with(&f.path().display().to_string()), "{err}");
        assert!(
            err.contains(
                "missing column `profit` (expected numbers, or the columns to derive it as total_revenue − total_cost)"
            ),
            "{err}"
        );
        assert!(err.ends_with("found columns: brand, units_sold"), "{err}");
        let err = load_csv(f.path(), &["region", "brand", "category"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(": missing columns `region` (expected text), `category` (expected text); found"),
            "{err}"
        );
    }

    #[test]
    fn text_in_numeric_column_names_line_and_column() {
        let f = write(b"brand,units_sold\nA,1\nB,lots\n");
        let err = load_csv(f.path(), &["brand", "units_sold"]).unwrap_err().to_string();
        assert!(
            err.ends_with("line 3, column `units_sold`: expected numbers, found `lots`"),
            "{err}"
        );
    }

    #[test]
    fn rejects_empty_binary_json_and_latin1() {
        let cases: [(&[u8], &str); 4] = [
            (b"", "file is empty"),
            (b"\x00\x01\x02PK", "not a CSV file (binary content at byte 0)"),
            (b"{\"brand\": 1}\n", "looks like JSON"),
            (b"brand\nCaf\xe9\n", "line 2: not valid UTF-8 (byte 0xE9)"),
        ];
        for (bytes, expected) in cases {
            let f = write(bytes);
            let err = load_csv(f.path(), &["brand"]).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn header_only_and_duplicates_are_errors() {
        let f = write(b"brand,units_sold\n");
        assert!(matches!(load_csv(f.path(), &["brand"]), Err(DataError::NoRows { .. })));
        let f = write(b"brand,brand\nA,B\n");
        let err = load_csv(f.path(), &["brand"]).unwrap_err().to_string();
        assert!(err.ends_with("line 1: duplicate column `brand`"), "{err}");
    }

    #[test]
    fn missing_file_is_named() {
        let err = load_csv(Path::new("/nonexistent/x.csv"), &["brand"]).unwrap_err();
        assert_eq!(err.to_string(), "/nonexistent/x.csv: file not found");
    }

    #[test]
    fn rows_with_empty_values_are_skipped_with_a_note() {
        let f = write(b"brand,units_sold\nA,1\nB,\nC,3\n");
        let d = load_csv(f.path(), &["brand", "units_sold"]).unwrap();
        assert_eq!(d.rows(), 2);
        assert_eq!(d.notes, vec!["skipped 1 of 3 rows with empty values in units_sold"]);
    }

    #[test]
    fn ragged_rows_are_errors_but_quoted_commas_and_newlines_are_fine() {
        let f = write(b"brand,units_sold\nA,1\nB,2,3\n");
        let err = load_csv(f.path(), &["brand"]).unwrap_err().to_string();
        assert!(err.ends_with("line 3: 3 fields, but the header has 2"), "{err}");
        let f = write(b"brand,units_sold\n\"A, \"\"big\"\"\nline\",1\nB,2\n");
        let d = load_csv(f.path(), &["brand", "units_sold"]).unwrap();
        assert_eq!(d.rows(), 2);
    }

    #[test]
    fn nan_and_infinite_numbers_skip_their_rows_with_a_note() {
        let f = write(b"brand,units_sold\nA,1\nB,NaN\nC,inf\nD,4\n");
        let d = load_csv(f.path(), &["brand", "units_sold"]).unwrap();
        assert_eq!(d.rows(), 2);
        assert_eq!(
            d.notes,
            vec!["skipped 2 of 4 rows with NaN or infinite numbers in units_sold"]
        );
    }

    #[test]
    fn utf8_bom_is_accepted() {
        let f = write(b"\xef\xbb\xbfbrand,units_sold\nA,1\n");
        let d = load_csv(f.path(), &["brand", "units_sold"]).unwrap();
        assert_eq!(d.rows(), 1);
    }
}
