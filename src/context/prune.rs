//! Fitting a step's context into its token budget by strategy, with every decision
//! recorded. Pure and fast: the what-if view calls it on every keypress.
//!
//! The final prompt is assembled as
//!
//! ```text
//! [system]
//! <agent items>
//!
//! [user]
//! ## <key>
//! <text>
//! ...
//! ```
//!
//! and its exact token count (that whole text, under the step's encoding) never exceeds the
//! budget.

use serde::{Deserialize, Serialize};

use super::Tokenizer;
use super::item::{ContextBundle, ContextItem, Rendition};
use super::layout::Stability;
use crate::flow::ContextSource;
use crate::settings::StepSettings;
use crate::settings::{Priority, Strategy};

/// What happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Decision {
    Kept,
    Summarized,
    Referenced,
    Dropped,
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }

    /// How much of the item the decision keeps: kept 3 down to dropped 0.
    fn richness(self) -> u8 {
        match self {
            Decision::Kept => 3,
            Decision::Summarized => 2,
            Decision::Referenced => 1,
            Decision::Dropped => 0,
        }
    }

    /// The next cheaper decision.
    fn degrade(self) -> Decision {
        match self {
            Decision::Kept => Decision::Summarized,
            Decision::Summarized => Decision::Referenced,
            Decision::Referenced | Decision::Dropped => Decision::Dropped,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDecision {
    pub key: String,
    pub source: ContextSource,
    pub priority: Priority,
    pub decision: Decision,
    /// Tokens of the item in full.
    pub tokens_before: usize,
    /// Tokens of what went into the prompt.
    pub tokens_after: usize,
}

/// A step's fitted context: decisions, the exact prompt, and its token count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrunedContext {
    pub budget: u32,
    pub strategy: Strategy,
    pub decisions: Vec<ItemDecision>,
    /// The whole prompt, exactly as counted.
    pub prompt: String,
    pub tokens: usize,
    /// Tokens of the prompt before its first volatile item (results, earlier steps,
    /// memory): the part that stays byte-identical from run to run of the step.
    #[serde(default)]
    pub stable_prefix: usize,
    /// The same prefix in bytes of `prompt`, where a provider's cache breakpoint goes.
    #[serde(default)]
    pub stable_prefix_bytes: usize,
    /// Keys of the facts the prompt carries.
    pub facts: Vec<String>,
}

/// The part of a prompt no rerun of its step changes (persona, task, tools, dataset): where
/// a provider's cache breakpoint belongs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StablePrefix {
    pub tokens: usize,
    /// Its length in bytes of [`Messages::prompt`].
    pub bytes: usize,
}

/// A prompt as chat messages: the `[system]` part (the agent) and the `[user]` part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Messages<'a> {
    pub system: &'a str,
    pub user: &'a str,
}

impl Messages<'_> {
    /// The messages as one prompt, laid out as [`assemble`] writes it: the text whose tokens
    /// are counted.
    pub fn prompt(&self) -> String {
        if self.system.is_empty() {
            format!("{USER_MARK}{}", self.user)
        } else {
            format!("{SYSTEM_MARK}{}\n\n{USER_MARK}{}", self.system, self.user)
        }
    }
}

const SYSTEM_MARK: &str = "[system]\n";
const USER_MARK: &str = "[user]\n";

impl PrunedContext {
    /// The stable prefix, for a cache breakpoint.
    pub fn stable(&self) -> StablePrefix {
        StablePrefix {
            tokens: self.stable_prefix,
            bytes: self.stable_prefix_bytes,
        }
    }

