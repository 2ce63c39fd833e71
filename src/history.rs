//! Run history: every run kept with its settings, ledger, facts and report, so a tuning
//! change can be compared with the run before it. One JSON file per run under
//! `<data dir>/runs/`, readable only by the user (reports carry business figures); the
//! newest [`KEEP`] are kept. A damaged file is skipped with a warning, never fatal.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::Price;
use crate::context::ledger::{self, FactRetention, StepTokens, Totals};
use crate::engine::{RunReport, RunState, StepStatus};
use crate::flow::Flow;
use crate::settings::{Priority, StepSettings, Strategy};

/// Runs kept; recording one more removes the oldest.
pub const KEEP: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `YYYYMMDD-HHMMSS-xxxx` (UTC), unique and in time order.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub recorded_at_ms: u64,
    pub flow: String,
    /// `completed`, `failed` or `cancelled`.
    pub status: RunState,
    pub data: PathBuf,
    /// The data's `cache://` reference, mapping included.
    pub data_ref: String,
    pub model: String,
    /// The price the run was costed at (null when the model has none).
    pub price: Option<Price>,
    pub steps: Vec<StepRecord>,
    pub totals: Totals,
    pub facts: FactRetention,
    /// Critical facts of the run: key and statement.
    pub critical: Vec<(String, String)>,
    pub report: Option<String>,
}

/// A step's settings as it ran, beside the flow's own, and its tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub id: String,
    pub status: StepStatus,
    #[serde(flatten)]
    pub settings: StepSettings,
    pub flow_budget: u32,
    pub flow_strategy: Strategy,
    pub tokens: StepTokens,
}

impl StepRecord {
    /// What differs from the flow's definition, e.g. `budget 350`, `strategy minimal`,
    /// `dataset optional`.
    pub fn changes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let s = &self.settings;
        if s.budget != self.flow_budget {
            out.push(format!("budget {}", s.budget));
        }
        if s.strategy != self.flow_strategy {
            out.push(format!("strategy {}", s.strategy));
        }
        out.extend(s.priority_overrides.iter().map(|(k, p)| format!("{k} {}", p.as_str())));
        out
    }

    /// The step's cost at `price`: its prompt and completion at list prices.
    pub fn cost(&self, price: Option<Price>) -> Option<f64> {
        price.map(|p| ledger::cost(p, self.tokens.prompt, 0, 0, self.tokens.completion))
    }
}

impl RunRecord {
    /// The record of a finished run of `flow`, costed at `price`.
    pub fn of(report: &RunReport, flow: &Flow, price: Option<Price>, now_ms: u64) -> RunRecord {
        let steps = report
            .steps
            .iter()
            .zip(flow.steps())
            .map(|(s, def)| StepRecord {
                id: s.state.id.clone(),
                status: s.state.status,
                settings: s.state.settings.clone(),
                flow_budget: def.budget,
                flow_strategy: def.strategy,
                tokens: s.tokens,
            })
            .collect();
        let critical = report
            .critical_facts()
            .into_iter()
            .map(|f| (f.key.clone(), f.statement.clone()))
            .collect();
        let tag = blake3::hash(format!("{now_ms}{}{:?}", report.flow, report.report).as_bytes()).to_hex();
        RunRecord {
            id: format!("{}-{}", clock::utc(now_ms, "%Y%m%d-%H%M%S"), &tag[..4]),
            recorded_at_ms: now_ms,
            flow: report.flow.clone(),
            status: report.status,
            data: report.data.path.clone(),
            data_ref: report.data.mapped_ref.to_string(),
            model: report.model.clone(),
            price,
            steps,
            totals: report.totals.clone(),
            facts: report.facts.clone(),
            critical,
            report: report.report.clone(),
        }
    }

    /// Every step's changes from the flow, `step: change, change`, or `flow defaults`.
    pub fn changed_settings(&self) -> String {
        let parts: Vec<String> = self
            .steps
            .iter()
            .filter_map(|s| {
                let changes = s.changes();
                (!changes.is_empty()).then(|| format!("{}: {}", s.id, changes.join(", ")))
            })
            .collect();
        if parts.is_empty() {
            "flow defaults".into()
        } else {
            parts.join("; ")
        }
    }

    /// The data file's name (its whole path when it has none).
    pub fn data_name(&self) -> String {
        crate::data::source_name(&self.data)
    }

