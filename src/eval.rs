//! A/B against one model: the flow run optimized, and as the naive sequential pipeline the
//! ledger's baseline counts (each step sent its baseline prompt, built from the baseline
//! run's own earlier answers), with the tokens, time, critical facts kept and unsupported
//! figures of both. The ledger proves the tokens; this measures whether the analysis
//! survived them.
//!
//! Both arms run without long-term memory, on a store of their own per repeat, so repeats
//! are independent and neither arm reads the other's answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cache::{CacheConfig, ResultStore};
use crate::context::baseline::{self, BaselineStep};
use crate::context::{Messages, Tokenizer};
use crate::data::Dataset;
use crate::engine::{Engine, EngineCommand, EngineConfig, EngineEvent, RunReport, StepStatus};
use crate::format::grouped;
use crate::llm::{AnswerRequest, LlmError};
use crate::session::Session;
use crate::settings::Priority;
use crate::tools::fact_check;
use crate::tools::{Fact, ToolOutput, unique_by_key};

/// How an arm ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ArmStatus {
    Completed,
    /// A prompt did not fit the model's context window: the pipeline cannot run on it.
    DoesNotFit,
    Failed,
    Cancelled,
}

impl ArmStatus {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

/// One step of one arm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArmStep {
    pub id: String,
    /// Our exact count of what was sent (retries included).
    pub prompt_tokens: usize,
    /// What the server counted; null when it did not say.
    pub prompt_tokens_reported: Option<usize>,
    pub completion_tokens: usize,
    pub wall_ms: u64,
    /// Critical facts the answer should carry, and how many it does.
    pub facts_expected: usize,
    pub facts_kept: usize,
    pub unsupported: Vec<String>,
    /// Why the step did not finish.
    pub error: Option<String>,
}

/// One run of one arm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arm {
    pub status: ArmStatus,
    /// Why it did not complete: the step and the numbers.
    pub note: Option<String>,
    pub steps: Vec<ArmStep>,
    pub prompt_tokens: usize,
    pub prompt_tokens_reported: Option<usize>,
    pub wall_ms: u64,
    /// The flow's critical facts, and how many the final report carries.
    pub critical: usize,
    pub facts_kept: usize,
    pub missing: Vec<String>,
    /// Money and percent figures in the report that nothing its writer was given holds.
    pub unsupported: Vec<String>,
    pub report: Option<String>,
}

/// One repeat: both arms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalRun {
    pub optimized: Arm,
    pub baseline: Arm,
}

/// A figure over the repeats: median and range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// An arm over the repeats that completed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArmSummary {
    pub completed: usize,
    pub does_not_fit: usize,
    pub prompt_tokens: Option<Spread>,
    pub wall_ms: Option<Spread>,
    pub facts_kept: Option<Spread>,
    pub unsupported: Option<Spread>,
}

impl ArmSummary {
    fn of<'a>(arms: impl Iterator<Item = &'a Arm> + Clone) -> ArmSummary {
        let done = || arms.clone().filter(|a| a.status == ArmStatus::Completed);
        ArmSummary {
            completed: done().count(),
            does_not_fit: arms.clone().filter(|a| a.status == ArmStatus::DoesNotFit).count(),
            prompt_tokens: Spread::of(done().map(|a| a.prompt_tokens as f64)),
            wall_ms: Spread::of(done().map(|a| a.wall_ms as f64)),
            facts_kept: Spread::of(done().map(|a| a.facts_kept as f64)),
            unsupported: Spread::of(done().map(|a| a.unsupported.len() as f64)),
        }
    }
}

/// An evaluation: the flow, the model, every repeat and the summary of both arms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Eval {
    pub flow: String,
    /// Who wrote the answers (`openai/v1 <base url> <model>`).
    pub analyst: String,
    /// The model's context window as known (configured, or the server's), if at all.
    pub context_window: Option<usize>,
    pub data: std::path::PathBuf,
    pub critical: usize,
    pub repeat: usize,
    pub runs: Vec<EvalRun>,
    pub optimized: ArmSummary,
    pub baseline: ArmSummary,
    /// The eval was cancelled: the runs are those that finished.
    pub cancelled: bool,
}

