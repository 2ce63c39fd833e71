//! The persistent tier: results as JSON envelopes, loaded datasets as Parquet, under the
//! cache directory. Writes are atomic (temp file + rename); a file that does not parse is
//! reported, removed and recomputed; the directory is kept under its byte bound by removing
//! the least recently written files.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::now_secs;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::reference::Reference;

/// What a file of the disk tier holds; written as these snake_case words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StoredKind {
    ToolOutput,
    StepOutput,
    Summary,
    /// Another reference's name for a result (a step's memo key for its output).
    Alias,
    /// A parsed frame (Parquet beside its JSON metadata).
    Dataset,
}

impl StoredKind {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub kind: StoredKind,
    pub producer: String,
    /// Seconds since the epoch.
    pub created: u64,
    pub ttl_seconds: u64,
    pub value: serde_json::Value,
}

impl Envelope {
    /// Past its time to live at `now` (seconds since the epoch).
    pub fn expired(&self, now: u64) -> bool {
        now >= self.created.saturating_add(self.ttl_seconds)
    }

    pub fn age(&self) -> Duration {
        Duration::from_secs(now_secs().saturating_sub(self.created))
    }
}

/// A dataset's loaded frame and what the loader noted, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrameMeta {
    pub source: PathBuf,
    /// The file's format, dialect, mapping and the loader's notes.
    pub profile: crate::data::DataProfile,
    pub created: u64,
}

/// One file of the disk tier, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct DiskEntry {
    pub reference: Reference,
    pub kind: StoredKind,
    pub producer: String,
    pub bytes: u64,
    pub age_seconds: u64,
    pub ttl_left_seconds: Option<u64>,
}

pub struct DiskTier {
    root: PathBuf,
    limit: u64,
    /// Problems met (corrupt files, failed writes), reported once each.
    warnings: Mutex<Vec<String>>,
    /// Set by the first failed write: a read-only or full directory is reported once, and
    /// results then stay in memory.
    unwritable: AtomicBool,
}

impl DiskTier {
    pub fn open(dir: &Path, limit: u64) -> DiskTier {
        DiskTier {
            root: dir.join("v1"),
            limit,
            warnings: Mutex::new(Vec::new()),
            unwritable: AtomicBool::new(false),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn warn(&self, message: String) {
        self.warnings.lock().unwrap_or_else(|e| e.into_inner()).push(message);
    }

    /// Warnings since the last call.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn result_path(&self, r: &Reference) -> PathBuf {
        self.root.join("results").join(format!("{}.json", r.hex()))
    }

    fn frame_path(&self, r: &Reference) -> PathBuf {
        self.root.join("frames").join(format!("{}.parquet", r.hex()))
    }

    /// Writes `bytes` to `path` atomically: a reader sees the old file or the new one.
    fn write_atomic(&self, path: &Path, write: impl FnOnce(&mut fs::File) -> std::io::Result<()>) -> bool {
        if self.unwritable.load(Ordering::Relaxed) {
            return false;
        }
        let result = (|| {
            let dir = path.parent().expect("cache paths have a parent");
            fs::create_dir_all(dir)?;
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let tmp = dir.join(format!(
                ".{name}.{}.{}.tmp",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let mut file = crate::private_file::create(&tmp)?;
            let written = write(&mut file)
                .and_then(|()| file.sync_all())
                .and_then(|()| fs::rename(&tmp, path));
            if written.is_err() {
                // A full disk leaves a partial file; it must not stay taking the space.
                let _ = fs::remove_file(&tmp);
            }
            written
        })();
        match result {
            Ok(()) => {
                self.enforce_limit();
                true
            }
            Err(e) => {
                if !self.unwritable.swap(true, Ordering::Relaxed) {
                    self.warn(format!(
                        "cache: cannot write under {}: {e}; results stay in memory for this run",
                        self.root.display()
                    ));
                }
                false
            }
        }
    }

    pub fn put_result(&self, r: &Reference, envelope: &Envelope) {
        let path = self.result_path(r);
        let Ok(bytes) = serde_json::to_vec(envelope) else {
            return;
        };
        self.write_atomic(&path, |f| std::io::Write::write_all(f, &bytes));
    }

    /// The envelope at `r`, if present, readable and not expired. Corrupt files are removed
    /// with a warning; expired ones silently (the caller counts them).
    pub fn get_result(&self, r: &Reference) -> Result<Option<Envelope>, Expired> {
        let path = self.result_path(r);
        let Ok(bytes) = fs::read(&path) else { return Ok(None) };
        match serde_json::from_slice::<Envelope>(&bytes) {
            Ok(e) if e.expired(now_secs()) => {
                let _ = fs::remove_file(&path);
                Err(Expired)
            }
            Ok(e) => Ok(Some(e)),
            Err(err) => {
                self.warn(format!(
                    "cache: {} is corrupt ({err}); removed, recomputing",
                    path.display()
                ));
                let _ = fs::remove_file(&path);
                Ok(None)
            }
        }
    }

    pub fn write_frame(&self, key: &Reference, frame: &DataFrame, meta: &FrameMeta) {
        let path = self.frame_path(key);
        let mut frame = frame.clone();
        let written = self.write_atomic(&path, |f| {
            ParquetWriter::new(f)
                .finish(&mut frame)
                .map(|_| ())
                .map_err(std::io::Error::other)
        });
        if written {
            let meta_path = path.with_extension("json");
            let Ok(bytes) = serde_json::to_vec(meta) else { return };
            self.write_atomic(&meta_path, |f| std::io::Write::write_all(f, &bytes));
        }
    }

    pub fn read_frame(&self, key: &Reference) -> Option<(DataFrame, FrameMeta)> {
        let path = self.frame_path(key);
        let meta_path = path.with_extension("json");
        if !path.exists() {
            return None;
        }
        let meta = fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<FrameMeta>(&b).ok());
        let frame = fs::File::open(&path)
            .map_err(PolarsError::from)
            .and_then(|f| ParquetReader::new(f).finish());
        match (frame, meta) {
            (Ok(frame), Some(meta)) => Some((frame, meta)),
            (frame, _) => {
                let why = frame
                    .err()
                    .map_or("its description is missing".to_string(), |e| e.to_string());
                self.warn(format!(
                    "cache: {} is corrupt ({why}); removed, reloading the CSV",
                    path.display()
                ));
                let _ = fs::remove_file(&path);
                let _ = fs::remove_file(&meta_path);
                None
            }
        }
    }

    pub fn remove(&self, r: &Reference) -> bool {
        let a = fs::remove_file(self.result_path(r)).is_ok();
        let b = fs::remove_file(self.frame_path(r)).is_ok();
        let _ = fs::remove_file(self.frame_path(r).with_extension("json"));
        a || b
    }

    /// Every file with its size and modification time.
    fn files(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let mut out = Vec::new();
        for sub in ["results", "frames"] {
            let Ok(dir) = fs::read_dir(self.root.join(sub)) else {
                continue;
            };
            for entry in dir.flatten() {
                if let Ok(meta) = entry.metadata() {
                    if meta.is_file() && !entry.file_name().to_string_lossy().starts_with('.') {
                        out.push((entry.path(), meta.len(), meta.modified().unwrap_or(UNIX_EPOCH)));
                    }
                }
            }
        }
        out
    }

    pub fn bytes(&self) -> u64 {
        self.files().iter().map(|f| f.1).sum()
    }

    /// Past the bound, removes the oldest files down to 80% of it.
    fn enforce_limit(&self) {
        let mut files = self.files();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total <= self.limit {
            return;
        }
        files.sort_by_key(|f| f.2);
        let target = self.limit / 10 * 8;
        for (path, size, _) in files {
            if total <= target {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= size;
            }
        }
    }

    /// Result and frame entries, newest first.
    pub fn list(&self) -> Vec<DiskEntry> {
        let mut out = Vec::new();
        for (path, bytes, _) in self.files() {
            let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let Ok(reference) = stem.parse::<Reference>() else {
                continue;
            };
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") if path.parent().is_some_and(|p| p.ends_with("results")) => {
                    let Ok(Some(e)) = self.get_result(&reference) else {
                        continue;
                    };
                    let left = (e.created + e.ttl_seconds).saturating_sub(now_secs());
                    out.push(DiskEntry {
                        reference,
                        kind: e.kind,
                        producer: e.producer.clone(),
                        bytes,
                        age_seconds: e.age().as_secs(),
                        ttl_left_seconds: Some(left),
                    });
                }
                Some("parquet") => {
                    let meta = fs::read(path.with_extension("json"))
                        .ok()
                        .and_then(|b| serde_json::from_slice::<FrameMeta>(&b).ok());
                    out.push(DiskEntry {
                        reference,
                        kind: StoredKind::Dataset,
                        producer: meta
                            .as_ref()
                            .map_or_else(String::new, |m| m.source.display().to_string()),
                        bytes,
                        age_seconds: meta.map_or(0, |m| now_secs().saturating_sub(m.created)),
                        ttl_left_seconds: None,
                    });
                }
                _ => {}
            }
        }
        out.sort_by_key(|e| e.age_seconds);
        out
    }

