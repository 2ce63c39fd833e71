//! References, and the smart cache that resolves them: an LRU memory tier with byte bound
//! and TTL over an optional disk tier.

mod disk;
mod store;

pub use disk::{DiskEntry, DiskTier, Envelope, RunCounters, StoredKind};
pub use store::{CacheConfig, CacheStats, EntryInfo, EntryKind, ResultStore, StoredValue, Summary};
