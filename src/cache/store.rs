//! An in-memory map from references to values, shared by the engine and its step tasks.
//!
//! Flow state keeps only references; this store resolves them. Tool outputs are memoized
//! here under the reference of their inputs, so a rerun with unchanged inputs is a lookup.
//! Each entry records what it is, its size, who produced it, when, and how often it was
//! used, for the cache views.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Reference;
use crate::data::Dataset;
use crate::engine::StepOutput;
use crate::tools::ToolOutput;

/// A value the store can hold.
#[derive(Debug, Clone)]
pub enum StoredValue {
    Dataset(Arc<Dataset>),
    ToolOutput(Arc<ToolOutput>),
    StepOutput(Arc<StepOutput>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Dataset,
    ToolOutput,
    StepOutput,
}

impl EntryKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryKind::Dataset => "dataset",
            EntryKind::ToolOutput => "tool output",
            EntryKind::StepOutput => "step output",
        }
    }
}

impl StoredValue {
    pub fn kind(&self) -> EntryKind {
        match self {
            StoredValue::Dataset(_) => EntryKind::Dataset,
            StoredValue::ToolOutput(_) => EntryKind::ToolOutput,
            StoredValue::StepOutput(_) => EntryKind::StepOutput,
        }
    }

    /// Estimated bytes in memory: a dataset's frame size, a result's JSON size.
    fn estimated_bytes(&self) -> usize {
        match self {
            StoredValue::Dataset(d) => d.frame.estimated_size(),
            StoredValue::ToolOutput(t) => serde_json::to_vec(t.as_ref()).map_or(0, |v| v.len()),
            StoredValue::StepOutput(s) => serde_json::to_vec(s.as_ref()).map_or(0, |v| v.len()),
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
        }
    }
}

#[derive(Debug)]
struct Entry {
    value: StoredValue,
    bytes: usize,
    producer: String,
    created: Instant,
    last_access: Instant,
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
    pub hits: u64,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Reference, Entry>,
    /// Memo keys (step inputs) pointing at the entry they produced.
    aliases: HashMap<Reference, Reference>,
}

#[derive(Debug, Default)]
pub struct ResultStore {
    inner: Mutex<Inner>,
}

impl ResultStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a single insert or removal, so a lock poisoned by a panic elsewhere
        // still guards a consistent map.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn put(&self, reference: Reference, value: StoredValue) {
        let now = Instant::now();
        let entry = Entry {
            bytes: value.estimated_bytes(),
            producer: value.producer(),
            value,
            created: now,
            last_access: now,
            hits: 0,
        };
        self.lock().entries.insert(reference, entry);
    }

    /// Makes `alias` resolve to the entry at `target` (a memo key to its result).
    pub fn put_alias(&self, alias: Reference, target: Reference) {
        self.lock().aliases.insert(alias, target);
    }

    /// The value, counting a hit.
    pub fn get(&self, reference: &Reference) -> Option<StoredValue> {
        let mut inner = self.lock();
        let key = inner.aliases.get(reference).copied().unwrap_or(*reference);
        let entry = inner.entries.get_mut(&key)?;
        entry.hits += 1;
        entry.last_access = Instant::now();
        Some(entry.value.clone())
    }

    /// The value, without counting a hit: for views and reports.
    pub fn peek(&self, reference: &Reference) -> Option<StoredValue> {
        let inner = self.lock();
        let key = inner.aliases.get(reference).copied().unwrap_or(*reference);
        inner.entries.get(&key).map(|e| e.value.clone())
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

    /// Removes an entry and the aliases pointing at it; true if it was there.
    pub fn remove(&self, reference: &Reference) -> bool {
        let mut inner = self.lock();
        inner.aliases.retain(|_, target| target != reference);
        inner.entries.remove(reference).is_some()
    }

    /// Every entry, newest first.
    pub fn entries(&self) -> Vec<EntryInfo> {
        let inner = self.lock();
        let mut list: Vec<EntryInfo> = inner
            .entries
            .iter()
            .map(|(r, e)| EntryInfo {
                reference: *r,
                kind: e.value.kind(),
                bytes: e.bytes,
                producer: e.producer.clone(),
                age: e.created.elapsed(),
                hits: e.hits,
            })
            .collect();
        list.sort_by(|a, b| a.age.cmp(&b.age).then(a.reference.cmp(&b.reference)));
        list
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::{Dimension, ToolCall};

    fn output() -> Arc<ToolOutput> {
        Arc::new(ToolOutput {
            call: ToolCall::Roi { by: Dimension::Brand },
            result: serde_json::json!({"a": 1}),
            facts: vec![],
        })
    }

    #[test]
    fn counts_hits_but_not_peeks_and_resolves_aliases() {
        let store = ResultStore::new();
        let r = Reference::of_bytes(b"x");
        let alias = Reference::of_bytes(b"memo");
        store.put(r, StoredValue::ToolOutput(output()));
        store.put_alias(alias, r);
        assert!(store.peek(&r).is_some());
        assert!(store.tool_output(&alias).is_some());
        assert!(store.tool_output(&r).is_some());
        let e = &store.entries()[0];
        assert_eq!(
            (e.kind, e.hits, e.producer.as_str()),
            (EntryKind::ToolOutput, 2, "roi(by=brand)")
        );
        assert_eq!(e.bytes, serde_json::to_vec(output().as_ref()).unwrap().len());
    }

    #[test]
    fn remove_drops_the_entry_and_its_aliases() {
        let store = ResultStore::new();
        let r = Reference::of_bytes(b"x");
        store.put(r, StoredValue::ToolOutput(output()));
        store.put_alias(Reference::of_bytes(b"memo"), r);
        assert!(store.remove(&r));
        assert!(store.get(&Reference::of_bytes(b"memo")).is_none());
        assert!(store.is_empty());
        assert!(!store.remove(&r));
    }
}
