//! A data file as it is on disk: its format (CSV, Parquet, Excel), its bytes' blake3, and
//! for CSV its encoding, delimiter and records; then every column read into a frame as the
//! file has it, before roles are applied.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader as _};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::DataError;
use super::columns::parse_error;
use super::csv::{Ragged, RecordCheck, records_to, sniff_delimiter};
use super::progress::LoadProgress;
use crate::reference::Reference;

/// Bytes inspected for the format, the dialect and the header.
pub const SNIFF_BYTES: usize = 1 << 20;
/// Records kept as a CSV's sample: enough to decide decimals and type unread columns.
const SAMPLE_RECORDS: usize = 2_000;

/// What kind of file it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Parquet,
    Xlsx,
    Xls,
    /// A table or query of a server that speaks PostgreSQL's protocol, summed where it is.
    Postgres,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The text encoding a CSV file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
pub enum TextEncoding {
    #[strum(serialize = "UTF-8")]
    Utf8,
    /// Not valid UTF-8 and no UTF-8 sequence in it: Latin-1 as Windows writes it.
    #[strum(serialize = "Windows-1252")]
    Windows1252,
    #[strum(serialize = "UTF-16LE")]
    Utf16Le,
    #[strum(serialize = "UTF-16BE")]
    Utf16Be,
}

impl TextEncoding {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Size and modification time: what changes when a file is rewritten.
pub type Stamp = Option<(u64, std::time::SystemTime)>;

pub fn file_stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.len(), m.modified().ok()?)))
}

/// What one pass over the file found.
pub struct Scan {
    pub path: PathBuf,
    pub reference: Reference,
    pub stamp: Stamp,
    pub bytes: u64,
    pub format: FileFormat,
    pub csv: Option<CsvScan>,
}

/// A CSV file's dialect and records.
pub struct CsvScan {
    pub encoding: TextEncoding,
    pub delimiter: u8,
    /// The header and the first records, as text.
    pub sample: Vec<Vec<String>>,
    /// The bytes `sample` was read from (UTF-8), ending where its last record ends.
    pub head: Vec<u8>,
    /// The whole file as UTF-8 when it was in another encoding (read from memory then).
    pub transcoded: Option<Vec<u8>>,
    /// Data records counted by the scan (`None` from the first MiB alone).
    pub records: Option<usize>,
}

pub(super) fn unreadable(path: &Path, e: std::io::Error) -> DataError {
    DataError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn format_of(path: &Path, head: &[u8]) -> Option<FileFormat> {
    if head.starts_with(b"PAR1") {
        return Some(FileFormat::Parquet);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some(FileFormat::Xlsx);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(FileFormat::Xls);
    }
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("parquet") | Some("pq") if !head.is_empty() => Some(FileFormat::Parquet),
        _ => None,
    }
}

