//! The flow as a graph: steps in layers top to bottom (a step sits one layer below the
//! deepest step it listens to), edges drawn with box-drawing lines so branches and joins
//! read as such, and edges that skip layers routed down a channel on the right.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Widget};

use crate::engine::StepStatus;
use crate::flow::Flow;
use crate::format::grouped;
use crate::tui::app::AppState;
use crate::tui::theme::{Theme, status_icon};

/// A node's box on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeBox {
    pub step: usize,
    pub area: Rect,
}

const UP: u8 = 1;
const DOWN: u8 = 2;
const LEFT: u8 = 4;
const RIGHT: u8 = 8;

fn glyph(dirs: u8) -> &'static str {
    match dirs {
        d if d == UP | DOWN => "│",
        d if d == LEFT | RIGHT => "─",
        d if d == UP | RIGHT => "└",
        d if d == UP | LEFT => "┘",
        d if d == DOWN | RIGHT => "┌",
        d if d == DOWN | LEFT => "┐",
        d if d == UP | DOWN | RIGHT => "├",
        d if d == UP | DOWN | LEFT => "┤",
        d if d == LEFT | RIGHT | DOWN => "┬",
        d if d == LEFT | RIGHT | UP => "┴",
        d if d == UP | DOWN | LEFT | RIGHT => "┼",
        d if d == UP || d == DOWN => "│",
        d if d == LEFT || d == RIGHT => "─",
        _ => " ",
    }
}

/// Layer of each step: one below the deepest step it listens to.
pub fn layers(flow: &Flow) -> Vec<usize> {
    let mut layer = vec![0; flow.steps().len()];
    for &s in &flow.dag.order {
        layer[s] = flow.dag.upstream[s].iter().map(|&u| layer[u] + 1).max().unwrap_or(0);
    }
    layer
}

/// How nodes are drawn: boxed (4 rows) when there is room, one line otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStyle {
    Boxed,
    Compact,
}

pub struct GraphLayout {
    pub style: NodeStyle,
    pub nodes: Vec<NodeBox>,
    /// Edges that skip layers, with their channel column.
    pub channels: Vec<(usize, usize, u16)>,
    pub gap: u16,
}

/// Places the nodes in `area`.
pub fn layout(flow: &Flow, area: Rect) -> GraphLayout {
    let layer = layers(flow);
    let depth = layer.iter().max().map_or(0, |m| m + 1) as u16;
    let skips: Vec<(usize, usize)> = (0..flow.steps().len())
        .flat_map(|v| flow.dag.upstream[v].iter().map(move |&u| (u, v)))
        .filter(|&(u, v)| layer[v] > layer[u] + 1)
        .collect();
    let fits = |node_h: u16, gap: u16| depth * node_h + depth.saturating_sub(1) * gap <= area.height;
    let (style, node_h, gap) = if fits(4, 3) {
        (NodeStyle::Boxed, 4, 3)
    } else if fits(1, 2) {
        (NodeStyle::Compact, 1, 2)
    } else {
        (NodeStyle::Compact, 1, 1)
    };
    let channel_w = 2 * skips.len() as u16;
    let usable = area.width.saturating_sub(channel_w + 1);
    let mut nodes = Vec::new();
    for l in 0..depth as usize {
        let members: Vec<usize> = flow.dag.order.iter().copied().filter(|&s| layer[s] == l).collect();
        let count = members.len() as u16;
        // Each layer shares the width among its own nodes.
        let node_w = (usable.saturating_sub(count.saturating_sub(1) * 2) / count.max(1)).clamp(8, 40);
        let total = count * node_w + count.saturating_sub(1) * 2;
        let left = area.x + usable.saturating_sub(total) / 2;
        let y = area.y + l as u16 * (node_h + gap);
        for (k, &s) in members.iter().enumerate() {
            let x = left + k as u16 * (node_w + 2);
            let area = Rect::new(x, y, node_w, node_h).intersection(area);
            nodes.push(NodeBox { step: s, area });
        }
    }
    let channels = skips
        .iter()
        .enumerate()
        .map(|(k, &(u, v))| (u, v, area.x + usable + 1 + 2 * k as u16))
        .collect();
    GraphLayout {
        style,
        nodes,
        channels,
        gap,
    }
}

