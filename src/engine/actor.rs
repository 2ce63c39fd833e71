//! The actor: one task that owns the flow's state, applies commands, schedules ready steps
//! on the blocking pool, and publishes a snapshot before each batch of events.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::events::{EngineCommand, EngineEvent, RunState, StepStatus};
use super::handle::{EngineConfig, FlowSnapshot, StepState};
use super::step_job::{Outcome, SharedRollup, StepJob};
use crate::cache::ResultStore;
use crate::data::Dataset;
use crate::flow::{ContextSource, Flow, Join, budget_problem};
use crate::reference::Reference;
use crate::settings::StepSettings;

/// A step task's end, tagged with the launch it belongs to.
struct Completion {
    step: usize,
    generation: u64,
    duration_ms: u64,
    outcome: Outcome,
}

pub(super) struct Actor {
    flow: Arc<Flow>,
    dataset: Arc<Dataset>,
    rollup: SharedRollup,
    store: Arc<ResultStore>,
    config: EngineConfig,
    steps: Vec<StepState>,
    /// Bumped whenever a step is (re)scheduled, so late results of an older launch are ignored.
    generations: Vec<u64>,
    step_tokens: Vec<CancellationToken>,
    /// Steps skipped because the data lacks what their tools need: their listeners run
    /// without them, as they would after a step with nothing to say.
    unavailable: Vec<bool>,
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
    pub(super) fn new(
        flow: Arc<Flow>,
        dataset: Arc<Dataset>,
        store: Arc<ResultStore>,
        config: EngineConfig,
        events: mpsc::UnboundedSender<EngineEvent>,
    ) -> Actor {
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
            store,
            config,
            steps,
            generations: vec![0; n],
            step_tokens: vec![CancellationToken::new(); n],
            unavailable: vec![false; n],
            run: 0,
            state: RunState::Idle,
            started: Instant::now(),
            duration_ms: None,
            run_token: CancellationToken::new(),
            tasks: JoinSet::new(),
            events,
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
        actor.publish();
        actor
    }

    /// A receiver of every snapshot the actor publishes, starting with the current one.
    pub(super) fn subscribe(&self) -> watch::Receiver<FlowSnapshot> {
        self.snapshot.subscribe()
    }

    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<EngineCommand>) {
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
            self.unavailable[i] = false;
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
            Outcome::Unavailable(reason) => {
                s.status = StepStatus::Skipped;
                s.error = Some(reason.clone());
                self.unavailable[c.step] = true;
                EngineEvent::StepSkipped {
                    run,
                    step: s.id.clone(),
                    reason,
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
                StepStatus::Skipped if self.unavailable[u] => satisfied += 1,
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
                    let message = crate::format::panic_message(panic.as_ref());
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