/// One pass over the file: the blake3 of its bytes, its format, and for CSV the encoding,
/// delimiter, sample records and a field count of every record. Memory stays bounded unless
/// the file must be transcoded.
pub fn scan(path: &Path, progress: Option<&LoadProgress>) -> Result<Scan, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound {
            path: path.to_path_buf(),
        },
        _ => unreadable(path, e),
    })?;
    if meta.is_dir() {
        return Err(DataError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let stamp = meta.modified().ok().map(|t| (meta.len(), t));
    if let Some(p) = progress {
        p.set_total(meta.len());
    }
    let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
    let mut head = Vec::with_capacity(SNIFF_BYTES.min(meta.len() as usize + 1));
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| unreadable(path, e))?;
    if let Some(p) = progress {
        p.add_read(head.len() as u64);
    }
    if head.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    let complete = head.len() < SNIFF_BYTES;
    let mut hasher = blake3::Hasher::new();
    hasher.update(&head);

    if let Some(format) = format_of(path, &head) {
        let bytes = stream_rest(path, &mut file, progress, &mut hasher, |_| {})? + head.len() as u64;
        return Ok(Scan {
            path: path.to_path_buf(),
            reference: Reference::from_hash(hasher.finalize()),
            stamp,
            bytes,
            format,
            csv: None,
        });
    }

    // UTF-16 (Excel's "Unicode text"): decode the whole file, then read it as UTF-8.
    let utf16 = if head.starts_with(&[0xFF, 0xFE]) {
        Some((encoding_rs::UTF_16LE, TextEncoding::Utf16Le))
    } else if head.starts_with(&[0xFE, 0xFF]) {
        Some((encoding_rs::UTF_16BE, TextEncoding::Utf16Be))
    } else {
        None
    };
    if let Some((encoding, label)) = utf16 {
        let mut raw = head;
        file.read_to_end(&mut raw).map_err(|e| unreadable(path, e))?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(&raw);
        let (text, _, _) = encoding.decode(&raw);
        let utf8 = text.into_owned().into_bytes();
        let csv = csv_of(path, &utf8, true, label, Some(utf8.clone()))?;
        return Ok(Scan {
            path: path.to_path_buf(),
            reference: Reference::from_hash(hasher.finalize()),
            stamp,
            bytes: raw.len() as u64,
            format: FileFormat::Csv,
            csv: Some(csv),
        });
    }

    // Text files have no NUL bytes; say "binary" before anything else.
    if let Some(offset) = head.iter().position(|&b| b == 0) {
        return Err(DataError::Binary {
            path: path.to_path_buf(),
            offset,
        });
    }
    let text_head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    let trimmed = text_head.trim_ascii_start();
    if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        return Err(DataError::LooksLikeJson {
            path: path.to_path_buf(),
        });
    }
    if !complete && memchr::memchr(b'\n', &head).is_none() {
        return Err(DataError::HeaderTooLong {
            path: path.to_path_buf(),
            limit: SNIFF_BYTES,
        });
    }
    let delimiter = sniff_delimiter(text_head, complete);
    let mut check = RecordCheck::new(delimiter);
    let mut utf8 = Utf8Check::default();
    check.feed(text_head);
    utf8.feed(&head);
    let total = head.len() as u64
        + stream_rest(path, &mut file, progress, &mut hasher, |chunk| {
            check.feed(chunk);
            utf8.feed(chunk);
        })?;
    let records = match check.finish() {
        (_, Some(r)) => return Err(ragged(path, r, delimiter)),
        (records, None) => records,
    };
    let encoding = match utf8.finish(path)? {
        Utf8Verdict::Valid => TextEncoding::Utf8,
        Utf8Verdict::Legacy => TextEncoding::Windows1252,
        Utf8Verdict::Broken { line, byte } => {
            return Err(DataError::NotUtf8 {
                path: path.to_path_buf(),
                line,
                byte,
            });
        }
    };
    let transcoded = match encoding {
        TextEncoding::Utf8 => None,
        _ => {
            let raw = std::fs::read(path).map_err(|e| unreadable(path, e))?;
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&raw);
            Some(text.into_owned().into_bytes())
        }
    };
    let sample_source: Vec<u8>;
    let sample_bytes: &[u8] = match &transcoded {
        Some(t) => {
            sample_source = t[..t.len().min(SNIFF_BYTES)].to_vec();
            &sample_source
        }
        None => text_head,
    };
    let (sample, end) = records_to(sample_bytes, delimiter, SAMPLE_RECORDS, complete);
    let head = sample_bytes[..end].to_vec();
    Ok(Scan {
        path: path.to_path_buf(),
        reference: Reference::from_hash(hasher.finalize()),
        stamp,
        bytes: total,
        format: FileFormat::Csv,
        csv: Some(CsvScan {
            encoding,
            delimiter,
            sample,
            head,
            transcoded,
            records: Some(records),
        }),
    })
}

fn ragged(path: &Path, r: Ragged, delimiter: u8) -> DataError {
    DataError::Ragged {
        path: path.to_path_buf(),
        line: r.line,
        found: r.found,
        expected: r.expected,
        delimiter: delimiter as char,
        spans_lines: r.lines > 1,
    }
}

