//! The run report: what a run did, as the headless front end prints it. Field names are a
//! stable interface (docs/reference.md documents them); later versions add fields, never rename.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::events::RunState;
use super::handle::{FlowSnapshot, StepState};
use super::preview::baseline_preview;
use crate::cache::{CacheStats, ResultStore, Summary};
use crate::config::Price;
use crate::context::baseline::{self, BaselineStep};
use crate::context::layout::CacheUse;
use crate::context::ledger::{FactRetention, StepTokens, Totals};
use crate::context::{Encoding, ItemDecision, Tokenizer, layout};
use crate::data::Dataset;
use crate::flow::Flow;
use crate::llm::{AnswerRequest, OfflineAnalyst};
use crate::models::{CacheMode, CacheRule};
use crate::reference::Reference;
use crate::settings::Priority;
use crate::step_output::{AnswerCheck, StepOutput, ToolRecord};
use crate::tools::Fact;

/// Whether a run's token counts are the model's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenCounts {
    Exact,
    Estimated,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub flow: String,
    pub status: RunState,
    pub duration_ms: Option<u64>,
    /// The model whose encoding counted the tokens and whose prices cost the run.
    pub model: String,
    pub encoding: Encoding,
    /// `exact` when `encoding` is the model's own; `estimated` when the model has a
    /// tokenizer we do not ship, and every count here is an o200k estimate.
    pub token_counts: TokenCounts,
    pub data: DataSummary,
    pub steps: Vec<StepReport>,
    /// The final report as Markdown; null when the last step did not finish.
    pub report: Option<String>,
    pub totals: Totals,
    pub facts: FactRetention,
    pub cache: CacheSummary,
}

/// What the cache did for this run.
#[derive(Debug, Clone, Serialize)]
pub struct CacheSummary {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    /// Bytes held in memory.
    pub bytes: usize,
    pub disk_hits: u64,
    pub disk_bytes: u64,
    pub evictions: u64,
    pub expirations: u64,
    /// Tokens the prompts would have carried had referenced items been sent in full.
    pub tokens_saved_by_references: usize,
}

