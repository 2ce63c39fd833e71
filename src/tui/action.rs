//! What the user (or the engine) asks the TUI for. The user's actions have snake_case
//! names a keymap binds (`"ctrl-r" = "rerun_step"`), with their help line, default keys and
//! footer hint on the variant; below them, the terminal's input (characters, the mouse) and
//! [`Message`]s from the loader, the engine and the clock, which cannot be bound.

use serde::{Deserialize, Serialize};
use strum::{EnumMessage, EnumProperty};

use super::app::{LedgerView, StepView};
use crate::cache::EntryInfo;
use crate::context::PrunedContext;
use crate::engine::{EngineEvent, FlowSnapshot};

/// A user action's help line, default keys and footer hint sit on its variant (`message`,
/// `keys`, `hint`), in the order help lists them; `update` gives it its effect.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumMessage, strum::EnumProperty, strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    /// The keys, from the live keymap.
    #[strum(message = "this help", props(keys = "?", hint = "help"))]
    Help,
    /// Leave the TUI (the engine's work is cancelled).
    #[strum(message = "quit", props(keys = "q", hint = "quit"))]
    Quit,
    /// Close the top popup, or clear a filter.
    #[strum(message = "close the popup", props(keys = "esc"))]
    Close,
    /// Focus the next pane (Flow, Budgets, Cache, Context, Report).
    #[strum(message = "next pane", props(keys = "tab", hint = "pane"))]
    FocusNext,
    /// Focus the previous pane.
    #[strum(message = "previous pane", props(keys = "backtab"))]
    FocusPrev,
    /// Focus the flow graph.
    #[strum(message = "focus Flow", props(keys = "1"))]
    FocusFlow,
    /// Focus the selected step's context items.
    #[strum(message = "focus Context", props(keys = "2"))]
    FocusContext,
    /// Focus the budgets.
    #[strum(message = "focus Budgets", props(keys = "3"))]
    FocusBudgets,
    /// Focus the cache list.
    #[strum(message = "focus Cache", props(keys = "4"))]
    FocusCache,
    /// The final report, full screen.
    #[strum(message = "the final report (facts that reached it highlighted)", props(keys = "5"))]
    FocusReport,
    /// The focused pane to full screen and back.
    #[strum(
        message = "zoom the focused pane to full screen and back",
        props(keys = "z", hint = "zoom")
    )]
    Zoom,
    /// Select the previous row or step, or scroll up.
    #[strum(message = "move up", props(keys = "up k left h"))]
    Up,
    /// Select the next row or step, or scroll down.
    #[strum(message = "move down", props(keys = "down j right l", hint = "step"))]
    Down,
    /// The first row, or the top of a text.
    #[strum(message = "first row", props(keys = "g"))]
    Top,
    /// The last row, or the end of a text.
    #[strum(message = "last row", props(keys = "G"))]
    Bottom,
    /// A page up.
    #[strum(message = "page up", props(keys = "pageup"))]
    PageUp,
    /// A page down.
    #[strum(message = "page down", props(keys = "pagedown", hint = "page"))]
    PageDown,
    /// The selected step's budget up by 50 tokens (a what-if until rerun).
    #[strum(message = "raise the step's budget (+50)", props(keys = "+ =", hint = "budget"))]
    BudgetUp,
    /// The selected step's budget down by 50 tokens.
    #[strum(message = "lower the step's budget (-50)", props(keys = "-", hint = "less"))]
    BudgetDown,
    /// Type the selected step's budget.
    #[strum(message = "type the step's budget", props(keys = "b", hint = "type"))]
    EditBudget,
    /// The selected context item's priority to the next one.
    #[strum(
        message = "demote the context item (cycle priority)",
        props(keys = "p", hint = "demote")
    )]
    PriorityNext,
    /// The selected context item's priority to the previous one.
    #[strum(message = "promote the context item", props(keys = "P", hint = "promote"))]
    PriorityPrev,
    /// The selected step's strategy to the next one.
    #[strum(message = "cycle the step's strategy", props(keys = "s", hint = "strategy"))]
    StrategyNext,
    /// Apply the tuning and rerun the selected step and what depends on it.
    #[strum(
        message = "rerun the step and its downstream steps",
        props(keys = "r", hint = "rerun")
    )]
    RerunStep,
    /// Apply the tuning and rerun the whole flow.
    #[strum(message = "rerun the whole flow", props(keys = "R", hint = "all"))]
    RerunAll,
    /// Cancel the run in progress.
    #[strum(
        message = "cancel the run, or a warehouse's query while the data loads",
        props(keys = "x", hint = "cancel")
    )]
    Cancel,
    /// Open what is selected: a step's detail, a cache entry's inspector.
    #[strum(
        message = "open: the step's detail (Flow), the budget input (Budgets), the cache entry (Cache), a column's roles (the data popup)",
        props(keys = "enter", hint = "inspect")
    )]
    Open,
    /// The exact prompt of the selected step, or back to its items.
    #[strum(message = "show the exact prompt / the items", props(keys = "v", hint = "prompt"))]
    TogglePrompt,
    /// Write the report and the ledger to files.
    #[strum(message = "export the report and run JSON", props(keys = "e"))]
    Export,
    /// Save the tuned budgets, strategies and priorities as a flow file.
    #[strum(message = "save tuned budgets and priorities as a flow file", props(keys = "w"))]
    SaveOverrides,
    /// Evict the selected cache entry.
    #[strum(message = "evict the cache entry", props(keys = "d", hint = "evict"))]
    Evict,
    /// Cycle the cache list's sort.
    #[strum(message = "cycle the cache sort", props(keys = "o", hint = "sort"))]
    SortCache,
    /// What the selected step recalls from long-term memory, and the insights stored.
    #[strum(
        message = "long-term memory: what the step recalls, what is stored",
        props(keys = "m", hint = "memory")
    )]
    Memory,
    /// The data file: format, dialect, columns and the roles they map to.
    #[strum(message = "the data file: format, columns and their roles", props(keys = "D"))]
    DataInfo,
    /// The runs kept: when, settings, tokens, cost, facts.
    #[strum(
        message = "run history: every run with its settings, tokens, cost, facts",
        props(keys = "H")
    )]
    History,
    /// The newest eval of this flow (`mrflow-tui eval`): optimized against baseline with a
    /// real model.
    #[strum(
        message = "the newest eval of this flow: optimized vs baseline with a real model",
        props(keys = "E")
    )]
    Evals,
    /// In the history: the selected run against the latest.
    #[strum(
        message = "in the history: compare the selected run with the latest",
        props(keys = "c")
    )]
    Compare,
    /// Type a filter for the Cache or Context list.
    #[strum(
        message = "filter the Cache or Context list (Enter keeps it, Esc clears it)",
        props(keys = "/", hint = "filter")
    )]
    Filter,
    /// In an inspector: show columns further left (a wide dataset).
    #[strum(message = "in an inspector: scroll left (a wide table)", props(keys = "["))]
    ScrollLeft,
    /// In an inspector: show columns further right.
    #[strum(message = "in an inspector: scroll right (a wide table)", props(keys = "]"))]
    ScrollRight,

    // Input from the terminal, and messages: never bound to a key.
    /// A character typed into a prompt (budget, filter).
    #[serde(skip)]
    Char(char),
    /// A character taken back from a prompt.
    #[serde(skip)]
    Backspace,
    /// A mouse click at a screen cell, hit-tested against the last layout.
    #[serde(skip)]
    Click { column: u16, row: u16 },
    /// The mouse wheel over a screen cell.
    #[serde(skip)]
    Scroll { column: u16, row: u16, down: bool },
    /// Data from the loader, the engine or the clock: reaches the state while a popup is
    /// open, where keys wait.
    #[serde(skip)]
    Message(Box<Message>),
}