pub struct FlowGraphPane<'a> {
    pub state: &'a AppState,
    pub theme: &'a Theme,
    pub focused: bool,
}

struct Canvas {
    area: Rect,
    cells: Vec<u8>,
}

impl Canvas {
    fn mark(&mut self, x: u16, y: u16, dirs: u8) {
        if self.area.contains((x, y).into()) {
            let i = (y - self.area.y) as usize * self.area.width as usize + (x - self.area.x) as usize;
            self.cells[i] |= dirs;
        }
    }

    fn vline(&mut self, x: u16, y0: u16, y1: u16) {
        for y in y0.min(y1)..=y0.max(y1) {
            let mut d = 0;
            if y > y0.min(y1) {
                d |= UP;
            }
            if y < y0.max(y1) {
                d |= DOWN;
            }
            self.mark(x, y, d);
        }
    }

    fn hline(&mut self, y: u16, x0: u16, x1: u16) {
        for x in x0.min(x1)..=x0.max(x1) {
            let mut d = 0;
            if x > x0.min(x1) {
                d |= LEFT;
            }
            if x < x0.max(x1) {
                d |= RIGHT;
            }
            self.mark(x, y, d);
        }
    }
}

fn center(b: &NodeBox) -> u16 {
    b.area.x + b.area.width / 2
}

impl Widget for &FlowGraphPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let state = self.state;
        let theme = self.theme;
        let border = if self.focused { theme.border_focus } else { theme.border };
        let block = Block::bordered()
            .border_style(border)
            .title(" 1 Flow ")
            .title_style(theme.title);
        let inner = block.inner(area);
        block.render(area, buf);
        let flow = &state.flow;
        let g = layout(flow, inner);
        let node = |s: usize| g.nodes.iter().find(|n| n.step == s).expect("every step is placed");

        // Edges on a direction canvas, so crossings and merges get the right glyphs.
        let mut canvas = Canvas {
            area: inner,
            cells: vec![0; inner.width as usize * inner.height as usize],
        };
        let layer = layers(flow);
        for v in 0..flow.steps().len() {
            for &u in &flow.dag.upstream[v] {
                let (a, b) = (node(u), node(v));
                if layer[v] == layer[u] + 1 {
                    // Down from the parent to a bus row, along it, and down into the child.
                    let top = a.area.bottom();
                    let into = b.area.y.saturating_sub(1);
                    let bus = if g.gap >= 3 { top + 1 } else { top };
                    canvas.mark(center(a), top, UP);
                    canvas.vline(center(a), top, bus);
                    canvas.hline(bus, center(a), center(b));
                    canvas.vline(center(b), bus, into);
                    canvas.mark(center(b), into, DOWN);
                } else if let Some(&(_, _, x)) = g.channels.iter().find(|(cu, cv, _)| *cu == u && *cv == v) {
                    let ya = a.area.y + a.area.height / 2;
                    let yb = b.area.y + b.area.height / 2;
                    canvas.hline(ya, a.area.right(), x);
                    canvas.vline(x, ya, yb);
                    canvas.hline(yb, b.area.right(), x);
                }
            }
        }
        for y in 0..inner.height {
            for x in 0..inner.width {
                let d = canvas.cells[y as usize * inner.width as usize + x as usize];
                if d != 0 {
                    buf[(inner.x + x, inner.y + y)]
                        .set_symbol(glyph(d))
                        .set_style(theme.dim);
                }
            }
        }
        // Arrow heads into children, where a row is free for them.
        for v in 0..flow.steps().len() {
            let b = node(v);
            let has_adjacent = flow.dag.upstream[v].iter().any(|&u| layer[u] + 1 == layer[v]);
            if has_adjacent && g.gap >= 2 && b.area.y > inner.y {
                buf[(center(b), b.area.y - 1)].set_symbol("▼").set_style(theme.dim);
            }
            if g.channels.iter().any(|(_, cv, _)| *cv == v) && b.area.right() < inner.right() {
                buf[(b.area.right(), b.area.y + b.area.height / 2)]
                    .set_symbol("◀")
                    .set_style(theme.dim);
            }
        }

        for n in &g.nodes {
            draw_node(state, theme, n, g.style, buf);
        }
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The node's second line: tokens against budget and time, or why it has none. Tokens and
/// budget are always of one pruning: the what-if's once it is back, else the last run's.
fn node_detail(state: &AppState, step: usize) -> String {
    let status = state.status_of(step);
    let ms = state.snapshot.as_ref().and_then(|s| s.steps[step].duration_ms);
    if let Some(Err(_)) = state.what_if_result(step) {
        return format!("over budget {}", grouped(state.steps[step].tuning.budget as f64));
    }
    let shown = state.shown_context(step).map(|c| (c.tokens, c.budget));
    match (status, shown) {
        (StepStatus::Done | StepStatus::Cached, Some((t, budget))) => {
            let time = ms.map(|m| format!(" {m}ms")).unwrap_or_default();
            format!("{}/{}{time}", grouped(t as f64), grouped(budget as f64))
        }
        (StepStatus::Running, _) => "running…".into(),
        (s, _) => s.as_str().into(),
    }
}

