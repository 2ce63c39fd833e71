//! Budgets: the selected step's editable budget and strategy, a gauge of prompt tokens
//! against budget per step with its baseline beside it, and optimized against baseline as
//! bars.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use crate::context::layout::cacheable;
use crate::format::grouped;
use crate::tui::app::AppState;
use crate::tui::theme::Theme;

pub struct BudgetsPane<'a> {
    pub state: &'a AppState,
    pub theme: &'a Theme,
    pub focused: bool,
}

/// Rows above the per-step list inside the pane (step, settings, hints and a blank).
pub const LIST_OFFSET: u16 = 4;

fn compact(n: usize) -> String {
    if n >= 10_000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else {
        grouped(n as f64)
    }
}

fn bar(width: usize, fraction: f64) -> String {
    let filled = ((fraction.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

impl Widget for &BudgetsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (state, theme) = (self.state, self.theme);
        let border = if self.focused { theme.border_focus } else { theme.border };
        let block = Block::bordered()
            .border_style(border)
            .title(" 3 Budgets ")
            .title_style(theme.title);
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 || inner.width < 20 {
            return;
        }
        let w = inner.width as usize;
        let i = state.step;
        let t = &state.steps[i].tuning;
        let mut title = vec![Span::styled(state.step_id(i).to_string(), theme.title)];
        if state.is_stale(i) {
            // What the tuning costs, before anything reruns: critical figures that would
            // no longer be in the prompt.
            let leaving = state.critical_facts_leaving(i).len();
            title.push(Span::styled(
                match leaving {
                    0 => "  * what-if, r applies".to_string(),
                    1 => "  * ⚠ 1 critical figure leaves".to_string(),
                    n => format!("  * ⚠ {n} critical figures leave"),
                },
                theme.warn,
            ));
        }
        buf.set_line(inner.x, inner.y, &Line::from(title), inner.width);
        let mut settings = vec![
            Span::raw("budget "),
            Span::styled(grouped(t.budget as f64), theme.accent),
            Span::raw(" · "),
            Span::styled(t.strategy.as_str(), theme.accent),
        ];
        // The prefix that stays byte-identical between runs of the step (what-if included),
        // and what the server said it served from its prompt cache.
        if let Some(shown) = state.shown_context(i) {
            settings.push(Span::styled(
                format!(" · stable prefix {}", grouped(shown.stable_prefix as f64)),
                theme.dim,
            ));
            let cacheable = cacheable(shown.stable_prefix, state.cache_rule);
            if cacheable > 0 {
                settings.push(Span::styled(
                    format!(" (cacheable {})", grouped(cacheable as f64)),
                    theme.dim,
                ));
            }
        }
        let reported = state
            .ledger
            .as_ref()
            .and_then(|l| l.cached_reported.get(i).copied().flatten());
        if let Some(n) = reported {
            settings.push(Span::styled(
                format!(" · server cached {}", grouped(n as f64)),
                theme.dim,
            ));
        }
        let settings = Line::from(settings);
        buf.set_line(inner.x, inner.y + 1, &settings, inner.width);
        buf.set_line(
            inner.x,
            inner.y + 2,
            &Line::styled("+/- budget · b type · s strategy", theme.dim),
            inner.width,
        );

        let baseline = |k: usize| {
            state
                .ledger
                .as_ref()
                .and_then(|l| l.baseline.get(k).copied())
                .unwrap_or(0)
        };
        // Whole step ids when the gauge keeps at least 8 cells, else a third of the width.
        let longest = state
            .flow
            .steps()
            .iter()
            .map(|s| s.id.chars().count())
            .max()
            .unwrap_or(8);
        let name_w = if w >= longest + 17 + 2 + 6 {
            longest
        } else {
            longest.min(w / 3)
        }
        .max(6);
        // Narrow panes drop the "base" label before the gauge shrinks below a few cells.
        let wide = w >= name_w + 22 + 12;
        let numbers_w = if wide { 22 } else { 17 };
        let gauge_w = w.saturating_sub(name_w + numbers_w + 2).max(3);
        let mut y = inner.y + LIST_OFFSET;
        for k in 0..state.flow.steps().len() {
            if y >= inner.bottom() {
                return;
            }
            let tokens = state.shown_context(k).map_or(0, |c| c.tokens);
            let budget = state.steps[k].tuning.budget as usize;
            let name: String = state.step_id(k).chars().take(name_w).collect();
            let line = Line::from(vec![
                Span::styled(
                    format!("{name:<name_w$} "),
                    if k == i {
                        theme.selected
                    } else {
                        ratatui::style::Style::new()
                    },
                ),
                Span::styled(bar(gauge_w, tokens as f64 / budget.max(1) as f64), theme.gauge),
                Span::raw(format!(" {:>5}/{:<5}", compact(tokens), compact(budget))),
                Span::styled(
                    if wide {
                        format!(" base {:>5}", compact(baseline(k)))
                    } else {
                        format!(" {:>5}", compact(baseline(k)))
                    },
                    theme.dim,
                ),
            ]);
            buf.set_line(inner.x, y, &line, inner.width);
            y += 1;
        }

        // Optimized against baseline, on one scale.
        y += 1;
        if y + 1 >= inner.bottom() {
            return;
        }
        // The legend tells the bars apart without colour (NO_COLOR), and the totals come
        // first so a short pane still shows them.
        let steps = state.flow.steps().len();
        let ours: usize = (0..steps).map(|k| state.shown_context(k).map_or(0, |c| c.tokens)).sum();
        let theirs: usize = (0..steps).map(baseline).sum();
        buf.set_line(
            inner.x,
            y,
            &Line::from(vec![
                Span::styled("█ optimized", theme.gauge),
                Span::raw(" vs "),
                Span::styled("░ baseline", theme.baseline),
                Span::styled(
                    format!(
                        " prompt tokens · total {} vs {}",
                        grouped(ours as f64),
                        grouped(theirs as f64)
                    ),
                    theme.dim,
                ),
            ]),
            inner.width,
        );
        y += 1;
        let max = (0..steps).map(baseline).max().unwrap_or(0).max(1);
        let bar_w = w.saturating_sub(name_w + 8).max(4);
        // Two rows a step, one kept for saying what does not fit: the bars scroll so the
        // selected step is always among them.
        let rows = inner.bottom().saturating_sub(y) as usize;
        let fit = if rows >= steps * 2 {
            steps
        } else {
            rows.saturating_sub(1) / 2
        };
        let first = if fit == 0 {
            0
        } else {
            (i + 1).saturating_sub(fit).min(steps - fit)
        };
        for k in first..steps {
            let need = if k + 1 < steps { 3 } else { 2 };
            if y + need > inner.bottom() || k >= first + fit.max(1) {
                // Say what did not fit, and how to see it.
                if y < inner.bottom() {
                    let (before, after) = (first, steps - k);
                    let text = match before {
                        0 => format!("… {after} more steps (↑↓ scroll, z zooms)"),
                        b => format!("… {b} above, {after} below (↑↓ scroll, z zooms)"),
                    };
                    buf.set_line(inner.x, y, &Line::styled(text, theme.dim), inner.width);
                }
                return;
            }
            let tokens = state.shown_context(k).map_or(0, |c| c.tokens);
            let name: String = state.step_id(k).chars().take(name_w).collect();
            let filled = |n: usize| ((n as f64 / max as f64) * bar_w as f64).ceil() as usize;
            buf.set_line(
                inner.x,
                y,
                &Line::from(vec![
                    Span::raw(format!("{name:<name_w$} ")),
                    Span::styled("█".repeat(filled(tokens).min(bar_w)), theme.gauge),
                    Span::styled(format!(" {}", compact(tokens)), theme.dim),
                ]),
                inner.width,
            );
            buf.set_line(
                inner.x,
                y + 1,
                &Line::from(vec![
                    Span::raw(" ".repeat(name_w + 1)),
                    Span::styled("░".repeat(filled(baseline(k)).min(bar_w)), theme.baseline),
                    Span::styled(format!(" {}", compact(baseline(k))), theme.dim),
                ]),
                inner.width,
            );
            y += 2;
        }
        if first > 0 && y < inner.bottom() {
            buf.set_line(
                inner.x,
                y,
                &Line::styled(format!("… {first} above (↑↓ scroll, z zooms)"), theme.dim),
                inner.width,
            );
        }
    }
}
