//! Loads a sales file once: hashes its bytes, reads it whatever its format (CSV in any
//! common dialect, Parquet, Excel), maps its columns to roles, converts the values the flow
//! needs (decimal commas, currency, quarters as `Q3`, dates in any common order), derives
//! what can be derived, and says what it did. [`load`] runs the stages that live beside
//! it: `source` (scan, read), `opened` (header, mapping, dialect, read mode), `batches`
//! (a large file), `columns` (plan, convert, drop), `derive` (dates and the schema's
//! derivations); `error` says what went wrong.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::batches::{self, BesideScan};
use super::columns::narrow;
use super::dates::DateFormat;
use super::error::DataError;
use super::opened::Opened;
use super::opened::open;
use super::profile::{DataProfile, MissingColumn};
use super::read_mode::ReadMode;
use super::roles::ExplicitColumn;
use super::source::{CsvScope, EarlyParse, file_stamp};
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
    /// Data summed where it lives (a warehouse): the hash of the flow's sums the server
    /// returned. The reference is of the table's totals, the same for every flow; these
    /// sums are part of every result's key ([`Dataset::frame_reference`]), so any change
    /// the sums show misses the cache.
    pub sums: Option<Reference>,
}

impl Dataset {
    /// Rows analysed: the frame's, or those it was summed from.
    pub fn rows(&self) -> usize {
        match &self.profile.grouped {
            Some(g) => g.rows,
            None => self.frame.height(),
        }
    }

    pub fn columns(&self) -> Vec<String> {
        self.frame.get_column_names().iter().map(|c| c.to_string()).collect()
    }

    /// The words the file uses for its dimensions: `(role word, column)` for each dimension
    /// role read from a column not named after it (`brand` from `Retailer`); an all-caps
    /// column name in lower case (`TERRITORY` → `territory`).
    pub fn dimension_words(&self) -> Vec<(String, String)> {
        super::roles::DIMENSION_ROLES
            .iter()
            .filter_map(|role| {
                let column = self.profile.roles.get(*role)?;
                let word = if *role == "store_id" { "store" } else { role };
                let same = super::roles::normalize(column) == super::roles::normalize(role)
                    || super::roles::normalize(column) == word;
                let shown = if column.chars().any(char::is_lowercase) {
                    column.clone()
                } else {
                    column.to_lowercase()
                };
                (!same).then(|| (word.to_string(), shown))
            })
            .collect()
    }

