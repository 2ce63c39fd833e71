//! `D`: the data's profile and its columns. Enter on a column lists the roles, Enter on a
//! role reads the column as it (as `--column` would) and loads the data again; `w` saves
//! the mapping with the flow. A file the flow cannot use opens here, on the problem.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Inspector, Popup, Reply, show};
use crate::tui::action::Action;
use crate::tui::app::{AppState, Effect, Phase, pickable_roles};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct DataMapping {
    pub scroll: u16,
    /// The selected column.
    pub column: usize,
    /// The selected role while one is being picked for the column.
    pub picking: Option<usize>,
}

impl DataMapping {
    /// The data popup, on the first column without a role (the likeliest to need one); a
    /// note while the data still loads.
    pub fn open(state: &AppState) -> Popup {
        if state.data.lines.is_empty() {
            return Popup::Inspector(Inspector::new(
                "Data".into(),
                vec!["The data is still loading.".to_string()],
                0,
            ));
        }
        let column = state.data.columns.iter().position(|c| c.role.is_none()).unwrap_or(0);
        Popup::Data(DataMapping {
            scroll: 0,
            column,
            picking: None,
        })
    }

    pub(super) fn handle(&mut self, action: &Action, state: &mut AppState) -> Reply {
        match action {
            Action::Down | Action::Up => {
                let down = *action == Action::Down;
                let step = |i: usize, n: usize| {
                    if down {
                        (i + 1).min(n.saturating_sub(1))
                    } else {
                        i.saturating_sub(1)
                    }
                };
                match &mut self.picking {
                    // The roles, and "none" after them.
                    Some(r) => *r = step(*r, pickable_roles().len() + 1),
                    None => self.column = step(self.column, state.data.columns.len()),
                }
                Reply::Stay(vec![])
            }
            Action::Open => {
                let Some(c) = state.data.columns.get(self.column) else {
                    return Reply::Stay(vec![]);
                };
                let roles = pickable_roles();
                let Some(r) = self.picking else {
                    let current = c.role.as_deref().and_then(|r| roles.iter().position(|x| *x == r));
                    self.picking = Some(current.unwrap_or(0));
                    return Reply::Stay(vec![]);
                };
                let Some(role) = roles.get(r).map(|r| r.to_string()) else {
                    // "none": nothing to map.
                    self.picking = None;
                    return Reply::Stay(vec![]);
                };
                let column = c.name.clone();
                state.status = format!("reading `{column}` as {role}; loading the data again…");
                Reply::Close(vec![Effect::Remap { role, column }])
            }
            Action::Close if self.picking.is_some() => {
                self.picking = None;
                Reply::Stay(vec![])
            }
            Action::SaveOverrides => Reply::Close(vec![Effect::SaveOverrides]),
            _ => Reply::Unhandled,
        }
    }

    /// The problem first (when the file could not be used), then the columns to map (or
    /// the roles for the chosen one), then the file's profile.
    pub(super) fn draw(&self, frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
        let mut lines: Vec<Line<'static>> = Vec::new();
        let mut profile: &[String] = &state.data.lines;
        if let Phase::Failed(message) = &state.phase {
            lines.push(Line::styled(message.clone(), theme.warn));
            lines.push(Line::default());
            // The popup's lines begin with the same message and a blank line.
            if profile.first() == Some(message) {
                profile = &profile[2.min(profile.len())..];
            }
        }
        let choice = |selected: bool, text: String| {
            let text = format!("{} {text}", if selected { ">" } else { " " });
            if selected {
                Line::styled(text, theme.selected)
            } else {
                Line::from(text)
            }
        };
        let selected_line = match self.picking {
            None => {
                lines.push(Line::styled(
                    "Map a column: ↑↓ choose · Enter picks its role · w saves the mapping to a flow file",
                    theme.title,
                ));
                let first = lines.len();
                for (i, c) in state.data.columns.iter().enumerate() {
                    let text = format!("{:<28} {:<8} {}", c.name, c.kind, c.role.as_deref().unwrap_or("-"));
                    lines.push(choice(i == self.column, text));
                }
                first + self.column
            }
            Some(r) => {
                let name = state.data.columns.get(self.column).map_or("", |c| c.name.as_str());
                lines.push(Line::styled(
                    format!("Read `{name}` as: ↑↓ choose · Enter applies and runs again · Esc back"),
                    theme.title,
                ));
                let first = lines.len();
                let choices = pickable_roles()
                    .into_iter()
                    .map(str::to_string)
                    .chain(["none (leave it unmapped)".to_string()]);
                for (i, role) in choices.enumerate() {
                    lines.push(choice(i == r, role));
                }
                first + r
            }
        };
        lines.push(Line::default());
        lines.extend(profile.iter().map(|l| Line::from(l.clone())));
        // Keep the chosen row in view, counting rows as the lines wrap.
        let inner = super::inner_width(area, 110).max(1);
        let row_of = |k: usize| -> usize { lines[..k].iter().map(|l| l.width().div_ceil(inner).max(1)).sum() };
        let room = area.height.saturating_sub(6) as usize;
        let scroll = self.scroll.max((row_of(selected_line) + 1).saturating_sub(room) as u16);
        show(
            frame,
            area,
            " Data · Esc closes ",
            lines,
            scroll,
            theme,
            110,
            area.height,
        );
    }
}
