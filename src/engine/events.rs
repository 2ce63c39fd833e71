//! What the engine says (events) and what it takes (commands). Both are plain data so any
//! front end (headless, TUI, tests) can drive the same engine.

use serde::Serialize;
use strum::IntoStaticStr;

use crate::reference::Reference;
use crate::settings::StepSettings;

/// Lifecycle of one step in the current run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    /// Finished by computing.
    Done,
    /// Finished from memoized results.
    Cached,
    Failed,
    Cancelled,
    /// Not run: a router chose another branch, or what it waited for failed.
    Skipped,
}

impl StepStatus {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }

    /// Finished with a usable output.
    pub fn succeeded(&self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::Cached)
    }

    pub fn is_terminal(&self) -> bool {
        !matches!(self, StepStatus::Pending | StepStatus::Running)
    }
}

/// State of the engine as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunState {
    Idle,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunState {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    RunStarted {
        run: u64,
        steps: Vec<String>,
    },
    StepStarted {
        run: u64,
        step: String,
    },
    StepProgress {
        run: u64,
        step: String,
        message: String,
    },
    /// Text of a step's answer as the model writes it (streamed backends send many).
    AnswerDelta {
        run: u64,
        step: String,
        text: String,
    },
    CacheHit {
        run: u64,
        step: String,
        tool: String,
        reference: Reference,
    },
    StepFinished {
        run: u64,
        step: String,
        duration_ms: u64,
        cached: bool,
        output_ref: Reference,
        /// Exact tokens of the step's prompt and answer, and its budget.
        prompt_tokens: usize,
        completion_tokens: usize,
        budget: u32,
    },
    StepFailed {
        run: u64,
        step: String,
        error: String,
    },
    StepSkipped {
        run: u64,
        step: String,
        reason: String,
    },
    StepCancelled {
        run: u64,
        step: String,
    },
    RunFinished {
        run: u64,
        state: RunState,
        duration_ms: u64,
    },
    SettingsChanged {
        step: String,
    },
    /// A command that could not be applied, and why.
    CommandRejected {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineCommand {
    /// Run every step.
    RunAll,
    /// Rerun one step and everything downstream of it.
    RerunStep(String),
    /// Stop the current run; running steps end as cancelled.
    Cancel,
    /// Give a step new settings for its next run; rejected (with a `CommandRejected`) if
    /// the budget is out of range or an override names no context item of the step.
    Configure {
        step: String,
        settings: StepSettings,
    },
    Shutdown,
}
