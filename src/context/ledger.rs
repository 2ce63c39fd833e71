//! The token ledger: optimized against baseline, in tokens and dollars, and which critical
//! facts survive into the final report.

use serde::{Deserialize, Serialize};

use crate::config::Price;
use crate::tools::Fact;
use crate::tools::fact_check::carries;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StepTokens {
    /// Prompt tokens sent: the fitted prompt, and a retry's when the answer check asked
    /// again.
    pub prompt: usize,
    /// Of `prompt`, the tokens of the answer check's retry.
    #[serde(default)]
    pub retry_prompt: usize,
    pub completion: usize,
    pub baseline_prompt: usize,
    /// What the model's server reported for the same call (null offline). It counts the
    /// chat format's own tokens too, so it runs a few tokens above `prompt`.
    pub prompt_reported: Option<usize>,
    pub completion_reported: Option<usize>,
    /// Prompt tokens the server said it read from its prompt cache (null when it did not
    /// say, and offline).
    pub cached_reported: Option<usize>,
    /// Prompt tokens the server said it wrote to its cache, where it reports that.
    pub cache_write_reported: Option<usize>,
    /// Prompt tokens before the first volatile item: identical on every run of the step.
    pub stable_prefix: usize,
    /// Prompt tokens a provider's prefix cache could serve, estimated from the earlier
    /// prompts of the run by the model's cache rules (see
    /// [`crate::context::layout::cache_use`]).
    pub cached_estimated: usize,
    /// Prompt tokens the same estimate writes to the cache.
    #[serde(default)]
    pub cache_write_estimated: usize,
    /// The same estimates for the baseline's prompt of the step.
    pub baseline_cached_estimated: usize,
    #[serde(default)]
    pub baseline_cache_write_estimated: usize,
}

/// Where the cached-token figures of the optimized run come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CachedBasis {
    /// The server reported cached tokens for every step that ran.
    Reported,
    /// Estimated from the prompts' shared prefixes (offline, or a server that does not say).
    Estimated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub baseline_prompt_tokens: usize,
    /// The server-reported sums, when every step that ran has them.
    pub prompt_tokens_reported: Option<usize>,
    pub completion_tokens_reported: Option<usize>,
    pub cached_tokens_reported: Option<usize>,
    #[serde(default)]
    pub cache_write_tokens_reported: Option<usize>,
    /// Prompt tokens served from a provider's prefix cache: reported, or estimated as
    /// `cached_basis` says.
    pub cached_tokens: usize,
    /// Prompt tokens written to the provider's cache, on the same basis.
    #[serde(default)]
    pub cache_write_tokens: usize,
    pub cached_basis: CachedBasis,
    /// The baseline's prompt tokens a prefix cache could serve (always an estimate).
    pub baseline_cached_tokens: usize,
    #[serde(default)]
    pub baseline_cache_write_tokens: usize,
    /// How much smaller the optimized prompts are than the baseline's, in percent.
    pub reduction_pct: f64,
    /// At list prices, every input token paid in full. Null when the model has no price
    /// in the model table. The server's reported counts when every step has them.
    pub cost_usd: Option<f64>,
    pub baseline_cost_usd: Option<f64>,
    /// With cached tokens billed at the cached-input price, cache writes at the write price
    /// (the input price where writes are free).
    pub cost_cached_usd: Option<f64>,
    pub baseline_cost_cached_usd: Option<f64>,
    /// How much cheaper the optimized run is than the baseline, both at list prices.
    pub cost_reduction_pct: Option<f64>,
    /// The same with both sides' prompt caching counted.
    pub cost_reduction_vs_cached_baseline_pct: Option<f64>,
}

/// USD for `input` prompt tokens of which `cached` are read from the cache and `written`
/// written to it, and `output` completion tokens.
pub fn cost(price: Price, input: usize, cached: usize, written: usize, output: usize) -> f64 {
    let cached = cached.min(input);
    let written = written.min(input - cached);
    ((input - cached - written) as f64 * price.input
        + cached as f64 * price.cached_input()
        + written as f64 * price.cache_write()
        + output as f64 * price.output)
        / 1e6
}

