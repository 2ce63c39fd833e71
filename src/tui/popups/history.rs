//! `H`: the runs kept, newest last; `c` compares the selected one with the newest.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{Inspector, Popup, Reply, show};
use crate::history::RunRecord;
use crate::tui::action::Action;
use crate::tui::app::AppState;
use crate::tui::panes::history;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub runs: Vec<RunRecord>,
    pub selected: usize,
}

impl History {
    /// The runs, the one before the newest selected: what a comparison most often wants.
    pub fn new(runs: Vec<RunRecord>) -> Self {
        let selected = runs.len().saturating_sub(2);
        History { runs, selected }
    }

    pub(super) fn handle(&mut self, action: &Action, state: &mut AppState) -> Reply {
        match action {
            Action::Down | Action::Scroll { down: true, .. } => {
                self.selected = (self.selected + 1).min(self.runs.len().saturating_sub(1));
            }
            Action::Up | Action::Scroll { down: false, .. } => self.selected = self.selected.saturating_sub(1),
            Action::Compare => {
                if let (Some(a), Some(b)) = (self.runs.get(self.selected), self.runs.last()) {
                    let title = format!("Compare {} → {}", a.id, b.id);
                    let lines = crate::history::diff(a, b).lines();
                    state.popup = Some(Popup::Inspector(Inspector::new(title, lines, 0)));
                }
            }
            _ => return Reply::Unhandled,
        }
        Reply::Stay(vec![])
    }

    pub(super) fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let inner = super::inner_width(area, 150);
        let lines = history::lines(&self.runs, self.selected, theme, inner);
        // Keep the selected run in view.
        let room = area.height.saturating_sub(4) as usize;
        let row = self.selected + history::HEADER_ROWS;
        let scroll = (row + 1).saturating_sub(room) as u16;
        let title = format!(" Runs · {} kept ", self.runs.len());
        show(frame, area, &title, lines, scroll, theme, 150, area.height);
    }
}
