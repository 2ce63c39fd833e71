//! The offline analyst: a deterministic writer that composes answers and the final report
//! only from the facts it is given, so what it writes is exactly as good as its context.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::{Analyst, Answer, AnswerRequest, LlmError};
use crate::settings::Priority;
use crate::tools::{Fact, FactValue, fact_check, fact_list};

#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineAnalyst;

pub const OFFLINE_LABEL: &str =
    "_Written offline by mrflow's deterministic analyst from this step's context; no language model was called._";

impl OfflineAnalyst {
    /// The answer text, from the request's facts alone.
    pub fn write(&self, request: &AnswerRequest<'_>) -> String {
        if request.is_final {
            report(request)
        } else {
            step_answer(request)
        }
    }
}

impl Analyst for OfflineAnalyst {
    fn identity(&self) -> String {
        "offline/v1".into()
    }

    fn answer(
        &self,
        request: &AnswerRequest<'_>,
        on_text: &mut dyn FnMut(&str),
        cancel: &CancellationToken,
    ) -> Result<Answer, LlmError> {
        if cancel.is_cancelled() {
            return Err(LlmError::Cancelled);
        }
        let text = self.write(request);
        on_text(&text);
        Ok(Answer { text, reported: None })
    }
}

/// A step's answer: its own key findings (critical and important), one line each.
fn step_answer(request: &AnswerRequest<'_>) -> String {
    let facts = request.own_facts.iter().filter(|f| f.priority <= Priority::Important);
    let list = fact_list(facts);
    if list.is_empty() {
        "- No results to report.\n".into()
    } else {
        format!("{list}\n")
    }
}

fn report(request: &AnswerRequest<'_>) -> String {
    let mut all: Vec<(&str, &Fact)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let own = std::iter::once((request.step.id.as_str(), request.own_facts));
    for (step, facts) in request.upstream.iter().copied().chain(own) {
        for f in facts {
            if seen.insert(f.key.as_str()) {
                all.push((step, f));
            }
        }
    }
    let title = request.flow.replace('_', " ");
    let mut out = format!("# Report: {title}\n\n## Key findings\n\n");
    let critical = fact_list(
        all.iter()
            .filter(|(_, f)| f.priority == Priority::Critical)
            .map(|(_, f)| *f),
    );
    if critical.is_empty() {
        out.push_str("- The context held no critical findings.\n");
    } else {
        out.push_str(&critical);
        out.push('\n');
    }

    let mut detail = String::new();
    let mut steps: Vec<&str> = all
        .iter()
        .filter(|(_, f)| f.priority == Priority::Important)
        .map(|(s, _)| *s)
        .collect();
    steps.dedup();
    for s in steps {
        // Important facts whose values the findings do not already carry.
        let facts = all
            .iter()
            .filter(|(x, f)| *x == s && f.priority == Priority::Important && !fact_check::carries(&critical, f));
        let list = fact_list(facts.map(|(_, f)| *f));
        if !list.is_empty() {
            detail.push_str(&format!("\n### {s}\n\n{list}\n"));
        }
    }
    if !detail.is_empty() {
        out.push_str("\n## Supporting detail\n");
        out.push_str(&detail);
    }

    let recs = recommendations(all.iter().map(|(_, f)| *f));
    if !recs.is_empty() {
        out.push_str("\n## Recommendations\n\n");
        for (i, r) in recs.iter().enumerate() {
            out.push_str(&format!("{}. {r}\n", i + 1));
        }
    }
    out.push_str(&format!("\n---\n{OFFLINE_LABEL}\n"));
    out
}