/// What the loader, the engine and the clock tell the TUI: data for the state, never a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Time passed: spinners and elapsed times move on.
    Tick,
    /// How far the data's load has got: bytes read of the file's size, and the stage.
    LoadProgress {
        read: u64,
        total: u64,
        stage: crate::data::Stage,
    },
    /// The data is loaded.
    Loaded {
        data: String,
        /// The data popup's lines: the file's profile as `mrflow-tui data` prints it.
        mapping: Vec<String>,
        /// The file's columns, for the data popup's role picker.
        columns: Vec<crate::tui::app::DataColumn>,
    },
    /// The data could not be loaded; with the file's profile when it was read but not mapped.
    LoadFailed {
        message: String,
        mapping: Option<Vec<String>>,
        columns: Vec<crate::tui::app::DataColumn>,
    },
    /// What the engine said.
    Engine(EngineEvent),
    /// The engine's state after an event, with each step's output as the panes show it.
    Snapshot(FlowSnapshot, Vec<Option<StepView>>),
    /// The cache's entries, for the Cache pane.
    CacheEntries(Vec<EntryInfo>),
    /// The finished run's ledger and report.
    Ledger(LedgerView),
    /// A step re-pruned with the tuned settings, before any rerun.
    WhatIf {
        step: usize,
        result: Result<PrunedContext, String>,
    },
    /// Lines for an inspector popup.
    Inspect { title: String, lines: Vec<String> },
    /// A message for the status line (a warning, a file written).
    Notice(String),
    /// The runs kept, oldest first, and what could not be read.
    HistoryLoaded {
        runs: Vec<crate::history::RunRecord>,
        warnings: Vec<String>,
    },
}

impl From<Message> for Action {
    fn from(message: Message) -> Action {
        Action::Message(Box::new(message))
    }
}

impl Action {
    /// Whether the action is a [`Message`] from the engine, the loader or the clock rather
    /// than the analyst's input: messages reach the state while a popup is open, where keys
    /// wait. The type decides, so a new message cannot be held back by mistake.
    pub fn is_internal(&self) -> bool {
        matches!(self, Action::Message(_))
    }

    /// The help popup's line: the variant's `message`.
    pub fn describe(&self) -> &'static str {
        self.get_message().unwrap_or_default()
    }

    /// The footer's word for it: the variant's `hint` (none for actions the footer leaves
    /// out).
    pub fn hint(&self) -> &'static str {
        self.get_str("hint").unwrap_or_default()
    }

    /// The keys bound by default, as `[keys]` writes them: the variant's `keys`.
    pub fn default_keys(&self) -> impl Iterator<Item = &'static str> {
        self.get_str("keys").unwrap_or_default().split_whitespace()
    }
}