impl CacheSummary {
    fn of(stats: CacheStats, tokens_saved_by_references: usize) -> Self {
        CacheSummary {
            hits: stats.hits,
            misses: stats.misses,
            entries: stats.entries,
            bytes: stats.memory_bytes,
            disk_hits: stats.disk_hits,
            disk_bytes: stats.disk_bytes,
            evictions: stats.evictions,
            expirations: stats.expirations,
            tokens_saved_by_references,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    pub path: PathBuf,
    pub rows: usize,
    /// The columns in the file's header.
    pub columns: Vec<String>,
    /// blake3 of the file's bytes.
    #[serde(rename = "ref")]
    pub reference: Reference,
    /// What results are keyed by: the file's reference, combined with the column mapping
    /// when that is not the identity.
    pub mapped_ref: Reference,
    pub bytes: u64,
    /// `csv`, `parquet`, `xlsx` or `xls`.
    pub format: crate::data::source::FileFormat,
    /// role → the file column it was read from.
    pub roles: std::collections::BTreeMap<String, String>,
    /// What the loader did beyond reading: mapping, transcoding, derived columns, skipped rows.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The step as it ended: status, timing, output, route and the settings it ran with.
    #[serde(flatten)]
    pub state: StepState,
    /// Who wrote the step's answer: `offline/v1`, or `openai/v1 <base url> <model>`.
    pub analyst: Option<String>,
    pub tokens: StepTokens,
    pub context: Vec<ItemDecision>,
    pub tools: Vec<ToolRecord>,
    pub facts: Vec<Fact>,
    /// The answer checked against the step's critical figures as it arrived; null when
    /// the step did not finish.
    pub answer_check: Option<AnswerCheck>,
}

/// How the run is measured: the model (encoding and prices) and its provider's cache rules.
pub struct Measure<'a> {
    pub model: &'a str,
    pub tokenizer: Tokenizer,
    pub price: Option<Price>,
    pub cache_rule: CacheRule,
    /// Whether the tokenizer is the model's own.
    pub counts_exact: bool,
}

/// Where each prompt's cache breakpoint is, for a provider that caches only at one.
enum Breakpoints<'a> {
    /// At the end of each step's stable prefix, as the Anthropic backend places it.
    StablePrefix(&'a [usize]),
    /// At the end of each whole prompt: the naive pipeline with automatic caching.
    WholePrompt,
}

/// For each prompt, in the order sent, what the provider's cache would read and write (see
/// [`layout::cache_use`]); kept by the prompts' hashes and the rules, so a rerun served
/// from the cache does not encode them again.
fn cache_estimates(
    store: &ResultStore,
    tokenizer: &Tokenizer,
    prompts: &[String],
    rule: CacheRule,
    breakpoints: Breakpoints<'_>,
) -> Vec<CacheUse> {
    let encoding = tokenizer.encoding.as_str();
    let marks: Option<&[usize]> = match breakpoints {
        Breakpoints::StablePrefix(marks) => Some(marks),
        Breakpoints::WholePrompt => None,
    };
    let rules = format!("{rule:?} {marks:?}");
    let mut parts: Vec<Vec<u8>> = vec![
        b"prompt-cache/v2".to_vec(),
        encoding.as_bytes().to_vec(),
        rules.into_bytes(),
    ];
    parts.extend(prompts.iter().map(|p| blake3::hash(p.as_bytes()).as_bytes().to_vec()));
    let key = Reference::of_parts(parts.iter().map(Vec::as_slice));
    let compute = || {
        let tokens: Vec<Vec<u32>> = prompts.iter().map(|p| tokenizer.encode(p)).collect();
        let whole: Vec<usize> = tokens.iter().map(Vec::len).collect();
        layout::cache_use(&tokens, marks.unwrap_or(&whole), rule)
    };
    let kept = store.summary(&key, || Summary {
        producer: format!("prompt-cache estimate ({encoding})"),
        text: serde_json::to_string(&compute()).unwrap_or_default(),
    });
    match serde_json::from_str::<Vec<CacheUse>>(&kept.text) {
        Ok(v) if v.len() == prompts.len() => v,
        _ => compute(),
    }
}

impl RunReport {
    /// Collects the run's state and outputs, and measures them against the baseline (see
    /// [`crate::context::baseline`]).
    pub fn build(
        flow: &Flow,
        dataset: &Dataset,
        snapshot: &FlowSnapshot,
        store: &ResultStore,
        measure: &Measure<'_>,
    ) -> RunReport {
        let outputs: Vec<Option<Arc<StepOutput>>> = snapshot
            .steps
            .iter()
            .map(|s| s.output_ref.and_then(|r| store.peek_step_output(&r)))
            .collect();

        // The baseline over the steps that ran, in flow order.
        let ran: Vec<usize> = flow
            .dag
            .order
            .iter()
            .copied()
            .filter(|&i| outputs[i].is_some())
            .collect();
        let tool_outputs: Vec<Vec<Arc<crate::tools::ToolOutput>>> = ran
            .iter()
            .map(|&i| {
                let out = outputs[i].as_ref().expect("ran");
                out.tools
                    .iter()
                    .filter_map(|t| store.peek_tool_output(&t.output_ref))
                    .collect()
            })
            .collect();
        let baseline_steps: Vec<BaselineStep<'_>> = ran
            .iter()
            .zip(&tool_outputs)
            .map(|(&i, tools)| BaselineStep {
                step: flow.step(i),
                outputs: tools.iter().map(|t| (&t.call, &t.result)).collect(),
                answer: &outputs[i].as_ref().expect("ran").answer,
            })
            .collect();
        let data_text = baseline_preview(store, dataset);
        // Counts are kept by the prompt's hash, so a rerun served from the cache never needs
        // to load the encoding at all.
        let encoding = measure.tokenizer.encoding.as_str();
        let baseline_prompts = baseline::prompts(&baseline_steps, &data_text);
        let rule = measure.cache_rule;
        // The naive pipeline places no breakpoints of its own; with Anthropic it would use
        // automatic caching (a top-level `cache_control`), which reads the longest prefix
        // cached before and writes the rest of the prompt.
        let baseline_rule = match rule.mode {
            CacheMode::Breakpoints => CacheRule {
                mode: CacheMode::Automatic { step: 1 },
                ..rule
            },
            CacheMode::Automatic { .. } => rule,
        };
        let baseline_cache = cache_estimates(
            store,
            &measure.tokenizer,
            &baseline_prompts,
            baseline_rule,
            Breakpoints::WholePrompt,
        );
        let our_prompts: Vec<String> = ran
            .iter()
            .map(|&i| outputs[i].as_ref().expect("ran").context.pruned.prompt.clone())
            .collect();
        let stable: Vec<usize> = ran
            .iter()
            .map(|&i| outputs[i].as_ref().expect("ran").context.pruned.stable_prefix)
            .collect();
        let our_cache = cache_estimates(
            store,
            &measure.tokenizer,
            &our_prompts,
            rule,
            Breakpoints::StablePrefix(&stable),
        );
        let read = |uses: &[CacheUse]| uses.iter().map(|u| u.read).collect::<Vec<_>>();
        let written = |uses: &[CacheUse]| uses.iter().map(|u| u.written).collect::<Vec<_>>();
        // Writes matter only where the provider charges for them.
        let written = |uses: &[CacheUse]| match measure.price.and_then(|p| p.cache_write) {
            Some(_) => written(uses),
            None => vec![0; uses.len()],
        };
        let (our_cached, our_written) = (read(&our_cache), written(&our_cache));
        let (baseline_cached, baseline_written) = (read(&baseline_cache), written(&baseline_cache));
        let baseline_tokens: Vec<usize> = baseline_prompts
            .iter()
            .map(|p| {
                let key = Reference::of_parts([b"token-count/v1".as_slice(), encoding.as_bytes(), p.as_bytes()]);
                let count = store.summary(&key, || Summary {
                    producer: format!("baseline token count ({encoding})"),
                    text: measure.tokenizer.count(p).to_string(),
                });
                count.text.parse().unwrap_or_else(|_| measure.tokenizer.count(p))
            })
            .collect();
        let of_ran = |figures: &[usize], i: usize| ran.iter().position(|&r| r == i).map_or(0, |k| figures[k]);

        let steps: Vec<StepReport> = snapshot
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let output = outputs[i].as_ref();
                let ctx = output.map(|o| &o.context);
                let retry = output.map_or((0, 0), |o| {
                    (o.check.retry_prompt_tokens, o.check.retry_completion_tokens)
                });
                StepReport {
                    state: s.clone(),
                    analyst: output.map(|o| o.analyst.clone()),
                    tokens: StepTokens {
                        prompt: ctx.map_or(0, |c| c.pruned.tokens) + retry.0,
                        retry_prompt: retry.0,
                        completion: ctx.map_or(0, |c| c.completion_tokens) + retry.1,
                        baseline_prompt: of_ran(&baseline_tokens, i),
                        prompt_reported: output.and_then(|o| o.reported).map(|u| u.prompt_tokens),
                        completion_reported: output.and_then(|o| o.reported).map(|u| u.completion_tokens),
                        cached_reported: output.and_then(|o| o.reported).and_then(|u| u.cached_tokens),
                        cache_write_reported: output.and_then(|o| o.reported).and_then(|u| u.cache_write_tokens),
                        stable_prefix: ctx.map_or(0, |c| c.pruned.stable_prefix),
                        cached_estimated: of_ran(&our_cached, i),
                        cache_write_estimated: of_ran(&our_written, i),
                        baseline_cached_estimated: of_ran(&baseline_cached, i),
                        baseline_cache_write_estimated: of_ran(&baseline_written, i),
                    },
                    context: ctx.map(|c| c.pruned.decisions.clone()).unwrap_or_default(),
                    tools: output.map(|o| o.tools.clone()).unwrap_or_default(),
                    facts: output.map(|o| o.facts.clone()).unwrap_or_default(),
                    answer_check: output.map(|o| o.check.clone()),
                }
            })
            .collect();

