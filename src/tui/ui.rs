//! Draws the whole screen from the app state, and records where things are for the mouse.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::app::{self, Action, AppState, Pane, Phase};
use super::keymap::Keymap;
use super::layout::{MIN_HEIGHT, MIN_WIDTH, screen};
use super::panes::budgets::{self, BudgetsPane};
use super::panes::cache::{self, CachePane};
use super::panes::context::{self, ContextPane};
use super::panes::flow_graph::{self, FlowGraphPane};
use super::panes::report::ReportPane;
use super::theme::{Theme, status_icon};
use crate::engine::RunState;
use crate::format::{grouped, pct, usd};

fn rect(r: Rect) -> app::Rect {
    app::Rect {
        x: r.x,
        y: r.y,
        width: r.width,
        height: r.height,
    }
}

pub fn draw(frame: &mut Frame, state: &mut AppState, keymap: &Keymap, theme: &Theme) {
    let area = frame.area();
    let Some(screen) = screen(area) else {
        let text = format!(
            "terminal too small: need {MIN_WIDTH} x {MIN_HEIGHT}, have {} x {}",
            area.width, area.height
        );
        let [middle] = Layout::vertical([Constraint::Length(1)]).flex(Flex::Center).areas(area);
        frame.render_widget(
            Paragraph::new(text).alignment(Alignment::Center).style(theme.warn),
            middle,
        );
        state.hitboxes = app::Hitboxes::default();
        return;
    };

    frame.render_widget(
        Paragraph::new(header(state, theme, screen.header.width)).style(theme.header),
        screen.header,
    );
    frame.render_widget(Paragraph::new(footer(state, keymap, theme)), screen.footer);

    let mut hitboxes = app::Hitboxes::default();
    // A zoomed pane, or one this screen has no place for (the report below 160 columns),
    // fills the body.
    let placed = screen.panes.iter().any(|(p, _)| *p == state.focus);
    let panes: Vec<(Pane, Rect)> = match state.zoomed() {
        Some(pane) => vec![(pane, screen.body)],
        None if !placed => vec![(state.focus, screen.body)],
        None => screen.panes.clone(),
    };
    for (pane, r) in panes {
        let focused = state.focus == pane;
        hitboxes.panes.push((pane, rect(r)));
        match pane {
            Pane::Flow => {
                frame.render_widget(&FlowGraphPane { state, theme, focused }, r);
                let inner = Block::bordered().inner(r);
                for n in flow_graph::layout(&state.flow, inner).nodes {
                    hitboxes.nodes.push((n.step, rect(n.area)));
                }
            }
            Pane::Budgets => {
                frame.render_widget(&BudgetsPane { state, theme, focused }, r);
                hitboxes.list_top.push((pane, r.y + 1 + budgets::LIST_OFFSET));
            }
            Pane::Cache => {
                frame.render_widget(&CachePane { state, theme, focused }, r);
                hitboxes.list_top.push((pane, r.y + 1 + cache::LIST_OFFSET));
            }
            Pane::Context => {
                frame.render_widget(&ContextPane { state, theme, focused }, r);
                hitboxes.list_top.push((pane, r.y + 1 + context::LIST_OFFSET));
            }
            Pane::Report => frame.render_widget(&ReportPane { state, theme, focused }, r),
        }
    }
    state.hitboxes = hitboxes;

    if let Phase::Failed(message) = &state.phase {
        super::popups::show(
            frame,
            area,
            " Cannot load the data ",
            message.lines().map(|l| Line::from(l.to_string())).collect(),
            0,
            theme,
            70,
            7,
        );
    }
    super::popups::draw(frame, area, state, keymap, theme);
}

