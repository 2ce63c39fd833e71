//! A data file as it is on disk, the loader's first stages: what it is ([`Scan`]: format,
//! blake3, and for CSV its encoding, delimiter and records), found by `scan`; a small CSV
//! parsed beside the scan (`early`); and every column read into a frame as the file has
//! it, before roles apply (`read`).

mod early;
mod read;
mod scan;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DataError;
use crate::reference::Reference;

pub use early::EarlyParse;
pub(in crate::data) use read::csv_options;
pub use read::{CsvScope, first_line, parquet_layout, read_csv, read_parquet, read_parquet_rows, read_workbook};
pub use scan::{scan, scan_head};

/// Bytes inspected for the format, the dialect and the header.
pub const SNIFF_BYTES: usize = 1 << 20;

/// Records kept as a CSV's sample: enough to decide decimals and type unread columns.
pub(super) const SAMPLE_RECORDS: usize = 2_000;

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
