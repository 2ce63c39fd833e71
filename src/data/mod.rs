//! Sales data from other people's files: format and dialect detection, roles mapped from
//! column names, values converted as exports write them, and the synthetic generator.
//!
//! A file goes through the loader's stages (`loader` runs them in order):
//! `source` (scan: hash, format, dialect; read) → `opened` (header, roles, decimals, and
//! the [`read_mode`] decided once) → parse whole (`source::read_*`) or in `batches` →
//! type and narrow (`columns`, `derive`) → sum (`batches::sums`, or the tools' own sums
//! of a whole frame). A warehouse table skips the file stages: `warehouse` sums where the
//! data is.

mod batches;
pub mod coded;
mod columns;
mod csv;
pub mod dates;
mod derive;
pub mod dictionary;
mod error;
pub mod first_rows;
pub mod generate;
mod loader;
pub mod numbers;
mod opened;
mod plain_csv;
pub mod profile;
pub mod progress;
mod read_mode;
pub mod roles;
pub mod schema;
pub mod source;
pub mod warehouse;

pub use error::{CannotRun, DataError};
pub use loader::{
    Dataset, FrameStore, Inspection, LoadOptions, WholeBatch, WholeFrameObserver, inspect, load, load_file,
};
pub use profile::{DataProfile, Grouped, MissingColumn, NumberStats};
pub use progress::{LoadProgress, Progress, Stage};
pub use warehouse::{shown_path, source_name};
