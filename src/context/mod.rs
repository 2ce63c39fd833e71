//! Context engineering: exact token counts, context items with priorities, strategies that
//! fit them into a budget, and the ledger that measures the result against the baseline.

pub mod baseline;
mod item;
pub mod layout;
pub mod ledger;
mod memo;
mod priority;
mod prune;
pub mod render;
mod strategy;
mod tokenizer;

pub use item::{ContextBundle, ContextInputs, ContextItem, Rendition, build};
pub use priority::Priority;
pub use prune::{Decision, ItemDecision, Messages, OverBudget, PruneSettings, PrunedContext, assemble, prune};
pub use strategy::Strategy;
pub use tokenizer::{Encoding, Tokenizer, warm_up};