    /// The prompt split into its system and user messages (see the module docs for the
    /// layout [`assemble`] writes).
    pub fn messages(&self) -> Messages<'_> {
        let p = self.prompt.as_str();
        match p
            .strip_prefix(SYSTEM_MARK)
            .and_then(|rest| rest.split_once(&format!("\n\n{USER_MARK}")))
        {
            Some((system, user)) => Messages { system, user },
            None => Messages {
                system: "",
                user: p.strip_prefix(USER_MARK).unwrap_or(p),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the critical context needs {needed} tokens even summarized, over the budget of {budget}; raise the budget or demote items"
)]
pub struct OverBudget {
    pub needed: usize,
    pub budget: u32,
}

fn rendition(item: &ContextItem, d: Decision) -> Option<&Rendition> {
    match d {
        Decision::Kept => item.full.as_ref(),
        Decision::Summarized => item.summary.as_ref(),
        Decision::Referenced => item.reference.as_ref(),
        Decision::Dropped => None,
    }
}

/// The next richer decision than `d` the item can take, up to `ceiling` (skipping missing
/// levels); none at the ceiling.
fn richer(item: &ContextItem, d: Decision, ceiling: Decision) -> Option<Decision> {
    let mut up = d;
    loop {
        up = match up {
            Decision::Dropped => Decision::Referenced,
            Decision::Referenced => Decision::Summarized,
            Decision::Summarized | Decision::Kept => Decision::Kept,
        };
        if up.richness() > ceiling.richness() || up == d {
            return None;
        }
        if rendition(item, up).is_some() {
            return Some(up);
        }
        if up == Decision::Kept {
            return None;
        }
    }
}

/// The best decision at or below `d` that the item can take (skipping missing levels).
fn available(item: &ContextItem, mut d: Decision) -> Decision {
    while d != Decision::Dropped && rendition(item, d).is_none() {
        d = d.degrade();
    }
    d
}

/// Whether `minimal` keeps the item: the task names its key or the step it reads.
fn named_by_task(item: &ContextItem, task: &str) -> bool {
    let task = task.to_lowercase();
    let mentions =
        |name: &str| task.contains(&name.to_lowercase()) || task.contains(&name.replace('_', " ").to_lowercase());
    mentions(&item.key) || matches!(&item.source, ContextSource::Step(id) if mentions(id))
}

/// The richest decision a strategy allows for an item.
fn ceiling(strategy: Strategy, item: &ContextItem, priority: Priority, task: &str) -> Decision {
    let identity = matches!(item.source, ContextSource::Agent | ContextSource::Task);
    match strategy {
        Strategy::ProgressivePruning => Decision::Kept,
        Strategy::AbstractedSummaries if identity => Decision::Kept,
        // Items too small to have a summary go in whole.
        Strategy::AbstractedSummaries if item.summary.is_none() => Decision::Kept,
        Strategy::AbstractedSummaries => Decision::Summarized,
        Strategy::Minimal if priority == Priority::Critical || named_by_task(item, task) => Decision::Kept,
        Strategy::Minimal => Decision::Dropped,
        Strategy::Stateless if matches!(item.source, ContextSource::Step(_) | ContextSource::Memory) => {
            Decision::Dropped
        }
        Strategy::Stateless => Decision::Kept,
    }
}

fn header(key: &str) -> String {
    format!("## {key}\n")
}

/// Assembles the prompt text for the chosen decisions.
pub fn assemble(bundle: &ContextBundle, decisions: &[Decision]) -> String {
    let mut system = Vec::new();
    let mut user = Vec::new();
    for (item, d) in bundle.items.iter().zip(decisions) {
        let Some(r) = rendition(item, *d) else { continue };
        if item.source == ContextSource::Agent {
            system.push(r.text.clone());
        } else {
            user.push(format!("{}{}", header(&item.key), r.text));
        }
    }
    let mut out = String::new();
    if !system.is_empty() {
        out.push_str(SYSTEM_MARK);
        out.push_str(&system.join("\n"));
        out.push_str("\n\n");
    }
    out.push_str(USER_MARK);
    out.push_str(&user.join("\n\n"));
    out
}

/// Fits the bundle into the budget with the strategy. See the module docs for the prompt
/// layout; the algorithm:
///
/// 1. each item's ceiling comes from the strategy (e.g. `stateless` drops history);
/// 2. critical items take their ceiling; if together they do not fit they are summarized,
///    all of them before any is referenced (a summary keeps an item's critical facts), the
///    one nearest the volatile tail first; if they still do not fit the step cannot run;
/// 3. important, then useful items take the richest level that still fits, else drop;
/// 4. optional items go in whole if they fit, else drop;
/// 5. the assembled prompt is counted exactly; while it exceeds the budget (token merges
///    across item boundaries), the lowest-priority item still in is degraded one level.
///
/// `task` is the step's task: `minimal` keeps the items it names.
pub fn prune(
    bundle: &ContextBundle,
    settings: &StepSettings,
    task: &str,
    tokenizer: &Tokenizer,
) -> Result<PrunedContext, OverBudget> {
    let n = bundle.items.len();
    let priority: Vec<Priority> = bundle
        .items
        .iter()
        .map(|i| settings.priority_of(&i.key, i.priority))
        .collect();
    let cost = |i: usize, d: Decision| -> usize {
        let item = &bundle.items[i];
        rendition(item, d).map_or(0, |r| r.tokens + tokenizer.count(&header(&item.key)) + 1)
    };
    let budget = settings.budget as usize;
    let frame = tokenizer.count("[system]\n\n\n[user]\n");
    let mut decisions: Vec<Decision> = (0..n)
        .map(|i| {
            available(
                &bundle.items[i],
                ceiling(settings.strategy, &bundle.items[i], priority[i], task),
            )
        })
        .collect();

    // Fill in priority order (stable within a priority).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| priority[i]);
    let critical: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| priority[i] == Priority::Critical)
        .collect();
    let ceilings = decisions.clone();
    let mut used = frame + critical.iter().map(|&i| cost(i, decisions[i])).sum::<usize>();
    while used > budget {
        // Shrink a critical item at the richest level any still has (every one is summarized
        // before any is only referenced: a summary keeps its critical facts, a reference
        // none); among those, the one nearest the prompt's volatile tail, so the stable
        // prefix is the last to change.
        let candidate = critical
            .iter()
            .copied()
            .filter(|&i| available(&bundle.items[i], decisions[i].degrade()) != Decision::Dropped)
            .max_by_key(|&i| (decisions[i].richness(), Stability::of(&bundle.items[i].source), i));
        let Some(i) = candidate else {
            return Err(OverBudget {
                needed: used,
                budget: settings.budget,
            });
        };
        used -= cost(i, decisions[i]);
        decisions[i] = available(&bundle.items[i], decisions[i].degrade());
        used += cost(i, decisions[i]);
    }
    // Shrinking one level at a time can overshoot: an item the budget now has room for goes
    // back up (the most stable first), so a report keeps a plan's summary rather than its
    // reference when the summary fits.
    for &i in &critical {
        while let Some(up) = richer(&bundle.items[i], decisions[i], ceilings[i]) {
            let grown = used - cost(i, decisions[i]) + cost(i, up);
            if grown > budget {
                break;
            }
            used = grown;
            decisions[i] = up;
        }
    }
    for &i in order.iter().filter(|&&i| priority[i] != Priority::Critical) {
        let mut d = decisions[i];
        if priority[i] == Priority::Optional && d != Decision::Kept {
            d = Decision::Dropped;
        }
        while d != Decision::Dropped && used + cost(i, d) > budget {
            d = if priority[i] == Priority::Optional {
                Decision::Dropped
            } else {
                available(&bundle.items[i], d.degrade())
            };
        }
        decisions[i] = d;
        used += cost(i, d);
    }