        let sinks = flow.dag.sinks();
        let finals: Vec<String> = sinks
            .iter()
            .filter_map(|&i| outputs[i].as_ref())
            .map(|o| o.answer.clone())
            .collect();
        let report = (!finals.is_empty()).then(|| finals.join("\n"));

        // Critical facts of every step that ran, and whether the reports carry them. The
        // baseline's last step has every tool output in full, so its writer sees every fact.
        let mut all: Vec<&Fact> = Vec::new();
        for f in ran.iter().flat_map(|&i| outputs[i].as_ref().expect("ran").facts.iter()) {
            if !all.iter().any(|x| x.key == f.key) {
                all.push(f);
            }
        }
        let critical: Vec<&Fact> = all
            .iter()
            .copied()
            .filter(|f| f.priority == Priority::Critical)
            .collect();
        let all_owned: Vec<Fact> = all.iter().map(|f| (*f).clone()).collect();
        let baseline_report = match sinks.first() {
            Some(&i) if report.is_some() => OfflineAnalyst.write(&AnswerRequest {
                flow: flow.name(),
                step: flow.step(i),
                is_final: true,
                stable: Default::default(),
                messages: Default::default(),
                own_facts: &[],
                upstream: vec![("baseline", all_owned.as_slice())],
            }),
            _ => String::new(),
        };
        let mut facts = FactRetention::check(&critical, report.as_deref().unwrap_or_default(), &baseline_report);
        // Figures the report states that nothing its writer was given holds.
        facts.unsupported = sinks
            .iter()
            .filter_map(|&i| outputs[i].as_ref())
            .flat_map(|o| {
                let others = outputs
                    .iter()
                    .flatten()
                    .filter(|x| x.step != o.step)
                    .map(|x| x.answer.as_str());
                let given = crate::tools::fact_check::ground(&o.context.pruned.prompt, others);
                crate::tools::fact_check::unsupported(&o.answer, &given, &all)
            })
            .collect();

