//! Report: the final report as the terminal renders Markdown, scrollable. Critical facts
//! that reached it are highlighted where they appear; the ones it lacks are listed first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::tui::app::AppState;
use crate::tui::markdown;
use crate::tui::theme::Theme;

pub struct ReportPane<'a> {
    pub state: &'a AppState,
    pub theme: &'a Theme,
    pub focused: bool,
}

/// The report's lines: what is missing, then the report itself (or why there is none yet).
pub fn lines(state: &AppState, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let Some(ledger) = &state.ledger else {
        let last = state.flow.steps().len().saturating_sub(1);
        lines.push(Line::styled(
            "The report appears when the flow's last step has finished.",
            theme.dim,
        ));
        // A real model's final answer, as it streams.
        if !state.streams[last].is_empty() {
            lines.push(Line::default());
            lines.extend(markdown::render(&state.streams[last], &[], theme));
        }
        return lines;
    };
    if ledger.missing.is_empty() {
        lines.push(Line::styled(
            format!(
                "All {} critical facts reached the report (highlighted).",
                ledger.facts_critical
            ),
            theme.ok,
        ));
    } else {
        lines.push(Line::styled(
            format!(
                "{} of {} critical facts are missing from the report:",
                ledger.missing.len(),
                ledger.facts_critical
            ),
            theme.warn,
        ));
        for statement in &ledger.missing {
            lines.push(Line::styled(format!("  ✗ {statement}"), theme.warn));
        }
    }
    lines.push(Line::default());
    match &ledger.report {
        Some(report) => lines.extend(markdown::render(report, &ledger.critical_values, theme)),
        None => {
            // Say why: the step that failed, or the one that stopped the run short.
            let failed = state.snapshot.as_ref().and_then(|s| {
                s.steps
                    .iter()
                    .find(|s| s.status == crate::engine::StepStatus::Failed)
                    .map(|s| format!("{} failed: {}", s.id, s.error.as_deref().unwrap_or("no message")))
            });
            lines.push(Line::styled(
                match failed {
                    Some(why) => format!("The run did not produce a report: {why}."),
                    None => "The run did not produce a report.".to_string(),
                },
                theme.warn,
            ));
        }
    }
    lines
}

impl Widget for &ReportPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (state, theme) = (self.state, self.theme);
        let border = if self.focused { theme.border_focus } else { theme.border };
        let block = Block::bordered()
            .border_style(border)
            .title(" 5 Report ")
            .title_style(theme.title)
            .title_bottom(Line::styled(" ↑↓ PgUp/PgDn scroll · Tab panes · z zoom ", theme.dim));
        Paragraph::new(lines(state, theme))
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((state.report_scroll, 0))
            .render(area, buf);
    }
}
