//! Run history as a list: when, flow, data, changed settings, tokens, cost and critical
//! facts retained, newest last; `c` compares the selected run with the latest.

use ratatui::text::{Line, Span};

use crate::history::RunRecord;
use crate::tui::theme::Theme;

/// Rows above the first run.
pub const HEADER_ROWS: usize = 2;

pub fn lines(runs: &[RunRecord], selected: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::styled(format!("  {}", RunRecord::row_header()), theme.title),
        Line::styled("  ↑↓ select · c compare with the latest · Esc closes", theme.dim),
    ];
    for (i, r) in runs.iter().enumerate() {
        let latest = if i + 1 == runs.len() { " (latest)" } else { "" };
        let text = format!("  {}{latest}", r.row());
        let style = if i == selected {
            theme.selected
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    lines
}