    /// Adds a run's counters to the totals kept in `stats.json`.
    pub fn record(&self, run: &RunCounters) {
        let path = self.root.join("stats.json");
        let mut totals: RunCounters = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        totals.runs += run.runs;
        totals.hits += run.hits;
        totals.misses += run.misses;
        totals.disk_hits += run.disk_hits;
        totals.evictions += run.evictions;
        totals.expirations += run.expirations;
        totals.tokens_saved_by_references += run.tokens_saved_by_references;
        let Ok(bytes) = serde_json::to_vec_pretty(&totals) else {
            return;
        };
        self.write_atomic(&path, |f| std::io::Write::write_all(f, &bytes));
    }

    /// Totals over every recorded run.
    pub fn totals(&self) -> RunCounters {
        fs::read(self.root.join("stats.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn clear(&self) -> std::io::Result<()> {
        match fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl crate::data::FrameStore for DiskTier {
    fn knows_source(&self, path: &Path) -> bool {
        let wanted = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let Ok(dir) = fs::read_dir(self.root.join("frames")) else {
            return false;
        };
        dir.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice::<FrameMeta>(&fs::read(e.path()).ok()?).ok())
            .any(|meta| fs::canonicalize(&meta.source).unwrap_or(meta.source) == wanted)
    }

    fn get_frame(&self, key: &Reference) -> Option<(DataFrame, crate::data::DataProfile)> {
        self.read_frame(key).map(|(frame, meta)| (frame, meta.profile))
    }

    fn put_frame(&self, key: &Reference, frame: &DataFrame, profile: &crate::data::DataProfile, source: &Path) {
        let meta = FrameMeta {
            source: source.to_path_buf(),
            profile: profile.clone(),
            created: now_secs(),
        };
        self.write_frame(key, frame, &meta);
    }
}

/// Counters summed over runs, kept with the disk tier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCounters {
    pub runs: u64,
    pub hits: u64,
    pub misses: u64,
    pub disk_hits: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub tokens_saved_by_references: u64,
}

/// Marker: the entry was there but expired (and is now gone).
#[derive(Debug)]
pub struct Expired;
