//! Draws the whole screen from the app state, and records where things are for the mouse.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{self, Action, AppState, Pane, Phase, Popup};
use super::keymap::Keymap;
use super::layout::{MIN_HEIGHT, MIN_WIDTH, screen};
use super::panes::budgets::{self, BudgetsPane};
use super::panes::cache::{self, CachePane};
use super::panes::context::{self, ContextPane};
use super::panes::flow_graph::{self, FlowGraphPane};
use super::panes::history;
use super::panes::report::ReportPane;
use super::panes::step_detail;
use super::theme::{Theme, status_icon};
use crate::engine::RunState;
use crate::tools::format::{grouped, pct, usd};

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
        popup(
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
    match &state.popup {
        None => {}
        Some(Popup::Help { scroll }) => {
            // The focused pane's keys first, then every key; descriptions wrap under
            // themselves, not to column 0.
            let width = (76.min(area.width.saturating_sub(4)) as usize).saturating_sub(2);
            let here = pane_actions(state.focus);
            let help = keymap.help();
            let mut lines = vec![Line::styled(
                format!("In the {} pane", state.focus.title()),
                theme.title,
            )];
            for a in here {
                if let Some((k, what)) = help.iter().find(|(_, what)| *what == a.describe()) {
                    lines.extend(hanging(k, what, width));
                }
            }
            lines.push(Line::default());
            lines.push(Line::styled("Every key", theme.title));
            for (k, what) in &help {
                lines.extend(hanging(k, what, width));
            }
            let visible = 30usize.min(area.height as usize).saturating_sub(2);
            let scroll = (*scroll).min(lines.len().saturating_sub(visible) as u16);
            popup(frame, area, " Help · Esc closes ", lines, scroll, theme, 76, 30);
        }
        Some(Popup::Inspector {
            title,
            lines,
            scroll,
            pinned,
            hscroll,
        }) => {
            // A comparison of runs colours what changed: the report diff's added and
            // removed lines, facts lost and regained.
            let mut lines = lines.clone();
            // A pinned header stays above the rows scrolled under it; a wide table scrolls
            // sideways, its header with it.
            if *pinned > 0 && *scroll > 0 {
                let skip = (*scroll as usize).min(lines.len().saturating_sub(*pinned));
                lines.drain(*pinned..*pinned + skip);
            }
            if *hscroll > 0 || *pinned > 0 {
                // A table is cut at the popup's edge, not wrapped: its columns stay aligned.
                let inner = (110.min(area.width.saturating_sub(4)) as usize).saturating_sub(2);
                for l in &mut lines {
                    *l = l.chars().skip(*hscroll as usize).take(inner).collect();
                }
            }
            let scroll = if *pinned > 0 { &0 } else { scroll };
            let styled = if title.starts_with("Compare ") {
                diff_lines(&lines, theme)
            } else {
                plain(lines)
            };
            popup(
                frame,
                area,
                &format!(" {title} · ↑↓ scroll · Esc closes "),
                styled,
                *scroll,
                theme,
                110,
                40,
            );
        }
        Some(Popup::Data {
            scroll,
            column,
            picking,
        }) => {
            // The problem first (when the file could not be used), then the columns to map
            // (or the roles for the chosen one), then the file's profile.
            let mut lines: Vec<Line<'static>> = Vec::new();
            let mut profile: &[String] = &state.data_lines;
            if let super::app::Phase::Failed(message) = &state.phase {
                lines.push(Line::styled(message.clone(), theme.warn));
                lines.push(Line::default());
                // The popup's lines begin with the same message and a blank line.
                if profile.first() == Some(message) {
                    profile = &profile[2.min(profile.len())..];
                }
            }
            let selected_line = match picking {
                None => {
                    lines.push(Line::styled(
                        "Map a column: ↑↓ choose · Enter picks its role · w saves the mapping to a flow file",
                        theme.title,
                    ));
                    let first = lines.len();
                    for (i, c) in state.data_columns.iter().enumerate() {
                        let text = format!(
                            "{} {:<28} {:<8} {}",
                            if i == *column { ">" } else { " " },
                            c.name,
                            c.kind,
                            c.role.as_deref().unwrap_or("-")
                        );
                        lines.push(if i == *column {
                            Line::styled(text, theme.selected)
                        } else {
                            Line::from(text)
                        });
                    }
                    first + *column
                }
                Some(r) => {
                    let name = state.data_columns.get(*column).map_or("", |c| c.name.as_str());
                    lines.push(Line::styled(
                        format!("Read `{name}` as: ↑↓ choose · Enter applies and runs again · Esc back"),
                        theme.title,
                    ));
                    let first = lines.len();
                    let roles = crate::tui::app::pickable_roles();
                    let choices = roles
                        .iter()
                        .map(|r| r.to_string())
                        .chain(["none (leave it unmapped)".to_string()]);
                    for (i, role) in choices.enumerate() {
                        let text = format!("{} {role}", if i == *r { ">" } else { " " });
                        lines.push(if i == *r {
                            Line::styled(text, theme.selected)
                        } else {
                            Line::from(text)
                        });
                    }
                    first + *r
                }
            };
            lines.push(Line::default());
            lines.extend(profile.iter().map(|l| Line::from(l.clone())));
            // Keep the chosen row in view, counting rows as the lines wrap.
            let inner = (110.min(area.width.saturating_sub(4)) as usize)
                .saturating_sub(2)
                .max(1);
            let row_of = |k: usize| -> usize { lines[..k].iter().map(|l| l.width().div_ceil(inner).max(1)).sum() };
            let room = area.height.saturating_sub(6) as usize;
            let scroll = (*scroll).max((row_of(selected_line) + 1).saturating_sub(room) as u16);
            popup(
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
        Some(Popup::ConfirmEvict { what, .. }) => {
            let lines = vec![
                format!("Evict {what}?"),
                String::new(),
                "y or Enter evicts it · any other key keeps it".into(),
            ];
            popup(frame, area, " Evict ", plain(lines), 0, theme, 70, 5);
        }
        Some(Popup::BudgetInput { buffer }) => {
            let lines = vec![
                format!("Budget for {}: {buffer}▏", state.step_id(state.step)),
                String::new(),
                "Enter applies, Esc cancels".into(),
            ];
            popup(frame, area, " Budget ", plain(lines), 0, theme, 44, 5);
        }
        Some(Popup::History { runs, selected }) => {
            // The popup's inner width, as `popup` sizes it.
            let inner = (150.min(area.width.saturating_sub(4)) as usize).saturating_sub(2);
            let lines = history::lines(runs, *selected, theme, inner);
            // Keep the selected run in view.
            let room = area.height.saturating_sub(4) as usize;
            let row = selected + history::HEADER_ROWS;
            let scroll = (row + 1).saturating_sub(room) as u16;
            let title = format!(" Runs · {} kept ", runs.len());
            popup(frame, area, &title, lines, scroll, theme, 150, area.height);
        }
        Some(Popup::StepDetail { step, scroll }) => {
            let title = format!(" {} · ↑↓ scroll · Esc closes ", state.step_id(*step));
            let lines = step_detail::lines(state, *step, theme);
            // As tall as the screen allows: an answer is worth the room.
            popup(frame, area, &title, lines, *scroll, theme, 110, area.height);
        }
    }
}

/// A run comparison's lines, coloured: `+` added and `regained:` in the ok colour, `-`
/// removed and `lost:` in the warning colour, hunk headers as accents.
fn diff_lines(lines: &[String], theme: &Theme) -> Vec<Line<'static>> {
    let mut in_diff = false;
    lines
        .iter()
        .map(|l| {
            in_diff |= l == "Report diff:";
            let style = if l.starts_with("lost:") || (in_diff && l.starts_with('-') && !l.starts_with("---")) {
                theme.warn
            } else if l.starts_with("regained:") || (in_diff && l.starts_with('+') && !l.starts_with("+++")) {
                theme.ok
            } else if in_diff && l.starts_with("@@") {
                theme.accent
            } else {
                ratatui::style::Style::new()
            };
            Line::styled(l.clone(), style)
        })
        .collect()
}

fn plain(lines: Vec<String>) -> Vec<Line<'static>> {
    lines.into_iter().map(Line::from).collect()
}

