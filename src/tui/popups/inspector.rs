//! A text to read: a cache entry, a comparison of runs, memory, an eval. A table keeps its
//! header in view while its rows scroll, and scrolls sideways with `[` and `]`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Reply, plain, scrolled, show};
use crate::tui::action::Action;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct Inspector {
    pub title: String,
    pub lines: Vec<String>,
    pub scroll: u16,
    /// Lines kept in view above the scrolled ones (a table's header).
    pub pinned: usize,
    /// Columns scrolled off to the left (`[` and `]`).
    pub hscroll: u16,
}

impl Inspector {
    /// `lines` under `title`, with its first `pinned` lines kept in view.
    pub fn new(title: String, lines: Vec<String>, pinned: usize) -> Self {
        Inspector {
            title,
            lines,
            scroll: 0,
            pinned,
            hscroll: 0,
        }
    }

    pub(super) fn handle(&mut self, action: &Action) -> Reply {
        match action {
            Action::ScrollRight => self.hscroll = self.hscroll.saturating_add(8),
            Action::ScrollLeft => self.hscroll = self.hscroll.saturating_sub(8),
            a if scrolled(&mut self.scroll, a) => {}
            _ => return Reply::Unhandled,
        }
        Reply::Stay(vec![])
    }

    pub(super) fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let mut lines = self.lines.clone();
        // A pinned header stays above the rows scrolled under it; a wide table scrolls
        // sideways, its header with it.
        if self.pinned > 0 && self.scroll > 0 {
            let skip = (self.scroll as usize).min(lines.len().saturating_sub(self.pinned));
            lines.drain(self.pinned..self.pinned + skip);
        }
        if self.hscroll > 0 || self.pinned > 0 {
            // A table is cut at the popup's edge, not wrapped: its columns stay aligned.
            let inner = super::inner_width(area, 110);
            for l in &mut lines {
                *l = l.chars().skip(self.hscroll as usize).take(inner).collect();
            }
        }
        let scroll = if self.pinned > 0 { 0 } else { self.scroll };
        // A comparison of runs colours what changed.
        let styled = if self.title.starts_with("Compare ") {
            diff_lines(&lines, theme)
        } else {
            plain(lines)
        };
        let title = format!(" {} · ↑↓ scroll · Esc closes ", self.title);
        show(frame, area, &title, styled, scroll, theme, 110, 40);
    }
}

/// A run comparison's lines, coloured: `+` added and `regained:` in the ok colour, `-`
/// removed and `lost:` in the warning colour, hunk headers as accents.
fn diff_lines(lines: &[String], theme: &Theme) -> Vec<Line<'static>> {
    let mut in_diff = false;
    lines
        .iter()
        .map(|l| {
            in_diff |= l == "Report diff:";
            let style = if l.starts_with("lost:") || (in_diff && l.starts_with('-') && !l.starts_with("---")) {
                theme.warn
            } else if l.starts_with("regained:") || (in_diff && l.starts_with('+') && !l.starts_with("+++")) {
                theme.ok
            } else if in_diff && l.starts_with("@@") {
                theme.accent
            } else {
                ratatui::style::Style::new()
            };
            Line::styled(l.clone(), style)
        })
        .collect()
}