fn draw_node(state: &AppState, theme: &Theme, n: &NodeBox, style: NodeStyle, buf: &mut Buffer) {
    let status = state.status_of(n.step);
    let selected = state.step == n.step;
    let stale = if state.is_stale(n.step) { "*" } else { "" };
    let icon = status_icon(status, state.spinner);
    let id = &state.flow.step(n.step).id;
    let status_style = theme.status(status);
    let frame_style = if selected { theme.border_focus } else { theme.border };
    let a = n.area;
    if a.width < 4 || a.height == 0 {
        return;
    }
    match style {
        NodeStyle::Boxed => {
            let block = Block::bordered().border_style(frame_style);
            let inner = block.inner(a);
            ratatui::widgets::Clear.render(a, buf);
            block.render(a, buf);
            let w = inner.width as usize;
            let title = truncate(&format!("{icon} {id}{stale}"), w);
            let title_style = if selected {
                status_style.patch(theme.title)
            } else {
                status_style
            };
            buf.set_string(inner.x, inner.y, &title, title_style);
            if inner.height > 1 {
                buf.set_string(
                    inner.x,
                    inner.y + 1,
                    truncate(&node_detail(state, n.step), w),
                    theme.dim,
                );
            }
        }
        NodeStyle::Compact => {
            for x in a.x..a.right() {
                buf[(x, a.y)].set_symbol(" ");
            }
            // The step id is what the line is for: the detail goes first when room is short.
            let w = a.width as usize;
            let full = format!("{icon} {id}{stale} {}", node_detail(state, n.step));
            let bare = format!("{icon} {id}{stale}");
            let text = if full.chars().count() <= w {
                full
            } else {
                truncate(&bare, w)
            };
            let style = if selected {
                theme.selected.patch(status_style)
            } else {
                status_style
            };
            buf.set_string(a.x, a.y, &text, style);
            let _ = Style::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_the_longest_path() {
        let roi = Flow::builtin("roi_analysis").unwrap();
        assert_eq!(layers(&roi), vec![0, 1, 2, 3]);
        let brand = Flow::builtin("brand_performance").unwrap();
        assert_eq!(layers(&brand), vec![0, 1, 1, 2, 3]);
    }

    #[test]
    fn skip_edges_get_a_channel_and_nodes_fit() {
        let roi = Flow::builtin("roi_analysis").unwrap();
        let area = Rect::new(0, 0, 40, 30);
        let g = layout(&roi, area);
        assert_eq!(g.style, NodeStyle::Boxed);
        // analyze_profitability → generate_report skips optimize_budget.
        assert_eq!(g.channels.len(), 1);
        assert!(g.nodes.iter().all(|n| area.contains((n.area.x, n.area.y).into())));
        let small = layout(&roi, Rect::new(0, 0, 36, 8));
        assert_eq!(small.style, NodeStyle::Compact);
    }

    #[test]
    fn glyphs_join_lines() {
        assert_eq!(glyph(UP | DOWN | RIGHT), "├");
        assert_eq!(glyph(LEFT | RIGHT | UP), "┴");
        assert_eq!(glyph(DOWN | LEFT), "┐");
    }
}
