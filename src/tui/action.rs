//! What the user (or the engine) asks the TUI for. The user's actions have snake_case
//! names a keymap binds (`"ctrl-r" = "rerun_step"`); the internal messages below them carry
//! data from the terminal, the loader and the engine, and cannot be bound.

use serde::{Deserialize, Serialize};

use super::app::{LedgerView, StepView};
use crate::cache::EntryInfo;
use crate::context::PrunedContext;
use crate::engine::{EngineEvent, FlowSnapshot};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave the TUI (the engine's work is cancelled).
    Quit,
    /// Focus the next pane (Flow, Budgets, Cache, Context, Report).
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// Focus the flow graph.
    FocusFlow,
    /// Focus the budgets.
    FocusBudgets,
    /// Focus the cache list.
    FocusCache,
    /// Focus the selected step's context items.
    FocusContext,
    /// The final report, full screen.
    FocusReport,
    /// The focused pane to full screen and back.
    Zoom,
    /// Select the previous row or step, or scroll up.
    Up,
    /// Select the next row or step, or scroll down.
    Down,
    /// The first row, or the top of a text.
    Top,
    /// The last row, or the end of a text.
    Bottom,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// The selected step's budget up by 50 tokens (a what-if until rerun).
    BudgetUp,
    /// The selected step's budget down by 50 tokens.
    BudgetDown,
    /// Type the selected step's budget.
    EditBudget,
    /// The selected context item's priority to the next one.
    PriorityNext,
    /// The selected context item's priority to the previous one.
    PriorityPrev,
    /// The selected step's strategy to the next one.
    StrategyNext,
    /// Apply the tuning and rerun the selected step and what depends on it.
    RerunStep,
    /// Apply the tuning and rerun the whole flow.
    RerunAll,
    /// Cancel the run in progress.
    Cancel,
    /// Open what is selected: a step's detail, a cache entry's inspector.
    Open,
    /// Close the top popup, or clear a filter.
    Close,
    /// The exact prompt of the selected step, or back to its items.
    TogglePrompt,
    /// The keys, from the live keymap.
    Help,
    /// Write the report and the ledger to files.
    Export,
    /// Save the tuned budgets, strategies and priorities as a flow file.
    SaveOverrides,
    /// Evict the selected cache entry.
    Evict,
    /// Cycle the cache list's sort.
    SortCache,
    /// What the selected step recalls from long-term memory, and the insights stored.
    Memory,
    /// The data file: format, dialect, columns and the roles they map to.
    DataInfo,
    /// The runs kept: when, settings, tokens, cost, facts.
    History,
    /// The newest eval of this flow (`mrflow-tui eval`): optimized against baseline with a
    /// real model.
    Evals,
    /// In the history: the selected run against the latest.
    Compare,
    /// Type a filter for the Cache or Context list.
    Filter,
    /// In an inspector: show columns further left or right (a wide dataset).
    ScrollLeft,
    ScrollRight,

    // Internal messages: never bound to a key.
    /// A character typed into a prompt (budget, filter).
    #[serde(skip)]
    Char(char),
    /// A character taken back from a prompt.
    #[serde(skip)]
    Backspace,
    /// A mouse click at a screen cell, hit-tested against the last layout.
    #[serde(skip)]
    Click {
        column: u16,
        row: u16,
    },
    /// The mouse wheel over a screen cell.
    #[serde(skip)]
    Scroll {
        column: u16,
        row: u16,
        down: bool,
    },
    /// Time passed: spinners and elapsed times move on.
    #[serde(skip)]
    Tick,
    /// How far the data's load has got: bytes read of the file's size, and the stage.
    #[serde(skip)]
    LoadProgress {
        read: u64,
        total: u64,
        stage: crate::data::Stage,
    },
    /// The data is loaded.
    #[serde(skip)]
    Loaded {
        data: String,
        /// The data popup's lines: the file's profile as `mrflow-tui data` prints it.
        mapping: Vec<String>,
        /// The file's columns, for the data popup's role picker.
        columns: Vec<crate::tui::app::DataColumn>,
    },
    /// The data could not be loaded; with the file's profile when it was read but not mapped.
    #[serde(skip)]
    LoadFailed {
        message: String,
        mapping: Option<Vec<String>>,
        columns: Vec<crate::tui::app::DataColumn>,
    },
    /// What the engine said.
    #[serde(skip)]
    Engine(EngineEvent),
    /// The engine's state after an event, with each step's output as the panes show it.
    #[serde(skip)]
    Snapshot(FlowSnapshot, Vec<Option<StepView>>),
    /// The cache's entries, for the Cache pane.
    #[serde(skip)]
    CacheEntries(Vec<EntryInfo>),
    /// The finished run's ledger and report.
    #[serde(skip)]
    Ledger(LedgerView),
    /// A step re-pruned with the tuned settings, before any rerun.
    #[serde(skip)]
    WhatIf {
        step: usize,
        result: Result<PrunedContext, String>,
    },
    /// Lines for an inspector popup.
    #[serde(skip)]
    Inspect {
        title: String,
        lines: Vec<String>,
    },
    /// A message for the status line (a warning, a file written).
    #[serde(skip)]
    Notice(String),
    /// The runs kept, oldest first, and what could not be read.
    #[serde(skip)]
    HistoryLoaded {
        runs: Vec<crate::history::RunRecord>,
        warnings: Vec<String>,
    },
}