/// Runs `repeat` A/B pairs of the session's flow on `dataset`; stops early, keeping what
/// finished, when `cancel` fires.
pub async fn evaluate(session: &Session, dataset: Arc<Dataset>, repeat: usize, cancel: &CancellationToken) -> Eval {
    let analyst = session.parts.analyst.clone();
    let mut runs = Vec::new();
    let mut critical = 0;
    for _ in 0..repeat.max(1) {
        if cancel.is_cancelled() {
            break;
        }
        let (optimized, report, store) = optimized_arm(session, dataset.clone(), cancel).await;
        critical = report.critical_facts().len();
        let baseline = {
            let session_flow = session.parts.flow.clone();
            let tokenizer = session.tokenizer;
            let cancel = cancel.clone();
            let dataset = dataset.clone();
            let analyst = analyst.clone();
            tokio::task::spawn_blocking(move || {
                baseline_arm(
                    &session_flow,
                    &dataset,
                    &report,
                    &store,
                    analyst.as_ref(),
                    tokenizer,
                    &cancel,
                )
            })
            .await
            .unwrap_or_else(|e| failed_arm(format!("the baseline arm stopped: {e}")))
        };
        let stop = optimized.status == ArmStatus::Cancelled || baseline.status == ArmStatus::Cancelled;
        runs.push(EvalRun { optimized, baseline });
        if stop {
            break;
        }
    }
    // Asking the server is blocking I/O: off the async threads.
    let context_window = {
        let analyst = analyst.clone();
        tokio::task::spawn_blocking(move || analyst.context_window())
            .await
            .ok()
            .flatten()
    };
    Eval {
        flow: session.parts.flow.name().to_string(),
        analyst: analyst.identity(),
        context_window,
        data: crate::data::shown_path(&session.parts.data),
        critical,
        repeat: repeat.max(1),
        optimized: ArmSummary::of(runs.iter().map(|r| &r.optimized)),
        baseline: ArmSummary::of(runs.iter().map(|r| &r.baseline)),
        cancelled: cancel.is_cancelled(),
        runs,
    }
}

/// A store for one arm's run: in memory only, so nothing of an earlier repeat is reused.
fn report_store(session: &Session) -> Arc<ResultStore> {
    Arc::new(ResultStore::with_config(CacheConfig::from_settings(
        &session.parts.config.cache,
        None,
    )))
}

fn failed_arm(note: String) -> Arm {
    Arm {
        status: ArmStatus::Failed,
        note: Some(note),
        steps: vec![],
        prompt_tokens: 0,
        prompt_tokens_reported: None,
        wall_ms: 0,
        critical: 0,
        facts_kept: 0,
        missing: vec![],
        unsupported: vec![],
        report: None,
    }
}

/// The flow through the engine, as `run` runs it, on a store of its own.
async fn optimized_arm(
    session: &Session,
    dataset: Arc<Dataset>,
    cancel: &CancellationToken,
) -> (Arm, RunReport, Arc<ResultStore>) {
    let store = report_store(session);
    let config = EngineConfig {
        memory: None,
        ..session.engine_config()
    };
    let started = Instant::now();
    let (handle, mut events) = Engine::spawn_with(session.parts.flow.clone(), dataset.clone(), store.clone(), config);
    let snapshot = tokio::select! {
        snapshot = handle.run_to_end(&mut events) => snapshot,
        _ = cancel.cancelled() => {
            handle.send(EngineCommand::Cancel);
            while let Some(event) = events.recv().await {
                if matches!(event, EngineEvent::RunFinished { .. }) {
                    break;
                }
            }
            handle.snapshot()
        }
    };
    handle.send(EngineCommand::Shutdown);
    let wall_ms = started.elapsed().as_millis() as u64;
    let report = RunReport::build(&session.parts.flow, &dataset, &snapshot, &store, &session.measure());
    let steps: Vec<ArmStep> = report
        .steps
        .iter()
        .filter(|s| !matches!(s.state.status, StepStatus::Pending | StepStatus::Skipped))
        .map(|s| {
            let check = s.answer_check.clone().unwrap_or_default();
            ArmStep {
                id: s.state.id.clone(),
                prompt_tokens: s.tokens.prompt,
                prompt_tokens_reported: s.tokens.prompt_reported,
                completion_tokens: s.tokens.completion,
                wall_ms: s.state.duration_ms.unwrap_or(0),
                facts_expected: check.expected.len(),
                facts_kept: check.kept(),
                unsupported: check.unsupported,
                error: s.state.error.clone(),
            }
        })
        .collect();
    let failed = report.steps.iter().find(|s| s.state.status == StepStatus::Failed);
    let status = if cancel.is_cancelled() {
        ArmStatus::Cancelled
    } else if let Some(f) = failed {
        if f.state.error.as_deref().is_some_and(is_window_error) {
            ArmStatus::DoesNotFit
        } else {
            ArmStatus::Failed
        }
    } else {
        ArmStatus::Completed
    };
    let arm = Arm {
        status,
        note: failed.map(|f| format!("{}: {}", f.state.id, f.state.error.clone().unwrap_or_default())),
        steps,
        prompt_tokens: report.totals.prompt_tokens,
        prompt_tokens_reported: report.totals.prompt_tokens_reported,
        wall_ms,
        critical: report.facts.critical,
        facts_kept: report.facts.retained,
        missing: report.facts.missing.clone(),
        unsupported: report.facts.unsupported.clone(),
        report: report.report.clone(),
    };
    (arm, report, store)
}

