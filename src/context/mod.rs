//! Context engineering: exact token counts, context items with priorities, strategies that
//! fit them into a budget, and the ledger that measures the result against the baseline.

pub mod baseline;
pub mod describe;
mod item;
pub mod layout;
pub mod ledger;
mod memo;
pub mod pandas;
mod prune;
pub mod render;
mod tokenizer;
mod value_counts;

pub use item::{ContextBundle, ContextInputs, ContextItem, Rendition, Upstream, build};
pub use prune::{Decision, ItemDecision, Messages, OverBudget, PrunedContext, StablePrefix, assemble, prune};
pub use tokenizer::{Encoding, Tokenizer, warm_up};
