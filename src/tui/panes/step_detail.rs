//! A step in detail: status and timing, route, error, its answer (live while a model
//! streams it), tokens (ours, the baseline's, the server's), tool calls with their cache
//! hits and references, and facts (critical marked, and whether each reached the report).

use ratatui::text::{Line, Span};

use crate::format::grouped;
use crate::settings::Priority;
use crate::tui::app::AppState;
use crate::tui::markdown;
use crate::tui::theme::Theme;

fn heading(text: &str, theme: &Theme) -> Line<'static> {
    Line::styled(text.to_string(), theme.title)
}

pub fn lines(state: &AppState, i: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let snapshot = state.snapshot.as_ref().map(|s| &s.steps[i]);
    let status = state.status_of(i);
    let mut summary = vec![Span::styled(status.as_str().to_string(), theme.accent)];
    if let Some(ms) = snapshot.and_then(|s| s.duration_ms) {
        summary.push(Span::raw(format!(" in {ms} ms")));
    }
    if snapshot.is_some_and(|s| s.cached) {
        summary.push(Span::raw(" · from the cache"));
    }
    if let Some(route) = snapshot.and_then(|s| s.route.clone()) {
        summary.push(Span::raw(format!(" · routed to {route}")));
    }
    lines.push(Line::from(summary));
    if let Some(error) = snapshot.and_then(|s| s.error.clone()) {
        lines.push(Line::styled(format!("error: {error}"), theme.failed));
    }
    let view = state.steps[i].view.as_ref();
    lines.push(Line::default());
    lines.push(heading("Answer", theme));
    let answer = match view {
        Some(v) => v.output.answer.as_str(),
        None => state.steps[i].stream.as_str(),
    };
    if answer.is_empty() {
        lines.push(Line::styled("  (none yet)", theme.dim));
    } else {
        let highlights: Vec<String> = view
            .map(|v| v.output.facts.iter().map(|f| f.display.clone()).collect())
            .unwrap_or_default();
        lines.extend(markdown::render(answer, &highlights, theme));
    }
    if let Some(check) = view.map(|v| &v.output.check).filter(|c| c.flagged || c.retried) {
        let mut text = format!("  answer check: carries {}", check.summary());
        if check.retried {
            text.push_str(", after a retry");
        }
        if !check.unsupported.is_empty() {
            text.push_str(&format!(" ({})", check.unsupported.join(", ")));
        }
        let style = if check.flagged { theme.warn } else { theme.dim };
        lines.push(Line::styled(
            format!("{}{text}", if check.flagged { "⚠" } else { " " }),
            style,
        ));
    }

    lines.push(Line::default());
    lines.push(heading("Tokens", theme));
    match view {
        Some(v) => {
            let baseline = state.ledger.as_ref().and_then(|l| l.baseline.get(i).copied());
            // A model with its own tokenizer: our counts are estimates.
            let approx = if state.ledger.as_ref().is_some_and(|l| l.estimated) {
                "~"
            } else {
                ""
            };
            let mut text = format!(
                "  prompt {approx}{} of budget {} · completion {} · stable prefix {}",
                grouped(v.prompt_tokens as f64),
                grouped(v.context.budget as f64),
                grouped(v.completion_tokens as f64),
                grouped(v.context.stable_prefix as f64),
            );
            if let Some(b) = baseline {
                text.push_str(&format!(" · baseline {}", grouped(b as f64)));
            }
            lines.push(Line::raw(text));
            if let Some(u) = v.output.reported {
                let mut server = format!(
                    "  the server reported {} prompt, {} completion",
                    grouped(u.prompt_tokens as f64),
                    grouped(u.completion_tokens as f64)
                );
                if let Some(c) = u.cached_tokens {
                    server.push_str(&format!(", {} from its prompt cache", grouped(c as f64)));
                }
                if let Some(w) = u.cache_write_tokens.filter(|&w| w > 0) {
                    server.push_str(&format!(", {} written to it", grouped(w as f64)));
                }
                lines.push(Line::styled(server, theme.dim));
            }
            lines.push(Line::styled(format!("  written by {}", v.output.analyst), theme.dim));
        }
        None => lines.push(Line::styled("  not run yet", theme.dim)),
    }

    if let Some(v) = view {
        lines.push(Line::default());
        lines.push(heading("Tools", theme));
        if v.output.tools.is_empty() {
            lines.push(Line::styled("  none", theme.dim));
        }
        for t in &v.output.tools {
            lines.push(Line::from(vec![
                Span::raw(format!("  {} ", t.label)),
                Span::styled(t.output_ref.short(), theme.dim),
                Span::styled(
                    if t.cached { " cache hit" } else { " computed" },
                    if t.cached { theme.cached } else { theme.dim },
                ),
            ]));
        }

        lines.push(Line::default());
        lines.push(heading("Facts (★ critical · ✓ in the report)", theme));
        let report = state.ledger.as_ref().and_then(|l| l.report.as_deref());
        for f in &v.output.facts {
            let critical = if f.priority == Priority::Critical { "★" } else { " " };
            let reached = match report {
                Some(r) if crate::tools::fact_check::carries(r, f) => "✓",
                Some(_) => "✗",
                None => " ",
            };
            let style = if reached == "✗" && f.priority == Priority::Critical {
                theme.warn
            } else {
                ratatui::style::Style::new()
            };
            lines.push(Line::styled(format!("  {critical} {reached} {}", f.statement), style));
        }
    }

    lines
}