fn reduction(ours: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    match (ours, baseline) {
        (Some(o), Some(b)) if b > 0.0 => Some((1.0 - o / b) * 100.0),
        _ => None,
    }
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
        let cached_reported = reported(|s| s.cached_reported);
        let written_reported = reported(|s| s.cache_write_reported);
        let (cached, written, cached_basis) = match cached_reported {
            Some(n) => (n, written_reported.unwrap_or(0), CachedBasis::Reported),
            None => (
                steps.iter().map(|s| s.cached_estimated).sum(),
                steps.iter().map(|s| s.cache_write_estimated).sum(),
                CachedBasis::Estimated,
            ),
        };
        let baseline_cached: usize = steps.iter().map(|s| s.baseline_cached_estimated).sum();
        let baseline_written: usize = steps.iter().map(|s| s.baseline_cache_write_estimated).sum();
        // Our cost from the server's own counts when it gave them for every step; the
        // baseline was never sent, so it is always counted here.
        let prompt_reported = reported(|s| s.prompt_reported);
        let completion_reported = reported(|s| s.completion_reported);
        let (billed_prompt, billed_completion) = match (prompt_reported, completion_reported) {
            (Some(p), Some(c)) => (p, c),
            _ => (prompt, completion),
        };
        let priced = |input: usize, cached: usize, written: usize, output: usize| {
            price.map(|p| cost(p, input, cached, written, output))
        };
        let cost_usd = priced(billed_prompt, 0, 0, billed_completion);
        let baseline_cost_usd = priced(baseline, 0, 0, completion);
        let cost_cached_usd = priced(billed_prompt, cached, written, billed_completion);
        let baseline_cost_cached_usd = priced(baseline, baseline_cached, baseline_written, completion);
        Totals {
            prompt_tokens: prompt,
            completion_tokens: completion,
            baseline_prompt_tokens: baseline,
            prompt_tokens_reported: prompt_reported,
            completion_tokens_reported: completion_reported,
            cached_tokens_reported: cached_reported,
            cache_write_tokens_reported: written_reported,
            cached_tokens: cached,
            cache_write_tokens: written,
            cached_basis,
            baseline_cached_tokens: baseline_cached,
            baseline_cache_write_tokens: baseline_written,
            reduction_pct: if baseline == 0 {
                0.0
            } else {
                (1.0 - prompt as f64 / baseline as f64) * 100.0
            },
            cost_usd,
            baseline_cost_usd,
            cost_cached_usd,
            baseline_cost_cached_usd,
            cost_reduction_pct: reduction(cost_usd, baseline_cost_usd),
            cost_reduction_vs_cached_baseline_pct: reduction(cost_cached_usd, baseline_cost_cached_usd),
        }
    }
}

/// Critical facts, and how many of them a report carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactRetention {
    pub critical: usize,
    pub retained: usize,
    pub baseline_retained: usize,
    /// Keys of critical facts the optimized report lacks.
    pub missing: Vec<String>,
    /// Money and percent figures the report states that neither its prompt nor the exact
    /// results hold, as written.
    #[serde(default)]
    pub unsupported: Vec<String>,
}

impl FactRetention {
    /// Which critical facts each report carries: subject and figure in one sentence, bullet
    /// or table row, written in any form a reader accepts (see [`crate::tools::fact_check`]).
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
            unsupported: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Priority;

    #[test]
    fn totals_and_costs() {
        let steps = [
            StepTokens {
                prompt: 100,
                completion: 50,
                baseline_prompt: 1000,
                prompt_reported: Some(107),
                completion_reported: Some(50),
                ..StepTokens::default()
            },
            StepTokens {
                prompt: 300,
                completion: 50,
                baseline_prompt: 3000,
                ..StepTokens::default()
            },
        ];
        let price = Price {
            input: 2.0,
            output: 10.0,
            cached_input: Some(0.5),
            cache_write: None,
        };
        let t = Totals::of(&steps, Some(price));
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
        assert_eq!(t.cost_cached_usd, t.cost_usd, "nothing cached");
        assert_eq!(Totals::of(&steps, None).cost_usd, None);
    }

