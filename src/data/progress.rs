//! How far a load has got, for a front end to show while it waits: the bytes read by the
//! hashing pass, then the parse. Shared between the loading thread and whoever draws.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// What a load is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Hashing and checking the file's bytes.
    Reading,
    /// Parsing and converting the columns.
    Parsing,
    /// Parsing a large file batch by batch: the bytes read count again from 0.
    Batches,
    /// A warehouse is summing the data where it is: the bytes count what it has sent.
    Querying,
    Done,
}

/// Counters a loading thread updates and a front end reads; cheap to update per chunk.
#[derive(Debug, Default)]
pub struct LoadProgress {
    read: AtomicU64,
    total: AtomicU64,
    stage: AtomicU8,
    /// Set by a front end to stop a load that can stop (a warehouse's query).
    cancelled: AtomicBool,
}

impl LoadProgress {
    pub fn new() -> Arc<LoadProgress> {
        Arc::new(LoadProgress::default())
    }

    pub(crate) fn set_total(&self, bytes: u64) {
        self.total.store(bytes, Ordering::Relaxed);
    }

    pub(crate) fn add_read(&self, bytes: u64) {
        self.read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Batches of the file are parsed from its start: bytes count from 0 again.
    pub(crate) fn start_batches(&self) {
        self.read.store(0, Ordering::Relaxed);
        self.set_stage(Stage::Batches);
    }

    pub(crate) fn set_stage(&self, stage: Stage) {
        let code = match stage {
            Stage::Reading => 0,
            Stage::Parsing => 1,
            Stage::Done => 2,
            Stage::Batches => 3,
            Stage::Querying => 4,
        };
        self.stage.store(code, Ordering::Relaxed);
    }

    /// Asks the load to stop where it can: a warehouse's statement is cancelled on the server.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// A new load starts: a cancel of the last one no longer holds.
    pub fn restart(&self) {
        self.cancelled.store(false, Ordering::Relaxed);
        self.read.store(0, Ordering::Relaxed);
        self.set_stage(Stage::Reading);
    }

    pub(crate) fn set_read(&self, bytes: u64) {
        self.read.store(bytes, Ordering::Relaxed);
    }

    /// Bytes read so far, the file's size, and the stage.
    pub fn snapshot(&self) -> (u64, u64, Stage) {
        let stage = match self.stage.load(Ordering::Relaxed) {
            0 => Stage::Reading,
            1 => Stage::Parsing,
            3 => Stage::Batches,
            4 => Stage::Querying,
            _ => Stage::Done,
        };
        (
            self.read.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            stage,
        )
    }
}

/// A load's progress reporter in [`super::LoadOptions`]: optional, and not part of what is
/// loaded, so two options that differ only here are equal.
#[derive(Debug, Clone, Default)]
pub struct Progress(pub Option<Arc<LoadProgress>>);

impl PartialEq for Progress {
    fn eq(&self, _: &Progress) -> bool {
        true
    }
}

impl Progress {
    pub(crate) fn get(&self) -> Option<&LoadProgress> {
        self.0.as_deref()
    }
}
