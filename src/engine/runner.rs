//! The engine: an actor task that owns the flow state, runs ready steps concurrently on the
//! blocking pool, and talks only through commands, events and a cloneable snapshot.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::events::{EngineCommand, EngineEvent, RunState, StepStatus};
use crate::cache::{Reference, ResultStore, StoredValue};
use crate::context::{self, ContextInputs, OverBudget, PrunedContext, Tokenizer, Upstream, ledger};
use crate::data::Dataset;
use crate::flow::{ContextSource, Flow, Join, budget_problem};
use crate::llm::{Analyst, AnswerRequest, LlmError, OfflineAnalyst};
use crate::memory::{Memory, Scope};
use crate::settings::StepSettings;
use crate::step_output::{StepContext, StepOutput, ToolRecord};
use crate::tools::{Fact, Rollup, Rows, ToolCall, ToolOutput};

/// How the engine writes answers and counts tokens.
#[derive(Clone)]
pub struct EngineConfig {
    pub analyst: Arc<dyn Analyst>,
    /// Long-term memory: steps' findings are stored, and steps with a `memory` context item
    /// are given the relevant ones.
    pub memory: Option<Arc<Memory>>,
    /// Counts tokens in the configured model's encoding.
    pub tokenizer: Tokenizer,
}

impl EngineConfig {
    /// The offline analyst, counting for `model`.
    pub fn for_model(model: &str) -> Self {
        EngineConfig {
            analyst: Arc::new(OfflineAnalyst),
            memory: None,
            tokenizer: Tokenizer::for_model(model),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig::for_model(&crate::config::Config::default_only().model)
    }
}

/// One step as the front ends see it. Results are held by reference only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepState {
    pub id: String,
    pub status: StepStatus,
    pub cached: bool,
    pub duration_ms: Option<u64>,
    pub output_ref: Option<Reference>,
    pub error: Option<String>,
    /// The downstream step this step's router chose.
    pub route: Option<String>,
    /// What the step runs with next (the flow's, until a `Configure`).
    #[serde(flatten)]
    pub settings: StepSettings,
}

/// A cheap copy of the engine's state for rendering and reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowSnapshot {
    pub flow: String,
    pub dataset: Reference,
    pub run: u64,
    pub state: RunState,
    pub duration_ms: Option<u64>,
    pub steps: Vec<StepState>,
}

impl FlowSnapshot {
    pub fn step(&self, id: &str) -> Option<&StepState> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// The front ends' side of a running engine.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    commands: mpsc::UnboundedSender<EngineCommand>,
    snapshot: watch::Receiver<FlowSnapshot>,
    store: Arc<ResultStore>,
    flow: Arc<Flow>,
}

impl EngineHandle {
    /// Sends a command; false if the engine has shut down.
    pub fn send(&self, command: EngineCommand) -> bool {
        self.commands.send(command).is_ok()
    }

    pub fn snapshot(&self) -> FlowSnapshot {
        self.snapshot.borrow().clone()
    }

    pub fn store(&self) -> &Arc<ResultStore> {
        &self.store
    }

    /// Runs every step and waits for the run to finish; the snapshot as it ended. For front
    /// ends that want one run and its result (headless, benchmarks, tests).
    pub async fn run_to_end(&self, events: &mut mpsc::UnboundedReceiver<EngineEvent>) -> FlowSnapshot {
        self.send(EngineCommand::RunAll);
        while let Some(event) = events.recv().await {
            if matches!(event, EngineEvent::RunFinished { .. }) {
                break;
            }
        }
        self.snapshot()
    }

    /// The step's last output, if it has run.
    pub fn output(&self, step: &str) -> Option<Arc<StepOutput>> {
        let reference = self.snapshot.borrow().step(step)?.output_ref?;
        self.store.peek_step_output(&reference)
    }

