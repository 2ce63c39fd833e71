//! References and the store that resolves them.

mod reference;
mod store;

pub use reference::{ParseReferenceError, Reference};
pub use store::{EntryInfo, EntryKind, ResultStore, StoredValue};
