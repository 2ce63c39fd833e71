//! Whether a file's body is parsed whole or read in batches: decided once, here, from what
//! the scan (or the first MiB) found, and kept with the opened file.

use super::source::{FileFormat, Scan, TextEncoding};

/// How a file's body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadMode {
    /// Parsed in one piece: its rows are there to inspect.
    Whole,
    /// Read a batch at a time and summed by its keys (`batches`): memory holds a batch and
    /// the sums, not the file.
    Batches,
}

impl ReadMode {
    /// Batches for a UTF-8 CSV of at least `from` bytes (one in another encoding is
    /// transcoded into memory whole anyway) or a Parquet file as large; whole otherwise.
    pub(super) fn of(scan: &Scan, from: u64) -> ReadMode {
        let batches = ReadMode::possible(scan.bytes, from)
            && match scan.format {
                FileFormat::Parquet => true,
                FileFormat::Csv => scan
                    .csv
                    .as_ref()
                    .is_some_and(|c| c.encoding == TextEncoding::Utf8 && c.transcoded.is_none()),
                FileFormat::Xlsx | FileFormat::Xls | FileFormat::Postgres => false,
            };
        if batches { ReadMode::Batches } else { ReadMode::Whole }
    }

    /// Whether a file of `bytes` may be read in batches at all, before it is scanned: a
    /// smaller one is parsed whole whatever it holds.
    pub(super) fn possible(bytes: u64, from: u64) -> bool {
        bytes >= from
    }
}