    /// The decisions and prompt size a step would get with other settings, without running
    /// it; `None` until the step has run once. Cheap enough for every keypress.
    pub fn what_if(&self, step: &str, settings: &StepSettings) -> Option<Result<PrunedContext, OverBudget>> {
        let def = self.flow.step(self.flow.index_of(step)?);
        Some(self.output(step)?.what_if(def, settings))
    }
}

pub struct Engine;

impl Engine {
    /// Starts the engine on the current tokio runtime. It idles until told to run.
    pub fn spawn(
        flow: Arc<Flow>,
        dataset: Arc<Dataset>,
        store: Arc<ResultStore>,
    ) -> (EngineHandle, mpsc::UnboundedReceiver<EngineEvent>) {
        Self::spawn_with(flow, dataset, store, EngineConfig::default())
    }

    pub fn spawn_with(
        flow: Arc<Flow>,
        dataset: Arc<Dataset>,
        store: Arc<ResultStore>,
        config: EngineConfig,
    ) -> (EngineHandle, mpsc::UnboundedReceiver<EngineEvent>) {
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        store.put(dataset.reference, StoredValue::Dataset(dataset.clone()));
        let steps: Vec<StepState> = flow
            .steps()
            .iter()
            .map(|s| StepState {
                id: s.id.clone(),
                status: StepStatus::Pending,
                cached: false,
                duration_ms: None,
                output_ref: None,
                error: None,
                route: None,
                settings: s.settings(),
            })
            .collect();
        let n = steps.len();
        let actor = Actor {
            flow,
            dataset,
            rollup: SharedRollup::default(),
            store: store.clone(),
            config,
            steps,
            generations: vec![0; n],
            step_tokens: vec![CancellationToken::new(); n],
            run: 0,
            state: RunState::Idle,
            started: Instant::now(),
            duration_ms: None,
            run_token: CancellationToken::new(),
            tasks: JoinSet::new(),
            events: event_tx,
            outbox: Vec::new(),
            ready: Vec::new(),
            snapshot: watch::channel(FlowSnapshot {
                flow: String::new(),
                dataset: Reference::of_bytes(b""),
                run: 0,
                state: RunState::Idle,
                duration_ms: None,
                steps: vec![],
            })
            .0,
        };
        let snapshot_rx = actor.snapshot.subscribe();
        let flow = actor.flow.clone();
        actor.publish();
        tokio::spawn(actor.run(command_rx));
        (
            EngineHandle {
                commands: command_tx,
                snapshot: snapshot_rx,
                store,
                flow,
            },
            event_rx,
        )
    }
}

/// How a step task ended.
enum Outcome {
    Finished {
        output: Arc<StepOutput>,
        reference: Reference,
        cached: bool,
    },
    Failed(String),
    Cancelled,
}

struct Completion {
    step: usize,
    generation: u64,
    duration_ms: u64,
    outcome: Outcome,
}

/// The dataset's rollup, built by the first tool that groups it and shared by the rest.
type SharedRollup = Arc<OnceLock<Option<Rollup>>>;

struct Actor {
    flow: Arc<Flow>,
    dataset: Arc<Dataset>,
    rollup: SharedRollup,
    store: Arc<ResultStore>,
    config: EngineConfig,
    steps: Vec<StepState>,
    /// Bumped whenever a step is (re)scheduled, so late results of an older launch are ignored.
    generations: Vec<u64>,
    step_tokens: Vec<CancellationToken>,
    run: u64,
    state: RunState,
    started: Instant,
    duration_ms: Option<u64>,
    run_token: CancellationToken,
    tasks: JoinSet<Completion>,
    events: mpsc::UnboundedSender<EngineEvent>,
    outbox: Vec<EngineEvent>,
    /// Steps started this round, spawned once its events are out.
    ready: Vec<(usize, u64, StepJob)>,
    snapshot: watch::Sender<FlowSnapshot>,
}