/// The dialect and records of a CSV held in memory (already UTF-8).
fn csv_of(
    path: &Path,
    utf8: &[u8],
    complete: bool,
    encoding: TextEncoding,
    transcoded: Option<Vec<u8>>,
) -> Result<CsvScan, DataError> {
    let text = utf8.strip_prefix("\u{feff}".as_bytes()).unwrap_or(utf8);
    let delimiter = sniff_delimiter(&text[..text.len().min(SNIFF_BYTES)], complete);
    let mut check = RecordCheck::new(delimiter);
    check.feed(text);
    let records = match check.finish() {
        (_, Some(r)) => return Err(ragged(path, r, delimiter)),
        (records, None) => records,
    };
    let sample_bytes = &text[..text.len().min(SNIFF_BYTES)];
    let (sample, end) = records_to(sample_bytes, delimiter, SAMPLE_RECORDS, complete);
    Ok(CsvScan {
        encoding,
        delimiter,
        sample,
        head: sample_bytes[..end].to_vec(),
        transcoded,
        records: Some(records),
    })
}

/// Reads the rest of `file` in 1 MiB chunks, handing each to `each` and hashing it into
/// `hasher` on a thread of its own, so the hash and `each`'s checks run side by side: a
/// pipeline of two stages over a few reused buffers, each chunk hashed while the next is
/// read and checked. The bytes read.
fn stream_rest(
    path: &Path,
    file: &mut File,
    progress: Option<&LoadProgress>,
    hasher: &mut blake3::Hasher,
    mut each: impl FnMut(&[u8]),
) -> Result<u64, DataError> {
    use std::sync::mpsc::{channel, sync_channel};
    let (to_hash, hashing) = sync_channel::<(Vec<u8>, usize)>(2);
    let (to_reuse, reusable) = channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (buf, n) in hashing {
                hasher.update(&buf[..n]);
                let _ = to_reuse.send(buf);
            }
        });
        // Owned here, so that it is dropped when this closure returns, on success or error:
        // the hashing thread ends then, and the scope can join it.
        let to_hash = to_hash;
        let mut total = 0u64;
        loop {
            let mut buf = reusable.try_recv().unwrap_or_else(|_| vec![0u8; 1 << 20]);
            let n = file.read(&mut buf).map_err(|e| unreadable(path, e))?;
            if n == 0 {
                return Ok(total);
            }
            each(&buf[..n]);
            total += n as u64;
            if let Some(p) = progress {
                p.add_read(n as u64);
            }
            to_hash.send((buf, n)).expect("the hashing thread is running");
        }
    })
}

enum Utf8Verdict {
    Valid,
    /// Invalid UTF-8 and no valid multi-byte sequence before it: a single-byte encoding.
    Legacy,
    /// Valid UTF-8 text with a broken byte: a damaged file, not another encoding.
    Broken {
        line: usize,
        byte: u8,
    },
}

/// UTF-8 validation across chunk boundaries, remembering whether real UTF-8 text (a
/// multi-byte sequence) came before the first invalid byte. A chunk is validated where it
/// lies (only a sequence cut at its end is carried to the next), and the first invalid
/// byte is kept by its offset: its line is counted only when there is one.
#[derive(Default)]
struct Utf8Check {
    /// A sequence cut short at the end of the last chunk.
    carry: Vec<u8>,
    /// Bytes of the file validated before `carry`.
    offset: u64,
    multibyte: bool,
    invalid: Option<(u64, u8)>,
}

impl Utf8Check {
    fn feed(&mut self, chunk: &[u8]) {
        if self.invalid.is_some() {
            return;
        }
        if self.carry.is_empty() {
            let valid = self.validate(chunk);
            self.carry.extend_from_slice(&chunk[valid..]);
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(chunk);
            let valid = self.validate(&joined);
            self.carry.extend_from_slice(&joined[valid..]);
        }
    }

