//! Where the header, the panes and the footer go for a terminal size.

use ratatui::layout::{Constraint, Layout, Rect};

use super::app::Pane;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this width the report has a column of its own beside the four panes (stacked in
/// two columns); below it the four form a 2x2 grid and the report fills the screen.
pub const WIDE_WIDTH: u16 = 160;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub header: Rect,
    /// Everything between header and footer: where a zoomed pane goes.
    pub body: Rect,
    pub panes: Vec<(Pane, Rect)>,
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
        let [left, middle, report] = Layout::horizontal([
            Constraint::Percentage(30),
            Constraint::Percentage(35),
            Constraint::Percentage(35),
        ])
        .areas(body);
        let [flow, budgets] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
        let [context, cache] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
        vec![
            (Pane::Flow, flow),
            (Pane::Budgets, budgets),
            (Pane::Cache, cache),
            (Pane::Context, context),
            (Pane::Report, report),
        ]
    } else {
        let [top, bottom] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        let [flow, context] = Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)]).areas(top);
        let [budgets, cache] =
            Layout::horizontal([Constraint::Percentage(48), Constraint::Percentage(52)]).areas(bottom);
        vec![
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
        assert_eq!(wide.panes.len(), 5, "the report has a column of its own");
        let report = wide.panes[4].1;
        assert_eq!((report.y, report.height), (1, 48));
        assert!(wide.panes[..4].iter().all(|(_, r)| r.x < report.x && r.height < 48));
        let grid = screen(Rect::new(0, 0, 120, 40)).unwrap();
        assert_eq!(grid.panes[0].1.y, grid.panes[3].1.y);
        assert!(grid.panes[1].1.y > grid.panes[0].1.y);
        assert!(screen(Rect::new(0, 0, 79, 30)).is_none());
        assert!(screen(Rect::new(0, 0, 100, 23)).is_none());
    }
}
