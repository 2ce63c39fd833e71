//! Colours and emphasis. `NO_COLOR` (or `theme = "mono"`) keeps only bold/reverse/dim, so
//! every state stays readable without colour.

use ratatui::style::{Color, Modifier, Style};

use crate::context::Decision;

use crate::engine::StepStatus;
use crate::settings::Priority;

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub border: Style,
    pub border_focus: Style,
    pub title: Style,
    pub selected: Style,
    pub dim: Style,
    pub header: Style,
    pub accent: Style,
    pub ok: Style,
    pub cached: Style,
    pub running: Style,
    pub failed: Style,
    pub warn: Style,
    pub gauge: Style,
    pub baseline: Style,
    /// A critical fact's value where it appears in the report.
    pub highlight: Style,
}

impl Theme {
    pub fn color() -> Theme {
        let s = Style::new();
        Theme {
            border: s.fg(Color::DarkGray),
            border_focus: s.fg(Color::Cyan).add_modifier(Modifier::BOLD),
            title: s.add_modifier(Modifier::BOLD),
            selected: s.bg(Color::DarkGray).add_modifier(Modifier::BOLD),
            dim: s.fg(Color::DarkGray),
            header: s.bg(Color::Blue).fg(Color::White),
            accent: s.fg(Color::Cyan),
            ok: s.fg(Color::Green),
            cached: s.fg(Color::Blue),
            running: s.fg(Color::Yellow),
            failed: s.fg(Color::Red).add_modifier(Modifier::BOLD),
            warn: s.fg(Color::Yellow),
            gauge: s.fg(Color::Green),
            baseline: s.fg(Color::Red),
            highlight: s.fg(Color::Green).add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        }
    }

    pub fn mono() -> Theme {
        let s = Style::new();
        Theme {
            border: s,
            border_focus: s.add_modifier(Modifier::BOLD),
            title: s.add_modifier(Modifier::BOLD),
            selected: s.add_modifier(Modifier::REVERSED),
            dim: s.add_modifier(Modifier::DIM),
            header: s.add_modifier(Modifier::REVERSED),
            accent: s.add_modifier(Modifier::BOLD),
            ok: s,
            cached: s,
            running: s.add_modifier(Modifier::BOLD),
            failed: s.add_modifier(Modifier::BOLD),
            warn: s.add_modifier(Modifier::BOLD),
            gauge: s,
            baseline: s.add_modifier(Modifier::DIM),
            highlight: s.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        }
    }

    /// `mono` when asked for or when `NO_COLOR` is set to anything non-empty.
    pub fn pick(name: &str) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color || name == "mono" {
            Theme::mono()
        } else {
            Theme::color()
        }
    }

    pub fn status(&self, status: StepStatus) -> Style {
        match status {
            StepStatus::Done => self.ok,
            StepStatus::Cached => self.cached,
            StepStatus::Running => self.running,
            StepStatus::Failed => self.failed,
            StepStatus::Cancelled => self.warn,
            StepStatus::Pending | StepStatus::Skipped => self.dim,
        }
    }

    pub fn decision(&self, decision: Decision) -> Style {
        match decision {
            Decision::Kept => self.ok,
            Decision::Summarized => self.warn,
            Decision::Referenced => self.cached,
            Decision::Dropped => self.failed,
        }
    }

    pub fn priority(&self, priority: Priority) -> Style {
        match priority {
            Priority::Critical => self.title,
            Priority::Important => Style::new(),
            Priority::Useful | Priority::Optional => self.dim,
        }
    }
}

/// The status glyph of a step; running steps spin.
pub fn status_icon(status: StepStatus, spinner: usize) -> &'static str {
    const SPIN: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    match status {
        StepStatus::Pending => "·",
        StepStatus::Running => SPIN[spinner % SPIN.len()],
        StepStatus::Done => "✓",
        StepStatus::Cached => "↺",
        StepStatus::Failed => "✗",
        StepStatus::Cancelled => "⊘",
        StepStatus::Skipped => "↷",
    }
}
