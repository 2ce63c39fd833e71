//! Enter on a step: its answer (live while it streams), facts, tools, tokens and timing.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{Reply, scrolling, show};
use crate::tui::action::Action;
use crate::tui::app::AppState;
use crate::tui::panes::step_detail;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct StepDetail {
    pub step: usize,
    pub scroll: u16,
}

impl StepDetail {
    pub(super) fn handle(&mut self, action: &Action) -> Reply {
        scrolling(&mut self.scroll, action)
    }

    pub(super) fn draw(&self, frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
        let title = format!(" {} · ↑↓ scroll · Esc closes ", state.step_id(self.step));
        let lines = step_detail::lines(state, self.step, theme);
        // As tall as the screen allows: an answer is worth the room.
        show(frame, area, &title, lines, self.scroll, theme, 110, area.height);
    }
}
