//! `?`: the keys, from the live keymap, the focused pane's first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Reply, scrolling, show};
use crate::tui::action::Action;
use crate::tui::app::AppState;
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Help {
    pub scroll: u16,
}

impl Help {
    pub(super) fn handle(&mut self, action: &Action) -> Reply {
        scrolling(&mut self.scroll, action)
    }

    pub(super) fn draw(&self, frame: &mut Frame, area: Rect, state: &AppState, keymap: &Keymap, theme: &Theme) {
        // The focused pane's keys first, then every key; descriptions wrap under
        // themselves, not to column 0.
        let width = super::inner_width(area, 76);
        let help = keymap.help();
        let mut lines = vec![Line::styled(
            format!("In the {} pane", state.focus.title()),
            theme.title,
        )];
        for a in state.focus.actions() {
            if let Some((k, what)) = help.iter().find(|(_, what)| *what == a.describe()) {
                lines.extend(hanging(k, what, width));
            }
        }
        lines.push(Line::default());
        lines.push(Line::styled("Every key", theme.title));
        for (k, what) in &help {
            lines.extend(hanging(k, what, width));
        }
        let visible = 30usize.min(area.height as usize).saturating_sub(2);
        let scroll = self.scroll.min(lines.len().saturating_sub(visible) as u16);
        show(frame, area, " Help · Esc closes ", lines, scroll, theme, 76, 30);
    }
}

/// `keys  what` with `what` wrapped under itself at `width` columns.
fn hanging(keys: &str, what: &str, width: usize) -> Vec<Line<'static>> {
    const KEYS: usize = 18;
    let room = width.saturating_sub(KEYS + 2).max(20);
    let mut rows: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in what.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            rows.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    rows.push(line);
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let k = if i == 0 { keys } else { "" };
            Line::from(format!("{k:>KEYS$}  {r}"))
        })
        .collect()
}