/// Whether an error says a prompt did not fit a context window (ours, or a server's).
fn is_window_error(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("context window") || m.contains("context size") || m.contains("context length")
}

/// The naive sequential pipeline: the steps the optimized run ran, in flow order, each sent
/// its baseline prompt built from this arm's own earlier answers.
fn baseline_arm(
    flow: &crate::flow::Flow,
    dataset: &Dataset,
    report: &RunReport,
    store: &ResultStore,
    analyst: &dyn crate::llm::Analyst,
    tokenizer: Tokenizer,
    cancel: &CancellationToken,
) -> Arm {
    // The preview the optimized arm's report measured the baseline with (kept in its store).
    let data_text = crate::engine::baseline_preview(store, dataset);
    // The steps the optimized run finished (so the same route), in flow order, with the
    // tool outputs it stored: the same exact results.
    let ran: Vec<usize> = flow
        .dag
        .order
        .iter()
        .copied()
        .filter(|&i| matches!(report.steps[i].state.status, StepStatus::Done | StepStatus::Cached))
        .collect();
    let outputs: Vec<Vec<Arc<ToolOutput>>> = ran
        .iter()
        .map(|&i| {
            report.steps[i]
                .tools
                .iter()
                .filter_map(|t| store.peek_tool_output(&t.output_ref))
                .collect()
        })
        .collect();
    let critical: Vec<Fact> = report.critical_facts().into_iter().cloned().collect();
    let all_facts: Vec<Fact> = report.steps.iter().flat_map(|s| s.facts.iter().cloned()).collect();
    let sinks = flow.dag.sinks();

    let mut answers: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    let mut status = ArmStatus::Completed;
    let mut note = None;
    let mut last_prompt = String::new();
    let started = Instant::now();
    for (k, &i) in ran.iter().enumerate() {
        if cancel.is_cancelled() {
            status = ArmStatus::Cancelled;
            break;
        }
        let def = flow.step(i);
        let view: Vec<BaselineStep<'_>> = ran[..=k]
            .iter()
            .enumerate()
            .map(|(j, &s)| BaselineStep {
                step: flow.step(s),
                outputs: outputs[j].iter().map(|o| (&o.call, &o.result)).collect(),
                answer: answers.get(j).map_or("", String::as_str),
            })
            .collect();
        let prompt = baseline::prompt(&view, k, &data_text);
        let tokens = tokenizer.count(&prompt);
        let is_final = sinks.contains(&i);
        // One fact per key, as the engine keeps a step's facts (three profitability calls
        // each state the total revenue).
        let own: Vec<Fact> = unique_by_key(outputs[k].iter().flat_map(|o| o.facts.iter()))
            .into_iter()
            .cloned()
            .collect();
        let expected: Vec<&Fact> = if is_final {
            critical.iter().collect()
        } else {
            own.iter().filter(|f| f.priority == Priority::Critical).collect()
        };
        let mut step = ArmStep {
            id: def.id.clone(),
            prompt_tokens: tokens,
            prompt_tokens_reported: None,
            completion_tokens: 0,
            wall_ms: 0,
            facts_expected: expected.len(),
            facts_kept: 0,
            unsupported: vec![],
            error: None,
        };
        if let Some(why) = crate::llm::window_problem(analyst, tokens, tokenizer.encoding) {
            step.error = Some(why.clone());
            steps.push(step);
            status = ArmStatus::DoesNotFit;
            note = Some(format!("{}: {why}", def.id));
            break;
        }
        let earlier: Vec<(&str, &[Fact])> = vec![("baseline", all_facts.as_slice())];
        let request = AnswerRequest {
            flow: flow.name(),
            step: def,
            is_final,
            stable: Default::default(),
            messages: Messages {
                system: "",
                user: &prompt,
            },
            own_facts: &own,
            upstream: if is_final { earlier } else { vec![] },
        };
        let asked = Instant::now();
        let answer = analyst.answer(&request, &mut |_| {}, cancel);
        step.wall_ms = asked.elapsed().as_millis() as u64;
        match answer {
            Ok(a) => {
                step.prompt_tokens_reported = a.reported.map(|u| u.prompt_tokens);
                step.completion_tokens = tokenizer.count(&a.text);
                step.facts_kept = expected.len() - fact_check::missing(&a.text, expected.iter().copied()).len();
                let ground: Vec<&Fact> = all_facts.iter().collect();
                let given = fact_check::ground(&prompt, answers.iter().map(String::as_str));
                step.unsupported = fact_check::unsupported(&a.text, &given, &ground);
                answers.push(a.text);
                steps.push(step);
                last_prompt = given;
            }
            Err(LlmError::Cancelled) => {
                status = ArmStatus::Cancelled;
                break;
            }
            Err(e) => {
                let message = e.to_string();
                status = if is_window_error(&message) {
                    ArmStatus::DoesNotFit
                } else {
                    ArmStatus::Failed
                };
                note = Some(format!("{}: {message}", def.id));
                step.error = Some(message);
                steps.push(step);
                break;
            }
        }
    }
    let report_text = (status == ArmStatus::Completed)
        .then(|| answers.last().cloned())
        .flatten();
    let text = report_text.as_deref().unwrap_or_default();
    let missing: Vec<String> = fact_check::missing(text, critical.iter())
        .iter()
        .map(|f| f.key.clone())
        .collect();
    let ground: Vec<&Fact> = all_facts.iter().collect();
    Arm {
        status,
        note,
        prompt_tokens: steps.iter().map(|s| s.prompt_tokens).sum(),
        prompt_tokens_reported: steps.iter().map(|s| s.prompt_tokens_reported).sum(),
        wall_ms: started.elapsed().as_millis() as u64,
        critical: critical.len(),
        facts_kept: if report_text.is_some() {
            critical.len() - missing.len()
        } else {
            0
        },
        missing,
        unsupported: if report_text.is_some() {
            fact_check::unsupported(text, &last_prompt, &ground)
        } else {
            vec![]
        },
        report: report_text,
        steps,
    }
}

