//! One pass's batches parsed: a reader thread deals a CSV's blocks of whole records to
//! parser threads and takes them back in turn (so in file order); a Parquet file's row
//! groups are read a few at a time.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use polars::prelude::*;

use super::blocks::RecordBlocks;
use super::narrow::add_up;
use super::{Pass, Reading};
use crate::data::csv::requote;
use crate::data::error::DataError;
use crate::data::loader::WholeFrameObserver;
use crate::data::plain_csv::parse_plain;
use crate::data::source::{FileFormat, csv_options};

/// A batch as the reading thread parsed it.
pub(super) enum Parsed {
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
pub(super) fn read_batches(r: &Reading<'_>, observe: &mut Option<WholeFrameObserver<'_>>) -> Result<Pass, DataError> {
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
    let (_, groups) = crate::data::source::parquet_layout(path)?;
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
        match crate::data::source::read_parquet_rows(path, start, len) {
            Ok(frame) => Parsed::Frame(frame, consumed),
            // The file's own types: a batch that does not read is an error, not a retry.
            Err(error) => Parsed::Failed { first: true, error },
        }
    });
    add_up(r, observe, batches)
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

/// One batch (the header line, then whole records) parsed as [`crate::data::source::read_csv`]
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
