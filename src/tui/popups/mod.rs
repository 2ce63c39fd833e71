//! The popups over the panes, one file each (as gitui keeps `src/popups/`): each holds its
//! own state, takes the keys while it is on top, and draws itself. What every popup shares
//! (Esc closes, Quit and the engine's data go through, other keys wait) is decided here.

mod budget_input;
mod confirm_evict;
mod data;
mod help;
mod history;
mod inspector;
mod step_detail;

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub use budget_input::BudgetInput;
pub use confirm_evict::ConfirmEvict;
pub use data::DataMapping;
pub use help::Help;
pub use history::History;
pub use inspector::Inspector;
pub use step_detail::StepDetail;

use super::action::Action;
use super::app::{AppState, Effect};
use super::keymap::Keymap;
use super::theme::Theme;

/// The popup on top of the panes.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help(Help),
    Inspector(Inspector),
    BudgetInput(BudgetInput),
    /// A step's answer (live while it streams), facts, tools, tokens and timing.
    StepDetail(StepDetail),
    /// The runs kept, newest last, one selected.
    History(History),
    /// The data's profile and its columns, to map one to a role in place.
    Data(DataMapping),
    /// `d` asks before a cache entry goes.
    ConfirmEvict(ConfirmEvict),
}

/// What a popup made of an action.
enum Reply {
    /// Handled; the popup stays, unless the handler opened another in its place.
    Stay(Vec<Effect>),
    /// Handled; the popup closes.
    Close(Vec<Effect>),
    /// Not this popup's: the rules every popup shares decide.
    Unhandled,
}

/// Gives `action` to the popup on top. `None` when there is none, or when the action goes
/// on to the panes (Quit, and the loader's and engine's data).
pub fn handle(state: &mut AppState, action: &Action) -> Option<Vec<Effect>> {
    let mut popup = state.popup.take()?;
    let reply = match &mut popup {
        Popup::Help(p) => p.handle(action),
        Popup::Inspector(p) => p.handle(action),
        Popup::StepDetail(p) => p.handle(action),
        Popup::BudgetInput(p) => p.handle(action, state),
        Popup::History(p) => p.handle(action, state),
        Popup::Data(p) => p.handle(action, state),
        Popup::ConfirmEvict(p) => p.handle(action, state),
    };
    match reply {
        Reply::Stay(effects) => {
            state.popup.get_or_insert(popup);
            Some(effects)
        }
        Reply::Close(effects) => Some(effects),
        Reply::Unhandled => match action {
            Action::Close | Action::Help | Action::Open => Some(vec![]),
            a => {
                state.popup = Some(popup);
                // The data still flows while a popup is open, and Quit quits; other keys wait.
                (*a != Action::Quit && !a.is_internal()).then(Vec::new)
            }
        },
    }
}

/// Draws the popup on top, if any.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState, keymap: &Keymap, theme: &Theme) {
    match &state.popup {
        None => {}
        Some(Popup::Help(p)) => p.draw(frame, area, state, keymap, theme),
        Some(Popup::Inspector(p)) => p.draw(frame, area, theme),
        Some(Popup::StepDetail(p)) => p.draw(frame, area, state, theme),
        Some(Popup::BudgetInput(p)) => p.draw(frame, area, state, theme),
        Some(Popup::History(p)) => p.draw(frame, area, theme),
        Some(Popup::Data(p)) => p.draw(frame, area, state, theme),
        Some(Popup::ConfirmEvict(p)) => p.draw(frame, area, theme),
    }
}

const PAGE: u16 = 10;

/// Moves a text's scroll by ↑↓, the wheel or a page; `false` when `action` is none of them.
fn scrolled(scroll: &mut u16, action: &Action) -> bool {
    *scroll = match action {
        Action::Down | Action::Scroll { down: true, .. } => scroll.saturating_add(1),
        Action::Up | Action::Scroll { down: false, .. } => scroll.saturating_sub(1),
        Action::PageDown => scroll.saturating_add(PAGE),
        Action::PageUp => scroll.saturating_sub(PAGE),
        _ => return false,
    };
    true
}

/// What a popup that only scrolls makes of an action: ↑↓, the wheel and pages move it.
fn scrolling(scroll: &mut u16, action: &Action) -> Reply {
    if scrolled(scroll, action) {
        Reply::Stay(vec![])
    } else {
        Reply::Unhandled
    }
}

/// Lines without styles.
fn plain(lines: Vec<String>) -> Vec<Line<'static>> {
    lines.into_iter().map(Line::from).collect()
}

/// The inner width of a popup at most `width` columns wide on `area`.
fn inner_width(area: Rect, width: u16) -> usize {
    (width.min(area.width.saturating_sub(4)) as usize).saturating_sub(2)
}

/// A framed box of `lines` centred on `area`: at most `width` x `height`, as tall as the
/// lines need once wrapped.
#[allow(clippy::too_many_arguments)]
pub fn show(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: u16,
    theme: &Theme,
    width: u16,
    height: u16,
) {
    let w = width.min(area.width.saturating_sub(4));
    // Rows the lines take once wrapped to the popup's inner width.
    let inner = inner_width(area, width).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let h = (height.min(rows.min(u16::MAX as usize - 2) as u16 + 2))
        .max(3)
        .min(area.height.saturating_sub(2));
    let [r] = Layout::horizontal([Constraint::Length(w)])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(h)]).flex(Flex::Center).areas(r);
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .title(title.to_string())
        .title_style(theme.title)
        .border_style(theme.border_focus);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll, 0))
            .wrap(Wrap { trim: false }),
        r,
    );
}
