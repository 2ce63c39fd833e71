//! The TUI's state and its pure `update`: actions in, state changes and effects out. No
//! terminal here, so every interaction is unit-tested as an action sequence.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strum::VariantArray;

pub use super::action::{Action, Message};
pub use super::popups::Popup;
use super::popups::{self, BudgetInput, ConfirmEvict, DataMapping, Help, History, Inspector, StepDetail};
use crate::cache::EntryInfo;
use crate::context::{ItemDecision, PrunedContext};
use crate::engine::{EngineCommand, EngineEvent, FlowSnapshot, RunState, StepStatus};
use crate::flow::{BUDGET_RANGE, Flow};
use crate::reference::Reference;
use crate::settings::{Priority, StepSettings};
use crate::step_output::StepOutput;

/// The panes, in focus order, which is their reading order on the grid (Flow and Context
/// above, Budgets and Cache below; `1`-`4`). The report is the fifth: a column of its own
/// on a wide screen, else it fills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantArray)]
#[serde(rename_all = "snake_case")]
pub enum Pane {
    Flow,
    Context,
    Budgets,
    Cache,
    Report,
}

impl Pane {
    pub fn title(&self) -> &'static str {
        self.into()
    }

    /// The actions that matter here: the footer's hints and the first part of help.
    pub fn actions(&self) -> &'static [Action] {
        match self {
            Pane::Flow => &[
                Action::Down,
                Action::Open,
                Action::RerunStep,
                Action::RerunAll,
                Action::Cancel,
                Action::BudgetUp,
                Action::StrategyNext,
            ],
            Pane::Budgets => &[
                Action::BudgetUp,
                Action::BudgetDown,
                Action::EditBudget,
                Action::StrategyNext,
                Action::RerunStep,
            ],
            Pane::Cache => &[Action::Open, Action::Evict, Action::SortCache, Action::Filter],
            Pane::Report => &[Action::Down, Action::PageDown, Action::Zoom],
            Pane::Context => &[
                Action::PriorityNext,
                Action::PriorityPrev,
                Action::TogglePrompt,
                Action::Filter,
                Action::Memory,
                Action::RerunStep,
            ],
        }
    }
}

/// The variant after (`forward`) or before `value` in declaration order, wrapping around:
/// focus order, sort order, strategies and priorities all cycle this way.
fn cycled<T: VariantArray + PartialEq + Copy>(value: T, forward: bool) -> T {
    let n = T::VARIANTS.len();
    let i = T::VARIANTS.iter().position(|v| *v == value).unwrap_or(0);
    T::VARIANTS[if forward { (i + 1) % n } else { (i + n - 1) % n }]
}

/// The variant after (`forward`) or before `value`, stopping at the ends: priorities step
/// this way, so promoting a critical item never turns it optional.
fn stepped<T: VariantArray + PartialEq + Copy>(value: T, forward: bool) -> Option<T> {
    let i = T::VARIANTS.iter().position(|v| *v == value)?;
    let j = if forward { i.checked_add(1) } else { i.checked_sub(1) }?;
    T::VARIANTS.get(j).copied()
}

/// What `update` asks the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Engine(EngineCommand),
    /// Read `column` as `role` (as `--column` would), reload the data and run again.
    Remap {
        role: String,
        column: String,
    },
    /// Re-prune the step's last context with the tuned settings.
    WhatIf {
        step: usize,
        settings: StepSettings,
    },
    Inspect(Reference),
    /// Stop the load: a warehouse's query is cancelled on the server.
    CancelLoad,
    /// Show long-term memory as the step sees it.
    Memory(usize),
    Evict(Reference),
    RefreshCache,
    Export,
    SaveOverrides,
    /// Read the run history.
    History,
    /// Read the newest eval of the flow.
    Evals,
}

/// A finished step as the panes show it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub context: PrunedContext,
    /// Its answer, facts, tool calls, route and the usage a server reported.
    pub output: Arc<StepOutput>,
}

/// The run measured against the baseline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LedgerView {
    /// Baseline prompt tokens per step, in flow order.
    pub baseline: Vec<usize>,
    pub prompt_tokens: usize,
    pub baseline_tokens: usize,
    pub reduction_pct: f64,
    pub cost_usd: Option<f64>,
    pub baseline_cost_usd: Option<f64>,
    /// Costs with the provider's prompt cache counted on both sides.
    pub cost_cached_usd: Option<f64>,
    pub baseline_cost_cached_usd: Option<f64>,
    /// Prompt tokens the server said it served from its cache, per step in flow order.
    pub cached_reported: Vec<Option<usize>>,
    pub facts_retained: usize,
    pub facts_critical: usize,
    /// The final report as Markdown, when the last step finished.
    pub report: Option<String>,
    /// Values of the critical facts, as written (`$258,663`), to find in the report.
    pub critical_values: Vec<String>,
    /// Statements of the critical facts the report lacks.
    pub missing: Vec<String>,
    /// The counts are o200k estimates for a model with its own tokenizer (shown `~1,502`).
    pub estimated: bool,
    /// The monthly revenue and its forecast, when the run made one: drawn above the report.
    pub chart: Option<ForecastChart>,
}

/// A column of the data file as the data popup lists it for mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataColumn {
    pub name: String,
    /// `text`, `number`, `date`…
    pub kind: String,
    pub role: Option<String>,
}

/// The roles a column can be given in the data popup: dimensions first (the usual fix),
/// then measures and dates; the last choice leaves the column unmapped.
pub fn pickable_roles() -> Vec<&'static str> {
    let mut roles: Vec<&'static str> = crate::data::roles::DIMENSION_ROLES.to_vec();
    roles.extend(
        crate::data::roles::roles()
            .filter(|r| !roles.contains(r))
            .collect::<Vec<_>>(),
    );
    roles
}