#[allow(clippy::too_many_arguments)]
fn popup(
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
    let inner = w.saturating_sub(2).max(1) as usize;
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

fn elapsed(since: std::time::Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

/// `loading ▕████░░░░▏ 45% of 107 MB · 1.2 s`, then `parsing 107 MB · 2.3 s`; a large
/// file parsed in batches shows its bar again: `parsing ▕██░░░░░░░░▏ 20% of 10715 MB`.
fn loading(state: &AppState) -> String {
    use crate::data::Stage;
    let mb = |b: u64| format!("{:.0} MB", b as f64 / 1e6);
    match state.load_progress {
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
                elapsed(state.load_started)
            )
        }
        Some((_, _, Stage::Querying)) => format!(
            "querying the warehouse: it sums where the data is · {} · x cancels",
            elapsed(state.load_started)
        ),
        Some((_, total, _)) => format!("parsing {} · {}", mb(total), elapsed(state.load_started)),
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
    parts.push((format!(" │ {}", state.data), theme.header, 2));
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

/// `keys  what` with `what` wrapped under itself at `width` columns.
fn hanging(keys: &str, what: &str, width: usize) -> Vec<Line<'static>> {
    const KEYS: usize = 18;
    let room = width.saturating_sub(KEYS + 2).max(20);
    let mut rows: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in what.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            rows.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    rows.push(line);
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let k = if i == 0 { keys } else { "" };
            Line::from(format!("{k:>KEYS$}  {r}"))
        })
        .collect()
}

