//! The run report: what a run did, as the headless front end prints it. Field names are a
//! stable interface (README documents them); later versions add fields, never rename.

use std::path::PathBuf;

use serde::Serialize;

use super::events::{RunState, StepStatus};
use super::flow::Flow;
use super::runner::FlowSnapshot;
use super::step::ToolRecord;
use crate::cache::{Reference, ResultStore};
use crate::data::Dataset;
use crate::tools::Fact;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub flow: String,
    pub status: RunState,
    pub duration_ms: Option<u64>,
    pub data: DataSummary,
    pub steps: Vec<StepReport>,
    /// The final report as Markdown; null when the last step did not finish.
    pub report: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    pub path: PathBuf,
    pub rows: usize,
    /// The columns in the file's header.
    pub columns: Vec<String>,
    #[serde(rename = "ref")]
    pub reference: Reference,
    pub bytes: u64,
    /// What the loader did beyond reading: derived columns, skipped rows.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: String,
    pub status: StepStatus,
    pub cached: bool,
    pub duration_ms: Option<u64>,
    pub output_ref: Option<Reference>,
    pub error: Option<String>,
    pub route: Option<String>,
    pub tools: Vec<ToolRecord>,
    pub facts: Vec<Fact>,
}

impl RunReport {
    pub fn build(flow: &Flow, dataset: &Dataset, snapshot: &FlowSnapshot, store: &ResultStore) -> RunReport {
        let steps: Vec<StepReport> = snapshot
            .steps
            .iter()
            .map(|s| {
                let output = s.output_ref.and_then(|r| store.step_output(&r));
                StepReport {
                    id: s.id.clone(),
                    status: s.status,
                    cached: s.cached,
                    duration_ms: s.duration_ms,
                    output_ref: s.output_ref,
                    error: s.error.clone(),
                    route: s.route.clone(),
                    tools: output.as_ref().map(|o| o.tools.clone()).unwrap_or_default(),
                    facts: output.as_ref().map(|o| o.facts.clone()).unwrap_or_default(),
                }
            })
            .collect();
        let finals: Vec<String> = flow
            .dag
            .sinks()
            .into_iter()
            .filter_map(|i| snapshot.steps[i].output_ref.and_then(|r| store.step_output(&r)))
            .map(|o| o.answer.clone())
            .collect();
        RunReport {
            flow: flow.name().to_string(),
            status: snapshot.state,
            duration_ms: snapshot.duration_ms,
            data: DataSummary {
                path: dataset.path.clone(),
                rows: dataset.rows(),
                columns: dataset.file_columns.clone(),
                reference: dataset.reference,
                bytes: dataset.file_bytes,
                notes: dataset.notes.clone(),
            },
            steps,
            report: (!finals.is_empty()).then(|| finals.join("\n")),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status == RunState::Completed
    }
}
