//! Insights: what a finished step leaves in long-term memory. One per critical or important
//! finding, as compact text (never raw data), with the metric behind it and search terms
//! that say what the metric means ("top brand by profit margin"), so a plain-words query
//! finds it without an embedding model.

use serde::{Deserialize, Serialize};

use crate::settings::Priority;
use crate::tools::{Fact, FactValue};

/// An insight as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    pub id: String,
    pub text: String,
    /// The analysis that found it: `profitability`, `roi`, `budget`, …
    pub analysis: String,
    pub flow: String,
    /// The dataset's `cache://` reference.
    pub dataset: String,
    /// Where the data came from (the file's absolute path): the same source in another
    /// version has another `dataset`.
    #[serde(default)]
    pub source: String,
    /// The project it was analysed under (`--project`), or empty.
    #[serde(default)]
    pub project: String,
    pub step: String,
    /// The fact key the insight states, e.g. `profitability.brand.highest_margin`.
    pub metric: String,
    /// The metric's value and its companions' (`…_pct`, `…_profit`), by key.
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Unix seconds.
    pub created: i64,
    /// Set when a newer value of the same metric for the same dataset replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
}

/// An insight about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInsight {
    pub text: String,
    pub analysis: String,
    pub flow: String,
    pub dataset: String,
    pub source: String,
    pub project: String,
    pub step: String,
    pub metric: String,
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// What the metric means, in words a question would use.
    pub terms: String,
}

impl NewInsight {
    /// Identity for de-duplication: the same statement of the same metric on the same data.
    pub fn content_key(&self) -> String {
        blake3::hash(format!("{}\n{}\n{}\n{}", self.dataset, self.source, self.metric, self.text).as_bytes())
            .to_hex()
            .to_string()
    }
}

fn json(value: &FactValue) -> serde_json::Value {
    match value {
        FactValue::Number(n) => serde_json::json!(n),
        FactValue::Text(t) => serde_json::json!(t),
    }
}

/// Where a step's findings came from: the flow, the dataset (one version of the data), its
/// source (the file) and the project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub flow: String,
    pub dataset: String,
    pub source: String,
    pub project: String,
}

/// The insights of one step's facts: critical and important ones, each with its companion
/// figures folded in rather than stored as near-duplicates.
pub fn from_facts(origin: &Origin, step: &str, facts: &[Fact]) -> Vec<NewInsight> {
    let companion_of = |f: &Fact| {
        facts
            .iter()
            .find(|p| p.key != f.key && f.key.strip_prefix(p.key.as_str()).is_some_and(|s| s.starts_with('_')))
    };
    facts
        .iter()
        .filter(|f| f.priority <= Priority::Important && companion_of(f).is_none())
        .map(|f| {
            let mut metrics = serde_json::Map::new();
            metrics.insert(f.key.clone(), json(&f.value));
            for c in facts.iter().filter(|c| companion_of(c).is_some_and(|p| p.key == f.key)) {
                metrics.insert(c.key.clone(), json(&c.value));
            }
            NewInsight {
                text: f.statement.clone(),
                analysis: f.key.split('.').next().unwrap_or_default().to_string(),
                flow: origin.flow.clone(),
                dataset: origin.dataset.clone(),
                source: origin.source.clone(),
                project: origin.project.clone(),
                step: step.to_string(),
                metric: f.key.clone(),
                metrics,
                terms: terms(&f.key),
            }
        })
        .collect()
}

/// Words for a metric key `<analysis>[.<dimension>].<metric>`: the key's own words and what
/// the ranking means.
pub fn terms(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let words = key.replace(['.', '_'], " ");
    let (dim, metric) = match parts.as_slice() {
        [_, dim, metric] => (*dim, *metric),
        [_, metric] => ("", *metric),
        _ => return words,
    };
    let dim = if dim.is_empty() {
        String::new()
    } else {
        format!("{dim} ")
    };
    let meaning = match metric {
        "top" => format!("top {dim}by profit, most profitable {dim}"),
        "bottom" => format!("bottom {dim}by profit, least profitable {dim}"),
        "highest_margin" => format!("top {dim}by profit margin, highest margin {dim}"),
        "best" => format!("top {dim}by ROI, best return on investment"),
        "worst" => format!("bottom {dim}by ROI, worst return on investment"),
        "largest" => format!("largest budget allocation, {dim}marketing spend"),
        "leader" => format!("market share leader, largest {dim}by share"),
        "peak" => format!("peak {dim}season, highest sales {dim}"),
        _ => String::new(),
    };
    format!("{words} {meaning}").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn companions_fold_into_their_finding() {
        let facts = vec![
            Fact::text(
                "profitability.brand.highest_margin",
                Priority::Critical,
                "Red Bull",
                "Highest-margin brand: Red Bull at 62.0%".into(),
            ),
            Fact::number(
                "profitability.brand.highest_margin_pct",
                Priority::Important,
                62.0,
                "62.0%".into(),
                "Red Bull profit margin: 62.0%".into(),
            ),
            Fact::number("x.useful", Priority::Useful, 1.0, "1".into(), "Useful".into()),
        ];
        let origin = Origin {
            flow: "roi_analysis".into(),
            dataset: "cache://d".into(),
            ..Origin::default()
        };
        let got = from_facts(&origin, "analyze", &facts);
        assert_eq!(got.len(), 1);
        let i = &got[0];
        assert_eq!(i.text, "Highest-margin brand: Red Bull at 62.0%");
        assert_eq!(i.analysis, "profitability");
        assert_eq!(
            serde_json::Value::Object(i.metrics.clone()),
            serde_json::json!({"profitability.brand.highest_margin": "Red Bull",
                               "profitability.brand.highest_margin_pct": 62.0})
        );
        assert!(i.terms.contains("top brand by profit margin"), "{}", i.terms);
    }

    #[test]
    fn terms_for_short_and_unknown_keys() {
        assert_eq!(terms("totals.revenue"), "totals revenue");
        assert_eq!(terms("forecast"), "forecast");
    }
}