/// The actions that matter in a pane: the footer's hints and the first part of help.
fn pane_actions(focus: Pane) -> &'static [Action] {
    match focus {
        Pane::Flow => &[
            Action::Down,
            Action::Open,
            Action::RerunStep,
            Action::RerunAll,
            Action::Cancel,
            Action::BudgetUp,
            Action::StrategyNext,
        ],
        Pane::Budgets => &[
            Action::BudgetUp,
            Action::BudgetDown,
            Action::EditBudget,
            Action::StrategyNext,
            Action::RerunStep,
        ],
        Pane::Cache => &[Action::Open, Action::Evict, Action::SortCache, Action::Filter],
        Pane::Report => &[Action::Down, Action::PageDown, Action::Zoom],
        Pane::Context => &[
            Action::PriorityNext,
            Action::PriorityPrev,
            Action::TogglePrompt,
            Action::Filter,
            Action::Memory,
            Action::RerunStep,
        ],
    }
}

/// Key hints for the focused pane, then the latest event.
fn footer<'a>(state: &AppState, keymap: &Keymap, theme: &Theme) -> Line<'a> {
    let actions = pane_actions(state.focus);
    let mut spans = Vec::new();
    for a in actions
        .iter()
        .chain([Action::FocusNext, Action::Help, Action::Quit].iter())
    {
        let short = match a {
            Action::Down if state.focus == Pane::Report => "scroll",
            Action::Down => "step",
            Action::RerunStep => "rerun",
            Action::RerunAll => "all",
            Action::Cancel => "cancel",
            Action::BudgetUp => "budget",
            Action::BudgetDown => "less",
            Action::EditBudget => "type",
            Action::StrategyNext => "strategy",
            Action::Open if state.focus == Pane::Flow => "detail",
            Action::Open => "inspect",
            Action::PageDown => "page",
            Action::Filter => "filter",
            Action::Zoom if state.zoom => "unzoom",
            Action::Zoom => "zoom",
            Action::Evict => "evict",
            Action::SortCache => "sort",
            Action::Memory => "memory",
            Action::PriorityNext => "demote",
            Action::PriorityPrev => "promote",
            Action::TogglePrompt => "prompt",
            Action::FocusNext => "pane",
            Action::Help => "help",
            Action::Quit => "quit",
            _ => "",
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
