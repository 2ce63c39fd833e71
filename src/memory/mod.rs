//! Long-term memory of insights (the role Mem0 plays in the original design): after a step
//! finishes, its key findings are stored; a later step that declares a `memory` context item
//! gets the few most relevant ones (at most `limit` hits and `max_tokens` tokens) instead of
//! whole earlier results.
//!
//! The default backend is a local SQLite store with full-text search ([`LocalMemory`]);
//! [`Mem0Memory`] talks to a Mem0 server. Memory never stops a run: a failing store is
//! reported as a warning and the run goes on without it.

mod insight;
mod local;
mod mem0;

pub use insight::{Insight, NewInsight, Origin, from_facts, terms};
pub use local::LocalMemory;
pub use mem0::Mem0Memory;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::config::{MemoryBackend, MemorySettings};
use crate::context::Tokenizer;
use crate::secret::ApiKey;
use crate::tools::Fact;

/// The store's file under the data directory.
pub const DATABASE_FILE: &str = "memory.sqlite3";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MemoryError {
    #[error(
        "{}: not a usable memory database ({message}); run `mrflow-tui memory clear` to reset it (this deletes the file)",
        .path.display()
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
    #[error("{url}: {message}")]
    Remote { url: String, message: String },
    #[error("{0}")]
    Config(String),
}

/// Which insights a search may return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub flow: Option<String>,
    pub dataset: Option<String>,
    /// Leave out insights about this dataset (a step already has its own data's findings).
    pub exclude_dataset: Option<String>,
    /// Only insights from this source (any version of it) or from `project`; `None` for
    /// both: every source (the explicit opt-in).
    pub source: Option<String>,
    pub project: Option<String>,
}

impl Scope {
    pub fn admits(&self, i: &Insight) -> bool {
        let in_lane = match (&self.source, &self.project) {
            (None, None) => true,
            (source, project) => {
                source.as_ref().is_some_and(|s| *s == i.source)
                    || project.as_ref().is_some_and(|p| !p.is_empty() && *p == i.project)
            }
        };
        self.flow.as_ref().is_none_or(|f| *f == i.flow)
            && self.dataset.as_ref().is_none_or(|d| *d == i.dataset)
            && self.exclude_dataset.as_ref().is_none_or(|d| *d != i.dataset)
            && in_lane
    }
}

/// A match before the token cap: the insight and how well it matches (higher is better).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub insight: Insight,
    pub relevance: f64,
}

/// A search result: the insight, its final score, and the tokens its line costs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    #[serde(flatten)]
    pub insight: Insight,
    pub score: f64,
    pub tokens: usize,
}

impl Hit {
    /// The line a prompt gets: the insight and where it came from.
    pub fn line(&self) -> String {
        line(&self.insight)
    }
}

