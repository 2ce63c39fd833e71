//! The baseline's preview of the data: `describe()` and `head(20)` as the naive pipeline's
//! loading tool pastes them. Made from the loader's one parse of a file (or a warehouse's
//! own statements) on a thread of its own while the flow runs, and kept in the store by the
//! dataset's reference, since it costs a full read and is the same for the same data.

use std::sync::Arc;

use polars::prelude::DataFrame;

use crate::cache::{ResultStore, Summary};

use crate::context::baseline;
use crate::context::describe::FilePreview;
use crate::data::{Dataset, WholeBatch};
use crate::reference::Reference;

/// The baseline's preview of a dataset, kept by its reference; `text` runs only if absent.
pub(super) fn preview(store: &ResultStore, dataset: &Reference, text: impl FnOnce() -> String) -> Arc<Summary> {
    store.summary(&baseline::preview_key(dataset), || Summary {
        producer: "baseline data preview".into(),
        text: text(),
    })
}

/// The data as the baseline's loading tool returned it (`describe()` and `head(20)`), kept
/// in `store` by the dataset's reference: it costs a full read of the file and is the same
/// for the same bytes.
pub fn baseline_preview(store: &ResultStore, dataset: &Dataset) -> String {
    preview(store, &dataset.reference, || {
        baseline::data_preview(&dataset.path).unwrap_or_default()
    })
    .text
    .clone()
}

/// The baseline's preview of a file, from the loader's single parse of it and computed on a
/// thread of its own while the flow runs: take the loader's whole frame with
/// [`observer`](Self::observer), [`start`](Self::start) after loading, and
/// [`finish`](Self::finish) before building the report.
#[derive(Default)]
pub struct PreviewJob {
    /// The way to the thread that describes what the loader shows, as it shows it: a
    /// whole file once loading ends, a large one batch by batch while the loader goes on.
    /// `None` says loading is done: a job dropped before that describes nothing.
    to: Option<std::sync::mpsc::SyncSender<Option<(DataFrame, bool)>>>,
    describing: Option<std::thread::JoinHandle<Option<String>>>,
    reference: Option<Reference>,
}

impl PreviewJob {
    pub fn observer(&mut self) -> impl FnMut(WholeBatch<'_>) + '_ {
        |batch| {
            let to = self.to.get_or_insert_with(|| {
                // Two batches wait at most: the loader is held back rather than memory filled.
                let (to, batches) = std::sync::mpsc::sync_channel::<Option<(DataFrame, bool)>>(2);
                self.describing = Some(std::thread::spawn(move || {
                    let mut preview = FilePreview::default();
                    loop {
                        match batches.recv().ok()? {
                            Some((frame, first)) => preview.add(&frame, first),
                            // A preview that cannot be made is made from the file after
                            // the run.
                            None => return preview.text().ok(),
                        }
                    }
                }));
                to
            });
            // A thread that stopped has failed; its join says so.
            let _ = to.send(Some((batch.frame.clone(), batch.first)));
        }
    }

    /// Describes on a thread of its own with `describe` (a warehouse's aggregate statements)
    /// instead of from what the loader shows.
    pub fn describe_with(&mut self, describe: impl FnOnce() -> Option<String> + Send + 'static) {
        self.to = None;
        self.describing = Some(std::thread::spawn(describe));
    }

    /// Lets the preview of what the loader showed of the dataset `reference` names be
    /// finished, on its thread, while the flow runs.
    pub fn start(&mut self, reference: &Reference) {
        self.reference = Some(*reference);
        if let Some(to) = self.to.take() {
            let _ = to.send(None);
        }
    }

    /// Waits for the preview and keeps it in `store`.
    pub fn finish(mut self, store: &ResultStore) {
        self.to = None;
        if let (Some(reference), Some(Ok(Some(text)))) = (self.reference, self.describing.map(|h| h.join())) {
            preview(store, &reference, || text);
        }
    }
}