    /// Where the data came from, whatever version of it this is: the file's absolute path.
    pub fn source(&self) -> String {
        std::fs::canonicalize(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .display()
            .to_string()
    }

    /// Whether the frame holds `role` (or the named column), read or derived.
    pub fn has(&self, role: &str) -> bool {
        self.frame.column(role).is_ok()
    }

    /// What results computed from `frame` are kept under: the dataset and the columns read
    /// of it. Two flows that read other columns of one file hold other frames (other
    /// columns, and other rows where an incomplete one was dropped), so their results from
    /// the same dataset differ.
    pub fn frame_reference(&self) -> Reference {
        let columns = self.columns().join("\u{1f}");
        let reference = self.reference.to_string();
        match self.sums {
            None => Reference::of_parts([b"frame-of/v1".as_slice(), reference.as_bytes(), columns.as_bytes()]),
            Some(sums) => Reference::of_parts([
                b"frame-of/v1".as_slice(),
                reference.as_bytes(),
                columns.as_bytes(),
                sums.to_string().as_bytes(),
            ]),
        }
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
    /// A CSV of at least this many bytes is read in batches and summed as it goes
    /// (default [`batches::STREAM_FROM_BYTES`]).
    pub stream_from: Option<u64>,
    /// Bytes of records per batch (default [`batches::BATCH_BYTES`]).
    pub batch_bytes: Option<usize>,
    /// Roles read when the file has them (or they can be derived); those it lacks are
    /// listed in the profile's `unavailable`, each with the columns that could serve. A
    /// flow asks for every role its tools read this way and decides afterwards what runs.
    pub optional: Vec<String>,
}

impl LoadOptions {
    /// The size from which a file is read in batches.
    pub(super) fn streams_from(&self) -> u64 {
        self.stream_from.unwrap_or(batches::STREAM_FROM_BYTES)
    }

    /// Bytes of records per batch.
    pub(super) fn batch_size(&self) -> usize {
        self.batch_bytes.unwrap_or(batches::BATCH_BYTES)
    }

    /// What these options change about results, for the dataset's reference.
    pub(super) fn signature(&self) -> String {
        let date = self.date_format.as_ref().map(DateFormat::describe).unwrap_or_default();
        format!("{date}\u{1f}{}", self.sheet.as_deref().unwrap_or_default())
    }
}

/// Somewhere loaded frames can be kept between launches, keyed by the file's bytes, the
/// mapping and the columns read, so a large file is parsed once.
pub trait FrameStore {
    /// Whether a frame of the file at `path` may be kept: if not, the loader parses the
    /// file while it hashes it, instead of hashing first to look the frame up.
    fn knows_source(&self, path: &Path) -> bool;
    fn get_frame(&self, key: &Reference) -> Option<(DataFrame, DataProfile)>;
    fn put_frame(&self, key: &Reference, frame: &DataFrame, profile: &DataProfile, source: &Path);
}

/// Sees every column of a file as it is read, before the frame is narrowed to the columns
/// a flow needs: the whole file at once, or a large one batch by batch.
pub type WholeFrameObserver<'a> = &'a mut dyn FnMut(WholeBatch<'_>);

/// Every column of some of a file's rows, in file order.
pub struct WholeBatch<'a> {
    pub frame: &'a DataFrame,
    /// The read's first batch: any batch seen before belongs to a read given up on.
    pub first: bool,
}

/// Loads `path` (any format the loader reads) with detection alone, reading the
/// `required` roles.
pub fn load_file(path: &Path, required: &[&str]) -> Result<Dataset, DataError> {
    load(path, required, &LoadOptions::default(), None, None)
}

/// The flow's columns of a file, typed and narrowed (or summed, when read in batches), and
/// what the loader noted: a parse's result, before it is checked and kept.
pub(super) struct Narrowed {
    pub(super) frame: DataFrame,
    pub(super) profile: DataProfile,
}

/// What a load is keyed by.
struct Keys {
    /// The dataset's: the file's bytes and the mapping.
    dataset: Reference,
    /// The parsed frame's in a frame store: the dataset's and the columns read.
    frame: Reference,
}

impl Keys {
    fn of(opened: &Opened, required: &[&str], options: &LoadOptions) -> Keys {
        let dataset = opened.dataset_reference(options);
        let frame = Reference::of_parts([
            b"frame/v2".as_slice(),
            dataset.to_string().as_bytes(),
            required.join(",").as_bytes(),
            options.optional.join(",").as_bytes(),
        ]);
        Keys { dataset, frame }
    }
}

/// Loads `path`, reading the `required` roles (deriving those that are missing but
/// derivable) and any other required name as a column of the file. The parsed frame comes
/// from `frames` when this file was loaded under the same mapping before; the file is still
/// hashed and checked every time. `observe` sees every column once, before narrowing (the
/// baseline's `describe()` comes from it, so the file is parsed once).
///
/// The stages: scan and open (`source`, `opened`, where the [`ReadMode`] is decided), then
/// parse whole ([`load_whole`]) or in `batches`, type and narrow, and check and keep
/// ([`finish`]). A file no frame store knows is parsed while the scan hashes and checks it.
pub fn load(
    path: &Path,
    required: &[&str],
    options: &LoadOptions,
    frames: Option<&dyn FrameStore>,
    mut observe: Option<WholeFrameObserver<'_>>,
) -> Result<Dataset, DataError> {
    // A warehouse sums the data where it is; the baseline's preview of it is described by
    // statements of its own (`warehouse::describe_table`), not from rows shown here.
    if super::warehouse::is_warehouse(path) {
        return super::warehouse::load(path, required, options);
    }
    let unknown = frames.is_none_or(|f| !f.knows_source(path));
    let may_batch = std::fs::metadata(path).is_ok_and(|m| ReadMode::possible(m.len(), options.streams_from()));
    let mut early = None;
    let (opened, beside_scan) = if unknown && may_batch {
        match batches::load_beside_scan(path, required, options, &mut observe)? {
            BesideScan::Read { opened, batches } => (opened, Some(batches)),
            BesideScan::Dropped(opened) => (opened, None),
            BesideScan::NotTried => (open(path, options)?, None),
        }
    } else {
        // Whole, parsed beside the scan when someone is to see every column.
        if unknown && observe.is_some() {
            early = EarlyParse::start(path);
        }
        (open(path, options)?, None)
    };
    let keys = Keys::of(&opened, required, options);
    let narrowed = match beside_scan {
        Some(batches) => batches?,
        None => {
            if let Some((frame, profile)) = frames.and_then(|f| f.get_frame(&keys.frame)) {
                return Ok(opened.into_dataset(keys.dataset, frame, profile));
            }
            match opened.mode {
                ReadMode::Batches => {
                    drop(early);
                    batches::load_batches(&opened, required, options, &mut observe)?
                }
                ReadMode::Whole => load_whole(&opened, required, options, early, observe)?,
            }
        }
    };
    finish(opened, keys, narrowed, frames, options)
}

/// A file parsed in one piece (beside the scan when `early` was started), typed and
/// narrowed to the flow's columns.
fn load_whole(
    opened: &Opened,
    required: &[&str],
    options: &LoadOptions,
    early: Option<EarlyParse>,
    observe: Option<WholeFrameObserver<'_>>,
) -> Result<Narrowed, DataError> {
    let path = opened.path();
    // With nobody to see every column, a CSV's other columns are typed from its sampled
    // first records and only the columns the flow reads are parsed whole.
    let projected = observe.is_none() && opened.frame.is_none() && !required.is_empty();
    let scope = CsvScope {
        columns: None,
        head_only: projected,
    };
    let parsed = early
        .filter(|_| !projected && opened.takes_early_parse())
        .and_then(|e| e.take(&opened.scan));
    let first = match parsed {
        Some(frame) => opened.typed(frame)?,
        None => opened.read(&scope)?,
    };
    let mut profile = opened.profile(&first);
    let plan = match opened.plan(required, options, &profile, &first) {
        Ok((plan, unavailable)) => {
            profile.unavailable = unavailable;
            plan
        }
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
        observe(WholeBatch {
            frame: &whole,
            first: true,
        });
    }
    let frame = narrow(opened, &whole, &plan, options, &mut profile)?;
    drop(whole);
    Ok(Narrowed { frame, profile })
}

/// The dataset of a parse: checked against the file's stamp, and kept in `frames`.
fn finish(
    opened: Opened,
    keys: Keys,
    narrowed: Narrowed,
    frames: Option<&dyn FrameStore>,
    options: &LoadOptions,
) -> Result<Dataset, DataError> {
    // The hash and the parse are two reads; a file being written meanwhile would leave a
    // frame that is not what the reference names (and would be cached under it).
    if opened.scan.stamp != file_stamp(opened.path()) {
        return Err(DataError::ChangedWhileReading {
            path: opened.path().to_path_buf(),
        });
    }
    let Narrowed { frame, profile } = narrowed;
    if let Some(f) = frames {
        f.put_frame(&keys.frame, &frame, &profile, opened.path());
    }
    if let Some(p) = options.progress.get() {
        p.set_stage(super::Stage::Done);
    }
    Ok(opened.into_dataset(keys.dataset, frame, profile))
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
    if super::warehouse::is_warehouse(path) {
        return super::warehouse::inspect(path, required, options);
    }
    let opened = open(path, options)?;
    if opened.mode == ReadMode::Batches {
        return inspect_in_batches(&opened, required, options);
    }
    let whole = opened.read(&CsvScope::default())?;
    let mut profile = opened.profile(&whole);
    let (missing, problem) = match opened.plan(required, options, &profile, &whole) {
        Ok((plan, unavailable)) => {
            profile.unavailable = unavailable;
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

/// [`inspect`] of a file too large to hold: read in batches as a run reads it.
fn inspect_in_batches(opened: &Opened, required: &[&str], options: &LoadOptions) -> Result<Inspection, DataError> {
    let (profile, missing, problem) = match batches::load_batches(opened, required, options, &mut None) {
        Ok(narrowed) => (narrowed.profile, Vec::new(), None),
        Err(DataError::MissingColumns {
            missing,
            profile: Some(profile),
            ..
        }) => (*profile, missing, None),
        Err(e @ (DataError::Parse { .. } | DataError::Unreadable { .. })) => return Err(e),
        // A value or date a run would stop at: said beside the file's first records' profile.
        Err(e) => {
            let head = match opened.scan.format {
                super::source::FileFormat::Parquet => opened.typed(
                    super::source::read_parquet_rows(opened.path(), 0, 2_000)
                        .map_err(|e| super::columns::parse_error(opened.path(), e))?,
                )?,
                _ => opened.read(&CsvScope {
                    columns: None,
                    head_only: true,
                })?,
            };
            let profile = batches::counting_file_rows(opened.profile(&head), opened);
            (profile, Vec::new(), Some(e.to_string()))
        }
    };
    Ok(Inspection {
        profile,
        missing,
        problem,
    })
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
        let d = load_file(f.path(), &["brand", "profit"]).unwrap();
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
        let mut observe = |b: WholeBatch<'_>| seen.push(b.frame.width());
        let observed = load(
            f.path(),
            &["brand", "profit"],
            &LoadOptions::default(),
            None,
            Some(&mut observe),
        )
        .unwrap();
        assert_eq!(seen, [4]);
        let projected = load_file(f.path(), &["brand", "profit"]).unwrap();
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
        let d = load_file(f.path(), &["profit"]).unwrap();
        assert_eq!(numbers(&d, "profit"), vec![5.0]);
        assert_eq!(d.notes.len(), 3);
        // Sales and profit but no cost: cost is revenue − profit.
        let f = write(b"Product,Sales,Profit\nA,100,40\nB,50,-5\n");
        let d = load_file(f.path(), &["total_cost"]).unwrap();
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
        let err = load_file(f.path(), &["brand"]).unwrap_err();
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
        let d = load_file(f.path(), &["brand", "units_sold"]).unwrap();
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
        let d = load_file(f.path(), &["brand", "units_sold"]).unwrap();
        assert_eq!(d.rows(), 1);
    }

    /// A frame store that knows every file and keeps none: the loader hashes before it
    /// parses, as it does for a file the cache may hold.
    struct KnowsEveryFile;

    impl FrameStore for KnowsEveryFile {
        fn knows_source(&self, _: &Path) -> bool {
            true
        }
        fn get_frame(&self, _: &Reference) -> Option<(DataFrame, DataProfile)> {
            None
        }
        fn put_frame(&self, _: &Reference, _: &DataFrame, _: &DataProfile, _: &Path) {}
    }

    /// The whole frame and the dataset, loaded with `frames`.
    fn load_whole(path: &Path, frames: Option<&dyn FrameStore>) -> (DataFrame, Dataset) {
        let mut whole = None;
        let d = load(
            path,
            &["brand", "total_revenue", "profit"],
            &LoadOptions::default(),
            frames,
            Some(&mut |b: WholeBatch<'_>| whole = Some(b.frame.clone())),
        )
        .unwrap();
        (whole.unwrap(), d)
    }

    #[test]
    fn a_file_parsed_while_it_is_scanned_loads_as_one_parsed_after() {
        let files: [&[u8]; 4] = [
            FULL.as_bytes(),
            // A bare quote polars' parser refuses: the early parse fails, the reader mends.
            b"brand,total_revenue,profit,note\nA,20.0,10.0,5\" tall\nB,20.0,5.0,x\n",
            // Not UTF-8: the early parse is not used.
            b"brand,total_revenue,profit,note\nA,20.0,10.0,caf\xe9\nB,20.0,5.0,x\n",
            // `;` with decimal commas: no early parse.
            b"brand;total_revenue;profit\nA;20,5;10,25\nB;20,0;5,0\n",
        ];
        for content in files {
            let f = write(content);
            let (early_whole, early) = load_whole(f.path(), None);
            let (whole, after) = load_whole(f.path(), Some(&KnowsEveryFile));
            assert!(
                early_whole.equals_missing(&whole),
                "{}",
                String::from_utf8_lossy(content)
            );
            assert!(early.frame.equals_missing(&after.frame));
            assert_eq!(early.reference, after.reference);
            assert_eq!(early.profile, after.profile);
        }
    }
}
