//! Cache: every stored value (reference prefix, kind, size, age and time to live left, hits,
//! producer), sortable;
//! Enter inspects, `d` evicts.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Row, StatefulWidget, Table, TableState, Widget};

use crate::cache::EntryKind;
use crate::format::{age, bytes_compact};
use crate::tui::app::AppState;
use crate::tui::theme::Theme;

pub struct CachePane<'a> {
    pub state: &'a AppState,
    pub theme: &'a Theme,
    pub focused: bool,
}

/// Rows above the entries inside the pane (the table header).
pub const LIST_OFFSET: u16 = 1;

impl Widget for &CachePane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (state, theme) = (self.state, self.theme);
        let border = if self.focused { theme.border_focus } else { theme.border };
        let shown = state.sorted_cache();
        let count = if state.cache_list.filter.is_empty() && state.editing_filter.is_none() {
            format!("{} entries", state.cache_list.entries.len())
        } else {
            format!(
                "{} of {} entries · {}",
                shown.len(),
                state.cache_list.entries.len(),
                filter_label(state, crate::tui::app::Pane::Cache)
            )
        };
        let title = format!(" 4 Cache · {count} · sort {} ", state.cache_list.sort.label());
        let block = Block::bordered()
            .border_style(border)
            .title(title)
            .title_style(theme.title)
            .title_bottom(Line::styled(" enter inspect · d evict · o sort ", theme.dim));
        // Narrow panes give the producer (often a step id) room first: shorter references.
        let tight = area.width.saturating_sub(2) < 57;
        let ref_w: u16 = if tight { 6 } else { 8 };
        let rows: Vec<Row> = shown
            .into_iter()
            .map(|e| {
                Row::new(vec![
                    e.reference.hex()[..ref_w as usize].to_string(),
                    match e.kind {
                        EntryKind::Dataset => "dataset",
                        EntryKind::ToolOutput => "tool",
                        EntryKind::StepOutput => "step",
                        EntryKind::Summary => "summary",
                    }
                    .to_string(),
                    bytes_compact(e.bytes as u64),
                    format!("{}/{}", age(e.age.as_secs()), age(e.ttl_left.as_secs())),
                    e.hits.to_string(),
                    e.producer.clone(),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(ref_w),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(if tight { 6 } else { 7 }),
                Constraint::Length(4),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(vec!["REF", "KIND", "SIZE", "AGE/TTL", "HITS", "PRODUCER"]).style(theme.dim))
        .block(block)
        .row_highlight_style(if self.focused { theme.selected } else { Style::new() });
        let mut table_state = TableState::default().with_selected(if state.sorted_cache().is_empty() {
            None
        } else {
            Some(state.cache_list.row)
        });
        StatefulWidget::render(table, area, buf, &mut table_state);
    }
}

/// `/text▏` while typing, `filter "text"` once kept.
pub fn filter_label(state: &AppState, pane: crate::tui::app::Pane) -> String {
    let text = match pane {
        crate::tui::app::Pane::Cache => &state.cache_list.filter,
        _ => &state.context_list.filter,
    };
    if state.editing_filter == Some(pane) {
        format!("/{text}▏")
    } else {
        format!("filter \"{text}\"")
    }
}
