//! One session for every front end: what a run needs, assembled once. `run` and the TUI
//! both build a [`Session`] and ask it to load, spawn the engine and finish a run, so
//! neither assembles the store, the load with its baseline preview, the report, the cache
//! totals or the history itself, and a warning reaches each front end the same way.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::cache::{CacheConfig, ResultStore};
use crate::config::{Config, Price};
use crate::context::Tokenizer;
use crate::data::{CannotRun, DataError, Dataset, FrameStore, LoadOptions, Progress, load};
use crate::dirs::Dirs;
use crate::engine::{Engine, EngineConfig, EngineEvent, EngineHandle, FlowSnapshot, Measure, PreviewJob, RunReport};
use crate::flow::{Flow, Verdict};
use crate::history::{History, Listing, RunRecord};
use crate::llm::Analyst;
use crate::memory::Memory;

mod builder;
pub use builder::{MappingOverrides, SessionBuilder, SessionError};

/// What a session is made of, as [`Session::builder`] resolved it.
pub struct SessionParts {
    pub flow: Arc<Flow>,
    pub data: PathBuf,
    pub load: LoadOptions,
    pub model: String,
    pub config: Config,
    pub dirs: Option<Dirs>,
    pub analyst: Arc<dyn Analyst>,
    pub memory: Option<Arc<Memory>>,
    /// Keep results and parsed data in the cache directory (`run --no-cache` says no).
    pub persist: bool,
}

pub struct Session {
    /// What the front end resolved: flow, data file, mapping, model, config, directories,
    /// analyst and memory.
    pub parts: SessionParts,
    pub tokenizer: Tokenizer,
    pub store: Arc<ResultStore>,
    history: Mutex<History>,
    /// The session's own problems (a run that could not be kept), until taken.
    warnings: Mutex<Vec<String>>,
    /// The baseline's preview of the loaded file, being described alongside the run.
    preview: Mutex<Option<PreviewJob>>,
    /// Columns mapped to roles since the session began (the TUI's data popup), over the
    /// mapping it was given, as `--column` would.
    remapped: Mutex<Vec<crate::data::roles::ExplicitColumn>>,
}

impl Session {
    /// Assembles the session and starts loading the model's encoding in the background.
    fn new(parts: SessionParts) -> Session {
        let tokenizer = Tokenizer::for_model(&parts.model);
        crate::context::warm_up(tokenizer.encoding);
        let cache_dir = parts.dirs.as_ref().filter(|_| parts.persist).map(|d| d.cache.clone());
        let store = Arc::new(ResultStore::with_config(CacheConfig::from_settings(
            &parts.config.cache,
            cache_dir,
        )));
        // Every finished run is kept; without a data directory, for this session only.
        let history = match &parts.dirs {
            Some(d) => History::in_data_dir(&d.data),
            None => History::Memory(Vec::new()),
        };
        Session {
            parts,
            tokenizer,
            store,
            history: Mutex::new(history),
            warnings: Mutex::new(Vec::new()),
            preview: Mutex::new(None),
            remapped: Mutex::new(Vec::new()),
        }
    }

    /// Reads `column` as `role` from the next load on, as `--column ROLE=COLUMN` would.
    pub fn map_column(&self, role: &str, column: &str) {
        let mut remapped = self.remapped.lock().unwrap_or_else(|e| e.into_inner());
        remapped.retain(|c| c.role != role);
        remapped.push(crate::data::roles::ExplicitColumn {
            role: role.to_string(),
            column: column.to_string(),
            origin: "the data popup".to_string(),
        });
    }