        let referenced: usize = steps
            .iter()
            .flat_map(|s| s.context.iter())
            .filter(|d| d.decision == crate::context::Decision::Referenced)
            .map(|d| d.tokens_before - d.tokens_after)
            .sum();
        RunReport {
            cache: CacheSummary::of(store.stats(), referenced),
            flow: flow.name().to_string(),
            status: snapshot.state,
            duration_ms: snapshot.duration_ms,
            model: measure.model.to_string(),
            encoding: measure.tokenizer.encoding,
            token_counts: if measure.counts_exact {
                TokenCounts::Exact
            } else {
                TokenCounts::Estimated
            },
            totals: Totals::of(&steps.iter().map(|s| s.tokens).collect::<Vec<_>>(), measure.price),
            data: DataSummary {
                path: dataset.path.clone(),
                rows: dataset.rows(),
                columns: dataset.file_columns.clone(),
                reference: dataset.file_reference,
                mapped_ref: dataset.reference,
                bytes: dataset.file_bytes,
                format: dataset.profile.format,
                roles: dataset.profile.roles.clone(),
                notes: {
                    // The loader's, then what steps left out (a route that fell back).
                    let mut notes = dataset.notes.clone();
                    for note in ran.iter().flat_map(|&i| outputs[i].as_ref().expect("ran").notes.iter()) {
                        if !notes.contains(note) {
                            notes.push(note.clone());
                        }
                    }
                    notes
                },
            },
            steps,
            report,
            facts,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status == RunState::Completed
    }

    /// The critical facts of every step, one per key, in step order.
    pub fn critical_facts(&self) -> Vec<&Fact> {
        let mut critical: Vec<&Fact> = Vec::new();
        for f in self.steps.iter().flat_map(|s| &s.facts) {
            if f.priority == Priority::Critical && !critical.iter().any(|c| c.key == f.key) {
                critical.push(f);
            }
        }
        critical
    }

    /// Adds this run's cache counters to the disk tier's totals (`mrflow-tui cache stats`),
    /// whichever front end ran it.
    pub fn record_cache_totals(&self, store: &ResultStore) {
        if let Some(disk) = store.disk() {
            let c = &self.cache;
            disk.record(&crate::cache::RunCounters {
                runs: 1,
                hits: c.hits,
                misses: c.misses,
                disk_hits: c.disk_hits,
                evictions: c.evictions,
                expirations: c.expirations,
                tokens_saved_by_references: c.tokens_saved_by_references as u64,
            });
        }
    }
}