/// A recalled insight as a step's prompt shows it: labelled as an earlier finding, with
/// where and when it was found, so no reader takes it for a figure of the data at hand.
fn line(i: &Insight) -> String {
    let data = i.dataset.trim_start_matches("cache://");
    let file = crate::data::source_name(std::path::Path::new(&i.source));
    let day = chrono::DateTime::from_timestamp(i.created, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    format!(
        "- Earlier finding ({} on {file}, data {}, {day}; not this data): {}",
        i.flow,
        &data[..data.len().min(12)],
        i.text
    )
}

/// A store of insights.
pub trait InsightStore: Send + Sync {
    fn describe(&self) -> String;
    /// Stores insights; returns how many were new. The same insight twice is stored once; a
    /// newer value of a metric for a dataset supersedes the older (kept as history).
    fn remember(&self, insights: &[NewInsight], now: i64) -> Result<usize, MemoryError>;
    /// Current insights matching `query` in `scope`, best first, up to `limit`.
    fn candidates(&self, query: &str, scope: &Scope, limit: usize) -> Result<Vec<Candidate>, MemoryError>;
    /// Newest first; with `history`, superseded insights too.
    fn list(&self, history: bool) -> Result<Vec<Insight>, MemoryError>;
    fn forget(&self, id: &str) -> Result<bool, MemoryError>;
    fn clear(&self) -> Result<usize, MemoryError>;
}

/// The memory as the engine and the CLI use it: a backend, the search limits, and the
/// warnings a run reports at its end.
pub struct Memory {
    backend: Box<dyn InsightStore>,
    pub limit: usize,
    pub max_tokens: usize,
    /// The project findings are kept and recalled under (`--project`, `[memory] project`).
    pub project: Option<String>,
    /// Recall from every data source, not only the one at hand and the project's.
    pub across_data: bool,
    warnings: Mutex<Vec<String>>,
}

/// How much a brand-new insight's score is raised over an old one's: mild, so relevance
/// decides and recency only breaks near-ties.
const RECENCY_BOOST: f64 = 0.15;
const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;

fn now() -> i64 {
    crate::clock::now_secs() as i64
}

impl Memory {
    pub fn new(backend: Box<dyn InsightStore>, limit: usize, max_tokens: usize) -> Memory {
        Memory {
            backend,
            limit,
            max_tokens,
            project: None,
            across_data: false,
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// What a step working on `dataset` from `source` may recall: earlier analyses of the
    /// same source (any other version of it) or of the project, or of anything when
    /// `across_data`; never the same dataset (the step has its findings exactly).
    pub fn lane(&self, source: &str, dataset: &str) -> Scope {
        Scope {
            exclude_dataset: Some(dataset.to_string()),
            source: (!self.across_data).then(|| source.to_string()),
            project: self.project.clone().filter(|_| !self.across_data),
            ..Scope::default()
        }
    }

    /// `source, or project NAME`, or `every data source`: what recall reaches, for messages.
    pub fn describe_lane(&self) -> String {
        match (&self.project, self.across_data) {
            (_, true) => "every data source ([memory] across_data = true)".into(),
            (Some(p), false) => format!("the same data source, or project `{p}`"),
            (None, false) => "the same data source (any version of the file)".into(),
        }
    }

    /// The store config.toml's `[memory]` names, under the data directory; a local store
    /// needs one.
    pub fn open_configured(
        config: &crate::config::Config,
        dirs: Option<&crate::dirs::Dirs>,
    ) -> Result<Option<Memory>, MemoryError> {
        match dirs {
            Some(d) => Memory::open(&config.memory, &d.data),
            None if config.memory.backend == MemoryBackend::Local => Err(MemoryError::Config(
                "no data directory for the memory store; set MRFLOW_DATA_DIR".into(),
            )),
            None => Memory::open(&config.memory, Path::new(".")),
        }
    }

    /// The configured memory, or none when `[memory] backend = "off"`.
    pub fn open(settings: &MemorySettings, data_dir: &Path) -> Result<Option<Memory>, MemoryError> {
        let backend: Box<dyn InsightStore> = match settings.backend {
            MemoryBackend::Off => return Ok(None),
            MemoryBackend::Local => Box::new(LocalMemory::open(&data_dir.join(DATABASE_FILE))?),
            MemoryBackend::Mem0 => {
                let key = ApiKey::from_env(&settings.mem0_api_key_env);
                let url = &settings.mem0_base_url;
                if key.is_none() && url.contains("api.mem0.ai") {
                    return Err(MemoryError::Config(format!(
                        "the mem0 memory backend needs an API key for {url}: set {}",
                        settings.mem0_api_key_env
                    )));
                }
                Box::new(Mem0Memory::new(
                    url,
                    &settings.mem0_user_id,
                    key,
                    Duration::from_secs(settings.timeout_seconds.max(1)),
                )?)
            }
        };
        let mut memory = Memory::new(backend, settings.limit, settings.max_tokens);
        memory.project = settings.project.clone().filter(|p| !p.trim().is_empty());
        memory.across_data = settings.across_data;
        Ok(Some(memory))
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Ranked hits: relevance with a mild recency preference, at most `limit` of them and at
    /// most `max_tokens` tokens in all (a hit that would pass the cap is left out and a
    /// smaller one after it may still fit).
    pub fn search(
        &self,
        query: &str,
        scope: &Scope,
        limit: usize,
        max_tokens: usize,
        tokenizer: &Tokenizer,
    ) -> Result<Vec<Hit>, MemoryError> {
        let now = now();
        let mut ranked: Vec<(f64, Insight)> = self
            .backend
            .candidates(query, scope, (limit * 10).max(30))?
            .into_iter()
            .map(|c| {
                let age_days = (now - c.insight.created).max(0) as f64 / 86_400.0;
                let recency = 0.5f64.powf(age_days / RECENCY_HALF_LIFE_DAYS);
                (c.relevance * (1.0 + RECENCY_BOOST * recency), c.insight)
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| b.1.created.cmp(&a.1.created)));
        let mut hits = Vec::new();
        let mut used = 0;
        for (score, insight) in ranked {
            if hits.len() == limit {
                break;
            }
            let tokens = tokenizer.count(&line(&insight));
            if used + tokens > max_tokens {
                continue;
            }
            used += tokens;
            hits.push(Hit { insight, score, tokens });
        }
        Ok(hits)
    }

    /// Hits for a step with the configured limits; a failure becomes a warning.
    pub fn recall(&self, query: &str, scope: &Scope, tokenizer: &Tokenizer) -> Vec<Hit> {
        self.search(query, scope, self.limit, self.max_tokens, tokenizer)
            .unwrap_or_else(|e| {
                self.warn(format!("memory search: {e}"));
                vec![]
            })
    }

    /// Stores a finished step's key findings, under the memory's project; a failure becomes
    /// a warning.
    pub fn remember_step(&self, origin: &Origin, step: &str, facts: &[Fact]) {
        let origin = Origin {
            project: self.project.clone().unwrap_or_default(),
            ..origin.clone()
        };
        let insights = from_facts(&origin, step, facts);
        if insights.is_empty() {
            return;
        }
        if let Err(e) = self.backend.remember(&insights, now()) {
            self.warn(format!("memory: {e}"));
        }
    }

    pub fn remember(&self, insights: &[NewInsight]) -> Result<usize, MemoryError> {
        self.backend.remember(insights, now())
    }

    pub fn list(&self, history: bool) -> Result<Vec<Insight>, MemoryError> {
        self.backend.list(history)
    }

    pub fn forget(&self, id: &str) -> Result<bool, MemoryError> {
        self.backend.forget(id)
    }

    pub fn clear(&self) -> Result<usize, MemoryError> {
        self.backend.clear()
    }

    fn warn(&self, message: String) {
        let mut w = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        // Once per message: a broken store would otherwise say the same for every step.
        if !w.contains(&message) {
            w.push(message);
        }
    }

    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Removes the local store's files (the database and its journal), for `memory clear` on a
/// file that cannot be opened.
pub fn reset_local(data_dir: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let path = data_dir.join(format!("{DATABASE_FILE}{suffix}"));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Encoding;
    use crate::settings::Priority;

    fn store() -> (tempfile::TempDir, Memory) {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalMemory::open(&dir.path().join(DATABASE_FILE)).unwrap();
        (dir, Memory::new(Box::new(local), 3, 500))
    }

    fn fact(key: &str, statement: &str) -> Fact {
        Fact::text(key, Priority::Critical, "v", statement.into())
    }

    fn origin(dataset: &str) -> Origin {
        Origin {
            flow: "f".into(),
            dataset: dataset.into(),
            source: "/data/sales.csv".into(),
            project: String::new(),
        }
    }

    fn tok() -> Tokenizer {
        Tokenizer::new(Encoding::O200kBase)
    }

    #[test]
    fn the_same_insight_twice_is_stored_once_and_newer_values_supersede() {
        let (_d, m) = store();
        let facts = [fact("totals.revenue", "Total revenue: $100")];
        m.remember_step(&origin("cache://a"), "s", &facts);
        m.remember_step(&origin("cache://a"), "s", &facts);
        assert_eq!(m.list(false).unwrap().len(), 1);

        m.remember_step(
            &origin("cache://a"),
            "s",
            &[fact("totals.revenue", "Total revenue: $120")],
        );
        let current = m.list(false).unwrap();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].text, "Total revenue: $120");
        let all = m.list(true).unwrap();
        assert_eq!(all.len(), 2, "the old value is kept as history");
        assert_eq!(all[1].superseded_by.as_deref(), Some(current[0].id.as_str()));
        let hits = m.search("revenue", &Scope::default(), 3, 500, &tok()).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].insight.text, "Total revenue: $120");

        // The same metric on other data is another insight, not a newer value.
        m.remember_step(
            &origin("cache://b"),
            "s",
            &[fact("totals.revenue", "Total revenue: $7")],
        );
        assert_eq!(m.list(false).unwrap().len(), 2);
        // And the old value coming back is current again, not a duplicate.
        m.remember_step(
            &origin("cache://a"),
            "s",
            &[fact("totals.revenue", "Total revenue: $100")],
        );
        assert_eq!(m.list(true).unwrap().len(), 3);
        assert!(m.list(false).unwrap().iter().any(|i| i.text == "Total revenue: $100"));
        assert!(m.take_warnings().is_empty());
    }

    #[test]
    fn search_keeps_to_the_limit_the_token_cap_and_the_scope() {
        let (_d, m) = store();
        let facts: Vec<Fact> = (0..10)
            .map(|i| {
                fact(
                    &format!("k.brand{i}"),
                    &format!("Brand number {i} grew {}", "a lot ".repeat(i)),
                )
            })
            .collect();
        m.remember_step(&origin("cache://a"), "s", &facts);
        let hits = m.search("brand grew", &Scope::default(), 3, 500, &tok()).unwrap();
        assert_eq!(hits.len(), 3);
        let hits = m.search("brand grew", &Scope::default(), 10, 40, &tok()).unwrap();
        assert!(hits.iter().map(|h| h.tokens).sum::<usize>() <= 40);
        assert!(!hits.is_empty());
        let other = Scope {
            exclude_dataset: Some("cache://a".into()),
            ..Scope::default()
        };
        assert!(m.search("brand", &other, 3, 500, &tok()).unwrap().is_empty());
        assert!(m.search("\"", &Scope::default(), 3, 500, &tok()).unwrap().is_empty());
    }

    #[test]
    fn many_connections_creating_one_store_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = path.clone();
                s.spawn(move || {
                    let m = Memory::new(Box::new(LocalMemory::open(&path).unwrap()), 3, 500);
                    for k in 0..5 {
                        m.remember_step(&origin(&format!("cache://{t}")), "s", &[fact(&format!("k.m{k}"), "X")]);
                    }
                    assert!(m.take_warnings().is_empty());
                });
            }
        });
        let m = Memory::new(Box::new(LocalMemory::open(&path).unwrap()), 3, 500);
        assert_eq!(m.list(true).unwrap().len(), 40);
    }

    #[test]
    fn forget_and_clear() {
        let (_d, m) = store();
        m.remember_step(&origin("cache://a"), "s", &[fact("a.x", "A"), fact("b.y", "B")]);
        let id = m.list(false).unwrap()[0].id.clone();
        assert!(m.forget(&id).unwrap());
        assert!(!m.forget(&id).unwrap());
        assert!(!m.forget("not-a-number").unwrap());
        assert_eq!(m.clear().unwrap(), 1);
        assert!(m.list(true).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_file_names_itself_and_the_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        std::fs::write(
            &path,
            b"this is not a database, just some bytes that look nothing like one",
        )
        .unwrap();
        let e = LocalMemory::open(&path).err().unwrap();
        assert!(matches!(e, MemoryError::Corrupt { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{}: not a usable memory database", path.display())),
            "{text}"
        );
        assert!(text.ends_with("run `mrflow-tui memory clear` to reset it (this deletes the file)"));
        reset_local(dir.path()).unwrap();
        assert!(LocalMemory::open(&path).is_ok());
    }
}