    /// One line for a list of runs, under [`RunRecord::row_header`]: when, flow, data,
    /// tokens, cost, critical facts retained, changed settings.
    pub fn row(&self) -> String {
        row_columns([
            &self.when(),
            &self.flow,
            &self.data_name(),
            &crate::format::grouped(self.totals.prompt_tokens as f64),
            &crate::format::usd(self.totals.cost_usd),
            &format!("{}/{}", self.facts.retained, self.facts.critical),
            &self.changed_settings(),
        ])
    }

    /// The column names above [`RunRecord::row`].
    pub fn row_header() -> String {
        row_columns(["WHEN (UTC)", "FLOW", "DATA", "TOKENS", "COST", "FACTS", "SETTINGS"])
    }

    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub fn when(&self) -> String {
        clock::utc(self.recorded_at_ms, "%Y-%m-%d %H:%M:%S")
    }
}

fn row_columns([when, flow, data, tokens, cost, facts, settings]: [&str; 7]) -> String {
    format!("{when:<19} {flow:<18} {data:<20} {tokens:>7} {cost:>9} {facts:>5}  {settings}")
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: cannot keep the run: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("no run `{id}` in the history (`mrflow-tui runs ls` lists them)")]
    NotFound { id: String },
    #[error("`{id}` matches several runs: {}; give more of the id", .matches.join(", "))]
    Ambiguous { id: String, matches: Vec<String> },
}

/// The runs kept, oldest first, and what could not be read.
#[derive(Debug, Default)]
pub struct Listing {
    pub runs: Vec<RunRecord>,
    pub warnings: Vec<String>,
}

impl Listing {
    /// The run `id` names: an exact id, a unique prefix, or `latest`.
    pub fn find(&self, id: &str) -> Result<&RunRecord, HistoryError> {
        if id == "latest" {
            return self.runs.last().ok_or_else(|| HistoryError::NotFound { id: id.into() });
        }
        if let Some(exact) = self.runs.iter().find(|r| r.id == id) {
            return Ok(exact);
        }
        let matches: Vec<&RunRecord> = self.runs.iter().filter(|r| r.id.starts_with(id)).collect();
        match matches.as_slice() {
            [] => Err(HistoryError::NotFound { id: id.into() }),
            [one] => Ok(one),
            many => Err(HistoryError::Ambiguous {
                id: id.into(),
                matches: many.iter().map(|r| r.id.clone()).collect(),
            }),
        }
    }
}

/// Where runs are kept: a directory, or (without one) this process's memory.
#[derive(Debug)]
pub enum History {
    Dir(PathBuf),
    Memory(Vec<RunRecord>),
}

impl History {
    /// The history under a data directory.
    pub fn in_data_dir(data: &Path) -> History {
        History::Dir(data.join("runs"))
    }

    /// Keeps `record`, then drops the oldest beyond [`KEEP`].
    pub fn record(&mut self, record: &RunRecord) -> Result<(), HistoryError> {
        match self {
            History::Memory(runs) => {
                runs.push(record.clone());
                let excess = runs.len().saturating_sub(KEEP);
                runs.drain(..excess);
                Ok(())
            }
            History::Dir(dir) => {
                let path = dir.join(format!("{}.json", record.id));
                let fail = |e: std::io::Error| HistoryError::Write {
                    path: path.clone(),
                    reason: e.to_string(),
                };
                std::fs::create_dir_all(dir.as_path()).map_err(fail)?;
                let json = serde_json::to_vec_pretty(record).expect("a record serializes");
                let temp = dir.join(format!(".{}.tmp", record.id));
                crate::private_file::write(&temp, &json).map_err(fail)?;
                std::fs::rename(&temp, &path).map_err(fail)?;
                let listing = self.list();
                let excess = listing.runs.len().saturating_sub(KEEP);
                if let History::Dir(dir) = self {
                    for old in &listing.runs[..excess] {
                        let _ = std::fs::remove_file(dir.join(format!("{}.json", old.id)));
                    }
                }
                Ok(())
            }
        }
    }

    /// Every run kept, oldest first; unreadable files are named in `warnings`.
    pub fn list(&self) -> Listing {
        let dir = match self {
            History::Memory(runs) => {
                return Listing {
                    runs: runs.clone(),
                    warnings: Vec::new(),
                };
            }
            History::Dir(dir) => dir,
        };
        let mut listing = Listing::default();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return listing;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice::<RunRecord>(&bytes).map_err(|e| e.to_string()));
            match parsed {
                Ok(run) => listing.runs.push(run),
                Err(reason) => listing.warnings.push(format!(
                    "{}: skipped, not a run record ({reason}); delete it to silence this",
                    path.display()
                )),
            }
        }
        listing
            .runs
            .sort_by(|a, b| (a.recorded_at_ms, &a.id).cmp(&(b.recorded_at_ms, &b.id)));
        listing
    }
}

