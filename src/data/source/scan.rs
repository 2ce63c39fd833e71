//! One pass over a file: its blake3, its format, and for CSV its encoding, delimiter,
//! first records and a field count of every record (ragged rows and broken UTF-8 found by
//! their line); or a CSV's first MiB alone, so batches can be parsed beside the scan.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{CsvScan, FileFormat, SAMPLE_RECORDS, SNIFF_BYTES, Scan, Stamp, TextEncoding, file_stamp, unreadable};
use crate::data::DataError;
use crate::data::csv::{Ragged, RecordCheck, records_to, sniff_delimiter};
use crate::data::progress::LoadProgress;
use crate::reference::Reference;

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

/// A file's first MiB when it looks like CSV text the scan would read as such (no other
/// format, no UTF-16 mark, no NUL byte, not JSON, a line break within it), with the
/// delimiter sniffed from it: what may be parsed before the scan has checked the rest.
/// What the scan refuses from the first MiB alone is left to it, so that nothing goes on
/// parsing after the error is said.
pub(super) struct TextHead {
    pub(super) stamp: Stamp,
    head: Vec<u8>,
    /// The head is the whole file.
    complete: bool,
    pub(super) delimiter: u8,
}

impl TextHead {
    pub(super) fn read(path: &Path) -> Option<TextHead> {
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
}
