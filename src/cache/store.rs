//! The smart cache: an LRU memory tier bounded by bytes with a TTL per entry, over an
//! optional disk tier. Flow state keeps only references; this resolves them. Tool and step
//! outputs are memoized under the reference of their inputs, so a rerun with unchanged
//! inputs, in this process or a later one, is a lookup.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lru::LruCache;
use serde::Serialize;

use super::disk::{DiskTier, Envelope, StoredKind};
use crate::clock::now_secs;
use crate::data::Dataset;
use crate::reference::Reference;
use crate::step_output::StepOutput;
use crate::tools::ToolOutput;

/// A value the store can hold.
#[derive(Debug, Clone)]
pub enum StoredValue {
    Dataset(Arc<Dataset>),
    ToolOutput(Arc<ToolOutput>),
    StepOutput(Arc<StepOutput>),
    /// Derived text kept for reuse, e.g. the baseline's data preview.
    Summary(Arc<Summary>),
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub producer: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "lowercase")]
pub enum EntryKind {
    Dataset,
    #[strum(serialize = "tool output")]
    ToolOutput,
    #[strum(serialize = "step output")]
    StepOutput,
    Summary,
}

impl EntryKind {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

impl StoredValue {
    pub fn kind(&self) -> EntryKind {
        match self {
            StoredValue::Dataset(_) => EntryKind::Dataset,
            StoredValue::ToolOutput(_) => EntryKind::ToolOutput,
            StoredValue::StepOutput(_) => EntryKind::StepOutput,
            StoredValue::Summary(_) => EntryKind::Summary,
        }
    }

    /// The value as JSON for the disk tier; datasets go to disk as Arrow, not here.
    fn to_json(&self) -> Option<serde_json::Value> {
        match self {
            StoredValue::Dataset(_) => None,
            StoredValue::ToolOutput(t) => serde_json::to_value(t.as_ref()).ok(),
            StoredValue::StepOutput(s) => serde_json::to_value(s.as_ref()).ok(),
            StoredValue::Summary(s) => serde_json::to_value(s.as_ref()).ok(),
        }
    }

    fn from_envelope(e: &Envelope) -> Option<StoredValue> {
        match e.kind {
            StoredKind::ToolOutput => serde_json::from_value(e.value.clone())
                .ok()
                .map(|t| StoredValue::ToolOutput(Arc::new(t))),
            StoredKind::StepOutput => serde_json::from_value(e.value.clone())
                .ok()
                .map(|s| StoredValue::StepOutput(Arc::new(s))),
            StoredKind::Summary => serde_json::from_value(e.value.clone())
                .ok()
                .map(|s| StoredValue::Summary(Arc::new(s))),
            StoredKind::Alias | StoredKind::Dataset => None,
        }
    }

    /// Estimated bytes in memory: a dataset's frame size, a result's JSON size.
    fn estimated_bytes(&self) -> usize {
        match self {
            StoredValue::Dataset(d) => d.frame.estimated_size(),
            StoredValue::ToolOutput(t) => serde_json::to_vec(t.as_ref()).map_or(0, |v| v.len()),
            StoredValue::StepOutput(s) => serde_json::to_vec(s.as_ref()).map_or(0, |v| v.len()),
            StoredValue::Summary(s) => s.text.len() + s.producer.len(),
        }
    }

    /// What produced the value: the data file, the tool call, the step.
    fn producer(&self) -> String {
        match self {
            StoredValue::Dataset(d) => d
                .path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into()),
            StoredValue::ToolOutput(t) => t.call.label(),
            StoredValue::StepOutput(s) => s.step.clone(),
            StoredValue::Summary(s) => s.producer.clone(),
        }
    }
}

/// Bounds and lifetimes.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    pub memory_bytes: usize,
    pub disk_bytes: u64,
    pub ttl: Duration,
    /// TTL by tool name, overriding `ttl`.
    pub tool_ttl: BTreeMap<String, Duration>,
    /// The disk tier's directory; none keeps everything in memory.
    pub dir: Option<PathBuf>,
}

