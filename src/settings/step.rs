use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Priority, Strategy};

/// What the analyst tunes for a step: its token budget, its strategy and the context
/// items whose priority differs from the flow's. One type from the keypress to the memo
/// key: the TUI's tuning, the what-if, the engine's `Configure` command and the run record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepSettings {
    pub budget: u32,
    pub strategy: Strategy,
    /// Context item key → its priority, only where it differs from the flow's.
    #[serde(default)]
    pub priority_overrides: BTreeMap<String, Priority>,
}

impl StepSettings {
    /// Settings with no priority changed.
    pub fn new(budget: u32, strategy: Strategy) -> Self {
        StepSettings {
            budget,
            strategy,
            priority_overrides: BTreeMap::new(),
        }
    }

    /// The priority of item `key`, whose flow default is `default`.
    pub fn priority_of(&self, key: &str, default: Priority) -> Priority {
        self.priority_overrides.get(key).copied().unwrap_or(default)
    }
}