    #[test]
    fn cached_tokens_are_billed_at_the_cached_price_reported_or_estimated() {
        let price = Price {
            input: 2.0,
            output: 10.0,
            cached_input: Some(0.5),
            cache_write: None,
        };
        let mut steps = [
            StepTokens {
                prompt: 2000,
                completion: 100,
                baseline_prompt: 5000,
                baseline_cached_estimated: 0,
                cached_estimated: 0,
                ..StepTokens::default()
            },
            StepTokens {
                prompt: 2000,
                completion: 100,
                baseline_prompt: 6000,
                baseline_cached_estimated: 4992,
                cached_estimated: 1920,
                ..StepTokens::default()
            },
        ];
        let t = Totals::of(&steps, Some(price));
        assert_eq!((t.cached_tokens, t.cached_basis), (1920, CachedBasis::Estimated));
        let ours = (2080.0 * 2.0 + 1920.0 * 0.5 + 200.0 * 10.0) / 1e6;
        let base = (6008.0 * 2.0 + 4992.0 * 0.5 + 200.0 * 10.0) / 1e6;
        assert!((t.cost_cached_usd.unwrap() - ours).abs() < 1e-12);
        assert!((t.baseline_cost_cached_usd.unwrap() - base).abs() < 1e-12);
        let pct = t.cost_reduction_vs_cached_baseline_pct.unwrap();
        assert!((pct - (1.0 - ours / base) * 100.0).abs() < 1e-9);

        // A server's own figure wins once every step has one.
        for s in &mut steps {
            s.prompt_reported = Some(2010);
            s.cached_reported = Some(1024);
        }
        let t = Totals::of(&steps, Some(price));
        assert_eq!((t.cached_tokens, t.cached_basis), (2048, CachedBasis::Reported));
        let ours = (1952.0 * 2.0 + 2048.0 * 0.5 + 200.0 * 10.0) / 1e6;
        assert!((t.cost_cached_usd.unwrap() - ours).abs() < 1e-12);
        // No discount: cached tokens cost what input does.
        let flat = Price {
            cached_input: None,
            ..price
        };
        let t = Totals::of(&steps, Some(flat));
        assert_eq!(t.cost_cached_usd, t.cost_usd);
    }

    #[test]
    fn writes_are_billed_at_the_write_price_and_reported_counts_win() {
        let price = Price {
            input: 2.0,
            output: 10.0,
            cached_input: Some(0.2),
            cache_write: Some(2.5),
        };
        let mut steps = [StepTokens {
            prompt: 3000,
            completion: 100,
            baseline_prompt: 9000,
            cached_estimated: 0,
            cache_write_estimated: 1500,
            baseline_cached_estimated: 4000,
            baseline_cache_write_estimated: 5000,
            ..StepTokens::default()
        }];
        let t = Totals::of(&steps, Some(price));
        assert_eq!(t.cache_write_tokens, 1500);
        let ours = (1500.0 * 2.0 + 1500.0 * 2.5 + 100.0 * 10.0) / 1e6;
        assert!((t.cost_cached_usd.unwrap() - ours).abs() < 1e-12);
        let base = (4000.0 * 0.2 + 5000.0 * 2.5 + 100.0 * 10.0) / 1e6;
        assert!((t.baseline_cost_cached_usd.unwrap() - base).abs() < 1e-12);

        // The server's counts: 3,020 prompt tokens, 1,200 read and 300 written.
        steps[0].prompt_reported = Some(3020);
        steps[0].completion_reported = Some(98);
        steps[0].cached_reported = Some(1200);
        steps[0].cache_write_reported = Some(300);
        let t = Totals::of(&steps, Some(price));
        assert_eq!((t.cached_tokens, t.cache_write_tokens), (1200, 300));
        let ours = (1520.0 * 2.0 + 1200.0 * 0.2 + 300.0 * 2.5 + 98.0 * 10.0) / 1e6;
        assert!((t.cost_cached_usd.unwrap() - ours).abs() < 1e-12);
        assert!((t.cost_usd.unwrap() - (3020.0 * 2.0 + 98.0 * 10.0) / 1e6).abs() < 1e-12);
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