    /// Notes the valid bytes at the start of `bytes`; how many there are, unless a sequence
    /// cut short at the end follows them (then all of `bytes`, after an invalid byte).
    fn validate(&mut self, bytes: &[u8]) -> usize {
        let valid = match std::str::from_utf8(bytes) {
            Ok(_) => bytes.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                let bad = e.valid_up_to();
                self.note(&bytes[..bad]);
                self.invalid = Some((self.offset, bytes[bad]));
                return bytes.len();
            }
        };
        self.note(&bytes[..valid]);
        valid
    }

    fn note(&mut self, valid: &[u8]) {
        self.offset += valid.len() as u64;
        self.multibyte |= !valid.is_ascii();
    }

    /// The verdict on `path`'s bytes as fed; the line of a broken byte is counted in the
    /// file.
    fn finish(self, path: &Path) -> Result<Utf8Verdict, DataError> {
        let invalid = self.invalid.or_else(|| self.carry.first().map(|&b| (self.offset, b)));
        Ok(match invalid {
            None => Utf8Verdict::Valid,
            Some(_) if !self.multibyte => Utf8Verdict::Legacy,
            Some((offset, byte)) => Utf8Verdict::Broken {
                line: line_at(path, offset).map_err(|e| unreadable(path, e))?,
                byte,
            },
        })
    }
}

/// The line (1-based) of the byte at `offset` in the file at `path`.
fn line_at(path: &Path, offset: u64) -> std::io::Result<usize> {
    let mut before = File::open(path)?.take(offset);
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 1;
    loop {
        let n = before.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count();
    }
}

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
pub(super) fn csv_options(delimiter: u8, all_text: bool) -> CsvReadOptions {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_parse_options(
            CsvParseOptions::default()
                .with_separator(delimiter)
                .with_quote_char(Some(b'"')),
        )
        .with_infer_schema_length(Some(if all_text { 0 } else { 10_000 }))
}

/// A file's first MiB when it looks like CSV text the scan would read as such (no other
/// format, no UTF-16 mark, no NUL byte, not JSON, a line break within it), with the
/// delimiter sniffed from it: what may be parsed before the scan has checked the rest.
/// What the scan refuses from the first MiB alone is left to it, so that nothing goes on
/// parsing after the error is said.
struct TextHead {
    stamp: Stamp,
    head: Vec<u8>,
    /// The head is the whole file.
    complete: bool,
    delimiter: u8,
}

impl TextHead {
    fn read(path: &Path) -> Option<TextHead> {
        let stamp = file_stamp(path);
        let mut head = Vec::new();
        File::open(path)
            .ok()?
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .ok()?;
        let complete = head.len() < SNIFF_BYTES;
        let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        let refused = head.is_empty()
            || head.starts_with(&[0xFF, 0xFE])
            || head.starts_with(&[0xFE, 0xFF])
            || head.contains(&0)
            || text.trim_ascii_start().starts_with(b"{")
            || text.trim_ascii_start().starts_with(b"[")
            || (!complete && memchr::memchr(b'\n', &head).is_none());
        if stamp.is_none() || refused || format_of(path, &head).is_some() {
            return None;
        }
        let delimiter = sniff_delimiter(text, complete);
        Some(TextHead {
            stamp,
            head,
            complete,
            delimiter,
        })
    }
}

/// A whole CSV file's parse, started from its first MiB before the scan has hashed and
/// checked the rest, so the two run side by side; used only when the scan then finds what
/// the parse assumed.
pub struct EarlyParse {
    delimiter: u8,
    stamp: Stamp,
    parse: std::thread::JoinHandle<PolarsResult<DataFrame>>,
}

impl EarlyParse {
    /// Starts parsing `path` on a thread of its own, as [`read_csv`] reads a whole file,
    /// when its first MiB looks like UTF-8 CSV text (no other format, no UTF-16 mark, no
    /// NUL byte); `None` otherwise.
    pub fn start(path: &Path) -> Option<EarlyParse> {
        let TextHead { stamp, delimiter, .. } = TextHead::read(path)?;
        if delimiter == b';' {
            // Where `;` separates fields, `,` often marks decimals: such a file is read as
            // text and converted, so a typed parse now would be done twice.
            return None;
        }
        let owned = path.to_path_buf();
        let parse = std::thread::spawn(move || {
            csv_options(delimiter, false)
                .try_into_reader_with_file_path(Some(owned))?
                .finish()
        });
        Some(EarlyParse {
            delimiter,
            stamp,
            parse,
        })
    }

