//! A file too large to hold row by row, read in batches (a CSV's whole records, a Parquet
//! file's row groups): each batch is parsed, typed and narrowed as a whole file is, shown whole to the observer (the
//! baseline's `describe()` adds it up), then summed by its keys, so memory holds one batch
//! and the sums, not the file. Every tool is a sum by keys (`tools::frame::sums_by`), so
//! the sums give them exactly what the rows would.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use polars::prelude::*;

use super::coded::{Coded, Key, SCALE, cents_of, sums_by_codes};
use super::columns::{ColumnPlan, Skipped, narrow_counting, parse_error, plan_columns};
use super::csv::{last_record_end, records_to, requote};
use super::dates::DateFormat;
use super::error::DataError;
use super::loader::{LoadOptions, WholeBatch, WholeFrameObserver};
use super::numbers::Decimal;
use super::opened::Opened;
use super::plain_csv::parse_plain;
use super::profile::{DataProfile, Grouped, NumberStats};
use super::source::{FileFormat, TextEncoding, csv_options, unreadable};

/// Files from this size are read in batches: a million rows of a typical export (about
/// 100 MB) then take 0.13 GB instead of 0.38 GB, in as little time. Below it, one parse of
/// the whole file (beside the scan) is as fast, and its rows are there to inspect.
pub const STREAM_FROM_BYTES: u64 = 64 << 20;

/// Bytes of records per batch: smaller batches hold less at once, larger ones spend less
/// per batch. Measured at 1M and 10M rows (`run --no-cache`): 2 MiB a little slower, 4 MiB
/// as fast as 8 or 16 MiB in 130 MB instead of 160 or 205 MB.
pub const BATCH_BYTES: usize = 4 << 20;

/// Whether `opened` is read in batches: a UTF-8 CSV of at least `from` bytes (one in
/// another encoding is transcoded into memory whole anyway), or a Parquet file as large.
pub(super) fn streams(opened: &Opened, from: u64) -> bool {
    // A Parquet file is left unread when opened when it is to be read a few row groups at
    // a time.
    if opened.scan.format == FileFormat::Parquet {
        return opened.frame.is_none();
    }
    opened.frame.is_none()
        && opened
            .scan
            .csv
            .as_ref()
            .is_some_and(|c| c.encoding == TextEncoding::Utf8 && c.transcoded.is_none())
        && opened.scan.bytes >= from
}

/// The flow's columns of a file read in batches, summed by their keys, with the profile
/// saying so ([`DataProfile::grouped`]).
pub(super) fn load_streamed(
    opened: &Opened,
    required: &[&str],
    options: &LoadOptions,
    observe: &mut Option<WholeFrameObserver<'_>>,
) -> Result<(DataFrame, DataProfile), DataError> {
    // Types are inferred from the first batch's records, as from a whole file's first
    // ones. A later value that does not fit them means reading again: every column as
    // text (as a whole file is read then), or a column typed as numbers from the first
    // batch as text (as a whole column with one value that is not a number stays).
    // Decimal commas: every column read as text and converted, as a whole file is read.
    let mut types = Types {
        all_text: opened.decimal == Decimal::Comma,
        keep_text: Vec::new(),
    };
    loop {
        let reading = Reading {
            opened,
            required,
            options,
            types: &types,
        };
        match read_batches(&reading, observe)? {
            Pass::Done(frame, profile) => return Ok((frame, *profile)),
            Pass::AllText => types.all_text = true,
            Pass::KeepText(columns) => types.keep_text.extend(columns),
        }
    }
}