    /// The columns mapped in this session, role → column.
    pub fn remapped(&self) -> Vec<(String, String)> {
        self.remapped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|c| (c.role.clone(), c.column.clone()))
            .collect()
    }

    /// The model's price, if the pricing table knows it.
    pub fn price(&self) -> Option<Price> {
        self.parts.config.price(&self.parts.model)
    }

    /// How runs are measured: the model's encoding, prices and cache rules.
    pub fn measure(&self) -> Measure<'_> {
        let config = &self.parts.config;
        Measure {
            model: &self.parts.model,
            tokenizer: self.tokenizer,
            price: self.price(),
            cache_rule: config.cache_rule(&self.parts.model),
            counts_exact: config.counts_exact(&self.parts.model),
        }
    }

    /// Loads the data file for the flow, the parsed frame from the cache's disk tier when
    /// this file was parsed before. The same parse is described for the baseline on a
    /// thread of its own while the flow runs ([`Session::finish_run`] waits for it), so the
    /// file is read once. `progress` hears how far the load has got.
    pub fn load_dataset(&self, progress: Progress) -> Result<Arc<Dataset>, DataError> {
        let mut preview = PreviewJob::default();
        let frames = self.store.disk().map(|d| d as &dyn FrameStore);
        // Every role the flow's tools read is asked for when available; what runs is
        // decided once the file's roles are known.
        let flow = &self.parts.flow;
        let mut options = LoadOptions {
            progress,
            optional: flow.required_columns().into_iter().map(String::from).collect(),
            ..self.parts.load.clone()
        };
        options
            .columns
            .extend(self.remapped.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned());
        // A warehouse describes its table for the baseline by statements of its own, on the
        // server beside the load's group-by; a cancelled load stops them too.
        let warehouse = crate::data::warehouse::is_warehouse(&self.parts.data);
        if warehouse {
            let (source, progress) = (self.parts.data.clone(), options.progress.clone());
            preview.describe_with(move || {
                let figures = crate::data::warehouse::describe_table(&source, progress.get()).ok()?;
                Some(crate::context::pandas::describe_figures(&figures))
            });
        }
        let loaded = load(&self.parts.data, &[], &options, frames, Some(&mut preview.observer()));
        let mut dataset = match loaded {
            Ok(dataset) => dataset,
            Err(e) => {
                if let (true, Some(p)) = (warehouse, options.progress.get()) {
                    p.cancel();
                }
                return Err(e);
            }
        };
        let coverage = flow.coverage(&|role| dataset.has(role));
        match coverage.verdict() {
            Verdict::Runs => {}
            Verdict::Partly { mut notes } => {
                // What would run the rest, where a column could serve.
                let dropped: Vec<&String> = coverage.steps.iter().flat_map(|s| s.missing.iter()).collect();
                notes.extend(
                    dataset
                        .profile
                        .unavailable
                        .iter()
                        .filter(|m| dropped.contains(&&m.name))
                        .filter_map(|m| {
                            m.suggestion()
                                .map(|fix| format!("{fix} would run what needs `{}`", m.name))
                        }),
                );
                dataset.notes.extend(notes.iter().cloned());
                dataset.profile.notes.extend(notes);
            }
            Verdict::Cannot { needs } => {
                let available = dataset.profile.available_roles();
                let runs_instead = crate::flow::BUILTIN_FLOWS
                    .iter()
                    .filter_map(|(name, _)| Flow::builtin(name))
                    .filter(|f| f.name() != flow.name())
                    .filter_map(|f| match f.coverage(&|r| available.contains(r)).verdict() {
                        Verdict::Runs => Some(f.name().to_string()),
                        Verdict::Partly { .. } => Some(format!("{} (partly)", f.name())),
                        Verdict::Cannot { .. } => None,
                    })
                    .collect();
                let missing = dataset
                    .profile
                    .unavailable
                    .iter()
                    .filter(|m| needs.contains(&m.name))
                    .cloned()
                    .collect();
                return Err(DataError::CannotRun(Box::new(CannotRun {
                    // The dataset's, not the argument's: a warehouse URL may hold a password.
                    path: dataset.path.clone(),
                    flow: flow.name().to_string(),
                    missing,
                    found: dataset.file_columns.join(", "),
                    runs_instead,
                    profile: Some(Box::new(dataset.profile.clone())),
                })));
            }
        }
        preview.start(&dataset.reference);
        *self.preview.lock().unwrap_or_else(|e| e.into_inner()) = Some(preview);
        Ok(Arc::new(dataset))
    }

    /// The engine for `dataset`, on the current tokio runtime.
    pub fn spawn_engine(&self, dataset: Arc<Dataset>) -> (EngineHandle, UnboundedReceiver<EngineEvent>) {
        Engine::spawn_with(
            self.parts.flow.clone(),
            dataset,
            self.store.clone(),
            self.engine_config(),
        )
    }

    /// What the engine runs with: the session's analyst, memory, encoding and answer policy.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            analyst: self.parts.analyst.clone(),
            memory: self.parts.memory.clone(),
            tokenizer: self.tokenizer,
            answer_policy: self.parts.config.llm.answer_check,
        }
    }

    /// The run's report as it stands, measured against the baseline (waiting for the
    /// baseline's preview of the file if it is still being described).
    pub fn report(&self, dataset: &Dataset, snapshot: &FlowSnapshot) -> RunReport {
        let pending = self.preview.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(job) = pending {
            job.finish(&self.store);
        }
        RunReport::build(&self.parts.flow, dataset, snapshot, &self.store, &self.measure())
    }

    /// The report of a finished run; the run's cache counters are added to `cache stats`
    /// and the run is kept in the history.
    pub fn finish_run(&self, dataset: &Dataset, snapshot: &FlowSnapshot) -> RunReport {
        let report = self.report(dataset, snapshot);
        report.record_cache_totals(&self.store);
        let record = RunRecord::of(&report, &self.parts.flow, self.price(), crate::clock::now_ms());
        let kept = match self.history.lock() {
            Ok(mut h) => h.record(&record).map_err(|e| e.to_string()),
            Err(_) => Err("the run history is unavailable".into()),
        };
        if let Err(e) = kept {
            self.own_warnings().push(e);
        }
        report
    }

    /// Problems met since the last call, for the front end to say: a corrupt or unwritable
    /// cache file, memory that failed, a run that could not be kept.
    pub fn take_warnings(&self) -> Vec<String> {
        let mut all = self.store.take_warnings();
        all.extend(self.parts.analyst.take_warnings());
        if let Some(m) = &self.parts.memory {
            all.extend(m.take_warnings());
        }
        all.append(&mut self.own_warnings());
        all
    }

    /// The runs kept, oldest first.
    pub fn runs(&self) -> Listing {
        self.history.lock().map(|h| h.list()).unwrap_or_default()
    }

    /// Writes the run's report and ledger to `<data dir>/exports/<flow>-<UTC time>.{md,json}`;
    /// the name without its extension, and the directory.
    pub fn export(&self, dataset: &Dataset, snapshot: &FlowSnapshot) -> Result<(String, PathBuf), String> {
        let dirs = self
            .parts
            .dirs
            .as_ref()
            .ok_or("no data directory; set MRFLOW_DATA_DIR")?;
        let dir = dirs.data.join("exports");
        std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let report = self.report(dataset, snapshot);
        // A name a person can read and sort: `roi_analysis-2026-12-06T19-10-45`.
        let name = format!(
            "{}-{}",
            self.parts.flow.name(),
            crate::clock::utc(crate::clock::now_ms(), "%Y-%m-%dT%H-%M-%S")
        );
        let base = dir.join(&name);
        let md = base.with_extension("md");
        let json = base.with_extension("json");
        crate::private_file::write(&md, report.report.clone().unwrap_or_default())
            .map_err(|err| format!("{}: {err}", md.display()))?;
        let text = serde_json::to_string_pretty(&report).map_err(|err| err.to_string())?;
        crate::private_file::write(&json, text).map_err(|err| format!("{}: {err}", json.display()))?;
        Ok((name, dir))
    }

    /// Writes the flow with `settings` (each step's, in order) and the columns mapped in
    /// this session as `<config dir>/flows/<name>.toml`; its path.
    pub fn save_tuned_flow<'a>(
        &self,
        settings: impl IntoIterator<Item = &'a crate::settings::StepSettings>,
    ) -> Result<PathBuf, String> {
        let dirs = self
            .parts
            .dirs
            .as_ref()
            .ok_or("no config directory; set MRFLOW_CONFIG_DIR")?;
        let flow = &self.parts.flow;
        let def = flow.def.tuned(settings, self.remapped());
        let text = toml::to_string(&def).map_err(|e| e.to_string())?;
        let dir = dirs.config.join("flows");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{}.toml", def.name));
        let header = format!(
            "# {} with budgets and priorities tuned in mrflow-tui (from {}).\n",
            def.name, flow.origin
        );
        crate::private_file::write(&path, header + &text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    fn own_warnings(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.warnings.lock().unwrap_or_else(|e| e.into_inner())
    }
}
