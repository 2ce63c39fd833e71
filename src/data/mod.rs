//! Sales data from other people's files: format and dialect detection, roles mapped from
//! column names, values converted as exports write them, and the synthetic generator.

mod csv;
pub mod dates;
pub mod generate;
mod loader;
pub mod numbers;
pub mod preview;
pub mod profile;
pub mod progress;
pub mod roles;
pub mod schema;
pub mod source;

pub use loader::{
    DataError, Dataset, FrameStore, Inspection, LoadOptions, WholeFrameObserver, inspect, load, load_csv,
};
pub use profile::{DataProfile, MissingColumn};
pub use progress::{LoadProgress, Progress, Stage};
