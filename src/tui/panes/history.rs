//! Run history as a list: when, flow, data, changed settings, tokens, cost and critical
//! facts retained, newest last; `c` compares the selected run with the latest.

use ratatui::text::{Line, Span};

use crate::history::RunRecord;
use crate::tools::format::{grouped, usd};
use crate::tui::theme::Theme;

/// Rows above the first run.
pub const HEADER_ROWS: usize = 2;

pub fn lines(runs: &[RunRecord], selected: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::styled(
            format!(
                "  {:<19} {:<18} {:<20} {:>7} {:>9} {:>5}  {}",
                "WHEN (UTC)", "FLOW", "DATA", "TOKENS", "COST", "FACTS", "SETTINGS"
            ),
            theme.title,
        ),
        Line::styled("  ↑↓ select · c compare with the latest · Esc closes", theme.dim),
    ];
    for (i, r) in runs.iter().enumerate() {
        let latest = if i + 1 == runs.len() { " (latest)" } else { "" };
        let data = r
            .data
            .file_name()
            .map_or_else(|| r.data.display().to_string(), |n| n.to_string_lossy().into_owned());
        let text = format!(
            "  {:<19} {:<18} {:<20} {:>7} {:>9} {:>5}  {}{latest}",
            r.when(),
            r.flow,
            data,
            grouped(r.totals.prompt_tokens as f64),
            usd(r.totals.cost_usd),
            format!("{}/{}", r.facts.retained, r.facts.critical),
            r.changed_settings()
        );
        let style = if i == selected {
            theme.selected
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    lines
}