impl Action {
    /// Whether the action is a message from the engine, the loader or the clock rather than
    /// the analyst's input: such messages reach the state while a popup is open, where keys
    /// are held. Every variant is named here, so a new one is decided on, not dropped.
    pub fn is_internal(&self) -> bool {
        match self {
            Action::Tick
            | Action::LoadProgress { .. }
            | Action::Loaded { .. }
            | Action::LoadFailed { .. }
            | Action::Engine(_)
            | Action::Snapshot(..)
            | Action::CacheEntries(_)
            | Action::Ledger(_)
            | Action::WhatIf { .. }
            | Action::Inspect { .. }
            | Action::Notice(_)
            | Action::HistoryLoaded { .. } => true,
            Action::Char(_)
            | Action::Backspace
            | Action::Click { .. }
            | Action::Scroll { .. }
            | Action::Quit
            | Action::Help
            | Action::Close
            | Action::FocusNext
            | Action::FocusPrev
            | Action::FocusFlow
            | Action::FocusBudgets
            | Action::FocusCache
            | Action::FocusContext
            | Action::FocusReport
            | Action::Zoom
            | Action::Up
            | Action::Down
            | Action::Top
            | Action::Bottom
            | Action::PageUp
            | Action::PageDown
            | Action::BudgetUp
            | Action::BudgetDown
            | Action::EditBudget
            | Action::PriorityNext
            | Action::PriorityPrev
            | Action::StrategyNext
            | Action::RerunStep
            | Action::RerunAll
            | Action::Cancel
            | Action::Open
            | Action::TogglePrompt
            | Action::Export
            | Action::SaveOverrides
            | Action::Evict
            | Action::SortCache
            | Action::Memory
            | Action::DataInfo
            | Action::History
            | Action::Evals
            | Action::Compare
            | Action::Filter
            | Action::ScrollLeft
            | Action::ScrollRight => false,
        }
    }

    /// One line for the help popup.
    pub fn describe(&self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::FocusNext => "next pane",
            Action::FocusPrev => "previous pane",
            Action::FocusFlow => "focus Flow",
            Action::FocusBudgets => "focus Budgets",
            Action::FocusCache => "focus Cache",
            Action::FocusContext => "focus Context",
            Action::FocusReport => "the final report (facts that reached it highlighted)",
            Action::Zoom => "zoom the focused pane to full screen and back",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::Top => "first row",
            Action::Bottom => "last row",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::BudgetUp => "raise the step's budget (+50)",
            Action::BudgetDown => "lower the step's budget (-50)",
            Action::EditBudget => "type the step's budget",
            Action::PriorityNext => "demote the context item (cycle priority)",
            Action::PriorityPrev => "promote the context item",
            Action::StrategyNext => "cycle the step's strategy",
            Action::RerunStep => "rerun the step and its downstream steps",
            Action::RerunAll => "rerun the whole flow",
            Action::Cancel => "cancel the run, or a warehouse's query while the data loads",
            Action::Open => {
                "open: the step's detail (Flow), the budget input (Budgets), the cache entry (Cache), \
                 a column's roles (the data popup)"
            }
            Action::Close => "close the popup",
            Action::TogglePrompt => "show the exact prompt / the items",
            Action::Help => "this help",
            Action::Export => "export the report and run JSON",
            Action::SaveOverrides => "save tuned budgets and priorities as a flow file",
            Action::Evict => "evict the cache entry",
            Action::SortCache => "cycle the cache sort",
            Action::Memory => "long-term memory: what the step recalls, what is stored",
            Action::DataInfo => "the data file: format, columns and their roles",
            Action::History => "run history: every run with its settings, tokens, cost, facts",
            Action::Evals => "the newest eval of this flow: optimized vs baseline with a real model",
            Action::Compare => "in the history: compare the selected run with the latest",
            Action::Filter => "filter the Cache or Context list (Enter keeps it, Esc clears it)",
            Action::ScrollLeft => "in an inspector: scroll left (a wide table)",
            Action::ScrollRight => "in an inspector: scroll right (a wide table)",
            _ => "",
        }
    }
}
