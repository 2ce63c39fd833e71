//! Run history as a list: when, flow, data, changed settings, tokens, cost and critical
//! facts retained, newest last; `c` compares the selected run with the latest.

use ratatui::text::{Line, Span};

use crate::history::RunRecord;
use crate::tui::theme::Theme;

/// Rows above the first run.
pub const HEADER_ROWS: usize = 5;

/// `values` as a line of eighth blocks, lowest to highest (`▁▃█▅`): a trend at a glance.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    values
        .iter()
        .map(|v| {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
            BARS[((t * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// The history's lines, each row cut to `width` columns rather than wrapped: the trend of
/// prompt tokens and of critical facts kept across the runs, then a row per run.
pub fn lines(runs: &[RunRecord], selected: usize, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let cut = |text: String| -> String {
        if text.chars().count() <= width {
            text
        } else {
            let mut t: String = text.chars().take(width.saturating_sub(1)).collect();
            t.push('…');
            t
        }
    };
    // The last 60 runs fit a line; older ones are in the table.
    let recent = &runs[runs.len().saturating_sub(60)..];
    let tokens: Vec<f64> = recent.iter().map(|r| r.totals.prompt_tokens as f64).collect();
    let facts: Vec<f64> = recent
        .iter()
        .map(|r| r.facts.retained as f64 / r.facts.critical.max(1) as f64)
        .collect();
    let range = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        (lo, hi)
    };
    let (tlo, thi) = range(&tokens);
    let trend = if runs.is_empty() {
        vec![Line::default(), Line::default()]
    } else {
        vec![
            Line::from(vec![
                Span::styled("  tokens ", theme.dim),
                Span::styled(sparkline(&tokens), theme.accent),
                Span::styled(
                    format!(
                        "  {} to {} prompt tokens, oldest to newest",
                        crate::format::grouped(tlo),
                        crate::format::grouped(thi)
                    ),
                    theme.dim,
                ),
            ]),
            Line::from(vec![
                Span::styled("  facts  ", theme.dim),
                Span::styled(sparkline(&facts), theme.ok),
                Span::styled("  share of critical facts kept (full bar: all)", theme.dim),
            ]),
        ]
    };
    let mut lines = vec![Line::styled(
        "  ↑↓ select · c compare with the latest · Esc closes",
        theme.dim,
    )];
    lines.extend(trend);
    lines.push(Line::default());
    lines.push(Line::styled(cut(format!("  {}", RunRecord::row_header())), theme.title));
    for (i, r) in runs.iter().enumerate() {
        let latest = if i + 1 == runs.len() { " (latest)" } else { "" };
        let text = cut(format!("  {}{latest}", r.row()));
        let style = if i == selected {
            theme.selected
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_the_values_range() {
        assert_eq!(sparkline(&[1.0, 5.0, 3.0, 5.0]), "▁█▅█");
        assert_eq!(sparkline(&[2.0, 2.0]), "██", "a flat trend is full");
        assert_eq!(sparkline(&[]), "");
    }
}