/// The file opened by its scan and, when the scan read it as its first MiB said, its
/// batches read meanwhile: the scan (hash, record and UTF-8 checks) on a thread of its own
/// beside the batches, instead of before them. `None` when the first MiB does not allow it
/// (then nothing was read); `Some((opened, None))` when the scan read the file otherwise
/// (another encoding, say), and the batches read are dropped.
#[allow(clippy::type_complexity)]
pub(super) fn load_while_scanning(
    path: &Path,
    required: &[&str],
    options: &LoadOptions,
    observe: &mut Option<WholeFrameObserver<'_>>,
) -> Option<Result<(Opened, Option<Result<(DataFrame, DataProfile), DataError>>), DataError>> {
    let head = super::source::scan_head(path)?;
    // What cannot be mapped from the head is left to the scan to say, in its order.
    let provisional = super::opened::open_scanned(head, options).ok()?;
    if !streams(&provisional, 0) {
        return None;
    }
    // The batches report progress; the scan, beside them, does not.
    let quiet = LoadOptions {
        progress: Default::default(),
        ..options.clone()
    };
    let (scanned, streamed) = std::thread::scope(|scope| {
        let scan = scope.spawn(|| super::opened::open(path, &quiet));
        let streamed = load_streamed(&provisional, required, options, observe);
        (scan.join(), streamed)
    });
    let opened = match scanned {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return Some(Err(e)),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    if opened.reads_as(&provisional) && streams(&opened, 0) {
        let streamed = streamed.map_err(|e| match e {
            DataError::MissingColumns {
                path,
                missing,
                found,
                profile: Some(mut profile),
            } => {
                profile.rows = file_rows(&opened).unwrap_or(profile.rows);
                DataError::MissingColumns {
                    path,
                    missing,
                    found,
                    profile: Some(profile),
                }
            }
            other => other,
        });
        Some(Ok((opened, Some(streamed))))
    } else {
        Some(Ok((opened, None)))
    }
}

/// What a pass over the file reads with.
#[derive(Clone, Copy)]
struct Reading<'a> {
    opened: &'a Opened,
    required: &'a [&'a str],
    options: &'a LoadOptions,
    types: &'a Types,
}

/// How a pass types the batches.
#[derive(Default)]
struct Types {
    all_text: bool,
    keep_text: Vec<String>,
}

enum Pass {
    Done(DataFrame, Box<DataProfile>),
    /// A later batch does not parse with the first batch's types.
    AllText,
    /// These columns are numbers in the first batch but not in a later one.
    KeepText(Vec<String>),
}

/// A batch as the reading thread parsed it.
enum Parsed {
    /// The frame, and the bytes of the file it was parsed from.
    Frame(DataFrame, u64),
    /// The batch does not parse; `first` when it is the first batch.
    Failed {
        first: bool,
        error: PolarsError,
    },
    Unreadable(std::io::Error),
}

