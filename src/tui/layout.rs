//! Where the header, the four panes and the footer go for a terminal size.

use ratatui::layout::{Constraint, Layout, Rect};

use super::app::Pane;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this width the panes sit side by side; below it they form a 2x2 grid.
pub const WIDE_WIDTH: u16 = 160;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub header: Rect,
    /// Everything between header and footer: where a zoomed pane goes.
    pub body: Rect,
    pub panes: [(Pane, Rect); 4],
    pub footer: Rect,
}

/// The layout for `area`, or `None` when it is below the minimum size.
pub fn screen(area: Rect) -> Option<Screen> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let panes = if area.width >= WIDE_WIDTH {
        let [flow, budgets, cache, context] = Layout::horizontal([
            Constraint::Percentage(27),
            Constraint::Percentage(22),
            Constraint::Percentage(24),
            Constraint::Percentage(27),
        ])
        .areas(body);
        [
            (Pane::Flow, flow),
            (Pane::Budgets, budgets),
            (Pane::Cache, cache),
            (Pane::Context, context),
        ]
    } else {
        let [top, bottom] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        let [flow, context] = Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)]).areas(top);
        let [budgets, cache] =
            Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)]).areas(bottom);
        [
            (Pane::Flow, flow),
            (Pane::Budgets, budgets),
            (Pane::Cache, cache),
            (Pane::Context, context),
        ]
    };
    Some(Screen {
        header,
        body,
        panes,
        footer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_grid_and_too_small() {
        let wide = screen(Rect::new(0, 0, 200, 50)).unwrap();
        assert!(wide.panes.iter().all(|(_, r)| r.y == 1 && r.height == 48));
        let grid = screen(Rect::new(0, 0, 120, 40)).unwrap();
        assert_eq!(grid.panes[0].1.y, grid.panes[3].1.y);
        assert!(grid.panes[1].1.y > grid.panes[0].1.y);
        assert!(screen(Rect::new(0, 0, 79, 30)).is_none());
        assert!(screen(Rect::new(0, 0, 100, 23)).is_none());
    }
}