impl CacheConfig {
    /// The `[cache]` table's bounds and lifetimes, with the disk tier in `dir`.
    pub fn from_settings(c: &crate::config::CacheSettings, dir: Option<PathBuf>) -> CacheConfig {
        CacheConfig {
            memory_bytes: (c.memory_mb as usize).saturating_mul(1 << 20),
            disk_bytes: c.disk_mb.saturating_mul(1 << 20),
            ttl: Duration::from_secs(c.ttl_seconds),
            tool_ttl: c
                .ttl
                .iter()
                .map(|(k, v)| (k.clone(), Duration::from_secs(*v)))
                .collect(),
            dir,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            memory_bytes: 100 << 20,
            disk_bytes: 1 << 30,
            ttl: Duration::from_secs(3600),
            tool_ttl: BTreeMap::new(),
            dir: None,
        }
    }
}

/// Counters since the store was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub disk_hits: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub entries: usize,
    pub memory_bytes: usize,
    pub disk_bytes: u64,
}

#[derive(Debug)]
struct Entry {
    value: StoredValue,
    bytes: usize,
    producer: String,
    created: Instant,
    last_access: Instant,
    ttl: Duration,
    hits: u64,
}

/// What the cache views show of an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryInfo {
    pub reference: Reference,
    pub kind: EntryKind,
    pub bytes: usize,
    pub producer: String,
    #[serde(serialize_with = "seconds")]
    pub age: Duration,
    #[serde(serialize_with = "seconds")]
    pub ttl_left: Duration,
    pub hits: u64,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

struct Inner {
    lru: LruCache<Reference, Entry>,
    bytes: usize,
    /// Memo keys (step inputs) pointing at the entry they produced.
    aliases: HashMap<Reference, Reference>,
    stats: CacheStats,
}

pub struct ResultStore {
    inner: Mutex<Inner>,
    config: CacheConfig,
    disk: Option<DiskTier>,
}

impl std::fmt::Debug for ResultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for ResultStore {
    fn default() -> Self {
        ResultStore::with_config(CacheConfig::default())
    }
}