impl Actor {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<EngineCommand>) {
        loop {
            tokio::select! {
                biased;
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    if !self.apply(command) {
                        break;
                    }
                    // Coalesce a burst: apply everything queued before scheduling once.
                    let mut stop = false;
                    while let Ok(command) = commands.try_recv() {
                        if !self.apply(command) {
                            stop = true;
                            break;
                        }
                    }
                    if stop {
                        break;
                    }
                }
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    // Step tasks catch their own panics, so a join error means the runtime is
                    // shutting down.
                    let Ok(completion) = joined else { break };
                    self.complete(completion);
                }
            }
            self.advance();
            self.publish();
            self.flush();
            self.spawn_ready();
        }
        self.run_token.cancel();
        self.tasks.abort_all();
        self.publish();
        self.flush();
    }

    /// Queues an event; it is sent after the snapshot that reflects it is published, so a
    /// front end reading the snapshot on an event never sees an older state.
    fn emit(&mut self, event: EngineEvent) {
        self.outbox.push(event);
    }

    fn flush(&mut self) {
        for event in self.outbox.drain(..) {
            // Nobody listening is fine: the snapshot still carries the state.
            let _ = self.events.send(event);
        }
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.flow.index_of(id)
    }

    /// Applies a command; false means shut down.
    fn apply(&mut self, command: EngineCommand) -> bool {
        match command {
            EngineCommand::RunAll => {
                let all = self.flow.dag.order.clone();
                self.schedule(all);
            }
            EngineCommand::RerunStep(id) => match self.index(&id) {
                Some(i) => {
                    let targets = self.flow.dag.with_descendants(i);
                    self.schedule(targets);
                }
                None => self.reject(format!("no step `{id}` in flow {}", self.flow.name())),
            },
            EngineCommand::Cancel => self.cancel(),
            EngineCommand::Configure { step, settings } => self.configure(&step, settings),
            EngineCommand::Shutdown => {
                self.cancel();
                return false;
            }
        }
        true
    }

    fn reject(&mut self, reason: String) {
        self.emit(EngineEvent::CommandRejected { reason });
    }

    /// Takes a step's new settings whole, or rejects them with the reason and keeps the old.
    fn configure(&mut self, id: &str, mut settings: StepSettings) {
        let Some(i) = self.index(id) else {
            return self.reject(format!("no step `{id}` in flow {}", self.flow.name()));
        };
        if let Some(problem) = budget_problem(settings.budget as i64) {
            return self.reject(format!("step `{id}`: {problem}"));
        }
        let def = self.flow.step(i);
        let default = |key: &str| def.context.iter().find(|c| c.key == key).map(|c| c.priority);
        if let Some(key) = settings.priority_overrides.keys().find(|k| default(k).is_none()) {
            return self.reject(format!("step `{id}` has no context item `{key}`"));
        }
        // An override equal to the flow's priority is no change (nor a new memo key).
        settings.priority_overrides.retain(|k, p| default(k) != Some(*p));
        if self.steps[i].settings != settings {
            self.steps[i].settings = settings;
            self.emit(EngineEvent::SettingsChanged { step: id.to_string() });
        }
    }

    /// Marks `targets` to run, starting a run if none is going.
    fn schedule(&mut self, targets: Vec<usize>) {
        if self.state != RunState::Running {
            self.run += 1;
            self.state = RunState::Running;
            self.started = Instant::now();
            self.duration_ms = None;
            self.run_token = CancellationToken::new();
            let steps = targets.iter().map(|&i| self.steps[i].id.clone()).collect();
            self.emit(EngineEvent::RunStarted { run: self.run, steps });
        }
        for i in targets {
            self.step_tokens[i].cancel();
            self.generations[i] += 1;
            let s = &mut self.steps[i];
            s.status = StepStatus::Pending;
            s.cached = false;
            s.duration_ms = None;
            s.output_ref = None;
            s.error = None;
            s.route = None;
        }
    }

    fn cancel(&mut self) {
        if self.state != RunState::Running {
            return;
        }
        self.run_token.cancel();
        for i in 0..self.steps.len() {
            if !self.steps[i].status.is_terminal() {
                self.generations[i] += 1;
                self.steps[i].status = StepStatus::Cancelled;
                self.emit(EngineEvent::StepCancelled {
                    run: self.run,
                    step: self.steps[i].id.clone(),
                });
            }
        }
        self.finish_run(RunState::Cancelled);
    }

    fn finish_run(&mut self, state: RunState) {
        self.state = state;
        let duration_ms = self.started.elapsed().as_millis() as u64;
        self.duration_ms = Some(duration_ms);
        self.emit(EngineEvent::RunFinished {
            run: self.run,
            state,
            duration_ms,
        });
    }

    fn complete(&mut self, c: Completion) {
        if c.generation != self.generations[c.step] {
            return;
        }
        let run = self.run;
        let s = &mut self.steps[c.step];
        s.duration_ms = Some(c.duration_ms);
        let event = match c.outcome {
            Outcome::Finished {
                output,
                reference,
                cached,
            } => {
                s.status = if cached { StepStatus::Cached } else { StepStatus::Done };
                s.cached = cached;
                s.output_ref = Some(reference);
                s.route = output.route.clone();
                EngineEvent::StepFinished {
                    run,
                    step: s.id.clone(),
                    duration_ms: c.duration_ms,
                    cached,
                    output_ref: reference,
                    prompt_tokens: output.context.pruned.tokens,
                    completion_tokens: output.context.completion_tokens,
                    budget: output.context.pruned.budget,
                }
            }
            Outcome::Failed(error) => {
                s.status = StepStatus::Failed;
                s.error = Some(error.clone());
                EngineEvent::StepFailed {
                    run,
                    step: s.id.clone(),
                    error,
                }
            }
            Outcome::Cancelled => {
                s.status = StepStatus::Cancelled;
                EngineEvent::StepCancelled {
                    run,
                    step: s.id.clone(),
                }
            }
        };
        self.emit(event);
    }

    /// Starts every step whose inputs are ready, skips those that can no longer run, and
    /// ends the run when nothing is left to do.
    fn advance(&mut self) {
        if self.state != RunState::Running {
            return;
        }
        loop {
            let mut changed = false;
            for i in self.flow.dag.order.clone() {
                if self.steps[i].status != StepStatus::Pending {
                    continue;
                }
                match self.readiness(i) {
                    Readiness::Wait => {}
                    Readiness::Ready => {
                        self.start(i);
                        changed = true;
                    }
                    Readiness::Skip(reason) => {
                        self.steps[i].status = StepStatus::Skipped;
                        self.steps[i].error = Some(reason.clone());
                        self.emit(EngineEvent::StepSkipped {
                            run: self.run,
                            step: self.steps[i].id.clone(),
                            reason,
                        });
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        if self.steps.iter().all(|s| s.status.is_terminal()) {
            let failed = self.steps.iter().any(|s| s.status == StepStatus::Failed);
            self.finish_run(if failed { RunState::Failed } else { RunState::Completed });
        }
    }

    fn readiness(&self, i: usize) -> Readiness {
        let upstream = &self.flow.dag.upstream[i];
        if upstream.is_empty() {
            return Readiness::Ready;
        }
        let me = &self.steps[i].id;
        let (mut satisfied, mut waiting, mut blocked) = (0, 0, Vec::new());
        for &u in upstream {
            let up = &self.steps[u];
            match up.status {
                StepStatus::Pending | StepStatus::Running => waiting += 1,
                s if s.succeeded() => {
                    let routed_away = self
                        .flow
                        .step(u)
                        .router
                        .as_ref()
                        .is_some_and(|r| r.targets().any(|t| t == me))
                        && up.route.as_deref() != Some(me);
                    if routed_away {
                        blocked.push(format!(
                            "router of `{}` chose `{}`",
                            up.id,
                            up.route.as_deref().unwrap_or("?")
                        ));
                    } else {
                        satisfied += 1;
                    }
                }
                s => blocked.push(format!("`{}` {}", up.id, s.as_str())),
            }
        }
        match self.flow.step(i).join {
            Join::AllOf if !blocked.is_empty() => Readiness::Skip(blocked.join("; ")),
            Join::AllOf if waiting == 0 => Readiness::Ready,
            Join::AnyOf if satisfied > 0 => Readiness::Ready,
            Join::AnyOf if waiting == 0 => Readiness::Skip(blocked.join("; ")),
            _ => Readiness::Wait,
        }
    }

    fn start(&mut self, i: usize) {
        let def = self.flow.step(i);
        // Earlier steps whose outputs are in this step's context: the `step:<id>` items, or
        // by default the steps it listens to.
        let mut sources: Vec<usize> = def
            .context
            .iter()
            .filter_map(|c| match &c.source {
                ContextSource::Step(id) => self.index(id),
                _ => None,
            })
            .collect();
        if sources.is_empty() {
            sources = self.flow.dag.upstream[i].clone();
        }
        sources.sort_by_key(|s| self.flow.dag.order.iter().position(|o| o == s));
        sources.dedup();
        let inputs: Vec<(String, Reference)> = sources
            .iter()
            .filter_map(|&s| self.steps[s].output_ref.map(|r| (self.steps[s].id.clone(), r)))
            .collect();

        self.steps[i].status = StepStatus::Running;
        self.step_tokens[i] = self.run_token.child_token();
        self.emit(EngineEvent::StepStarted {
            run: self.run,
            step: self.steps[i].id.clone(),
        });
        let job = StepJob {
            flow: self.flow.clone(),
            index: i,
            is_final: self.flow.dag.downstream[i].is_empty(),
            dataset: self.dataset.clone(),
            rollup: self.rollup.clone(),
            store: self.store.clone(),
            config: self.config.clone(),
            inputs,
            settings: self.steps[i].settings.clone(),
            run: self.run,
            events: self.events.clone(),
            token: self.step_tokens[i].clone(),
        };
        // Spawned after this round's events are sent, so a step's own events (progress,
        // cache hits) never arrive before the run's and the step's start.
        self.ready.push((i, self.generations[i], job));
    }

    fn spawn_ready(&mut self) {
        for (i, generation, job) in self.ready.drain(..) {
            self.tasks.spawn_blocking(move || {
                let started = Instant::now();
                let outcome = catch_unwind(AssertUnwindSafe(|| job.execute())).unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    Outcome::Failed(format!("internal error: {message}"))
                });
                Completion {
                    step: i,
                    generation,
                    duration_ms: started.elapsed().as_millis() as u64,
                    outcome,
                }
            });
        }
    }

    fn publish(&self) {
        let snapshot = FlowSnapshot {
            flow: self.flow.name().to_string(),
            dataset: self.dataset.reference,
            run: self.run,
            state: self.state,
            duration_ms: self.duration_ms,
            steps: self.steps.clone(),
        };
        self.snapshot.send_if_modified(|current| {
            if *current == snapshot {
                false
            } else {
                *current = snapshot;
                true
            }
        });
    }
}

enum Readiness {
    Wait,
    Ready,
    Skip(String),
}

/// Everything a step needs to run off the actor, on the blocking pool.
struct StepJob {
    flow: Arc<Flow>,
    index: usize,
    is_final: bool,
    dataset: Arc<Dataset>,
    rollup: SharedRollup,
    store: Arc<ResultStore>,
    config: EngineConfig,
    inputs: Vec<(String, Reference)>,
    settings: StepSettings,
    run: u64,
    events: mpsc::UnboundedSender<EngineEvent>,
    token: CancellationToken,
}

impl StepJob {
    fn emit(&self, event: EngineEvent) {
        let _ = self.events.send(event);
    }

    /// The dataset's rows for `call`, with the rollup by every column the flow's tools
    /// group by when two or more calls group (built by the first that needs it: a run whose
    /// tools all come from the memo never builds it).
    fn rows(&self, call: &ToolCall) -> Rows<'_> {
        let frame = &self.dataset.frame;
        let calls = || self.flow.steps().iter().flat_map(|s| s.tools.iter());
        let grouping = calls().filter(|c| !c.group_keys().is_empty()).count();
        if call.group_keys().is_empty() || grouping < 2 {
            return frame.into();
        }
        let rollup = self.rollup.get_or_init(|| {
            let mut keys: Vec<String> = calls().flat_map(|c| c.group_keys()).collect();
            keys.sort();
            keys.dedup();
            Rollup::build(frame, &keys).ok().flatten()
        });
        Rows {
            frame,
            rollup: rollup.as_ref(),
        }
    }

    /// Long-term memory's hits for this step, when it has a `memory` context item. Insights
    /// about this same dataset are left out: the step's context has them already, exactly.
    fn recall(&self) -> Vec<String> {
        let def = self.flow.step(self.index);
        let wants = def.context.iter().any(|c| c.source == ContextSource::Memory);
        match &self.config.memory {
            Some(memory) if wants => {
                let scope = Scope {
                    exclude_dataset: Some(self.dataset.reference.to_string()),
                    ..Scope::default()
                };
                memory
                    .recall(&def.task, &scope, &self.config.tokenizer)
                    .iter()
                    .map(|h| h.line())
                    .collect()
            }
            _ => vec![],
        }
    }

    /// Stores the step's key findings in long-term memory.
    fn remember(&self, output: &StepOutput) {
        if let Some(memory) = &self.config.memory {
            memory.remember_step(
                self.flow.name(),
                &self.dataset.reference.to_string(),
                &output.step,
                &output.facts,
            );
        }
    }

    /// Everything that determines this step's output.
    fn memo_reference(&self, memory: &[String]) -> Reference {
        let def = serde_json::to_vec(self.flow.step(self.index)).expect("steps serialize");
        let settings = serde_json::to_vec(&(
            &self.settings,
            self.config.tokenizer.encoding,
            self.config.analyst.identity(),
        ))
        .expect("settings serialize");
        let inputs = serde_json::to_vec(&self.inputs).expect("references serialize");
        let data = self.dataset.reference.to_string();
        let memory = memory.join("\n");
        Reference::of_parts([
            b"step/v3".as_slice(),
            &def,
            &settings,
            &inputs,
            data.as_bytes(),
            memory.as_bytes(),
        ])
    }

    fn execute(&self) -> Outcome {
        let def = self.flow.step(self.index);
        let step = def.id.clone();
        let memory = self.recall();
        let memo = self.memo_reference(&memory);
        if let Some(output) = self.store.step_output(&memo) {
            self.remember(&output);
            self.emit(EngineEvent::CacheHit {
                run: self.run,
                step: step.clone(),
                tool: "step".into(),
                reference: memo,
            });
            return Outcome::Finished {
                reference: output.reference(),
                output,
                cached: true,
            };
        }

        let mut records = Vec::new();
        let mut own: Vec<(Reference, Arc<ToolOutput>)> = Vec::new();
        for (k, call) in def.tools.iter().enumerate() {
            if self.token.is_cancelled() {
                return Outcome::Cancelled;
            }
            let label = call.label();
            self.emit(EngineEvent::StepProgress {
                run: self.run,
                step: step.clone(),
                message: format!("{label} ({}/{})", k + 1, def.tools.len()),
            });
            let key = call.memo_reference(&self.dataset.reference);
            let (output, cached) = match self.store.tool_output(&key).filter(|_| call.cacheable()) {
                Some(hit) => {
                    self.emit(EngineEvent::CacheHit {
                        run: self.run,
                        step: step.clone(),
                        tool: label.clone(),
                        reference: key,
                    });
                    (hit, true)
                }
                None => match call.run_on(self.rows(call)) {
                    Ok(out) => {
                        let out: Arc<ToolOutput> = Arc::new(out);
                        self.store.put(key, StoredValue::ToolOutput(out.clone()));
                        (out, false)
                    }
                    Err(e) => return Outcome::Failed(e.to_string()),
                },
            };
            own.push((key, output));
            records.push(ToolRecord {
                label,
                output_ref: key,
                cached,
            });
        }
        if self.token.is_cancelled() {
            return Outcome::Cancelled;
        }
        let mut facts: Vec<Fact> = Vec::new();
        for fact in own.iter().flat_map(|(_, o)| o.facts.iter()) {
            if !facts.iter().any(|f| f.key == fact.key) {
                facts.push(fact.clone());
            }
        }

        let route = match &def.router {
            None => None,
            Some(router) => match facts.iter().find(|f| f.key == router.fact) {
                None => {
                    return Outcome::Failed(format!("router: this step's tools produced no fact `{}`", router.fact));
                }
                Some(fact) => Some(
                    router
                        .routes
                        .iter()
                        .find(|r| r.when.matches(&fact.value))
                        .map_or(router.default.clone(), |r| r.goto.clone()),
                ),
            },
        };

        // Build the context, fit it to the budget, and answer from what is in it.
        let upstream: Vec<(&str, Reference, Arc<StepOutput>)> = self
            .inputs
            .iter()
            .filter_map(|(id, r)| self.store.step_output(r).map(|o| (id.as_str(), *r, o)))
            .collect();
        let upstream_view: Vec<Upstream<'_>> = upstream
            .iter()
            .map(|(id, r, o)| Upstream {
                step: id,
                ..o.as_upstream(*r)
            })
            .collect();
        let tokenizer = &self.config.tokenizer;
        let inputs = ContextInputs {
            step: def,
            dataset: &self.dataset,
            own: &own,
            upstream: &upstream_view,
            memory: &memory,
        };
        let bundle = context::build(&inputs, tokenizer);
        let pruned = match context::prune(&bundle, &self.settings, &def.task, tokenizer) {
            Ok(p) => p,
            Err(e) => return Outcome::Failed(format!("context: {e}")),
        };
        let visible =
            |fs: &[Fact]| -> Vec<Fact> { fs.iter().filter(|f| pruned.facts.contains(&f.key)).cloned().collect() };
        let own_visible = visible(&facts);
        let upstream_visible: Vec<(String, Vec<Fact>)> = upstream
            .iter()
            .map(|(id, _, o)| (id.to_string(), visible(&o.facts)))
            .collect();
        let request = AnswerRequest {
            flow: self.flow.name(),
            step: def,
            is_final: self.is_final,
            messages: pruned.messages(),
            own_facts: &own_visible,
            upstream: upstream_visible
                .iter()
                .map(|(id, f)| (id.as_str(), f.as_slice()))
                .collect(),
        };
        let mut on_text = |text: &str| {
            self.emit(EngineEvent::AnswerDelta {
                run: self.run,
                step: step.clone(),
                text: text.to_string(),
            })
        };
        let answer = match self.config.analyst.answer(&request, &mut on_text, &self.token) {
            Ok(a) => a,
            Err(LlmError::Cancelled) => return Outcome::Cancelled,
            Err(e) => return Outcome::Failed(format!("llm: {e}")),
        };
        let (answer, reported) = (answer.text, answer.reported);
        let answer_facts: Vec<String> = own_visible
            .iter()
            .chain(upstream_visible.iter().flat_map(|(_, f)| f.iter()))
            .filter(|f| ledger::carries(&answer, f))
            .map(|f| f.key.clone())
            .collect();
        let completion_tokens = tokenizer.count(&answer);

        let cached = !records.is_empty() && records.iter().all(|r| r.cached);
        let output = Arc::new(StepOutput {
            step,
            tools: records,
            facts,
            answer,
            answer_facts,
            route,
            analyst: self.config.analyst.identity(),
            reported,
            context: StepContext {
                encoding: tokenizer.encoding,
                bundle,
                pruned,
                completion_tokens,
            },
        });
        let reference = output.reference();
        self.store.put(reference, StoredValue::StepOutput(output.clone()));
        self.store.put_alias(memo, reference);
        self.remember(&output);
        Outcome::Finished {
            output,
            reference,
            cached,
        }
    }
}
