//! Sales data: the column schema, the loader, and the synthetic generator.

pub mod generate;
mod loader;
pub mod schema;

pub use loader::{DataError, Dataset, MissingColumn, load_csv};
