//! A file too large to hold row by row, read in batches (a CSV's whole records, a Parquet
//! file's row groups): each batch is parsed (`parse`, from `blocks` of records), typed and
//! narrowed as a whole file is and shown whole to the observer, whose `describe()` adds it
//! up (`narrow`), then summed by its keys (`sums`), so memory holds one batch and the sums,
//! not the file. Every tool is a sum by keys (`tools::frame::sums_by`), so the sums give
//! them exactly what the rows would. Here: the passes (another when a later batch does not
//! fit the first one's types), and the batches read beside the scan.

mod blocks;
mod narrow;
mod parse;
mod sums;

use std::path::Path;

use super::error::DataError;
use super::loader::{LoadOptions, Narrowed, WholeFrameObserver};
use super::numbers::Decimal;
use super::opened::Opened;
use super::profile::DataProfile;
use super::read_mode::ReadMode;
use super::source::FileFormat;

/// Files from this size are read in batches: a million rows of a typical export (about
/// 100 MB) then take 0.13 GB instead of 0.38 GB, in as little time. Below it, one parse of
/// the whole file (beside the scan) is as fast, and its rows are there to inspect.
pub const STREAM_FROM_BYTES: u64 = 64 << 20;

/// Bytes of records per batch: smaller batches hold less at once, larger ones spend less
/// per batch. Measured at 1M and 10M rows (`run --no-cache`): 2 MiB a little slower, 4 MiB
/// as fast as 8 or 16 MiB in 130 MB instead of 160 or 205 MB.
pub const BATCH_BYTES: usize = 4 << 20;

/// The flow's columns of a file read in batches, summed by their keys, with the profile
/// saying so ([`DataProfile::grouped`]).
pub(super) fn load_batches(
    opened: &Opened,
    required: &[&str],
    options: &LoadOptions,
    observe: &mut Option<WholeFrameObserver<'_>>,
) -> Result<Narrowed, DataError> {
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
        match parse::read_batches(&reading, observe)? {
            Pass::Done(narrowed) => return Ok(*narrowed),
            Pass::AllText => types.all_text = true,
            Pass::KeepText(columns) => types.keep_text.extend(columns),
        }
    }
}

/// What reading a file's batches beside its scan came to.
// Returned once a load and taken apart at once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum BesideScan {
    /// The first MiB does not allow it (another format, not UTF-8, too small to batch):
    /// nothing was read.
    NotTried,
    /// The scan found the file otherwise than its first MiB said (another encoding, say):
    /// the batches read are dropped, and the file is read as `opened` says.
    Dropped(Opened),
    /// The file as the scan opened it, and its batches read meanwhile.
    Read {
        opened: Opened,
        batches: Result<Narrowed, DataError>,
    },
}

/// Opens the file by its scan while its batches are read, as its first MiB says: the scan
/// (hash, record and UTF-8 checks) on a thread of its own beside the batches, instead of
/// before them.
pub(super) fn load_beside_scan(
    path: &Path,
    required: &[&str],
    options: &LoadOptions,
    observe: &mut Option<WholeFrameObserver<'_>>,
) -> Result<BesideScan, DataError> {
    let Some(head) = super::source::scan_head(path) else {
        return Ok(BesideScan::NotTried);
    };
    // What cannot be mapped from the head is left to the scan to say, in its order.
    let provisional = match super::opened::open_scanned(head, options) {
        Ok(p) if p.mode == ReadMode::Batches => p,
        _ => return Ok(BesideScan::NotTried),
    };
    // The batches report progress; the scan, beside them, does not.
    let quiet = LoadOptions {
        progress: Default::default(),
        ..options.clone()
    };
    let (scanned, batches) = std::thread::scope(|scope| {
        let scan = scope.spawn(|| super::opened::open(path, &quiet));
        let batches = load_batches(&provisional, required, options, observe);
        (scan.join(), batches)
    });
    let opened = match scanned {
        Ok(opened) => opened?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    if !(opened.reads_as(&provisional) && opened.mode == ReadMode::Batches) {
        return Ok(BesideScan::Dropped(opened));
    }
    // The profile shown beside a missing column counts the file's rows as the scan did.
    let batches = batches.map_err(|e| match e {
        DataError::MissingColumns {
            path,
            missing,
            found,
            profile: Some(profile),
        } => DataError::MissingColumns {
            path,
            missing,
            found,
            profile: Some(Box::new(counting_file_rows(*profile, &opened))),
        },
        other => other,
    });
    Ok(BesideScan::Read { opened, batches })
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
    Done(Box<Narrowed>),
    /// A later batch does not parse with the first batch's types.
    AllText,
    /// These columns are numbers in the first batch but not in a later one.
    KeepText(Vec<String>),
}

/// `profile`, made from the first records or batch, with the file's rows as its scan or
/// its footer counts them, when they do: a profile shown beside an error counts the file.
pub(super) fn counting_file_rows(mut profile: DataProfile, opened: &Opened) -> DataProfile {
    let rows = match opened.scan.format {
        FileFormat::Parquet => super::source::parquet_layout(opened.path())
            .ok()
            .map(|(_, groups)| groups.iter().sum()),
        _ => opened.scan.csv.as_ref().and_then(|c| c.records),
    };
    profile.rows = rows.unwrap_or(profile.rows);
    profile
}