/// Actions that follow from the facts present; each rule needs all of its facts.
fn recommendations<'a>(facts: impl Iterator<Item = &'a Fact>) -> Vec<String> {
    let by_key: HashMap<&str, &Fact> = facts.map(|f| (f.key.as_str(), f)).collect();
    let get = |k: &str| by_key.get(k).map(|f| f.display.as_str());
    let num = |k: &str| match by_key.get(k).map(|f| &f.value) {
        Some(FactValue::Number(v)) => Some(*v),
        _ => None,
    };
    let mut recs = Vec::new();
    if let (Some(brand), Some(margin)) = (
        get("profitability.brand.highest_margin"),
        get("profitability.brand.highest_margin_pct"),
    ) {
        recs.push(format!(
            "Grow {brand}: it earns the highest margin ({margin}); protect its pricing and distribution."
        ));
    }
    if let Some(member) = get("budget.brand.largest") {
        let amount = get("budget.brand.largest_amount")
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        recs.push(format!(
            "Put the largest share of the marketing budget behind {member}{amount}, as the optimized plan allocates."
        ));
    }
    if let Some(uplift) = get("budget.uplift_vs_even") {
        recs.push(format!(
            "Adopt the optimized split over an even one: it projects {uplift} more profit."
        ));
    }
    if let (Some(bottom), Some(profit)) = (
        get("profitability.brand.bottom"),
        num("profitability.brand.bottom_profit"),
    ) {
        if profit < 0.0 {
            recs.push(format!(
                "Fix or exit {bottom}: it loses money; review its cost and pricing first."
            ));
        }
    }
    if let Some(leader) = get("market_share.leader") {
        recs.push(format!(
            "Defend {leader}'s leadership and target the share gaps of the brands behind it."
        ));
    }
    if let Some(peak) = get("timeseries.month.peak") {
        recs.push(format!(
            "Time promotions and stock build-up ahead of {peak}, the peak season."
        ));
    }
    if let (Some(total), Some(mape)) = (get("forecast.total"), get("forecast.mape")) {
        recs.push(format!(
            "Plan supply for {total} of revenue over the forecast window (backtest error {mape})."
        ));
    }
    recs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Agent, StepDef};

    fn step(id: &str) -> StepDef {
        StepDef {
            id: id.into(),
            listen: vec![],
            join: Default::default(),
            router: None,
            agent: Agent {
                role: "Analyst".into(),
                goal: "g".into(),
                backstory: "b".into(),
            },
            task: "Summarise. Then more.".into(),
            tools: vec![],
            budget: 1000,
            strategy: Default::default(),
            context: vec![],
        }
    }

    #[test]
    fn report_uses_only_the_facts_given() {
        let facts = vec![
            Fact::text(
                "profitability.brand.highest_margin",
                Priority::Critical,
                "Red Bull",
                "Highest-margin brand: Red Bull at 61.2%".into(),
            ),
            Fact::number(
                "profitability.brand.highest_margin_pct",
                Priority::Critical,
                61.2,
                "61.2%".into(),
                "Red Bull profit margin: 61.2%".into(),
            ),
            Fact::text(
                "data.period",
                Priority::Important,
                "2022 to 2024",
                "Period covered: 2022 to 2024".into(),
            ),
        ];
        let s = step("report");
        let r = OfflineAnalyst.write(&AnswerRequest {
            flow: "roi_analysis",
            step: &s,
            is_final: true,
            stable: Default::default(),
            messages: Default::default(),
            own_facts: &[],
            upstream: vec![("profit", &facts)],
        });
        assert!(r.starts_with("# Report: roi analysis\n"));
        assert!(r.contains("- Highest-margin brand: Red Bull at 61.2%\n"));
        assert!(r.contains("### profit\n\n- Period covered: 2022 to 2024\n"));
        assert!(r.contains("1. Grow Red Bull: it earns the highest margin (61.2%)"));
        assert!(r.ends_with(&format!("{OFFLINE_LABEL}\n")));

        let empty = OfflineAnalyst.write(&AnswerRequest {
            flow: "f",
            step: &s,
            is_final: true,
            stable: Default::default(),
            messages: Default::default(),
            own_facts: &[],
            upstream: vec![],
        });
        assert!(empty.contains("The context held no critical findings."));
        assert!(!empty.contains("Red Bull"));
    }

    #[test]
    fn step_answer_lists_important_facts() {
        let facts = vec![
            Fact::text("a", Priority::Critical, "x", "Critical thing".into()),
            Fact::text("b", Priority::Useful, "y", "Useful thing".into()),
        ];
        let s = step("s");
        let r = OfflineAnalyst.write(&AnswerRequest {
            flow: "f",
            step: &s,
            is_final: false,
            stable: Default::default(),
            messages: Default::default(),
            own_facts: &facts,
            upstream: vec![],
        });
        assert_eq!(r, "- Critical thing\n");
    }
}
