use serde::{Deserialize, Serialize};
use strum::{Display, IntoStaticStr, VariantArray};

/// How a step's context is fitted into its token budget.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, IntoStaticStr, Display, VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::VARIANTS
            .iter()
            .copied()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Strategy::VARIANTS.iter().map(|x| x.as_str()).collect();
                format!("unknown strategy `{s}`, expected one of: {}", names.join(", "))
            })
    }
}
