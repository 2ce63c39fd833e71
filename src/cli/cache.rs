//! `mrflow-tui cache …`: the persistent tier, seen from outside a run.

use mrflow::cache::{DiskEntry, DiskTier, StoredKind};

use mrflow::config::Config;
use mrflow::data::first_rows::first_rows_table;
use mrflow::dirs::Dirs;
use mrflow::format::{bytes, duration, grouped};
use mrflow::reference::Reference;
use polars::prelude::*;

use crate::cli::{CacheAction, Failure};

/// The entry a user named: a full reference, or a unique prefix of its hex.
fn find(entries: &[DiskEntry], text: &str) -> Result<DiskEntry, Failure> {
    if let Ok(r) = text.parse::<Reference>() {
        return entries
            .iter()
            .find(|e| e.reference == r)
            .cloned()
            .ok_or_else(|| Failure::input(format!("{r}: not in the cache")));
    }
    let prefix = text.strip_prefix("cache://").unwrap_or(text).to_ascii_lowercase();
    if prefix.len() < 4 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Failure::input(format!(
            "`{text}` is not a reference: expected cache://<hex> or at least 4 hex digits"
        )));
    }
    let matches: Vec<&DiskEntry> = entries
        .iter()
        .filter(|e| e.reference.hex().starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Failure::input(format!("no cached entry starts with {prefix}"))),
        many => Err(Failure::input(format!(
            "{prefix} is ambiguous: {} entries start with it",
            many.len()
        ))),
    }
}

pub fn run(action: &CacheAction) -> Result<(), Failure> {
    let dirs = Dirs::resolve().map_err(|e| Failure::input(e.to_string()))?;
    let config = Config::load(&dirs.config).map_err(Failure::input)?;
    let disk = DiskTier::open(
        &dirs.cache,
        mrflow::cache::CacheConfig::from_settings(&config.cache, None).disk_bytes,
    );
    match action {
        CacheAction::Ls { json } => {
            let entries = disk.list();
            if *json {
                println!("{}", serde_json::to_string_pretty(&entries).expect("serializes"));
                return Ok(());
            }
            println!(
                "{:<14} {:<12} {:>9} {:>7} {:>8}  PRODUCER",
                "REF", "KIND", "SIZE", "AGE", "TTL LEFT"
            );
            for e in &entries {
                println!(
                    "{:<14} {:<12} {:>9} {:>7} {:>8}  {}",
                    &e.reference.hex()[..12],
                    e.kind.as_str(),
                    bytes(e.bytes),
                    duration(e.age_seconds),
                    e.ttl_left_seconds.map_or("-".into(), duration),
                    e.producer
                );
            }
            println!("{} entries in {}", entries.len(), disk.root().display());
        }
        CacheAction::Show { reference } => {
            let entry = find(&disk.list(), reference)?;
            if entry.kind == StoredKind::Dataset {
                let path = disk
                    .root()
                    .join("frames")
                    .join(format!("{}.parquet", entry.reference.hex()));
                let frame = std::fs::File::open(&path)
                    .map_err(PolarsError::from)
                    .and_then(|f| ParquetReader::new(f).finish())
                    .map_err(|e| Failure {
                        message: format!("{}: cannot read: {e}", path.display()),
                        status: 1,
                    })?;
                println!(
                    "{} · dataset · {} rows x {} columns",
                    entry.reference,
                    grouped(frame.height() as f64),
                    frame.width()
                );
                for line in first_rows_table(&frame, 20) {
                    println!("{line}");
                }
            } else {
                let envelope = disk
                    .get_result(&entry.reference)
                    .ok()
                    .flatten()
                    .ok_or_else(|| Failure {
                        message: format!("{}: expired or unreadable", entry.reference),
                        status: 1,
                    })?;
                println!(
                    "{} · {} · {}",
                    entry.reference,
                    envelope.kind.as_str(),
                    envelope.producer
                );
                println!("{}", serde_json::to_string_pretty(&envelope.value).expect("serializes"));
            }
        }
        CacheAction::Stats { json } => {
            let entries = disk.list();
            let totals = disk.totals();
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
            for e in &entries {
                *kinds.entry(e.kind.as_str()).or_default() += 1;
            }
            if *json {
                let value = serde_json::json!({
                    "dir": disk.root(), "entries": entries.len(), "disk_bytes": total, "by_kind": kinds, "totals": totals,
                });
                println!("{}", serde_json::to_string_pretty(&value).expect("serializes"));
                return Ok(());
            }
            let by_kind: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            println!(
                "{}: {} entries ({}), {}",
                disk.root().display(),
                entries.len(),
                by_kind.join(", "),
                bytes(total)
            );
            let lookups = totals.hits + totals.misses;
            let rate = if lookups == 0 {
                0.0
            } else {
                totals.hits as f64 / lookups as f64 * 100.0
            };
            println!(
                "over {} runs: {} hits ({} from disk), {} misses ({rate:.1}% hit rate), {} evictions, {} expirations, {} tokens saved by references",
                totals.runs,
                totals.hits,
                totals.disk_hits,
                totals.misses,
                totals.evictions,
                totals.expirations,
                totals.tokens_saved_by_references
            );
        }
        CacheAction::Clear => {
            let entries = disk.list();
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            disk.clear().map_err(|e| Failure {
                message: format!("{}: cannot clear: {e}", disk.root().display()),
                status: 1,
            })?;
            println!(
                "cleared {} entries ({}) from {}",
                entries.len(),
                bytes(total),
                disk.root().display()
            );
        }
    }
    Ok(())
}
