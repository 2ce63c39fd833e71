use serde::{Deserialize, Serialize};
use strum::{Display, IntoStaticStr, VariantArray};

/// How much a context item matters to a step; pruning drops from the bottom up.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    IntoStaticStr,
    Display,
    VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Priority {
    Critical,
    Important,
    Useful,
    Optional,
}

impl Priority {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}
