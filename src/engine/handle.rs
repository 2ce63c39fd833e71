//! The engine's public face: how it is configured and started, the handle front ends hold,
//! and the snapshot of its state they render.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::actor::Actor;
use super::events::{EngineCommand, EngineEvent, RunState, StepStatus};
use crate::cache::{ResultStore, StoredValue};
use crate::context::{OverBudget, PrunedContext, Tokenizer};
use crate::data::Dataset;
use crate::flow::Flow;
use crate::llm::{Analyst, OfflineAnalyst};
use crate::memory::Memory;
use crate::reference::Reference;
use crate::settings::StepSettings;
use crate::step_output::StepOutput;

/// How the engine writes answers and counts tokens.
#[derive(Clone)]
pub struct EngineConfig {
    pub analyst: Arc<dyn Analyst>,
    /// Long-term memory: steps' findings are stored, and steps with a `memory` context item
    /// are given the relevant ones.
    pub memory: Option<Arc<Memory>>,
    /// Counts tokens in the configured model's encoding.
    pub tokenizer: Tokenizer,
    /// What follows an answer the fact check flags.
    pub answer_policy: crate::config::AnswerPolicy,
}

impl EngineConfig {
    /// The offline analyst, counting for `model`.
    pub fn for_model(model: &str) -> Self {
        EngineConfig {
            analyst: Arc::new(OfflineAnalyst),
            memory: None,
            tokenizer: Tokenizer::for_model(model),
            answer_policy: crate::config::AnswerPolicy::default(),
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
        let actor = Actor::new(flow.clone(), dataset, store.clone(), config, event_tx);
        let snapshot = actor.subscribe();
        tokio::spawn(actor.run(command_rx));
        (
            EngineHandle {
                commands: command_tx,
                snapshot,
                store,
                flow,
            },
            event_rx,
        )
    }
}