impl ResultStore {
    /// Memory only, default bounds.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_config(config: CacheConfig) -> Self {
        let disk = config.dir.as_ref().map(|d| DiskTier::open(d, config.disk_bytes));
        let inner = Inner {
            lru: LruCache::unbounded(),
            bytes: 0,
            aliases: HashMap::new(),
            stats: CacheStats::default(),
        };
        ResultStore {
            inner: Mutex::new(inner),
            config,
            disk,
        }
    }

    pub fn disk(&self) -> Option<&DiskTier> {
        self.disk.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Updates finish inside the lock, so a lock poisoned by a panic elsewhere still
        // guards consistent state.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ttl_for(&self, value: &StoredValue) -> Duration {
        match value {
            StoredValue::ToolOutput(t) => self
                .config
                .tool_ttl
                .get(t.call.name())
                .copied()
                .unwrap_or(self.config.ttl),
            _ => self.config.ttl,
        }
    }

    /// Stores a value in memory, and results on disk too.
    pub fn put(&self, reference: Reference, value: StoredValue) {
        let ttl = self.ttl_for(&value);
        if let (Some(disk), Some(json)) = (&self.disk, value.to_json()) {
            let kind = match value.kind() {
                EntryKind::StepOutput => StoredKind::StepOutput,
                EntryKind::Summary => StoredKind::Summary,
                _ => StoredKind::ToolOutput,
            };
            let envelope = Envelope {
                kind,
                producer: value.producer(),
                created: now_secs(),
                ttl_seconds: ttl.as_secs(),
                value: json,
            };
            disk.put_result(&reference, &envelope);
        }
        self.insert_memory(reference, value, ttl);
    }

    fn insert_memory(&self, reference: Reference, value: StoredValue, ttl: Duration) {
        let now = Instant::now();
        let bytes = value.estimated_bytes();
        let entry = Entry {
            producer: value.producer(),
            value,
            bytes,
            created: now,
            last_access: now,
            ttl,
            hits: 0,
        };
        let mut inner = self.lock();
        if let Some(old) = inner.lru.put(reference, entry) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        // Past the bound, evict the least recently used down to 80% of it.
        if inner.bytes > self.config.memory_bytes {
            let target = self.config.memory_bytes / 10 * 8;
            while inner.bytes > target {
                let Some((_, old)) = inner.lru.pop_lru() else { break };
                inner.bytes -= old.bytes;
                inner.stats.evictions += 1;
            }
        }
    }

    /// Makes `alias` resolve to the entry at `target` (a memo key to its result).
    pub fn put_alias(&self, alias: Reference, target: Reference) {
        if let Some(disk) = &self.disk {
            let envelope = Envelope {
                kind: StoredKind::Alias,
                producer: String::new(),
                created: now_secs(),
                ttl_seconds: self.config.ttl.as_secs(),
                value: serde_json::Value::String(target.to_string()),
            };
            disk.put_result(&alias, &envelope);
        }
        self.lock().aliases.insert(alias, target);
    }

    /// Resolves an alias (in memory or on disk) to its target.
    fn resolve(&self, reference: &Reference) -> Reference {
        if let Some(t) = self.lock().aliases.get(reference) {
            return *t;
        }
        if let Some(disk) = &self.disk {
            if let Ok(Some(e)) = disk.get_result(reference) {
                if e.kind == StoredKind::Alias {
                    if let Some(t) = e.value.as_str().and_then(|s| s.parse::<Reference>().ok()) {
                        self.lock().aliases.insert(*reference, t);
                        return t;
                    }
                }
            }
        }
        *reference
    }

    /// The value from memory if alive; `count` records a hit on the entry.
    fn lookup_memory(&self, key: &Reference, count: bool) -> Option<StoredValue> {
        let mut inner = self.lock();
        let expired = inner.lru.peek(key).is_some_and(|e| e.created.elapsed() >= e.ttl);
        if expired {
            let old = inner.lru.pop(key).expect("peeked");
            inner.bytes -= old.bytes;
            inner.stats.expirations += 1;
            return None;
        }
        let entry = inner.lru.get_mut(key)?;
        entry.last_access = Instant::now();
        if count {
            entry.hits += 1;
        }
        Some(entry.value.clone())
    }

    fn lookup_disk(&self, key: &Reference) -> Option<StoredValue> {
        let disk = self.disk.as_ref()?;
        match disk.get_result(key) {
            Ok(Some(e)) => {
                let value = StoredValue::from_envelope(&e)?;
                let ttl = Duration::from_secs(e.ttl_seconds).saturating_sub(e.age());
                self.insert_memory(*key, value.clone(), ttl);
                Some(value)
            }
            Ok(None) => None,
            Err(_) => {
                self.lock().stats.expirations += 1;
                None
            }
        }
    }

    /// The value, counting a hit or a miss.
    pub fn get(&self, reference: &Reference) -> Option<StoredValue> {
        let key = self.resolve(reference);
        if let Some(v) = self.lookup_memory(&key, true) {
            self.lock().stats.hits += 1;
            return Some(v);
        }
        let found = self.lookup_disk(&key);
        let mut inner = self.lock();
        if found.is_some() {
            inner.stats.hits += 1;
            inner.stats.disk_hits += 1;
        } else {
            inner.stats.misses += 1;
        }
        found
    }

    /// The value, without counting: for views and reports.
    pub fn peek(&self, reference: &Reference) -> Option<StoredValue> {
        let key = self.resolve(reference);
        self.lookup_memory(&key, false).or_else(|| self.lookup_disk(&key))
    }

    pub fn dataset(&self, reference: &Reference) -> Option<Arc<Dataset>> {
        match self.get(reference)? {
            StoredValue::Dataset(d) => Some(d),
            _ => None,
        }
    }

    pub fn tool_output(&self, reference: &Reference) -> Option<Arc<ToolOutput>> {
        match self.get(reference)? {
            StoredValue::ToolOutput(t) => Some(t),
            _ => None,
        }
    }

    pub fn step_output(&self, reference: &Reference) -> Option<Arc<StepOutput>> {
        match self.get(reference)? {
            StoredValue::StepOutput(s) => Some(s),
            _ => None,
        }
    }

    /// A summary, computed and stored on a miss.
    pub fn summary(&self, reference: &Reference, compute: impl FnOnce() -> Summary) -> Arc<Summary> {
        if let Some(StoredValue::Summary(s)) = self.get(reference) {
            return s;
        }
        let summary = Arc::new(compute());
        self.put(*reference, StoredValue::Summary(summary.clone()));
        summary
    }

    /// A step output for a view or report (no hit counted).
    pub fn peek_step_output(&self, reference: &Reference) -> Option<Arc<StepOutput>> {
        match self.peek(reference)? {
            StoredValue::StepOutput(s) => Some(s),
            _ => None,
        }
    }

    /// A tool output for a view or report (no hit counted).
    pub fn peek_tool_output(&self, reference: &Reference) -> Option<Arc<ToolOutput>> {
        match self.peek(reference)? {
            StoredValue::ToolOutput(t) => Some(t),
            _ => None,
        }
    }

    /// Removes an entry (both tiers) and the aliases pointing at it; true if it was there.
    pub fn remove(&self, reference: &Reference) -> bool {
        let on_disk = self.disk.as_ref().is_some_and(|d| d.remove(reference));
        let mut inner = self.lock();
        inner.aliases.retain(|_, target| target != reference);
        match inner.lru.pop(reference) {
            Some(old) => {
                inner.bytes -= old.bytes;
                true
            }
            None => on_disk,
        }
    }

    /// Entries in memory, newest first.
    pub fn entries(&self) -> Vec<EntryInfo> {
        let inner = self.lock();
        let mut list: Vec<EntryInfo> = inner
            .lru
            .iter()
            .map(|(r, e)| EntryInfo {
                reference: *r,
                kind: e.value.kind(),
                bytes: e.bytes,
                producer: e.producer.clone(),
                age: e.created.elapsed(),
                ttl_left: e.ttl.saturating_sub(e.created.elapsed()),
                hits: e.hits,
            })
            .collect();
        list.sort_by(|a, b| a.age.cmp(&b.age).then(a.reference.cmp(&b.reference)));
        list
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            entries: inner.lru.len(),
            memory_bytes: inner.bytes,
            disk_bytes: self.disk.as_ref().map_or(0, |d| d.bytes()),
            ..inner.stats.clone()
        }
    }

    /// Problems the disk tier met since the last call (corrupt files, failed writes).
    pub fn take_warnings(&self) -> Vec<String> {
        self.disk.as_ref().map(|d| d.take_warnings()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.lock().lru.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{Dimension, ToolCall};

    fn output(n: usize) -> Arc<ToolOutput> {
        Arc::new(ToolOutput {
            call: ToolCall::Roi { by: Dimension::Brand },
            result: serde_json::json!({ "pad": "x".repeat(n) }),
            facts: vec![],
        })
    }

    #[test]
    fn counts_hits_but_not_peeks_and_resolves_aliases() {
        let store = ResultStore::new();
        let r = Reference::of_bytes(b"x");
        let alias = Reference::of_bytes(b"memo");
        store.put(r, StoredValue::ToolOutput(output(1)));
        store.put_alias(alias, r);
        assert!(store.peek(&r).is_some());
        assert!(store.tool_output(&alias).is_some());
        assert!(store.tool_output(&r).is_some());
        assert!(store.tool_output(&Reference::of_bytes(b"nope")).is_none());
        let e = &store.entries()[0];
        assert_eq!(
            (e.kind, e.hits, e.producer.as_str()),
            (EntryKind::ToolOutput, 2, "roi(by=brand)")
        );
        let s = store.stats();
        assert_eq!((s.hits, s.misses, s.entries), (2, 1, 1));
    }

    #[test]
    fn evicts_least_recently_used_down_to_80_percent() {
        let one = StoredValue::ToolOutput(output(1000)).estimated_bytes();
        let store = ResultStore::with_config(CacheConfig {
            memory_bytes: one * 10,
            ..CacheConfig::default()
        });
        for i in 0..10u8 {
            store.put(Reference::of_bytes(&[i]), StoredValue::ToolOutput(output(1000)));
        }
        // Touch the first so it is recent.
        assert!(store.get(&Reference::of_bytes(&[0])).is_some());
        store.put(Reference::of_bytes(&[10]), StoredValue::ToolOutput(output(1000)));
        let s = store.stats();
        assert!(s.memory_bytes <= one * 8, "{s:?}");
        assert_eq!(s.evictions, 3);
        assert!(store.peek(&Reference::of_bytes(&[0])).is_some());
        assert!(store.peek(&Reference::of_bytes(&[1])).is_none());
    }

    #[test]
    fn expired_entries_are_never_returned() {
        let store = ResultStore::with_config(CacheConfig {
            ttl: Duration::ZERO,
            ..CacheConfig::default()
        });
        let r = Reference::of_bytes(b"x");
        store.put(r, StoredValue::ToolOutput(output(1)));
        assert!(store.get(&r).is_none());
        assert_eq!(store.stats().expirations, 1);
    }

    #[test]
    fn the_disk_tier_serves_a_new_store_and_survives_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let config = CacheConfig {
            dir: Some(dir.path().to_path_buf()),
            ..CacheConfig::default()
        };
        let r = Reference::of_bytes(b"x");
        let alias = Reference::of_bytes(b"memo");
        {
            let store = ResultStore::with_config(config.clone());
            store.put(r, StoredValue::ToolOutput(output(5)));
            store.put_alias(alias, r);
        }
        let store = ResultStore::with_config(config.clone());
        assert_eq!(store.tool_output(&alias).unwrap().result, output(5).result);
        assert_eq!(store.stats().disk_hits, 1);

        // Truncate the file: reported once, removed, a miss.
        let path = dir.path().join("v1/results").join(format!("{}.json", r.hex()));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let store = ResultStore::with_config(config);
        assert!(store.tool_output(&r).is_none());
        let warnings = store.take_warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("is corrupt"), "{warnings:?}");
        assert!(!path.exists());
        assert!(store.take_warnings().is_empty());
    }

    mod properties {
        use std::collections::HashMap;

        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Put { key: u8, size: usize, expires: bool },
            Get { key: u8 },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0u8..32, 0usize..6000, any::<bool>()).prop_map(|(key, size, expires)| Op::Put { key, size, expires }),
                (0u8..32).prop_map(|key| Op::Get { key }),
            ]
        }

        /// `roi` outputs expire at once (TTL 0); `profitability` ones live an hour.
        fn value(size: usize, expires: bool) -> StoredValue {
            let call = if expires {
                ToolCall::Roi { by: Dimension::Brand }
            } else {
                ToolCall::Profitability { by: Dimension::Brand }
            };
            StoredValue::ToolOutput(Arc::new(ToolOutput {
                call,
                result: serde_json::json!({ "pad": "x".repeat(size) }),
                facts: vec![],
            }))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn the_byte_bound_holds_and_expired_entries_are_never_returned(ops in prop::collection::vec(op(), 1..200)) {
                let bound = 20_000;
                let mut tool_ttl = BTreeMap::new();
                tool_ttl.insert("roi".to_string(), Duration::ZERO);
                let store = ResultStore::with_config(CacheConfig { memory_bytes: bound, tool_ttl, ..CacheConfig::default() });
                let mut last: HashMap<u8, bool> = HashMap::new();
                for op in ops {
                    match op {
                        Op::Put { key, size, expires } => {
                            store.put(Reference::of_bytes(&[key]), value(size, expires));
                            last.insert(key, expires);
                            prop_assert!(store.stats().memory_bytes <= bound);
                        }
                        Op::Get { key } => {
                            let got = store.get(&Reference::of_bytes(&[key]));
                            if got.is_some() {
                                prop_assert_eq!(last.get(&key), Some(&false), "an expired or never stored entry came back");
                            }
                        }
                    }
                    let s = store.stats();
                    prop_assert_eq!(s.memory_bytes, store.entries().iter().map(|e| e.bytes).sum::<usize>());
                }
            }
        }
    }
}