impl Eval {
    /// Both arms per step and in total, and the summary over the repeats, as a table.
    pub fn table(&self) -> String {
        table(self)
    }

    /// Keeps the eval as JSON in `<data dir>/evals/<flow>-<UTC time>.json`; the path.
    pub fn keep(&self, data_dir: &Path) -> std::io::Result<PathBuf> {
        let dir = data_dir.join(EVALS);
        std::fs::create_dir_all(&dir)?;
        let stamp = crate::clock::utc(crate::clock::now_ms(), "%Y-%m-%dT%H-%M-%S");
        let path = dir.join(format!("{}-{stamp}.json", self.flow));
        let json = serde_json::to_string_pretty(self).expect("evals serialize");
        crate::private_file::write(&path, &json)?;
        Ok(path)
    }

    /// The newest eval of `flow` kept under `data_dir`, with its path; `None` when there is
    /// none, an error naming the file when it cannot be read.
    pub fn latest(data_dir: &Path, flow: &str) -> Option<Result<(PathBuf, Eval), String>> {
        let prefix = format!("{flow}-");
        let mut kept: Vec<PathBuf> = std::fs::read_dir(data_dir.join(EVALS))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect();
        // Names end in their UTC time, so the last in order is the newest.
        kept.sort();
        let path = kept.pop()?;
        Some(Eval::read(&path).map(|e| (path, e)))
    }

    /// An eval as `eval --format json` wrote it.
    pub fn read(path: &Path) -> Result<Eval, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not an eval ({e}); `mrflow-tui eval --format json` writes one",
                path.display(),
                e.line(),
                e.column()
            )
        })
    }
}

/// Where evals are kept, under the data directory.
const EVALS: &str = "evals";

