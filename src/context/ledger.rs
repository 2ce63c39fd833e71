//! The token ledger: optimized against baseline, in tokens and dollars, and which critical
//! facts survive into the final report.

use serde::Serialize;

use crate::config::Price;
use crate::tools::Fact;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepTokens {
    pub prompt: usize,
    pub completion: usize,
    pub baseline_prompt: usize,
    /// What the model's server reported for the same call (null offline). It counts the
    /// chat format's own tokens too, so it runs a few tokens above `prompt`.
    pub prompt_reported: Option<usize>,
    pub completion_reported: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub baseline_prompt_tokens: usize,
    /// The server-reported sums, when every step that ran has them.
    pub prompt_tokens_reported: Option<usize>,
    pub completion_tokens_reported: Option<usize>,
    /// How much smaller the optimized prompts are than the baseline's, in percent.
    pub reduction_pct: f64,
    /// Null when the model has no price in the pricing table.
    pub cost_usd: Option<f64>,
    pub baseline_cost_usd: Option<f64>,
}

impl Totals {
    /// Sums the steps. Completions are the same answers in both pipelines.
    pub fn of(steps: &[StepTokens], price: Option<Price>) -> Totals {
        let prompt: usize = steps.iter().map(|s| s.prompt).sum();
        let completion: usize = steps.iter().map(|s| s.completion).sum();
        let baseline: usize = steps.iter().map(|s| s.baseline_prompt).sum();
        let ran = || steps.iter().filter(|s| s.prompt > 0);
        let reported = |f: fn(&StepTokens) -> Option<usize>| -> Option<usize> {
            (ran().next().is_some())
                .then(|| ran().map(f).sum::<Option<usize>>())
                .flatten()
        };
        let cost = |input: usize| price.map(|p| (input as f64 * p.input + completion as f64 * p.output) / 1e6);
        Totals {
            prompt_tokens: prompt,
            completion_tokens: completion,
            baseline_prompt_tokens: baseline,
            prompt_tokens_reported: reported(|s| s.prompt_reported),
            completion_tokens_reported: reported(|s| s.completion_reported),
            reduction_pct: if baseline == 0 {
                0.0
            } else {
                (1.0 - prompt as f64 / baseline as f64) * 100.0
            },
            cost_usd: cost(prompt),
            baseline_cost_usd: cost(baseline),
        }
    }
}

/// Critical facts, and how many of them a report carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactRetention {
    pub critical: usize,
    pub retained: usize,
    pub baseline_retained: usize,
    /// Keys of critical facts the optimized report lacks.
    pub missing: Vec<String>,
}

/// Whether `text` carries the fact's value as written (`display`), e.g. `$258,663`.
pub fn carries(text: &str, fact: &Fact) -> bool {
    text.contains(&fact.display)
}

impl FactRetention {
    pub fn check(critical: &[&Fact], report: &str, baseline_report: &str) -> FactRetention {
        FactRetention {
            critical: critical.len(),
            retained: critical.iter().filter(|f| carries(report, f)).count(),
            baseline_retained: critical.iter().filter(|f| carries(baseline_report, f)).count(),
            missing: critical
                .iter()
                .filter(|f| !carries(report, f))
                .map(|f| f.key.clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Priority;

    #[test]
    fn totals_and_costs() {
        let steps = [
            StepTokens {
                prompt: 100,
                completion: 50,
                baseline_prompt: 1000,
                prompt_reported: Some(107),
                completion_reported: Some(50),
            },
            StepTokens {
                prompt: 300,
                completion: 50,
                baseline_prompt: 3000,
                prompt_reported: None,
                completion_reported: None,
            },
        ];
        let t = Totals::of(
            &steps,
            Some(Price {
                input: 2.0,
                output: 10.0,
            }),
        );
        assert_eq!(
            (t.prompt_tokens, t.completion_tokens, t.baseline_prompt_tokens),
            (400, 100, 4000)
        );
        assert!((t.reduction_pct - 90.0).abs() < 1e-9);
        assert_eq!(t.prompt_tokens_reported, None, "one step has no reported usage");
        let both = [steps[0], steps[0]];
        assert_eq!(Totals::of(&both, None).prompt_tokens_reported, Some(214));
        assert!((t.cost_usd.unwrap() - (400.0 * 2.0 + 100.0 * 10.0) / 1e6).abs() < 1e-12);
        assert!((t.baseline_cost_usd.unwrap() - (4000.0 * 2.0 + 100.0 * 10.0) / 1e6).abs() < 1e-12);
        assert_eq!(Totals::of(&steps, None).cost_usd, None);
    }

    #[test]
    fn retention_is_by_value() {
        let a = Fact::text("a", Priority::Critical, "Red Bull", "Top: Red Bull".into());
        let b = Fact::number("b", Priority::Critical, 61.97, "62.0%".into(), "margin 62.0%".into());
        let r = FactRetention::check(&[&a, &b], "Red Bull leads at 62.0%", "Red Bull");
        assert_eq!((r.critical, r.retained, r.baseline_retained), (2, 2, 1));
        let r = FactRetention::check(&[&a, &b], "Red Bull leads", "");
        assert_eq!(r.missing, ["b"]);
    }
}