/// One pass over the file: a thread reads each batch and parsers parse them while the one
/// before is typed, described, narrowed and summed here.
fn read_batches(r: &Reading<'_>, observe: &mut Option<WholeFrameObserver<'_>>) -> Result<Pass, DataError> {
    let (opened, options, types) = (r.opened, r.options, r.types);
    let path = opened.path();
    if opened.scan.format == FileFormat::Parquet {
        return read_row_groups(r, observe);
    }
    let csv = opened.scan.csv.as_ref().expect("a CSV scan");
    let mut blocks = RecordBlocks::open(path, csv.head.len(), csv.delimiter, options.batch_size())?;
    let (delimiter, all_text) = (csv.delimiter, types.all_text);
    // Types from the file's first records, as many as a whole file's are inferred from,
    // whatever the batches' size.
    let inferred = if all_text { None } else { infer_schema(path, delimiter) };
    // Batches are dealt in turn to parsers and taken back in the same turn, so in file
    // order. Two when the types are known before the first batch (else the first batch's
    // are): on two cores one parser kept the rest waiting.
    let parsers = if inferred.is_some() { PARSERS } else { 1 };
    let parts = (crate::parallel::cores().saturating_sub(1) / parsers).max(1);
    std::thread::scope(|scope| {
        let mut to_parsers = Vec::with_capacity(parsers);
        let mut from_parsers = Vec::with_capacity(parsers);
        // Parsed blocks' buffers, handed back to be read into again.
        let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
        for _ in 0..parsers {
            // Each parser holds a batch to parse and one parsed: memory stays a few batches.
            let (to, blocks) = std::sync::mpsc::sync_channel::<std::io::Result<(Vec<u8>, u64)>>(1);
            let (parsed, from) = std::sync::mpsc::sync_channel::<Parsed>(1);
            to_parsers.push(to);
            from_parsers.push(from);
            let batch = BatchParse {
                delimiter,
                all_text,
                schema: inferred.clone(),
                parts,
            };
            let recycle = recycle.clone();
            scope.spawn(move || batch.parse_each(blocks, parsed, recycle));
        }
        scope.spawn(move || {
            for turn in 0.. {
                let block = match blocks.next_block(recycled.try_recv().ok()) {
                    Ok(Some(bytes)) => Ok((bytes, blocks.take_consumed())),
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                let unreadable = block.is_err();
                // A parser is gone when it failed or the pass ended early.
                if to_parsers[turn % parsers].send(block).is_err() || unreadable {
                    return;
                }
            }
        });
        add_up(
            r,
            observe,
            InTurn {
                from: from_parsers,
                turn: 0,
            },
        )
    })
}

/// Threads parsing a large CSV's batches (see [`read_batches`]).
const PARSERS: usize = 2;

/// How one parser parses its batches.
struct BatchParse {
    delimiter: u8,
    all_text: bool,
    /// The types inferred (or, when they could not be, those of the first batch).
    schema: Option<SchemaRef>,
    /// Pieces a plain batch is parsed in side by side.
    parts: usize,
}

impl BatchParse {
    /// Parses each block it is dealt, until the blocks end or one does not parse.
    fn parse_each(
        mut self,
        blocks: std::sync::mpsc::Receiver<std::io::Result<(Vec<u8>, u64)>>,
        parsed: std::sync::mpsc::SyncSender<Parsed>,
        recycle: std::sync::mpsc::Sender<Vec<u8>>,
    ) {
        while let Ok(block) = blocks.recv() {
            let (bytes, consumed) = match block {
                Ok(block) => block,
                Err(e) => {
                    let _ = parsed.send(Parsed::Unreadable(e));
                    return;
                }
            };
            let frame = match parse_block(&bytes, self.delimiter, self.all_text, self.schema.clone(), self.parts) {
                Ok(frame) => frame,
                Err(error) => {
                    let first = self.schema.is_none();
                    let _ = parsed.send(Parsed::Failed { first, error });
                    return;
                }
            };
            // The reader is gone when the blocks ended.
            let _ = recycle.send(bytes);
            self.schema.get_or_insert_with(|| frame.schema().clone());
            // The receiver is gone when the pass ended early.
            if parsed.send(Parsed::Frame(frame, consumed)).is_err() {
                return;
            }
        }
    }
}

/// Parsed batches taken from the parsers in the turn they were dealt in.
struct InTurn {
    from: Vec<std::sync::mpsc::Receiver<Parsed>>,
    turn: usize,
}

impl Iterator for InTurn {
    type Item = Parsed;

    fn next(&mut self) -> Option<Parsed> {
        // A parser that ends without a batch in its turn had none dealt: the file ended.
        let parsed = self.from[self.turn % self.from.len()].recv().ok()?;
        self.turn += 1;
        Some(parsed)
    }
}

/// [`read_batches`] of a Parquet file: a few row groups at a time, about as many rows as a
/// CSV batch holds (64 bytes a row), a row group at least.
fn read_row_groups(r: &Reading<'_>, observe: &mut Option<WholeFrameObserver<'_>>) -> Result<Pass, DataError> {
    let (opened, options) = (r.opened, r.options);
    let path = opened.path();
    let (_, groups) = super::source::parquet_layout(path)?;
    let rows: usize = groups.iter().sum();
    let wanted = (options.batch_size() / 64).max(1);
    let mut slices: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for n in groups {
        match slices.last_mut() {
            Some((_, len)) if *len < wanted => *len += n,
            _ => slices.push((start, n)),
        }
        start += n;
    }
    let bytes = opened.scan.bytes;
    let batches = slices.into_iter().map(|(start, len)| {
        // The bytes read, in proportion to the rows.
        let consumed = (bytes as u128 * len as u128 / rows.max(1) as u128) as u64;
        match super::source::read_parquet_rows(path, start, len) {
            Ok(frame) => Parsed::Frame(frame, consumed),
            // The file's own types: a batch that does not read is an error, not a retry.
            Err(error) => Parsed::Failed { first: true, error },
        }
    });
    add_up(r, observe, batches)
}

/// The pass's batches, as they come, added up into the dataset.
fn add_up(
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
            let (plan, unavailable) = plan_columns(
                &opened.mapping,
                &opened.header,
                required,
                &options.optional,
                &profile,
                &whole,
            )
            .map_err(|missing| {
                // The profile shown beside the error counts the file's rows as the scan did.
                let mut whole = profile.clone();
                whole.rows = file_rows(opened).unwrap_or(whole.rows);
                DataError::MissingColumns {
                    path: path.to_path_buf(),
                    missing,
                    found: opened.header.join(", "),
                    profile: Some(Box::new(whole)),
                }
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
    Ok(Pass::Done(frame, Box::new(profile)))
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

/// The types polars infers from a CSV's first records (as many as [`csv_options`] infers a
/// whole file's from), read from those records' bytes alone (a reader given the file maps
/// and counts all of it); `None` when they cannot be read so (the first batch's are used).
fn infer_schema(path: &Path, delimiter: u8) -> Option<SchemaRef> {
    let options = csv_options(delimiter, false);
    let records = options.infer_schema_length.unwrap_or(10_000);
    let mut file = File::open(path).ok()?;
    let mut head = Vec::new();
    // Enough lines for the header and the records (a record may span lines: then more).
    let mut lines = 0;
    while lines <= records && head.len() < 256 << 20 {
        let before = head.len();
        (&mut file).take(1 << 20).read_to_end(&mut head).ok()?;
        if head.len() == before {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &head[before..]).count();
    }
    let frame = options
        .with_n_rows(Some(records))
        .into_reader_with_file_handle(Cursor::new(head))
        .finish()
        .ok()?;
    Some(frame.schema().clone())
}

/// The file's data rows as its scan or its footer counts them, when they do.
pub(super) fn file_rows(opened: &Opened) -> Option<usize> {
    match opened.scan.format {
        FileFormat::Parquet => super::source::parquet_layout(opened.path())
            .ok()
            .map(|(_, groups)| groups.iter().sum()),
        _ => opened.scan.csv.as_ref().and_then(|c| c.records),
    }
}

/// A date format from how [`DateFormat::describe`] says it.
fn format_described(text: &str) -> Option<DateFormat> {
    [DateFormat::YearFirst, DateFormat::DayFirst, DateFormat::MonthFirst]
        .into_iter()
        .find(|f| f.describe() == text)
}

/// One batch (the header line, then whole records) parsed as [`super::source::read_csv`]
/// parses a file, with `schema` when given: a plain batch in one pass of our own
/// ([`parse_plain`], in `parts` pieces side by side), any other by polars' reader; a
/// quoting polars does not take is read as csv-core reads it.
fn parse_block(
    bytes: &[u8],
    delimiter: u8,
    all_text: bool,
    schema: Option<SchemaRef>,
    parts: usize,
) -> PolarsResult<DataFrame> {
    if let Some(frame) = schema.as_ref().and_then(|s| parse_plain(bytes, delimiter, s, parts)) {
        return Ok(frame);
    }
    let options = match schema {
        Some(schema) => csv_options(delimiter, all_text).with_schema(Some(schema)),
        None => csv_options(delimiter, all_text),
    };
    // Without quotes in the batch quoting changes nothing, and polars' line count (a byte
    // loop on stable Rust) is cheaper with it off. The requoted batch below has quotes.
    let first = if memchr::memchr(b'"', bytes).is_none() {
        options.clone().map_parse_options(|p| p.with_quote_char(None))
    } else {
        options.clone()
    };
    match first.into_reader_with_file_handle(Cursor::new(bytes)).finish() {
        Ok(frame) => Ok(frame),
        Err(e) => {
            let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
            let requoted = requote(text, delimiter);
            options
                .into_reader_with_file_handle(Cursor::new(requoted))
                .finish()
                .map_err(|_| e)
        }
    }
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

/// Whole records of a CSV file in blocks of about `block` bytes, each led by the header
/// line, so each parses as a file of its own.
pub(super) struct RecordBlocks {
    file: File,
    /// The header line each block is led by.
    header: Vec<u8>,
    /// Bytes of the file in blocks since [`take_consumed`](Self::take_consumed) last
    /// counted them (the header's at first).
    consumed: u64,
    delimiter: u8,
    block: usize,
    /// Bytes read past the last whole record of the previous block.
    carry: Vec<u8>,
    done: bool,
}

impl RecordBlocks {
    /// Blocks of the file at `path`, whose header record ends within `head_bytes` bytes.
    pub(super) fn open(path: &Path, head_bytes: usize, delimiter: u8, block: usize) -> Result<RecordBlocks, DataError> {
        let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
        let mut head = Vec::new();
        (&mut file)
            .take(head_bytes as u64 + 4)
            .read_to_end(&mut head)
            .map_err(|e| unreadable(path, e))?;
        let (_, header_end) = records_to(&head, delimiter, 1, false);
        if header_end == 0 {
            // No line ends the header: the file is its header alone.
            return Err(DataError::NoRows {
                path: path.to_path_buf(),
            });
        }
        let mut header = head[..header_end].to_vec();
        while header.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            header.pop();
        }
        header.push(b'\n');
        // csv-core ends a CRLF header at its `\r`: the `\n` is the header's too.
        let header_end = header_end + usize::from(head.get(header_end) == Some(&b'\n'));
        file.seek(SeekFrom::Start(header_end as u64))
            .map_err(|e| unreadable(path, e))?;
        Ok(RecordBlocks {
            file,
            header,
            consumed: header_end as u64,
            delimiter,
            block: block.max(1),
            carry: Vec::new(),
            done: false,
        })
    }

    /// The next block: the header, then whole records; `None` past the end. Read into
    /// the block's own buffer after the header, so no block is copied: into `reuse` when
    /// given (a parsed block's, handed back), whose pages are then written again rather
    /// than a new buffer's faulted in and zeroed (a tenth of a million-row load).
    pub(super) fn next_block(&mut self, reuse: Option<Vec<u8>>) -> std::io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let body = self.header.len();
        let mut out = reuse.unwrap_or_default();
        out.clear();
        out.reserve(body + self.carry.len() + self.block);
        out.extend_from_slice(&self.header);
        out.append(&mut self.carry);
        loop {
            let before = out.len();
            (&mut self.file).take(self.block as u64).read_to_end(&mut out)?;
            if out.len() - before < self.block {
                self.done = true;
                self.consumed += (out.len() - body) as u64;
                if out[body..].iter().all(|b| b.is_ascii_whitespace()) {
                    return Ok(None);
                }
                return Ok(Some(out));
            }
            // A record longer than a block: read on until one ends.
            if let Some(end) = last_record_end(&out[body..], self.delimiter) {
                self.carry = out[body + end..].to_vec();
                out.truncate(body + end);
                self.consumed += end as u64;
                return Ok(Some(out));
            }
        }
    }

    /// Bytes of the file given in blocks since the last call.
    pub(super) fn take_consumed(&mut self) -> u64 {
        std::mem::take(&mut self.consumed)
    }
}

/// The narrowed batches summed by their keys (every column that is not a float), each
/// float column in whole cents (as `tools::frame` sums), so the sums of sums are exact.
/// Each batch's keys are coded (a dictionary per column), its rows summed per code tuple,
/// then each tuple's codes translated to the file's and its sums added there: a hash per
/// distinct key of the batch, additions per row.
struct Sums {
    /// The narrowed columns, in order, with their types.
    order: Vec<(String, DataType)>,
    keys: Vec<String>,
    values: Vec<String>,
    /// Each key column's values over the file, and the code of each.
    dictionaries: Vec<(Vec<Key>, PlHashMap<Key, u32>)>,
    /// Per tuple of codes, the cents of each value column.
    groups: PlHashMap<Vec<u32>, Vec<i64>>,
}

impl Sums {
    fn of(frame: &DataFrame) -> Sums {
        let (values, keys): (Vec<&Column>, Vec<&Column>) = frame.columns().iter().partition(|c| c.dtype().is_float());
        let names = |cs: Vec<&Column>| -> Vec<String> { cs.iter().map(|c| c.name().to_string()).collect() };
        let keys = names(keys);
        Sums {
            order: frame
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), c.dtype().clone()))
                .collect(),
            dictionaries: keys.iter().map(|_| Default::default()).collect(),
            keys,
            values: names(values),
            groups: PlHashMap::new(),
        }
    }

    fn add(&mut self, frame: DataFrame) -> PolarsResult<()> {
        let mut coded = Vec::with_capacity(self.keys.len());
        for k in &self.keys {
            // Narrowing leaves keys as text or integers; any other type would not come back
            // from its codes as it was.
            let column = frame.column(k)?;
            let Some(c) = Coded::of(column)? else {
                polars_bail!(ComputeError: "column `{k}` of type {} cannot be summed by", column.dtype());
            };
            coded.push(c);
        }
        let cents = self
            .values
            .iter()
            .map(|v| cents_of(frame.column(v)?))
            .collect::<PolarsResult<Vec<_>>>()?;
        // The batch's codes as the file's.
        let global: Vec<Vec<u32>> = coded
            .iter()
            .zip(&mut self.dictionaries)
            .map(|(c, (values, codes))| {
                c.dictionary
                    .iter()
                    .map(|key| {
                        *codes.entry(key.clone()).or_insert_with(|| {
                            values.push(key.clone());
                            values.len() as u32 - 1
                        })
                    })
                    .collect()
            })
            .collect();
        let width = self.values.len();
        let keys: Vec<&Coded> = coded.iter().collect();
        let cents: Vec<&[i64]> = cents.iter().map(Vec::as_slice).collect();
        for (codes, sums) in sums_by_codes(&keys, &cents) {
            let key: Vec<u32> = codes.iter().zip(&global).map(|(&c, g)| g[c as usize]).collect();
            let total = self.groups.entry(key).or_insert_with(|| vec![0; width]);
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
        Ok(())
    }

    /// One row per key, in key order, with the sums back in units.
    fn finish(self) -> PolarsResult<DataFrame> {
        let mut groups: Vec<(Vec<&Key>, Vec<i64>)> = self
            .groups
            .into_iter()
            .map(|(codes, sums)| {
                let keys = codes
                    .iter()
                    .zip(&self.dictionaries)
                    .map(|(&c, (values, _))| &values[c as usize])
                    .collect();
                (keys, sums)
            })
            .collect();
        groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let height = groups.len();
        let mut columns = Vec::with_capacity(self.order.len());
        for (name, dtype) in &self.order {
            let column = if let Some(k) = self.keys.iter().position(|k| k == name) {
                let keys = groups.iter().map(|(keys, _)| keys[k]);
                let column = match dtype {
                    DataType::String => Column::new(name.into(), keys.map(|key| key.text()).collect::<Vec<_>>()),
                    _ => Column::new(name.into(), keys.map(|key| key.int()).collect::<Vec<_>>()),
                };
                column.cast(dtype)?
            } else {
                let v = self.values.iter().position(|v| v == name).expect("a key or a value");
                let units: Vec<f64> = groups.iter().map(|(_, sums)| sums[v] as f64 / SCALE).collect();
                Column::new(name.into(), units)
            };
            columns.push(column);
        }
        DataFrame::new(height, columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_give_back_text_and_integer_keys_and_refuse_others() {
        let batch = |units: &[i32], brands: &[&str], profit: &[f64]| {
            df! { "units" => units, "brand" => brands, "profit" => profit }.unwrap()
        };
        let first = batch(&[1, 2, 1], &["A", "B", "A"], &[1.25, 2.5, 0.25]);
        let mut sums = Sums::of(&first);
        sums.add(first).unwrap();
        sums.add(batch(&[2, 3], &["B", "A"], &[0.5, 4.0])).unwrap();
        let frame = sums.finish().unwrap();
        let expected = df! {
            "units" => [1i32, 2, 3],
            "brand" => ["A", "B", "A"],
            "profit" => [1.5, 3.0, 4.0],
        }
        .unwrap();
        assert!(frame.equals(&expected), "{frame}");
        // A key of another type is an error, not keys made up from its text.
        let flags = df! { "flag" => [true, false], "profit" => [1.0, 2.0] }.unwrap();
        let mut sums = Sums::of(&flags);
        assert!(sums.add(flags).unwrap_err().to_string().contains("`flag` of type bool"));
    }
}