fn elapsed(since: std::time::Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

/// `loading ▕████░░░░▏ 45% of 107 MB · 1.2 s`, then `parsing 107 MB · 2.3 s`; a large
/// file parsed in batches shows its bar again: `parsing ▕██░░░░░░░░▏ 20% of 10715 MB`.
fn loading(state: &AppState) -> String {
    use crate::data::Stage;
    let mb = |b: u64| format!("{:.0} MB", b as f64 / 1e6);
    match state.data.progress {
        Some((read, total, stage @ (Stage::Reading | Stage::Batches))) if total > 0 => {
            let fraction = (read as f64 / total as f64).clamp(0.0, 1.0);
            let filled = (fraction * 10.0).round() as usize;
            format!(
                "{} ▕{}{}▏ {:.0}% of {} · {}",
                if stage == Stage::Reading { "loading" } else { "parsing" },
                "█".repeat(filled),
                "░".repeat(10 - filled),
                fraction * 100.0,
                mb(total),
                elapsed(state.data.load_started)
            )
        }
        Some((_, _, Stage::Querying)) => format!(
            "querying the warehouse: it sums where the data is · {} · x cancels",
            elapsed(state.data.load_started)
        ),
        Some((_, total, _)) => format!("parsing {} · {}", mb(total), elapsed(state.data.load_started)),
        None => "loading".to_string(),
    }
}

/// `⠋ running ▕███░░░▏ 2/4 steps · 1.3 s`.
fn running(state: &AppState, icon: &str) -> String {
    let steps = state.snapshot.as_ref().map(|s| &s.steps);
    let total = steps.map_or(0, |s| s.len());
    let done = steps.map_or(0, |s| s.iter().filter(|s| s.status.is_terminal()).count());
    let filled = (done * 6).checked_div(total).unwrap_or(0);
    let time = state.run_started.map(elapsed).unwrap_or_default();
    format!(
        "{icon} running ▕{}{}▏ {done}/{total} steps · {time}",
        "█".repeat(filled),
        "░".repeat(6 - filled)
    )
}

/// The header: the flow, the run's state, then the headline (the saving, the critical facts
/// kept, the cost against the baseline) or, for a failed run, the step that failed. At a
/// narrow width the cached costs, the file's details and the title go first, in that order.
fn header<'a>(state: &AppState, theme: &Theme, width: u16) -> Line<'a> {
    let run = state.run_state();
    let icon = match run {
        RunState::Running => status_icon(crate::engine::StepStatus::Running, state.spinner),
        RunState::Completed => "✓",
        RunState::Failed => "✗",
        RunState::Cancelled => "⊘",
        RunState::Idle => "·",
    };
    let phase = match &state.phase {
        Phase::Loading => loading(state),
        Phase::Failed(_) => "✗ data error (D shows it)".to_string(),
        Phase::Ready => {
            if run == RunState::Running {
                running(state, icon)
            } else {
                icon.to_string()
            }
        }
    };
    // The run's state in words, which a narrow header leaves to the icon.
    let words = match (&state.phase, run) {
        (Phase::Ready, r) if r != RunState::Running => {
            let ms = state
                .snapshot
                .as_ref()
                .and_then(|s| s.duration_ms)
                .map(|m| format!(" {m} ms"))
                .unwrap_or_default();
            format!(" {}{ms}", r.as_str())
        }
        _ => String::new(),
    };
    // (text, style, which goes first when the width is short: lower first; 0 stays).
    let mut parts: Vec<(String, ratatui::style::Style, u8)> = vec![
        (" mrflow-tui │ ".into(), theme.header.patch(theme.title), 3),
        (state.flow.name().to_string(), theme.header.patch(theme.title), 0),
        (format!(" │ {phase}"), theme.header, 0),
        (words, theme.header, 5),
    ];
    let failed = state.snapshot.as_ref().and_then(|s| {
        s.steps
            .iter()
            .find(|s| s.status == crate::engine::StepStatus::Failed)
            .map(|s| (s.id.clone(), s.error.clone().unwrap_or_default()))
    });
    match (&state.ledger, failed) {
        (_, Some((step, error))) if run == RunState::Failed => {
            parts.push((
                format!(" │ ✗ {step} failed: {error}"),
                theme.header.patch(theme.warn),
                0,
            ));
        }
        (Some(l), _) => {
            // A model with its own tokenizer: the counts are estimates, and say so.
            let approx = if l.estimated { "~" } else { "" };
            parts.push((format!(" │ −{}", pct(l.reduction_pct)), theme.header, 0));
            parts.push((
                format!(
                    " tokens ({approx}{} vs {approx}{})",
                    grouped(l.prompt_tokens as f64),
                    grouped(l.baseline_tokens as f64),
                ),
                theme.header,
                4,
            ));
            let lost = l.facts_retained < l.facts_critical;
            parts.push((
                format!(
                    " · {}facts {}/{}",
                    if lost { "⚠ " } else { "" },
                    l.facts_retained,
                    l.facts_critical
                ),
                if lost {
                    theme.header.patch(theme.warn)
                } else {
                    theme.header
                },
                0,
            ));
            parts.push((
                format!(" · {} vs {}", usd(l.cost_usd), usd(l.baseline_cost_usd)),
                theme.header,
                0,
            ));
            parts.push((
                format!(
                    " │ prompt-cached {} vs {}",
                    usd(l.cost_cached_usd),
                    usd(l.baseline_cost_cached_usd)
                ),
                theme.header,
                1,
            ));
        }
        _ => {}
    }
    parts.push((format!(" │ {}", state.data.label), theme.header, 2));
    let used =
        |parts: &[(String, ratatui::style::Style, u8)]| parts.iter().map(|(t, _, _)| t.chars().count()).sum::<usize>();
    for drop in [1, 2, 3, 4, 5] {
        if used(&parts) <= width as usize {
            break;
        }
        parts.retain(|(_, _, d)| *d != drop);
    }
    Line::from(
        parts
            .into_iter()
            .map(|(text, style, _)| Span::styled(text, style))
            .collect::<Vec<_>>(),
    )
}

/// Key hints for the focused pane, then the latest event.
fn footer<'a>(state: &AppState, keymap: &Keymap, theme: &Theme) -> Line<'a> {
    let actions = state.focus.actions();
    let mut spans = Vec::new();
    for a in actions
        .iter()
        .chain([Action::FocusNext, Action::Help, Action::Quit].iter())
    {
        // Where the pane or the state changes what the key does.
        let short = match a {
            Action::Down if state.focus == Pane::Report => "scroll",
            Action::Open if state.focus == Pane::Flow => "detail",
            Action::Zoom if state.zoom => "unzoom",
            a => a.hint(),
        };
        let first = match keymap.first_key_for(a).unwrap_or_default() {
            "down" => "↓".to_string(),
            "up" => "↑".to_string(),
            other => other.to_string(),
        };
        spans.push(Span::styled(format!(" {first}"), theme.accent));
        spans.push(Span::raw(format!(" {short}")));
    }
    if state.editing_filter.is_some() {
        spans = vec![
            Span::styled(" filter: ", theme.accent),
            Span::raw("type to narrow the list · Enter keeps it · Esc clears it"),
        ];
    }
    spans.push(Span::styled(format!("  │ {}", state.status), theme.dim));
    Line::from(spans)
}
