//! Sales data from other people's files: format and dialect detection, roles mapped from
//! column names, values converted as exports write them, and the synthetic generator.

pub mod coded;
mod columns;
mod csv;
pub mod dates;
mod derive;
pub mod dictionary;
mod error;
pub mod generate;
mod loader;
pub mod numbers;
mod opened;
mod plain_csv;
pub mod preview;
pub mod profile;
pub mod progress;
pub mod roles;
pub mod schema;
pub mod source;
mod stream;
pub mod warehouse;

pub use error::{CannotRun, DataError};
pub use loader::{
    Dataset, FrameStore, Inspection, LoadOptions, WholeBatch, WholeFrameObserver, inspect, load, load_csv,
};
pub use profile::{DataProfile, Grouped, MissingColumn, NumberStats};
pub use progress::{LoadProgress, Progress, Stage};
pub use warehouse::{shown_path, source_name};
