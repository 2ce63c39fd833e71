//! An in-memory map from references to values, shared by the engine and its step tasks.
//!
//! Flow state keeps only references; this store resolves them. Tool outputs are memoized
//! here under the reference of their inputs, so a rerun with unchanged inputs is a lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

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

#[derive(Debug, Default)]
pub struct ResultStore {
    entries: Mutex<HashMap<Reference, StoredValue>>,
}

impl ResultStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Reference, StoredValue>> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts),
        // so a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn put(&self, reference: Reference, value: StoredValue) {
        self.lock().insert(reference, value);
    }

    pub fn get(&self, reference: &Reference) -> Option<StoredValue> {
        self.lock().get(reference).cloned()
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

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