    // Exact check on the assembled text.
    loop {
        let prompt = assemble(bundle, &decisions);
        let tokens = tokenizer.count(&prompt);
        if tokens <= budget {
            return Ok(finish(
                bundle, settings, &priority, decisions, prompt, tokens, tokenizer,
            ));
        }
        let victim = order.iter().rev().copied().find(|&i| {
            decisions[i] != Decision::Dropped
                && (priority[i] != Priority::Critical
                    || available(&bundle.items[i], decisions[i].degrade()) != Decision::Dropped)
        });
        match victim {
            Some(i) => decisions[i] = available(&bundle.items[i], decisions[i].degrade()),
            None => {
                return Err(OverBudget {
                    needed: tokens,
                    budget: settings.budget,
                });
            }
        }
    }
}

fn finish(
    bundle: &ContextBundle,
    settings: &StepSettings,
    priority: &[Priority],
    decisions: Vec<Decision>,
    prompt: String,
    tokens: usize,
    tokenizer: &Tokenizer,
) -> PrunedContext {
    // The prompt as it would be with its first volatile item and everything after it left
    // out: a prefix of the prompt, by the layout `assemble` writes.
    let first_volatile = bundle
        .items
        .iter()
        .zip(&decisions)
        .position(|(item, d)| *d != Decision::Dropped && Stability::of(&item.source) == Stability::Volatile);
    let (stable_prefix, stable_prefix_bytes) = match first_volatile {
        None => (tokens, prompt.len()),
        Some(k) => {
            let mut head = decisions.clone();
            head[k..].fill(Decision::Dropped);
            let stable = assemble(bundle, &head);
            debug_assert!(prompt.starts_with(&stable));
            (tokenizer.prefix_tokens(&prompt, stable.len()), stable.len())
        }
    };
    let mut facts: Vec<String> = Vec::new();
    let records = bundle
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if let Some(r) = rendition(item, decisions[i]) {
                for f in &r.facts {
                    if !facts.contains(f) {
                        facts.push(f.clone());
                    }
                }
            }
            ItemDecision {
                key: item.key.clone(),
                source: item.source.clone(),
                priority: priority[i],
                decision: decisions[i],
                tokens_before: item.full.as_ref().map_or(0, |r| r.tokens),
                tokens_after: rendition(item, decisions[i]).map_or(0, |r| r.tokens),
            }
        })
        .collect();
    PrunedContext {
        budget: settings.budget,
        strategy: settings.strategy,
        decisions: records,
        prompt,
        tokens,
        stable_prefix,
        stable_prefix_bytes,
        facts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Encoding;
    use crate::tools::Fact;

    fn r(text: &str, facts: &[&str]) -> Option<Rendition> {
        let t = Tokenizer::new(Encoding::O200kBase);
        Some(Rendition {
            text: text.into(),
            tokens: t.count(text),
            facts: facts.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn item(
        key: &str,
        source: ContextSource,
        priority: Priority,
        full: &str,
        summary: Option<&str>,
        reference: Option<&str>,
    ) -> ContextItem {
        ContextItem {
            key: key.into(),
            source,
            priority,
            full: r(full, &[&format!("{key}.full")]),
            summary: summary.and_then(|s| r(s, &[&format!("{key}.summary")])),
            reference: reference.and_then(|s| r(s, &[])),
        }
    }

    fn bundle() -> ContextBundle {
        let long = "word ".repeat(200);
        ContextBundle {
            items: vec![
                item(
                    "persona",
                    ContextSource::Agent,
                    Priority::Critical,
                    "You are an analyst. Your goal: find profit.",
                    None,
                    None,
                ),
                item(
                    "task",
                    ContextSource::Task,
                    Priority::Critical,
                    "Summarise the profitability results.",
                    None,
                    None,
                ),
                item(
                    "results",
                    ContextSource::Results,
                    Priority::Critical,
                    &long,
                    Some("- Top brand: C"),
                    Some("cache://abc"),
                ),
                item(
                    "history",
                    ContextSource::Step("load".into()),
                    Priority::Important,
                    &long,
                    Some("- 8 rows"),
                    Some("output of load"),
                ),
                item(
                    "tools",
                    ContextSource::Tools,
                    Priority::Useful,
                    &long,
                    Some("Tools used: x"),
                    None,
                ),
                item(
                    "memory",
                    ContextSource::Memory,
                    Priority::Optional,
                    "- an old insight",
                    None,
                    None,
                ),
            ],
            facts: vec![Fact::text("f.full", Priority::Critical, "x", "x".into())],
        }
    }

    fn run(budget: u32, strategy: Strategy) -> Result<PrunedContext, OverBudget> {
        let settings = StepSettings::new(budget, strategy);
        prune(
            &bundle(),
            &settings,
            "Summarise the profitability results.",
            &Tokenizer::new(Encoding::O200kBase),
        )
    }

    fn decisions(p: &PrunedContext) -> Vec<&str> {
        p.decisions.iter().map(|d| d.decision.as_str()).collect()
    }

    #[test]
    fn a_large_budget_keeps_everything() {
        let p = run(5000, Strategy::ProgressivePruning).unwrap();
        assert_eq!(decisions(&p), ["kept"; 6]);
        assert!(p.prompt.starts_with("[system]\nYou are an analyst."));
        assert!(p.prompt.contains("\n\n[user]\n## task\nSummarise"));
        let m = p.messages();
        assert_eq!(m.system, "You are an analyst. Your goal: find profit.");
        assert!(m.user.starts_with("## task\nSummarise"));
        assert_eq!(format!("[system]\n{}\n\n[user]\n{}", m.system, m.user), p.prompt);
    }

    #[test]
    fn a_prompt_without_agent_is_one_user_message() {
        let p = PrunedContext {
            budget: 10,
            strategy: Strategy::Stateless,
            decisions: vec![],
            prompt: "[user]\n## task\nDo it".into(),
            tokens: 5,
            stable_prefix: 5,
            stable_prefix_bytes: 0,
            facts: vec![],
        };
        assert_eq!(
            p.messages(),
            Messages {
                system: "",
                user: "## task\nDo it"
            }
        );
    }

    #[test]
    fn progressive_pruning_summarizes_then_references_then_drops_by_priority() {
        let p = run(300, Strategy::ProgressivePruning).unwrap();
        assert_eq!(
            decisions(&p),
            ["kept", "kept", "kept", "summarized", "summarized", "kept"]
        );
        let p = run(120, Strategy::ProgressivePruning).unwrap();
        assert_eq!(
            decisions(&p),
            ["kept", "kept", "summarized", "summarized", "summarized", "kept"]
        );
        assert!(p.facts.contains(&"results.summary".to_string()), "{:?}", p.facts);
        assert!(!p.facts.contains(&"results.full".to_string()));
    }

    #[test]
    fn every_critical_item_is_summarized_before_any_is_referenced() {
        // Two critical earlier steps (a report's profitability and budget plan): the later
        // one must not drop to its reference, losing its facts, while the other is whole.
        let long = "word ".repeat(150);
        let step = |key: &str, id: &str| {
            item(
                key,
                ContextSource::Step(id.into()),
                Priority::Critical,
                &long,
                Some("- a critical figure: $1,234"),
                Some("output of a step"),
            )
        };
        let bundle = ContextBundle {
            items: vec![step("profitability", "a"), step("budget_plan", "b")],
            facts: vec![],
        };
        let settings = StepSettings::new(200, Strategy::ProgressivePruning);
        let p = prune(&bundle, &settings, "", &Tokenizer::new(Encoding::O200kBase)).unwrap();
        assert_eq!(decisions(&p), ["kept", "summarized"]);
        let settings = StepSettings::new(60, Strategy::ProgressivePruning);
        let p = prune(&bundle, &settings, "", &Tokenizer::new(Encoding::O200kBase)).unwrap();
        assert_eq!(decisions(&p), ["summarized", "summarized"]);
    }

    #[test]
    fn prompt_never_exceeds_budget_and_count_is_exact() {
        let t = Tokenizer::new(Encoding::O200kBase);
        for budget in (40..700).step_by(7) {
            for strategy in <Strategy as strum::VariantArray>::VARIANTS.iter().copied() {
                if let Ok(p) = run(budget, strategy) {
                    assert!(p.tokens <= budget as usize, "{budget} {strategy}");
                    assert_eq!(p.tokens, t.count(&p.prompt));
                    let sum: usize = p.decisions.iter().map(|d| d.tokens_after).sum();
                    assert!(sum <= p.tokens, "items are part of the prompt");
                }
            }
        }
    }

    #[test]
    fn critical_items_that_cannot_fit_are_reported_not_exceeded() {
        let err = run(20, Strategy::ProgressivePruning).unwrap_err();
        assert_eq!(err.budget, 20);
        assert!(err.needed > 20);
        assert!(err.to_string().starts_with("the critical context needs "));
    }

    #[test]
    fn strategies_shape_the_context() {
        let p = run(5000, Strategy::AbstractedSummaries).unwrap();
        assert_eq!(
            decisions(&p),
            ["kept", "kept", "summarized", "summarized", "summarized", "kept"]
        );
        let p = run(5000, Strategy::Minimal).unwrap();
        // The task names "results"; history, tools and memory are not critical nor named.
        assert_eq!(decisions(&p), ["kept", "kept", "kept", "dropped", "dropped", "dropped"]);
        let p = run(5000, Strategy::Stateless).unwrap();
        assert_eq!(decisions(&p), ["kept", "kept", "kept", "dropped", "kept", "dropped"]);
    }

    #[test]
    fn priority_overrides_change_decisions() {
        let mut settings = StepSettings::new(300, Strategy::ProgressivePruning);
        settings
            .priority_overrides
            .insert("history".to_string(), Priority::Optional);
        let p = prune(&bundle(), &settings, "", &Tokenizer::new(Encoding::O200kBase)).unwrap();
        assert_eq!(p.decisions[3].decision, Decision::Dropped);
        assert_eq!(p.decisions[3].priority, Priority::Optional);
    }

    #[test]
    fn pruning_is_deterministic() {
        assert_eq!(
            run(250, Strategy::ProgressivePruning),
            run(250, Strategy::ProgressivePruning)
        );
    }
}