    /// The parsed frame, when `scan` found what the parse assumed: the file unchanged
    /// since the parse began, UTF-8, this delimiter; and the parse succeeded (the reader's
    /// own path then handles what it did not). Waits for the parse; otherwise leaves it to
    /// finish on its own.
    pub fn take(self, scan: &Scan) -> Option<DataFrame> {
        let csv = scan.csv.as_ref()?;
        if scan.stamp != self.stamp || csv.transcoded.is_some() || csv.delimiter != self.delimiter {
            return None;
        }
        self.parse.join().ok()?.ok()
    }
}

/// What [`scan`] would find from a CSV's first MiB alone, before the rest is hashed and
/// checked: its dialect and first records, so the file's batches can be parsed while the
/// scan goes on beside them. `None` for what the scan would refuse or read otherwise from
/// the first MiB (another format, UTF-16, a NUL byte, JSON, a header past a MiB), or a head
/// that is not UTF-8. Its reference is a placeholder: only the scan's is the file's.
pub fn scan_head(path: &Path) -> Option<Scan> {
    let bytes = std::fs::metadata(path).ok()?.len();
    let TextHead {
        stamp,
        head,
        complete,
        delimiter,
    } = TextHead::read(path)?;
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    // A head cut inside a character is still UTF-8 up to the cut.
    let utf8 = match std::str::from_utf8(&head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if !utf8 {
        return None;
    }
    let (sample, end) = records_to(text, delimiter, SAMPLE_RECORDS, complete);
    let head = text[..end].to_vec();
    Some(Scan {
        path: path.to_path_buf(),
        reference: Reference::of_bytes(b""),
        stamp,
        bytes,
        format: FileFormat::Csv,
        csv: Some(CsvScan {
            encoding: TextEncoding::Utf8,
            delimiter,
            sample,
            head,
            transcoded: None,
            records: None,
        }),
    })
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
            let requoted = super::csv::requote(text, csv.delimiter);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(content).unwrap();
        f
    }

    /// The verdict on `content` fed in chunks of every size from 1 to 7 bytes.
    fn utf8_verdicts(content: &[u8]) -> Vec<String> {
        let f = file(content);
        (1..8)
            .map(|size| {
                let mut check = Utf8Check::default();
                content.chunks(size).for_each(|c| check.feed(c));
                match check.finish(f.path()).unwrap() {
                    Utf8Verdict::Valid => "valid".to_string(),
                    Utf8Verdict::Legacy => "legacy".to_string(),
                    Utf8Verdict::Broken { line, byte } => format!("line {line}: 0x{byte:02X}"),
                }
            })
            .collect()
    }

    #[test]
    fn utf8_is_checked_across_chunks_and_a_broken_byte_found_by_its_line() {
        let all = |v: &str| vec![v.to_string(); 7];
        assert_eq!(utf8_verdicts("brand\nCafé\n日本\n".as_bytes()), all("valid"));
        assert_eq!(utf8_verdicts(b"brand\nCaf\xE9\n"), all("legacy"));
        assert_eq!(utf8_verdicts(b"brand\nCaf\xC3\xA9\nx\n\xFF\n"), all("line 4: 0xFF"));
        // A sequence cut short by the end of the file.
        assert_eq!(utf8_verdicts(b"a\nCaf\xC3\xA9\n\xE6\x97"), all("line 3: 0xE6"));
    }

    #[test]
    fn only_what_looks_like_utf8_csv_text_is_parsed_early() {
        let plain = file(b"brand,profit\nA,1.5\n");
        assert!(EarlyParse::start(plain.path()).is_some());
        let refused: [&[u8]; 7] = [
            b"",
            b"{\"brand\": \"A\"}\n",
            b"  [1, 2]\n",
            b"brand,profit\nA\0,1\n",
            b"\xFF\xFEb\0r\0a\0n\0d\0\n\0",
            b"PAR1....",
            // `;` files often write decimal commas: read after the scan instead.
            b"brand;profit\nA;1,5\n",
        ];
        for content in refused {
            let f = file(content);
            assert!(
                EarlyParse::start(f.path()).is_none(),
                "{:?}",
                String::from_utf8_lossy(content)
            );
        }
        let mut long_header = vec![b'a'; SNIFF_BYTES + 10];
        long_header.push(b'\n');
        assert!(EarlyParse::start(file(&long_header).path()).is_none());
    }
}
