//! Report: the final report as the terminal renders Markdown, scrollable. Critical facts
//! that reached it are highlighted where they appear; the ones it lacks are listed first.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition, Paragraph, Widget, Wrap};

use crate::format::money;
use crate::tui::app::{AppState, ForecastChart};
use crate::tui::markdown;
use crate::tui::theme::Theme;

pub struct ReportPane<'a> {
    pub state: &'a AppState,
    pub theme: &'a Theme,
    pub focused: bool,
}

/// The report's lines: what is missing, then the report itself (or why there is none yet).
pub fn lines(state: &AppState, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let Some(ledger) = &state.ledger else {
        let last = state.flow.steps().len().saturating_sub(1);
        lines.push(Line::styled(
            "The report appears when the flow's last step has finished.",
            theme.dim,
        ));
        // A real model's final answer, as it streams.
        if !state.steps[last].stream.is_empty() {
            lines.push(Line::default());
            lines.extend(markdown::render(&state.steps[last].stream, &[], theme));
        }
        return lines;
    };
    if ledger.missing.is_empty() {
        lines.push(Line::styled(
            format!(
                "All {} critical facts reached the report (highlighted).",
                ledger.facts_critical
            ),
            theme.ok,
        ));
    } else {
        lines.push(Line::styled(
            format!(
                "{} of {} critical facts are missing from the report:",
                ledger.missing.len(),
                ledger.facts_critical
            ),
            theme.warn,
        ));
        for statement in &ledger.missing {
            lines.push(Line::styled(format!("  ✗ {statement}"), theme.warn));
        }
    }
    lines.push(Line::default());
    match &ledger.report {
        Some(report) => lines.extend(markdown::render(report, &ledger.critical_values, theme)),
        None => {
            // Say why: the step that failed, or the one that stopped the run short.
            let failed = state.snapshot.as_ref().and_then(|s| {
                s.steps
                    .iter()
                    .find(|s| s.status == crate::engine::StepStatus::Failed)
                    .map(|s| format!("{} failed: {}", s.id, s.error.as_deref().unwrap_or("no message")))
            });
            lines.push(Line::styled(
                match failed {
                    Some(why) => format!("The run did not produce a report: {why}."),
                    None => "The run did not produce a report.".to_string(),
                },
                theme.warn,
            ));
        }
    }
    lines
}

impl Widget for &ReportPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (state, theme) = (self.state, self.theme);
        let border = if self.focused { theme.border_focus } else { theme.border };
        let block = Block::bordered()
            .border_style(border)
            .title(" 5 Report ")
            .title_style(theme.title)
            .title_bottom(Line::styled(" ↑↓ PgUp/PgDn scroll · Tab panes · z zoom ", theme.dim));
        let inner = block.inner(area);
        block.render(area, buf);
        // A forecast is drawn above its report, when there is room for both.
        let chart = state.ledger.as_ref().and_then(|l| l.chart.as_ref());
        let text_area = match chart {
            Some(c) if inner.height >= 20 && inner.width >= 40 => {
                let [top, rest] = Layout::vertical([Constraint::Length(12), Constraint::Min(0)]).areas(inner);
                draw_chart(c, theme, top, buf);
                rest
            }
            _ => inner,
        };
        Paragraph::new(lines(state, theme))
            .wrap(Wrap { trim: false })
            .scroll((state.report_scroll, 0))
            .render(text_area, buf);
    }
}

/// Monthly revenue (braille line), the forecast after it, and the forecast ± its backtest
/// error as a dotted band.
fn draw_chart(c: &ForecastChart, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let n = c.history.len();
    let history: Vec<(f64, f64)> = c.history.iter().enumerate().map(|(i, (_, v))| (i as f64, *v)).collect();
    // The forecast starts from the last month, so the two lines join.
    let mut forecast: Vec<(f64, f64)> = history.last().copied().into_iter().collect();
    forecast.extend(c.forecast.iter().enumerate().map(|(i, (_, v))| ((n + i) as f64, *v)));
    let band = |sign: f64| -> Vec<(f64, f64)> {
        c.forecast
            .iter()
            .enumerate()
            .map(|(i, (_, v))| ((n + i) as f64, v * (1.0 + sign * c.mape_pct / 100.0)))
            .collect()
    };
    let (upper, lower) = (band(1.0), band(-1.0));
    let all = history.iter().chain(&forecast).chain(&upper).chain(&lower).map(|p| p.1);
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo < hi { (lo.max(0.0), hi) } else { (0.0, hi.max(1.0)) };
    let last = (n + c.forecast.len()).saturating_sub(1) as f64;
    let label = |i: usize| -> String {
        c.history
            .get(i)
            .or_else(|| c.forecast.get(i.saturating_sub(n)))
            .map(|(l, _)| l.clone())
            .unwrap_or_default()
    };
    let datasets = vec![
        Dataset::default()
            .name("revenue")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.accent)
            .data(&history),
        Dataset::default()
            .name(format!("forecast ({})", c.method))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.ok)
            .data(&forecast),
        Dataset::default()
            .name(format!("± {:.1}% backtest error", c.mape_pct))
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.dim)
            .data(&upper),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.dim)
            .data(&lower),
    ];
    Chart::new(datasets)
        // The legend says which line is which; it may take up to half the chart's height.
        .legend_position(Some(LegendPosition::TopLeft))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(2, 3)))
        .x_axis(
            Axis::default()
                .bounds([0.0, last.max(1.0)])
                .labels([
                    Span::raw(label(0)),
                    Span::raw(label(n.saturating_sub(1))),
                    Span::raw(label(last as usize)),
                ])
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels([Span::raw(money(lo)), Span::raw(money(hi))])
                .style(theme.dim),
        )
        .render(area, buf);
}
