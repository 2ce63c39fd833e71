//! Sales data: the column schema, the loader, and the synthetic generator.

pub mod generate;
mod loader;
pub mod preview;
pub mod schema;

pub use loader::{
    DataError, Dataset, FrameStore, MissingColumn, WholeFrameObserver, load_csv, load_csv_observing, load_csv_with,
};
