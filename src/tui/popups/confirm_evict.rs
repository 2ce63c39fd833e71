//! `d` asks before a cache entry goes: `y` or Enter evicts it, any other key keeps it.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{Reply, plain, show};
use crate::reference::Reference;
use crate::tui::action::Action;
use crate::tui::app::{AppState, Effect};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmEvict {
    pub reference: Reference,
    /// The entry in words: a dataset says the next run reads the file again.
    pub what: String,
}

impl ConfirmEvict {
    pub(super) fn handle(&mut self, action: &Action, state: &mut AppState) -> Reply {
        match action {
            Action::Open | Action::Char('y') => Reply::Close(vec![Effect::Evict(self.reference), Effect::RefreshCache]),
            Action::Char(_) | Action::Close | Action::Evict => {
                state.status = "kept".into();
                Reply::Close(vec![])
            }
            _ => Reply::Unhandled,
        }
    }

    pub(super) fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let lines = vec![
            format!("Evict {}?", self.what),
            String::new(),
            "y or Enter evicts it · any other key keeps it".into(),
        ];
        show(frame, area, " Evict ", plain(lines), 0, theme, 70, 5);
    }
}
