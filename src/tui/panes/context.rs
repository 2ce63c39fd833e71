//! Context: the selected step's items with priority, tokens before and after and the
//! decision, colour-coded; `v` shows the exact prompt instead, scrollable. When the step's
//! settings were tuned, this shows the what-if result before any rerun.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use crate::format::grouped;
use crate::tui::app::{AppState, Pane};
use crate::tui::theme::Theme;

pub struct ContextPane<'a> {
    pub state: &'a AppState,
    pub theme: &'a Theme,
    pub focused: bool,
}

pub const LIST_OFFSET: u16 = 1;

impl Widget for &ContextPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (state, theme) = (self.state, self.theme);
        let i = state.step;
        let border = if self.focused { theme.border_focus } else { theme.border };
        let ctx = state.shown_context(i);
        let what_if = if state.is_stale(i) { "what-if · " } else { "" };
        let filter = if state.context_list.filter.is_empty() && state.editing_filter != Some(Pane::Context) {
            String::new()
        } else {
            format!("{} · ", super::cache::filter_label(state, Pane::Context))
        };
        let title = match ctx {
            Some(c) => format!(
                " 2 Context · {what_if}{filter}{} · {}/{} ",
                state.step_id(i),
                grouped(c.tokens as f64),
                grouped(c.budget as f64)
            ),
            None => format!(" 2 Context · {filter}{} ", state.step_id(i)),
        };
        let strategy = ctx.map(|c| c.strategy.as_str()).unwrap_or_default();
        let hint = if state.context_list.show_prompt {
            format!(" {strategy} · v items · ↑↓ scroll ")
        } else {
            format!(" {strategy} · v prompt · p/P priority ")
        };
        let block = Block::bordered()
            .border_style(border)
            .title(title)
            .title_style(theme.title)
            .title_bottom(Line::styled(hint, theme.dim));
        if let Some(Err(e)) = state.what_if_result(i) {
            Paragraph::new(format!("what-if: {e}"))
                .style(theme.failed)
                .wrap(Wrap { trim: true })
                .block(block)
                .render(area, buf);
            return;
        }
        let Some(ctx) = ctx else {
            let text = match state.snapshot.as_ref().and_then(|s| s.steps[i].error.clone()) {
                Some(e) => format!("{}: {e}", state.status_of(i).as_str()),
                None => "not run yet".to_string(),
            };
            Paragraph::new(text)
                .style(theme.dim)
                .wrap(Wrap { trim: true })
                .block(block)
                .render(area, buf);
            return;
        };
        if state.context_list.show_prompt {
            Paragraph::new(ctx.prompt.as_str())
                .wrap(Wrap { trim: false })
                .scroll((state.context_list.prompt_scroll, 0))
                .block(block)
                .render(area, buf);
            return;
        }
        // Narrow panes abbreviate the priority and join the token columns.
        let narrow = area.width < 48;
        let rows: Vec<Row> = state
            .visible_items()
            .into_iter()
            .map(|d| {
                let overridden = if state.steps[i].tuning.priority_overrides.contains_key(&d.key) {
                    "*"
                } else {
                    ""
                };
                let priority = if narrow {
                    &d.priority.as_str()[..4]
                } else {
                    d.priority.as_str()
                };
                let mut cells = vec![
                    Span::raw(d.key.clone()),
                    Span::styled(format!("{priority}{overridden}"), theme.priority(d.priority)),
                ];
                if narrow {
                    cells.push(Span::raw(format!("{}→{}", d.tokens_before, d.tokens_after)));
                } else {
                    cells.push(Span::raw(format!("{:>6}", grouped(d.tokens_before as f64))));
                    cells.push(Span::raw(format!("{:>6}", grouped(d.tokens_after as f64))));
                }
                cells.push(Span::styled(d.decision.as_str(), theme.decision(d.decision)));
                Row::new(cells)
            })
            .collect();
        let (widths, header) = if narrow {
            (
                vec![
                    Constraint::Min(6),
                    Constraint::Length(5),
                    Constraint::Length(9),
                    Constraint::Length(10),
                ],
                vec!["ITEM", "PRIO", "TOKENS", "DECISION"],
            )
        } else {
            (
                vec![
                    Constraint::Min(10),
                    Constraint::Length(10),
                    Constraint::Length(6),
                    Constraint::Length(6),
                    Constraint::Length(10),
                ],
                vec!["ITEM", "PRIORITY", "BEFORE", " AFTER", "DECISION"],
            )
        };
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(theme.dim))
            .block(block)
            .row_highlight_style(if self.focused { theme.selected } else { Style::new() });
        let mut table_state = TableState::default().with_selected(Some(state.context_list.row));
        StatefulWidget::render(table, area, buf, &mut table_state);
    }
}
