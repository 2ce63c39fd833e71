use std::fmt;

use serde::{Deserialize, Serialize};

/// How a step's context is fitted into its token budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Keep critical items, fill by priority, summarise what does not fit, drop optional first.
    #[default]
    ProgressivePruning,
    /// Summaries instead of full items.
    AbstractedSummaries,
    /// Critical items plus what the task names.
    Minimal,
    /// No history at all.
    Stateless,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::ProgressivePruning,
        Strategy::AbstractedSummaries,
        Strategy::Minimal,
        Strategy::Stateless,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Strategy::ProgressivePruning => "progressive_pruning",
            Strategy::AbstractedSummaries => "abstracted_summaries",
            Strategy::Minimal => "minimal",
            Strategy::Stateless => "stateless",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Strategy::ALL.iter().map(|x| x.as_str()).collect();
            format!("unknown strategy `{s}`, expected one of: {}", names.join(", "))
        })
    }
}