fn count(n: Option<usize>) -> String {
    n.map_or("-".into(), |n| grouped(n as f64))
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn spread(s: Option<Spread>, unit: impl Fn(f64) -> String) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.min == s.max => unit(s.median),
        Some(s) => format!("{} [{}–{}]", unit(s.median), unit(s.min), unit(s.max)),
    }
}

fn arm_line(name: &str, arm: &Arm) -> String {
    let mut line = format!(
        "{name:<10} {:<12} prompt {:>7} (server {:>7}) · {:>7} · facts {}/{} · unsupported {}",
        arm.status.as_str(),
        grouped(arm.prompt_tokens as f64),
        count(arm.prompt_tokens_reported),
        secs(arm.wall_ms),
        arm.facts_kept,
        arm.critical,
        arm.unsupported.len(),
    );
    if !arm.unsupported.is_empty() {
        line.push_str(&format!(" ({})", arm.unsupported.join(", ")));
    }
    if let Some(note) = &arm.note {
        line.push_str(&format!("\n{:<10} {note}", ""));
    }
    line
}

fn table(e: &Eval) -> String {
    let mut out = format!(
        "Eval    {} · {} · window {} · {} repeat(s){}\n",
        e.flow,
        e.analyst,
        count(e.context_window),
        e.repeat,
        if e.cancelled { " · cancelled" } else { "" }
    );
    for (k, run) in e.runs.iter().enumerate() {
        out.push_str(&format!(
            "\nRun {}\n{:<22} {:>9} {:>9} {:>8} {:>6} {:>6}   {:>9} {:>9} {:>8} {:>6} {:>6}\n",
            k + 1,
            "STEP",
            "PROMPT",
            "SERVER",
            "TIME",
            "FACTS",
            "UNSUP",
            "BASE",
            "SERVER",
            "TIME",
            "FACTS",
            "UNSUP"
        ));
        for step in &run.optimized.steps {
            let [p, s, t, f, u] = cells(Some(step));
            let [bp, bs, bt, bf, bu] = cells(run.baseline.steps.iter().find(|b| b.id == step.id));
            out.push_str(&format!(
                "{:<22} {p:>9} {s:>9} {t:>8} {f:>6} {u:>6}   {bp:>9} {bs:>9} {bt:>8} {bf:>6} {bu:>6}\n",
                step.id
            ));
        }
        out.push_str(&format!(
            "{}\n{}\n",
            arm_line("optimized", &run.optimized),
            arm_line("baseline", &run.baseline)
        ));
    }
    let facts = |n: f64| format!("{n:.0}/{}", e.critical);
    let tokens = |n: f64| grouped(n);
    let time = |n: f64| secs(n as u64);
    let plain = |n: f64| format!("{n:.0}");
    out.push_str("\nSummary (median [range] over the runs that completed)\n");
    for (name, s) in [("optimized", &e.optimized), ("baseline", &e.baseline)] {
        out.push_str(&format!(
            "{name:<10} completed {}/{}{} · prompt {} · time {} · facts {} · unsupported {}\n",
            s.completed,
            e.runs.len(),
            if s.does_not_fit > 0 {
                format!(" (does not fit: {})", s.does_not_fit)
            } else {
                String::new()
            },
            spread(s.prompt_tokens, tokens),
            spread(s.wall_ms, time),
            spread(s.facts_kept, facts),
            spread(s.unsupported, plain),
        ));
    }
    out
}

/// A step's prompt, server count, time, facts and unsupported figures; dashes for a step
/// the arm did not run, and "no fit" for a prompt that did not fit or failed.
fn cells(step: Option<&ArmStep>) -> [String; 5] {
    match step {
        None => std::array::from_fn(|_| "-".to_string()),
        Some(s) => [
            if s.error.is_some() {
                format!("{} ✗", grouped(s.prompt_tokens as f64))
            } else {
                grouped(s.prompt_tokens as f64)
            },
            count(s.prompt_tokens_reported),
            secs(s.wall_ms),
            format!("{}/{}", s.facts_kept, s.facts_expected),
            s.unsupported.len().to_string(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_median_and_range() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of([1.0, 4.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of([]), None);
    }

    #[test]
    fn window_errors_are_recognized() {
        assert!(is_window_error(
            "llm: the prompt of 9 tokens do not fit m's context window of 4 tokens"
        ));
        assert!(is_window_error(
            "HTTP 400: the request exceeds the available context size, try increasing it"
        ));
        assert!(!is_window_error("HTTP 500: boom"));
    }
}