/// Monthly revenue, oldest first, then the forecast with its backtest error as a band.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ForecastChart {
    pub history: Vec<(String, f64)>,
    pub forecast: Vec<(String, f64)>,
    /// Mean absolute percentage error of the backtest: the band is the forecast ± this.
    pub mape_pct: f64,
    pub method: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum CacheSort {
    #[default]
    Newest,
    Size,
    Hits,
    Kind,
}

impl CacheSort {
    pub fn label(&self) -> &'static str {
        self.into()
    }
}

/// Where the data stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Loading,
    Ready,
    Failed(String),
}

/// Screen regions from the last draw, for mouse hit-testing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
}

impl Rect {
    pub fn contains(&self, column: u16, row: u16) -> bool {
        column >= self.x && column < self.x + self.width && row >= self.y && row < self.y + self.height
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hitboxes {
    pub panes: Vec<(Pane, Rect)>,
    /// Flow graph node boxes by step index.
    pub nodes: Vec<(usize, Rect)>,
    /// First row of each pane's list (after borders and headers).
    pub list_top: Vec<(Pane, u16)>,
}

/// What the TUI holds of one step, beside what the engine's snapshot says of it.
#[derive(Debug, Clone)]
pub struct StepUi {
    /// The last run's output and the context it was given, once the step has run.
    pub view: Option<StepView>,
    /// The settings as tuned here: the next run applies them.
    pub tuning: StepSettings,
    /// The pruning of `tuning` over the last run's context, once back: a what-if until
    /// the step reruns.
    pub what_if: Option<Result<PrunedContext, String>>,
    /// The answer as it streams in, until the output is stored.
    pub stream: String,
}

/// The data as the TUI knows it.
#[derive(Debug, Clone)]
pub struct DataView {
    /// How the header names it: the file, its size and rows.
    pub label: String,
    /// The data popup's lines (empty while loading).
    pub lines: Vec<String>,
    /// The file's columns, for mapping them in the data popup.
    pub columns: Vec<DataColumn>,
    /// The load's progress while the data loads: bytes read, the file's size, the stage.
    pub progress: Option<(u64, u64, crate::data::Stage)>,
    /// When the load began: the header shows the time it has taken.
    pub load_started: std::time::Instant,
}

/// The Cache pane's list: the entries as last read, their order, the selected row, and
/// the case-insensitive text it is narrowed to (reference, kind, producer).
#[derive(Debug, Clone, Default)]
pub struct CacheList {
    pub entries: Vec<EntryInfo>,
    pub sort: CacheSort,
    pub row: usize,
    pub filter: String,
}

/// The Context pane: the selected item, or the exact prompt and how far it is scrolled,
/// and the text the items are narrowed to (key, source, priority, decision).
#[derive(Debug, Clone, Default)]
pub struct ContextList {
    pub row: usize,
    pub show_prompt: bool,
    pub prompt_scroll: u16,
    pub filter: String,
}

/// Everything the screen shows, by concept; `update` is the only writer.
pub struct AppState {
    pub flow: Arc<Flow>,
    pub data: DataView,
    pub phase: Phase,
    pub snapshot: Option<FlowSnapshot>,
    /// One per step of the flow, in its order.
    pub steps: Vec<StepUi>,
    /// The selected step.
    pub step: usize,
    pub ledger: Option<LedgerView>,
    /// The model's prompt-cache rules, for what of a stable prefix a cache would keep.
    pub cache_rule: crate::models::CacheRule,
    pub cache_list: CacheList,
    pub context_list: ContextList,
    pub focus: Pane,
    /// The focused pane fills the screen.
    pub zoom: bool,
    pub report_scroll: u16,
    /// The pane whose filter is being typed.
    pub editing_filter: Option<Pane>,
    pub popup: Option<Popup>,
    pub status: String,
    pub spinner: usize,
    /// When the current run began: the header shows elapsed time.
    pub run_started: Option<std::time::Instant>,
    pub hitboxes: Hitboxes,
    pub quit: bool,
}

impl AppState {
    pub fn new(flow: Arc<Flow>, data_label: String) -> Self {
        let steps = flow
            .steps()
            .iter()
            .map(|def| StepUi {
                view: None,
                tuning: def.settings(),
                what_if: None,
                stream: String::new(),
            })
            .collect();
        AppState {
            flow,
            data: DataView {
                label: data_label,
                lines: Vec::new(),
                columns: Vec::new(),
                progress: None,
                load_started: std::time::Instant::now(),
            },
            phase: Phase::Loading,
            snapshot: None,
            steps,
            step: 0,
            ledger: None,
            cache_rule: Default::default(),
            cache_list: CacheList::default(),
            context_list: ContextList::default(),
            focus: Pane::Flow,
            zoom: false,
            report_scroll: 0,
            editing_filter: None,
            popup: None,
            status: "loading data…".into(),
            spinner: 0,
            run_started: None,
            hitboxes: Hitboxes::default(),
            quit: false,
        }
    }

    fn filter_mut(&mut self, pane: Pane) -> Option<&mut String> {
        match pane {
            Pane::Cache => Some(&mut self.cache_list.filter),
            Pane::Context => Some(&mut self.context_list.filter),
            _ => None,
        }
    }

    /// The selected step's context items the filter lets through.
    pub fn visible_items(&self) -> Vec<&ItemDecision> {
        let needle = self.context_list.filter.to_lowercase();
        self.shown_context(self.step).map_or_else(Vec::new, |c| {
            c.decisions
                .iter()
                .filter(|d| {
                    needle.is_empty()
                        || [
                            d.key.clone(),
                            String::from(d.source.clone()),
                            d.priority.as_str().to_string(),
                            d.decision.as_str().to_string(),
                        ]
                        .iter()
                        .any(|f| f.to_lowercase().contains(&needle))
                })
                .collect()
        })
    }

    /// The pane zoomed to fill the screen, if any (a screen too narrow for the report's
    /// own column also shows it this way).
    pub fn zoomed(&self) -> Option<Pane> {
        self.zoom.then_some(self.focus)
    }

    fn step_index(&self, id: &str) -> Option<usize> {
        self.flow.steps().iter().position(|s| s.id == id)
    }

    pub fn step_id(&self, i: usize) -> &str {
        &self.flow.step(i).id
    }

    pub fn status_of(&self, i: usize) -> StepStatus {
        self.snapshot
            .as_ref()
            .map_or(StepStatus::Pending, |s| s.steps[i].status)
    }

    pub fn run_state(&self) -> RunState {
        self.snapshot.as_ref().map_or(RunState::Idle, |s| s.state)
    }

    pub fn running(&self) -> bool {
        self.run_state() == RunState::Running
    }

    /// The context the panes show for a step: the what-if result when tuned, else the last run.
    pub fn shown_context(&self, i: usize) -> Option<&PrunedContext> {
        match self.what_if_result(i) {
            Some(Ok(p)) => Some(p),
            _ => self.steps[i].view.as_ref().map(|v| &v.context),
        }
    }

    /// Critical facts the last run's prompt of step `i` carried that its what-if would not:
    /// what tuning costs before anything reruns.
    pub fn critical_facts_leaving(&self, i: usize) -> Vec<String> {
        let (Some(Ok(what_if)), Some(view)) = (self.what_if_result(i), self.steps[i].view.as_ref()) else {
            return Vec::new();
        };
        let critical = |key: &str| {
            self.steps.iter().filter_map(|s| s.view.as_ref()).any(|v| {
                v.output
                    .facts
                    .iter()
                    .any(|f| f.key == key && f.priority == Priority::Critical)
            })
        };
        view.context
            .facts
            .iter()
            .filter(|k| !what_if.facts.contains(k) && critical(k))
            .cloned()
            .collect()
    }

    /// The what-if of the step's tuned settings, once it has come back, while they differ
    /// from the last run's.
    pub fn what_if_result(&self, i: usize) -> Option<&Result<PrunedContext, String>> {
        self.steps[i].what_if.as_ref().filter(|_| self.is_stale(i))
    }

    /// A step is stale when its shown output was computed with other settings than the
    /// tuned ones ([`StepOutput::computed_with`]); `r` reruns it.
    pub fn is_stale(&self, i: usize) -> bool {
        let step = &self.steps[i];
        step.view
            .as_ref()
            .is_some_and(|v| !v.output.computed_with(&step.tuning))
    }

    /// Cache entries in the chosen order.
    /// The cache entries the filter lets through, in the chosen order.
    pub fn sorted_cache(&self) -> Vec<&EntryInfo> {
        let needle = self.cache_list.filter.to_lowercase();
        let mut list: Vec<&EntryInfo> = self
            .cache_list
            .entries
            .iter()
            .filter(|e| {
                needle.is_empty()
                    || e.reference.to_string().contains(&needle)
                    || e.kind.as_str().contains(&needle)
                    || e.producer.to_lowercase().contains(&needle)
            })
            .collect();
        match self.cache_list.sort {
            CacheSort::Newest => list.sort_by_key(|e| e.age),
            CacheSort::Size => list.sort_by_key(|e| std::cmp::Reverse(e.bytes)),
            CacheSort::Hits => list.sort_by_key(|e| std::cmp::Reverse(e.hits)),
            CacheSort::Kind => list.sort_by_key(|e| (e.kind, e.producer.clone())),
        }
        list
    }

    fn context_len(&self) -> usize {
        self.visible_items().len()
    }

    pub fn selected_item(&self) -> Option<&ItemDecision> {
        self.visible_items().get(self.context_list.row).copied()
    }

    /// Re-evaluates the selected step after a tuning change: what-if if it differs from the
    /// last run, else back to the run's own result.
    fn retune(&mut self, i: usize) -> Vec<Effect> {
        let t = &self.steps[i].tuning;
        if self.steps[i].view.is_none() {
            self.status = format!(
                "{}: budget {} · {} (applies when it runs)",
                self.step_id(i),
                t.budget,
                t.strategy
            );
        }
        if !self.is_stale(i) {
            self.steps[i].what_if = None;
            return vec![];
        }
        vec![Effect::WhatIf {
            step: i,
            settings: t.clone(),
        }]
    }

    pub(super) fn set_budget(&mut self, budget: i64) -> Vec<Effect> {
        let (lo, hi) = (*BUDGET_RANGE.start() as i64, *BUDGET_RANGE.end() as i64);
        self.steps[self.step].tuning.budget = budget.clamp(lo, hi) as u32;
        self.retune(self.step)
    }

    /// Commands that apply a step's tuning, then rerun `rerun`.
    fn apply_and_rerun(&mut self, rerun: EngineCommand) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (i, t) in self.steps.iter().map(|s| &s.tuning).enumerate() {
            let current = self.snapshot.as_ref().map(|s| &s.steps[i].settings);
            if current != Some(t) {
                effects.push(Effect::Engine(EngineCommand::Configure {
                    step: self.flow.step(i).id.clone(),
                    settings: t.clone(),
                }));
            }
        }
        effects.push(Effect::Engine(rerun));
        effects
    }

    fn move_selection(&mut self, delta: isize) {
        let clamp = |v: usize, len: usize| -> usize {
            if len == 0 {
                0
            } else {
                (v as isize + delta).clamp(0, len as isize - 1) as usize
            }
        };
        match self.focus {
            Pane::Flow | Pane::Budgets => {
                let new = clamp(self.step, self.flow.steps().len());
                if new != self.step {
                    self.step = new;
                    self.context_list.row = 0;
                    self.context_list.prompt_scroll = 0;
                }
            }
            Pane::Cache => self.cache_list.row = clamp(self.cache_list.row, self.sorted_cache().len()),
            Pane::Context if self.context_list.show_prompt => {
                self.context_list.prompt_scroll = (self.context_list.prompt_scroll as isize + delta).max(0) as u16;
            }
            Pane::Context => self.context_list.row = clamp(self.context_list.row, self.context_len()),
            Pane::Report => {
                self.report_scroll = (self.report_scroll as isize + delta).clamp(0, u16::MAX as isize) as u16
            }
        }
    }
}

/// Rows a page key moves a list.
const PAGE: isize = 10;

/// Applies an action; returns what the event loop must do.
pub fn update(state: &mut AppState, action: impl Into<Action>) -> Vec<Effect> {
    let action = action.into();
    // Typing a filter takes characters until Enter keeps it or Esc clears it.
    if let Some(pane) = state.editing_filter {
        let handled = match &action {
            Action::Char(c) => {
                if let Some(f) = state.filter_mut(pane) {
                    f.push(*c);
                }
                true
            }
            Action::Backspace => {
                if let Some(f) = state.filter_mut(pane) {
                    f.pop();
                }
                true
            }
            Action::Open => {
                state.editing_filter = None;
                true
            }
            Action::Close => {
                if let Some(f) = state.filter_mut(pane) {
                    f.clear();
                }
                state.editing_filter = None;
                true
            }
            _ => false,
        };
        if handled {
            state.cache_list.row = 0;
            state.context_list.row = 0;
            return vec![];
        }
    }
    // A popup takes the keys first.
    if let Some(effects) = popups::handle(state, &action) {
        return effects;
    }

    match action {
        Action::Quit => state.quit = true,
        Action::FocusNext => state.focus = cycled(state.focus, true),
        Action::FocusPrev => state.focus = cycled(state.focus, false),
        Action::FocusFlow => state.focus = Pane::Flow,
        Action::FocusBudgets => state.focus = Pane::Budgets,
        Action::FocusCache => state.focus = Pane::Cache,
        Action::FocusContext => state.focus = Pane::Context,
        Action::FocusReport => state.focus = Pane::Report,
        Action::Zoom => state.zoom = !state.zoom,
        Action::Up => state.move_selection(-1),
        Action::Down => state.move_selection(1),
        Action::PageUp => state.move_selection(-PAGE),
        Action::PageDown => state.move_selection(PAGE),
        Action::Top => state.move_selection(-(isize::MAX / 2)),
        Action::Bottom => state.move_selection(isize::MAX / 2),
        Action::BudgetUp => {
            let b = state.steps[state.step].tuning.budget as i64 + 50;
            return state.set_budget(b);
        }
        Action::BudgetDown => {
            let b = state.steps[state.step].tuning.budget as i64 - 50;
            return state.set_budget(b);
        }
        Action::EditBudget => state.popup = Some(Popup::BudgetInput(BudgetInput::default())),
        Action::StrategyNext => {
            let t = &mut state.steps[state.step].tuning;
            t.strategy = cycled(t.strategy, true);
            return state.retune(state.step);
        }
        Action::PriorityNext | Action::PriorityPrev => {
            let Some(item) = state.selected_item().cloned() else {
                state.status = "select a context item first (Context pane)".into();
                return vec![];
            };
            let Some(next) = stepped(item.priority, action == Action::PriorityNext) else {
                state.status = format!(
                    "`{}` is already {}: {} does not go further",
                    item.key,
                    item.priority.as_str(),
                    if action == Action::PriorityNext {
                        "demoting"
                    } else {
                        "promoting"
                    }
                );
                return vec![];
            };
            let default = state
                .flow
                .step(state.step)
                .context
                .iter()
                .find(|c| c.key == item.key)
                .map(|c| c.priority);
            let overrides = &mut state.steps[state.step].tuning.priority_overrides;
            if Some(next) == default {
                overrides.remove(&item.key);
            } else {
                overrides.insert(item.key.clone(), next);
            }
            return state.retune(state.step);
        }
        Action::RerunStep => {
            if state.phase != Phase::Ready {
                return vec![];
            }
            let id = state.step_id(state.step).to_string();
            state.status = format!("rerunning {id} and what depends on it…");
            return state.apply_and_rerun(EngineCommand::RerunStep(id));
        }
        Action::RerunAll => {
            if state.phase != Phase::Ready {
                return vec![];
            }
            state.status = "rerunning the whole flow…".into();
            return state.apply_and_rerun(EngineCommand::RunAll);
        }
        Action::Cancel => {
            if state.running() {
                return vec![Effect::Engine(EngineCommand::Cancel)];
            }
            if state.phase == Phase::Loading {
                state.status = "cancelling the load…".into();
                return vec![Effect::CancelLoad];
            }
        }
        Action::Open if state.focus == Pane::Cache => {
            if let Some(e) = state.sorted_cache().get(state.cache_list.row) {
                return vec![Effect::Inspect(e.reference)];
            }
        }
        Action::Open if state.focus == Pane::Flow => {
            state.popup = Some(Popup::StepDetail(StepDetail {
                step: state.step,
                scroll: 0,
            }))
        }
        Action::Open if state.focus == Pane::Budgets => state.popup = Some(Popup::BudgetInput(BudgetInput::default())),
        Action::Open => {}
        Action::Close => {
            // Esc clears the focused pane's filter.
            let focus = state.focus;
            if let Some(f) = state.filter_mut(focus).filter(|f| !f.is_empty()) {
                f.clear();
                state.status = format!("{} filter cleared", focus.title());
            }
        }
        Action::Filter => match state.focus {
            Pane::Cache | Pane::Context => state.editing_filter = Some(state.focus),
            _ => state.status = "/ filters the Cache (3) and Context (4) lists".into(),
        },
        Action::TogglePrompt => {
            state.context_list.show_prompt = !state.context_list.show_prompt;
            state.context_list.prompt_scroll = 0;
        }
        Action::Help => state.popup = Some(Popup::Help(Help::default())),
        Action::Export => return vec![Effect::Export],
        Action::SaveOverrides => return vec![Effect::SaveOverrides],
        Action::Evict if state.focus == Pane::Cache => {
            if let Some(e) = state.sorted_cache().get(state.cache_list.row) {
                let what = match e.kind {
                    crate::cache::EntryKind::Dataset => {
                        format!("the dataset {} (the next run reads the file again)", e.producer)
                    }
                    _ => format!("{} {}", e.reference.short(), e.producer),
                };
                state.popup = Some(Popup::ConfirmEvict(ConfirmEvict {
                    reference: e.reference,
                    what,
                }));
            }
        }
        Action::Evict | Action::ScrollLeft | Action::ScrollRight => {}
        Action::SortCache => {
            state.cache_list.sort = cycled(state.cache_list.sort, true);
            state.cache_list.row = 0;
        }
        Action::Memory => return vec![Effect::Memory(state.step)],
        Action::Char(_) | Action::Backspace => {}
        Action::Click { column, row } => return click(state, column, row),
        Action::Scroll { column, row, down } => {
            if let Some(pane) = pane_at(state, column, row) {
                state.focus = pane;
                state.move_selection(if down { 1 } else { -1 });
            }
        }
        Action::DataInfo => state.popup = Some(DataMapping::open(state)),
        Action::History => return vec![Effect::History],
        Action::Evals => return vec![Effect::Evals],
        Action::Compare => state.status = "c compares runs in the history: press H first".into(),
        Action::Message(message) => return receive(state, *message),
    }
    vec![]
}

/// Applies what the loader, the engine or the clock said.
fn receive(state: &mut AppState, message: Message) -> Vec<Effect> {
    match message {
        Message::Tick => state.spinner = state.spinner.wrapping_add(1),
        Message::LoadProgress { read, total, stage } => {
            state.spinner = state.spinner.wrapping_add(1);
            state.data.progress = Some((read, total, stage));
        }
        Message::Loaded { data, mapping, columns } => {
            state.phase = Phase::Ready;
            state.data.label = data;
            state.data.lines = mapping;
            state.data.columns = columns;
            state.status = "data loaded · D shows how its columns map".into();
        }
        Message::LoadFailed {
            message,
            mapping,
            columns,
        } => {
            state.status = message.clone();
            state.data.columns = columns;
            // A file that was read but cannot be mapped opens the data popup on the problem.
            if let Some(lines) = mapping {
                let mut all = vec![message.clone(), String::new()];
                all.extend(lines);
                state.data.lines = all;
                state.popup = Some(DataMapping::open(state));
            }
            state.phase = Phase::Failed(message);
        }
        Message::HistoryLoaded { runs, warnings } => {
            if !warnings.is_empty() {
                state.status = warnings.join("; ");
            }
            if runs.is_empty() {
                state.status = "no runs kept yet: a finished run is kept here".into();
            } else {
                state.popup = Some(Popup::History(History::new(runs)));
            }
        }
        Message::Engine(event) => return engine_event(state, event),
        Message::Snapshot(snapshot, views) => {
            state.snapshot = Some(snapshot);
            for (i, view) in views.into_iter().enumerate() {
                state.steps[i].view = view;
                // A step that ran again with the tuned settings is no longer stale.
                if !state.is_stale(i) {
                    state.steps[i].what_if = None;
                }
            }
            state.context_list.row = state.context_list.row.min(state.context_len().saturating_sub(1));
        }
        Message::CacheEntries(entries) => {
            state.cache_list.entries = entries;
            state.cache_list.row = state
                .cache_list
                .row
                .min(state.cache_list.entries.len().saturating_sub(1));
        }
        Message::Ledger(ledger) => state.ledger = Some(ledger),
        Message::WhatIf { step, result } => state.steps[step].what_if = Some(result),
        Message::Inspect { title, lines } => {
            // A dataset's table keeps its header in view while its rows scroll.
            let pinned = usize::from(title.starts_with("dataset "));
            state.popup = Some(Popup::Inspector(Inspector::new(title, lines, pinned)))
        }
        Message::Notice(text) => state.status = text,
    }
    vec![]
}

fn engine_event(state: &mut AppState, event: EngineEvent) -> Vec<Effect> {
    state.status = match &event {
        EngineEvent::RunStarted { run, steps } => {
            state.run_started = Some(std::time::Instant::now());
            format!("run {run} started: {}", steps.join(", "))
        }
        EngineEvent::StepStarted { step, .. } => {
            if let Some(i) = state.step_index(step) {
                state.steps[i].stream.clear();
            }
            format!("{step} started")
        }
        EngineEvent::StepProgress { step, message, .. } => format!("{step}: {message}"),
        EngineEvent::AnswerDelta { step, text, .. } => {
            if let Some(i) = state.step_index(step) {
                state.steps[i].stream.push_str(text);
            }
            // Many arrive while a model streams; show the newest words, skip the cache refresh.
            let line = text.lines().last().unwrap_or_default().trim();
            state.status = format!("{step} answering: {line}");
            return vec![];
        }
        EngineEvent::CacheHit { step, tool, .. } => format!("{step}: cache hit for {tool}"),
        EngineEvent::StepFinished {
            step,
            duration_ms,
            prompt_tokens,
            budget,
            cached,
            ..
        } => {
            let how = if *cached { "cached" } else { "done" };
            format!("{step} {how} in {duration_ms} ms · {prompt_tokens}/{budget} tokens")
        }
        EngineEvent::StepFailed { step, error, .. } => format!("{step} failed: {error}"),
        EngineEvent::StepSkipped { step, reason, .. } => format!("{step} skipped: {reason}"),
        EngineEvent::StepCancelled { step, .. } => format!("{step} cancelled"),
        EngineEvent::RunFinished {
            run,
            state: s,
            duration_ms,
        } => format!("run {run} {} in {duration_ms} ms", s.as_str()),
        EngineEvent::SettingsChanged { step } => format!("{step}: settings applied"),
        EngineEvent::CommandRejected { reason } => format!("rejected: {reason}"),
    };
    vec![Effect::RefreshCache]
}

fn pane_at(state: &AppState, column: u16, row: u16) -> Option<Pane> {
    state
        .hitboxes
        .panes
        .iter()
        .find(|(_, r)| r.contains(column, row))
        .map(|(p, _)| *p)
}

/// A click focuses the pane under it and selects the row or node clicked.
fn click(state: &mut AppState, column: u16, row: u16) -> Vec<Effect> {
    let Some(pane) = pane_at(state, column, row) else {
        return vec![];
    };
    state.focus = pane;
    if let Some((i, _)) = state.hitboxes.nodes.iter().find(|(_, r)| r.contains(column, row)) {
        state.step = *i;
        state.context_list.row = 0;
        return vec![];
    }
    let top = state
        .hitboxes
        .list_top
        .iter()
        .find(|(p, _)| *p == pane)
        .map(|(_, t)| *t);
    if let Some(top) = top.filter(|t| row >= *t) {
        let index = (row - top) as usize;
        match pane {
            Pane::Budgets if index < state.flow.steps().len() => state.step = index,
            Pane::Cache if index < state.sorted_cache().len() => state.cache_list.row = index,
            Pane::Context if !state.context_list.show_prompt && index < state.context_len() => {
                state.context_list.row = index
            }
            _ => {}
        }
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Decision, ItemDecision};
    use crate::flow::StepDef;
    use crate::settings::{Priority, Strategy};

    /// A context that kept each of the step's items whole, at the flow's priorities.
    fn pruned(step: &StepDef, budget: u32, strategy: Strategy, tokens: usize) -> PrunedContext {
        PrunedContext {
            budget,
            strategy,
            decisions: step
                .context
                .iter()
                .map(|c| ItemDecision {
                    key: c.key.clone(),
                    source: c.source.clone(),
                    priority: c.priority,
                    decision: Decision::Kept,
                    tokens_before: 30,
                    tokens_after: 30,
                })
                .collect(),
            prompt: "[user]\n## task\nx".into(),
            tokens,
            stable_prefix: 0,
            stable_prefix_bytes: 0,
            facts: vec![],
        }
    }

    fn items(step: &StepDef) -> Vec<crate::context::ContextItem> {
        step.context
            .iter()
            .map(|c| crate::context::ContextItem {
                key: c.key.clone(),
                source: c.source.clone(),
                priority: c.priority,
                full: None,
                summary: None,
                reference: None,
            })
            .collect()
    }

    /// roi_analysis with every step run at its flow budget.
    fn ran() -> AppState {
        let flow = Arc::new(Flow::builtin("roi_analysis").unwrap());
        let mut s = AppState::new(flow.clone(), "sample".into());
        update(
            &mut s,
            Message::Loaded {
                data: "sample.csv".into(),
                mapping: vec!["File    sample.csv".into()],
                columns: vec![],
            },
        );
        let views: Vec<_> = flow
            .steps()
            .iter()
            .map(|d| {
                let context = pruned(d, d.budget, d.strategy, 250);
                Some(StepView {
                    prompt_tokens: 250,
                    completion_tokens: 40,
                    context: context.clone(),
                    output: Arc::new(StepOutput {
                        step: d.id.clone(),
                        tools: vec![],
                        facts: vec![],
                        answer: format!("Answer of {}.", d.id),
                        answer_facts: vec![],
                        route: None,
                        analyst: "offline/v1".into(),
                        reported: None,
                        context: crate::step_output::StepContext {
                            encoding: crate::context::Encoding::O200kBase,
                            bundle: crate::context::ContextBundle {
                                items: items(d),
                                facts: vec![],
                            },
                            pruned: context,
                            completion_tokens: 40,
                        },
                        check: Default::default(),
                        notes: Vec::new(),
                    }),
                })
            })
            .collect();
        for (step, view) in s.steps.iter_mut().zip(views) {
            step.view = view;
        }
        s
    }

    #[test]
    fn a_budget_change_asks_for_a_what_if_and_marks_the_step_stale() {
        let mut s = ran();
        update(&mut s, Action::Down);
        assert_eq!(s.step, 1);
        let effects = update(&mut s, Action::BudgetUp);
        assert_eq!(
            effects,
            [Effect::WhatIf {
                step: 1,
                settings: StepSettings::new(550, Strategy::ProgressivePruning),
            }]
        );
        // Stale at once; the panes show the what-if when it comes back.
        assert!(s.is_stale(1));
        assert_eq!(s.shown_context(1).unwrap().tokens, 250);
        let step = s.flow.step(1).clone();
        update(
            &mut s,
            Message::WhatIf {
                step: 1,
                result: Ok(pruned(&step, 550, Strategy::ProgressivePruning, 600)),
            },
        );
        assert!(s.is_stale(1));
        assert_eq!(s.shown_context(1).unwrap().tokens, 600);
        // Back to the run's budget: no longer a what-if.
        assert!(update(&mut s, Action::BudgetDown).is_empty());
        assert!(!s.is_stale(1));
    }

    #[test]
    fn rerun_applies_the_tuning_then_reruns_the_step() {
        let mut s = ran();
        s.snapshot = None;
        update(&mut s, Action::Down);
        update(&mut s, Action::BudgetUp);
        update(&mut s, Action::StrategyNext);
        let effects = update(&mut s, Action::RerunStep);
        let commands: Vec<&EngineCommand> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Engine(c) => Some(c),
                _ => None,
            })
            .collect();
        // With no snapshot to compare with, every step is configured, each with its whole
        // settings in one command.
        assert_eq!(commands.len(), 5, "{commands:?}");
        assert!(commands.contains(&&EngineCommand::Configure {
            step: "analyze_profitability".into(),
            settings: StepSettings::new(550, Strategy::AbstractedSummaries),
        }));
        assert_eq!(
            commands.last(),
            Some(&&EngineCommand::RerunStep("analyze_profitability".into()))
        );
        assert_eq!(
            update(&mut s, Action::RerunAll).last(),
            Some(&Effect::Engine(EngineCommand::RunAll))
        );
    }

    #[test]
    fn memory_opens_for_the_selected_step() {
        let mut s = ran();
        s.step = 2;
        assert_eq!(update(&mut s, Action::Memory), [Effect::Memory(2)]);
        assert_eq!(update(&mut s, Action::Evals), [Effect::Evals]);
    }

    #[test]
    fn priorities_cycle_on_the_selected_item_and_return_to_default() {
        let mut s = ran();
        s.step = 3;
        update(&mut s, Action::FocusContext);
        update(&mut s, Action::Down);
        update(&mut s, Action::Down);
        let effects = update(&mut s, Action::PriorityNext);
        let mut expected = StepSettings::new(500, Strategy::ProgressivePruning);
        expected
            .priority_overrides
            .insert("profitability".to_string(), Priority::Important);
        assert_eq!(
            effects,
            [Effect::WhatIf {
                step: 3,
                settings: expected
            }]
        );
        assert!(s.is_stale(3));
        // P promotes the shown `important` back to `critical`, the flow's default for this
        // item: the override goes away and the step is as it ran.
        let shown_important = pruned(s.flow.step(3), 500, Strategy::ProgressivePruning, 250);
        let mut shown_important = shown_important;
        shown_important.decisions[2].priority = Priority::Important;
        update(
            &mut s,
            Message::WhatIf {
                step: 3,
                result: Ok(shown_important),
            },
        );
        assert!(update(&mut s, Action::PriorityPrev).is_empty());
        assert!(s.steps[3].tuning.priority_overrides.is_empty());
        assert!(!s.is_stale(3));
    }

    #[test]
    fn evicting_asks_first() {
        let mut s = ran();
        s.cache_list.entries = vec![crate::cache::EntryInfo {
            reference: Reference::of_parts([b"x".as_slice()]),
            kind: crate::cache::EntryKind::Dataset,
            bytes: 10,
            age: std::time::Duration::ZERO,
            ttl_left: std::time::Duration::from_secs(60),
            hits: 0,
            producer: "beverage_sales.csv".into(),
        }];
        update(&mut s, Action::FocusCache);
        assert!(
            update(&mut s, Action::Evict).is_empty(),
            "nothing goes before the answer"
        );
        assert!(
            matches!(&s.popup, Some(Popup::ConfirmEvict(ConfirmEvict { what, .. })) if what.contains("the next run reads the file again"))
        );
        assert!(update(&mut s, Action::Char('n')).is_empty());
        assert_eq!(s.popup, None);
        update(&mut s, Action::Evict);
        let effects = update(&mut s, Action::Char('y'));
        assert_eq!(
            effects,
            [
                Effect::Evict(Reference::of_parts([b"x".as_slice()])),
                Effect::RefreshCache
            ]
        );
    }

    #[test]
    fn priorities_stop_at_critical_and_optional() {
        assert_eq!(stepped(Priority::Critical, false), None);
        assert_eq!(stepped(Priority::Critical, true), Some(Priority::Important));
        assert_eq!(stepped(Priority::Optional, true), None);
        let mut s = ran();
        s.step = 3;
        update(&mut s, Action::FocusContext);
        // The persona is critical: promoting it changes nothing and says so.
        assert!(update(&mut s, Action::PriorityPrev).is_empty());
        assert!(s.steps[3].tuning.priority_overrides.is_empty());
        assert!(s.status.contains("is already critical"), "{}", s.status);
    }

    #[test]
    fn focus_popups_and_quit() {
        let mut s = ran();
        update(&mut s, Action::FocusNext);
        assert_eq!(s.focus, Pane::Context, "reading order: Context beside Flow");
        update(&mut s, Action::FocusPrev);
        update(&mut s, Action::FocusPrev);
        assert_eq!(s.focus, Pane::Report, "the report follows Cache in the focus order");
        update(&mut s, Action::FocusPrev);
        assert_eq!(s.focus, Pane::Cache);
        update(&mut s, Action::FocusContext);
        update(&mut s, Action::Help);
        assert_eq!(s.popup, Some(Popup::Help(Help { scroll: 0 })));
        update(&mut s, Action::Down);
        assert_eq!(s.popup, Some(Popup::Help(Help { scroll: 1 })));
        // Other keys are held while a popup is open.
        assert!(update(&mut s, Action::RerunAll).is_empty());
        update(&mut s, Action::Close);
        assert_eq!(s.popup, None);
        update(&mut s, Action::Quit);
        assert!(s.quit);
    }

    #[test]
    fn the_report_scrolls_and_zoom_fills_the_screen_with_any_pane() {
        let mut s = ran();
        assert_eq!(s.zoomed(), None);
        update(&mut s, Action::FocusReport);
        assert_eq!(s.focus, Pane::Report);
        update(&mut s, Action::PageDown);
        update(&mut s, Action::Up);
        assert_eq!(s.report_scroll, 9);
        update(&mut s, Action::FocusCache);
        assert_eq!(s.zoomed(), None);
        update(&mut s, Action::Zoom);
        assert_eq!(s.zoomed(), Some(Pane::Cache));
        update(&mut s, Action::FocusFlow);
        assert_eq!(s.zoomed(), Some(Pane::Flow), "zoom stays on as focus moves");
        update(&mut s, Action::Zoom);
        assert_eq!(s.zoomed(), None);
    }

    #[test]
    fn enter_on_a_step_opens_its_detail_and_streamed_text_collects_per_step() {
        let mut s = ran();
        update(&mut s, Action::Down);
        update(&mut s, Action::Open);
        assert_eq!(s.popup, Some(Popup::StepDetail(StepDetail { step: 1, scroll: 0 })));
        update(&mut s, Action::PageDown);
        assert_eq!(s.popup, Some(Popup::StepDetail(StepDetail { step: 1, scroll: 10 })));
        let event = |e| Message::Engine(e);
        update(
            &mut s,
            event(EngineEvent::StepStarted {
                run: 2,
                step: "optimize_budget".into(),
            }),
        );
        for text in ["Shift ", "budget."] {
            update(
                &mut s,
                event(EngineEvent::AnswerDelta {
                    run: 2,
                    step: "optimize_budget".into(),
                    text: text.into(),
                }),
            );
        }
        assert_eq!(s.steps[2].stream, "Shift budget.");
        update(
            &mut s,
            event(EngineEvent::StepStarted {
                run: 3,
                step: "optimize_budget".into(),
            }),
        );
        assert_eq!(s.steps[2].stream, "", "a new run of the step starts a new answer");
        update(&mut s, Action::Close);
        assert_eq!(s.popup, None);
    }

    #[test]
    fn a_filter_narrows_the_context_list_and_esc_clears_it() {
        let mut s = ran();
        update(&mut s, Action::FocusContext);
        assert_eq!(s.visible_items().len(), 5);
        update(&mut s, Action::Filter);
        assert_eq!(s.editing_filter, Some(Pane::Context));
        for c in "PROF".chars() {
            update(&mut s, Action::Char(c));
        }
        let keys: Vec<&str> = s.visible_items().iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["data_profile"]);
        // Enter keeps the filter; keys act on the pane again, on the filtered rows.
        update(&mut s, Action::Open);
        assert_eq!(s.editing_filter, None);
        update(&mut s, Action::PriorityNext);
        assert!(s.steps[0].tuning.priority_overrides.contains_key("data_profile"));
        update(&mut s, Action::Close);
        assert_eq!(s.context_list.filter, "");
        assert_eq!(s.visible_items().len(), 5);
        // In a pane without a list it only says where it works.
        update(&mut s, Action::FocusFlow);
        update(&mut s, Action::Filter);
        assert_eq!(s.editing_filter, None);
        assert!(s.status.contains("Cache (3) and Context (4)"));
    }

    #[test]
    fn typing_a_budget() {
        let mut s = ran();
        update(&mut s, Action::EditBudget);
        for c in "1234".chars() {
            update(&mut s, Action::Char(c));
        }
        update(&mut s, Action::Backspace);
        let effects = update(&mut s, Action::Open);
        assert_eq!(s.popup, None);
        assert!(matches!(
            &effects[0],
            Effect::WhatIf {
                step: 0,
                settings: StepSettings { budget: 123, .. },
            }
        ));
        // Clamped to the allowed range.
        assert_eq!(s.steps[0].tuning.budget, 123);
        update(&mut s, Action::EditBudget);
        update(&mut s, Action::Char('9'));
        update(&mut s, Action::Open);
        assert_eq!(s.steps[0].tuning.budget, 50);
    }

    #[test]
    fn nothing_runs_before_the_data_is_loaded_and_cancel_stops_only_a_load_or_a_run() {
        let flow = Arc::new(Flow::builtin("roi_analysis").unwrap());
        let mut s = AppState::new(flow, "x".into());
        assert!(update(&mut s, Action::RerunAll).is_empty());
        // While loading, cancel stops the load (a warehouse's query).
        assert!(matches!(
            update(&mut s, Action::Cancel).as_slice(),
            [Effect::CancelLoad]
        ));
        update(
            &mut s,
            Message::LoadFailed {
                message: "x.csv: file not found".into(),
                mapping: None,
                columns: vec![],
            },
        );
        assert_eq!(s.phase, Phase::Failed("x.csv: file not found".into()));
        assert_eq!(s.popup, None);
        assert!(update(&mut s, Action::Cancel).is_empty());
    }

    #[test]
    fn a_file_that_cannot_be_mapped_opens_the_data_popup_on_the_problem() {
        let flow = Arc::new(Flow::builtin("roi_analysis").unwrap());
        let mut s = AppState::new(flow, "x".into());
        update(&mut s, Action::DataInfo);
        assert!(
            matches!(&s.popup, Some(Popup::Inspector(Inspector { lines, .. })) if lines[0].contains("still loading"))
        );
        update(&mut s, Action::Close);
        update(
            &mut s,
            Message::LoadFailed {
                message: "x.csv: missing `brand`".into(),
                mapping: Some(vec!["COLUMN  TYPE  ROLE".into()]),
                columns: vec![
                    DataColumn {
                        name: "Sales".into(),
                        kind: "number".into(),
                        role: Some("total_revenue".into()),
                    },
                    DataColumn {
                        name: "Sub-Category".into(),
                        kind: "text".into(),
                        role: None,
                    },
                ],
            },
        );
        // It opens on the problem, on the first column without a role.
        assert_eq!(s.data.lines[0], "x.csv: missing `brand`");
        assert_eq!(s.data.lines[2], "COLUMN  TYPE  ROLE");
        assert!(matches!(
            s.popup,
            Some(Popup::Data(DataMapping {
                column: 1,
                picking: None,
                ..
            }))
        ));
        // Enter opens the roles, the first (brand) selected; Enter maps and reloads.
        update(&mut s, Action::Open);
        assert!(matches!(
            s.popup,
            Some(Popup::Data(DataMapping { picking: Some(0), .. }))
        ));
        let effects = update(&mut s, Action::Open);
        assert_eq!(
            effects,
            [Effect::Remap {
                role: "brand".into(),
                column: "Sub-Category".into()
            }]
        );
        assert_eq!(s.popup, None);
    }

    #[test]
    fn clicks_select_panes_and_rows() {
        let mut s = ran();
        s.hitboxes = Hitboxes {
            panes: vec![
                (
                    Pane::Flow,
                    Rect {
                        x: 0,
                        y: 1,
                        width: 40,
                        height: 20,
                    },
                ),
                (
                    Pane::Budgets,
                    Rect {
                        x: 40,
                        y: 1,
                        width: 40,
                        height: 20,
                    },
                ),
            ],
            nodes: vec![(
                2,
                Rect {
                    x: 5,
                    y: 10,
                    width: 20,
                    height: 4,
                },
            )],
            list_top: vec![(Pane::Budgets, 5)],
        };
        update(&mut s, Action::Click { column: 10, row: 11 });
        assert_eq!((s.focus, s.step), (Pane::Flow, 2));
        update(&mut s, Action::Click { column: 50, row: 8 });
        assert_eq!((s.focus, s.step), (Pane::Budgets, 3));
        update(
            &mut s,
            Action::Scroll {
                column: 50,
                row: 8,
                down: false,
            },
        );
        assert_eq!(s.step, 2);
    }
}