/// A figure in two runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change<T> {
    pub a: T,
    pub b: T,
}

/// One step in two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepChange {
    pub id: String,
    pub settings: Change<String>,
    /// What differs between the two runs' settings, e.g. `budget 300 → 350`.
    pub settings_changed: Vec<String>,
    pub prompt_tokens: Change<usize>,
    pub prompt_tokens_delta: i64,
    pub cost_usd: Change<Option<f64>>,
}

/// What changed from run `a` to run `b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    pub a: String,
    pub b: String,
    pub steps: Vec<StepChange>,
    pub prompt_tokens: Change<usize>,
    pub prompt_tokens_delta: i64,
    pub cost_usd: Change<Option<f64>>,
    pub facts_retained: Change<usize>,
    /// Critical facts `b`'s report lacks that `a`'s carried (statements).
    pub facts_lost: Vec<String>,
    /// Critical facts `a`'s report lacked that `b`'s carries.
    pub facts_regained: Vec<String>,
    /// The reports as a unified line diff (empty when they are the same).
    pub report_diff: String,
}

/// Compares two runs: per-step tokens and cost, facts lost and regained, and the reports.
pub fn diff(a: &RunRecord, b: &RunRecord) -> RunDiff {
    let statement = |key: &String| {
        a.critical
            .iter()
            .chain(&b.critical)
            .find(|(k, _)| k == key)
            .map_or_else(|| key.clone(), |(_, s)| s.clone())
    };
    let carried =
        |run: &RunRecord, key: &String| run.critical.iter().any(|(k, _)| k == key) && !run.facts.missing.contains(key);
    let mut keys: Vec<&String> = Vec::new();
    for (k, _) in a.critical.iter().chain(&b.critical) {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let facts_lost = keys
        .iter()
        .filter(|k| carried(a, k) && !carried(b, k))
        .map(|k| statement(k))
        .collect();
    let facts_regained = keys
        .iter()
        .filter(|k| !carried(a, k) && carried(b, k))
        .map(|k| statement(k))
        .collect();
    let steps = b
        .steps
        .iter()
        .map(|sb| {
            let sa = a.steps.iter().find(|s| s.id == sb.id);
            let prompt_a = sa.map_or(0, |s| s.tokens.prompt);
            StepChange {
                id: sb.id.clone(),
                settings_changed: sa.map_or_else(Vec::new, |sa| setting_changes(sa, sb)),
                settings: Change {
                    a: sa.map_or_else(|| "-".into(), describe_settings),
                    b: describe_settings(sb),
                },
                prompt_tokens: Change {
                    a: prompt_a,
                    b: sb.tokens.prompt,
                },
                prompt_tokens_delta: sb.tokens.prompt as i64 - prompt_a as i64,
                cost_usd: Change {
                    a: sa.and_then(|s| s.cost(a.price)),
                    b: sb.cost(b.price),
                },
            }
        })
        .collect();
    // A missing final newline is not a change worth a diff line.
    let text = |r: &Option<String>| {
        let mut t = r.clone().unwrap_or_default();
        if !t.is_empty() && !t.ends_with('\n') {
            t.push('\n');
        }
        t
    };
    let (ra, rb) = (text(&a.report), text(&b.report));
    let report_diff = if ra == rb {
        String::new()
    } else {
        similar::TextDiff::from_lines(&ra, &rb)
            .unified_diff()
            .context_radius(2)
            .header(&a.id, &b.id)
            .to_string()
    };
    RunDiff {
        a: a.id.clone(),
        b: b.id.clone(),
        steps,
        prompt_tokens: Change {
            a: a.totals.prompt_tokens,
            b: b.totals.prompt_tokens,
        },
        prompt_tokens_delta: b.totals.prompt_tokens as i64 - a.totals.prompt_tokens as i64,
        cost_usd: Change {
            a: a.totals.cost_usd,
            b: b.totals.cost_usd,
        },
        facts_retained: Change {
            a: a.facts.retained,
            b: b.facts.retained,
        },
        facts_lost,
        facts_regained,
        report_diff,
    }
}

fn setting_changes(a: &StepRecord, b: &StepRecord) -> Vec<String> {
    let (a, b) = (&a.settings, &b.settings);
    let mut out = Vec::new();
    if a.budget != b.budget {
        out.push(format!("budget {} → {}", a.budget, b.budget));
    }
    if a.strategy != b.strategy {
        out.push(format!("strategy {} → {}", a.strategy, b.strategy));
    }
    let keys: std::collections::BTreeSet<&String> =
        a.priority_overrides.keys().chain(b.priority_overrides.keys()).collect();
    for k in keys {
        let (pa, pb) = (a.priority_overrides.get(k), b.priority_overrides.get(k));
        if pa != pb {
            let show = |p: Option<&Priority>| p.map_or("flow's", |p| p.as_str());
            out.push(format!("{k} {} → {}", show(pa), show(pb)));
        }
    }
    out
}

fn describe_settings(s: &StepRecord) -> String {
    let s = &s.settings;
    let mut out = format!("{} · {}", s.budget, s.strategy);
    for (k, p) in &s.priority_overrides {
        out.push_str(&format!(" · {k} {}", p.as_str()));
    }
    out
}

impl RunDiff {
    /// The comparison as text lines: totals, steps, facts, then the report diff.
    pub fn lines(&self) -> Vec<String> {
        let usd = |c: Option<f64>| c.map_or("n/a".into(), |c| format!("${c:.5}"));
        let mut out = vec![
            format!("{} → {}", self.a, self.b),
            format!(
                "prompt tokens {} → {} ({:+}) · cost {} → {} · critical facts retained {} → {}",
                self.prompt_tokens.a,
                self.prompt_tokens.b,
                self.prompt_tokens_delta,
                usd(self.cost_usd.a),
                usd(self.cost_usd.b),
                self.facts_retained.a,
                self.facts_retained.b
            ),
            String::new(),
            format!(
                "{:<24} {:>8} {:>8} {:>7}  {:>11} {:>11}  CHANGED",
                "STEP", "TOKENS A", "TOKENS B", "DELTA", "COST A", "COST B"
            ),
        ];
        for s in &self.steps {
            let settings = s.settings_changed.join(", ");
            out.push(format!(
                "{:<24} {:>8} {:>8} {:>+7}  {:>11} {:>11}  {settings}",
                s.id,
                s.prompt_tokens.a,
                s.prompt_tokens.b,
                s.prompt_tokens_delta,
                usd(s.cost_usd.a),
                usd(s.cost_usd.b)
            ));
        }
        out.push(String::new());
        if self.facts_lost.is_empty() && self.facts_regained.is_empty() {
            out.push("No critical fact lost or regained.".into());
        }
        out.extend(self.facts_lost.iter().map(|f| format!("lost:     {f}")));
        out.extend(self.facts_regained.iter().map(|f| format!("regained: {f}")));
        out.push(String::new());
        if self.report_diff.is_empty() {
            out.push("The reports are the same.".into());
        } else {
            out.push("Report diff:".into());
            out.extend(self.report_diff.lines().map(str::to_string));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, at: u64) -> RunRecord {
        RunRecord {
            id: id.into(),
            recorded_at_ms: at,
            flow: "f".into(),
            status: RunState::Completed,
            data: "d.csv".into(),
            data_ref: String::new(),
            model: "m".into(),
            price: None,
            steps: vec![],
            totals: Totals::of(&[], None),
            facts: FactRetention::check(&[], "", ""),
            critical: vec![],
            report: None,
        }
    }

    #[test]
    fn runs_are_found_by_id_unique_prefix_or_latest() {
        let listing = Listing {
            runs: vec![record("20261125-160754-ab12", 1), record("20261125-160754-ac34", 2)],
            warnings: vec![],
        };
        assert_eq!(listing.find("20261125-160754-ab").unwrap().id, "20261125-160754-ab12");
        assert_eq!(listing.find("latest").unwrap().id, "20261125-160754-ac34");
        assert!(matches!(listing.find("20261125"), Err(HistoryError::Ambiguous { .. })));
        assert!(matches!(listing.find("2027"), Err(HistoryError::NotFound { .. })));
    }

    #[test]
    fn memory_keeps_the_newest() {
        let mut h = History::Memory(Vec::new());
        for i in 0..(KEEP as u64 + 3) {
            h.record(&record(&format!("r{i:04}"), i)).unwrap();
        }
        let runs = h.list().runs;
        assert_eq!(runs.len(), KEEP);
        assert_eq!(runs[0].id, "r0003");
    }
}
