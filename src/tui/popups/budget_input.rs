//! `e` (or Enter on Budgets): type the selected step's budget.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::{Reply, plain, show};
use crate::tui::action::Action;
use crate::tui::app::AppState;
use crate::tui::theme::Theme;

/// Digits typed so far; more than six would pass any budget the range allows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetInput {
    pub buffer: String,
}

impl BudgetInput {
    pub(super) fn handle(&mut self, action: &Action, state: &mut AppState) -> Reply {
        match action {
            Action::Char(c) if c.is_ascii_digit() && self.buffer.len() < 6 => self.buffer.push(*c),
            Action::Backspace => {
                self.buffer.pop();
            }
            Action::Open => {
                let effects = self
                    .buffer
                    .parse::<i64>()
                    .map_or_else(|_| Vec::new(), |v| state.set_budget(v));
                return Reply::Close(effects);
            }
            _ => return Reply::Unhandled,
        }
        Reply::Stay(vec![])
    }

    pub(super) fn draw(&self, frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
        let lines = vec![
            format!("Budget for {}: {}▏", state.step_id(state.step), self.buffer),
            String::new(),
            "Enter applies, Esc cancels".into(),
        ];
        show(frame, area, " Budget ", plain(lines), 0, theme, 44, 5);
    }
}
