//! The event loop: one `select!` over terminal input, engine events and the loop's own
//! messages. It draws only when something changed, and ticks only while a spinner turns, so
//! an idle screen uses no CPU.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers, MouseEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::app::{Action, AppState, Effect, ForecastChart, LedgerView, Message, StepView, update};
use super::keymap::Keymap;
use super::terminal;
use super::theme::Theme;
use super::ui;
use crate::cache::ResultStore;
use crate::data::{DataError, Dataset, LoadProgress, Progress};
use crate::engine::{EngineCommand, EngineEvent, EngineHandle, FlowSnapshot, RunReport};
use crate::format::grouped;
use crate::session::Session;

pub struct TuiOptions {
    /// What the runs need: flow, data, store, engine parts, history (shared with `run`).
    pub session: Arc<Session>,
    /// Shown in the status line at start, e.g. that memory is unavailable.
    pub notices: Vec<String>,
    pub autorun: bool,
}

enum Msg {
    Action(Action),
    Data(Result<Arc<Dataset>, DataError>),
}

struct Running {
    handle: EngineHandle,
    events: mpsc::UnboundedReceiver<EngineEvent>,
    dataset: Arc<Dataset>,
    store: Arc<ResultStore>,
}

async fn next_engine_event(engine: &mut Option<Running>) -> Option<EngineEvent> {
    match engine {
        Some(e) => e.events.recv().await,
        None => std::future::pending().await,
    }
}

/// Maps a terminal event to an action. Ctrl-C always quits, whatever the keymap says.
fn translate(event: Event, keymap: &Keymap, state: &AppState) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => {
            if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
                return Some(Action::Quit);
            }
            if state.editing_filter.is_some() {
                match key.code {
                    KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        return Some(Action::Char(c));
                    }
                    KeyCode::Backspace => return Some(Action::Backspace),
                    KeyCode::Enter => return Some(Action::Open),
                    KeyCode::Esc => return Some(Action::Close),
                    _ => {}
                }
            }
            // The eviction question takes any key: y or Enter evicts, the rest keeps.
            if matches!(state.popup, Some(super::app::Popup::ConfirmEvict(_))) {
                return Some(match key.code {
                    KeyCode::Enter => Action::Open,
                    KeyCode::Char(c) => Action::Char(c),
                    _ => Action::Close,
                });
            }
            if matches!(state.popup, Some(super::app::Popup::BudgetInput(_))) {
                match key.code {
                    KeyCode::Char(c) if c.is_ascii_digit() => return Some(Action::Char(c)),
                    KeyCode::Backspace => return Some(Action::Backspace),
                    KeyCode::Enter => return Some(Action::Open),
                    KeyCode::Esc => return Some(Action::Close),
                    _ => {}
                }
            }
            keymap.action(key)
        }
        Event::Mouse(m) => match m.kind {
            MouseEventKind::Down(_) => Some(Action::Click {
                column: m.column,
                row: m.row,
            }),
            MouseEventKind::ScrollDown => Some(Action::Scroll {
                column: m.column,
                row: m.row,
                down: true,
            }),
            MouseEventKind::ScrollUp => Some(Action::Scroll {
                column: m.column,
                row: m.row,
                down: false,
            }),
            _ => None,
        },
        _ => None,
    }
}

fn data_label(d: &Dataset) -> String {
    let name = crate::data::source_name(&d.path);
    format!("{name} · {} rows · {}", grouped(d.rows() as f64), d.reference.short())
}

/// Runs the TUI until the user quits.
pub async fn run(mut opts: TuiOptions) -> Result<(), String> {
    let session = opts.session.clone();
    let keymap = Keymap::new(&session.parts.config.keys)?;
    let theme = Theme::pick(&session.parts.config.theme);
    let (mut term, _guard) = terminal::init().map_err(|e| format!("cannot start the terminal UI: {e}"))?;
    let name = crate::data::source_name(&session.parts.data);
    let mut state = AppState::new(session.parts.flow.clone(), format!("{name} · loading…"));
    state.cache_rule = session.parts.config.cache_rule(&session.parts.model);
    if !opts.notices.is_empty() {
        state.status = opts.notices.join("; ");
    }
    let (tx, mut internal) = mpsc::unbounded_channel::<Msg>();

    // Data and tokenizer load in the background: the first frame does not wait for them.
    let load_progress = LoadProgress::new();
    {
        let (tx, session, progress) = (tx.clone(), session.clone(), load_progress.clone());
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(Msg::Data(session.load_dataset(Progress(Some(progress)))));
        });
    }

    let mut events = EventStream::new();
    let mut engine: Option<Running> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    // The Cache pane's ages and times to live move once a second, even when nothing runs.
    let mut ages = tokio::time::interval(Duration::from_secs(1));
    ages.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let panic_after_first_frame = std::env::var_os("MRFLOW_TUI_TEST_PANIC").is_some();
    let mut dirty = true;
    loop {
        if dirty {
            term.draw(|f| ui::draw(f, &mut state, &keymap, &theme))
                .map_err(|e| format!("cannot draw: {e}"))?;
            dirty = false;
            if panic_after_first_frame {
                panic!("test panic requested by MRFLOW_TUI_TEST_PANIC");
            }
        }
        if state.quit {
            break;
        }
        let spinning = state.running() || state.phase == super::app::Phase::Loading;
        let action = tokio::select! {
            biased;
            event = events.next() => match event {
                Some(Ok(Event::Resize(..))) => { dirty = true; None }
                Some(Ok(event)) => translate(event, &keymap, &state),
                Some(Err(e)) => return Err(format!("terminal input failed: {e}")),
                None => break,
            },
            Some(msg) = internal.recv() => match msg {
                Msg::Action(a) => Some(a),
                Msg::Data(Ok(dataset)) => {
                    let (handle, rx) = session.spawn_engine(dataset.clone());
                    if opts.autorun {
                        handle.send(EngineCommand::RunAll);
                    }
                    let label = data_label(&dataset);
                    let mapping = dataset.profile.render(&[]).lines().map(String::from).collect();
                    let columns = data_columns(&dataset.profile);
                    engine = Some(Running { handle, events: rx, dataset, store: session.store.clone() });
                    Some(Message::Loaded { data: label, mapping, columns }.into())
                }
                Msg::Data(Err(e)) => {
                    let mapping = e.profile().map(|p| p.render(e.missing()).lines().map(String::from).collect());
                    let columns = e.profile().map(data_columns).unwrap_or_default();
                    Some(Message::LoadFailed { message: e.to_string(), mapping, columns }.into())
                }
            },
            Some(event) = next_engine_event(&mut engine) => {
                if let (Some(e), EngineEvent::RunFinished { .. }) = (&engine, &event) {
                    spawn_ledger(e, &session, tx.clone());
                }
                Some(Message::Engine(event).into())
            },
            _ = ages.tick(), if engine.is_some() && state.popup.is_none()
                && (!state.zoom || state.focus == super::app::Pane::Cache) => {
                Some(Message::CacheEntries(session.store.entries()).into())
            }
            _ = tick.tick(), if spinning => Some(Action::from(if state.phase == super::app::Phase::Loading {
                let (read, total, stage) = load_progress.snapshot();
                Message::LoadProgress { read, total, stage }
            } else {
                Message::Tick
            })),
        };
        let Some(action) = action else { continue };
        let is_engine_event = matches!(&action, Action::Message(m) if matches!(**m, Message::Engine(_)));
        // In order: the engine's state, the action, then what the cache's disk tier or
        // long-term memory could not do (a corrupt file, a full disk), as headless prints it
        // to stderr; follow-ups of each action after those.
        let mut queue = std::collections::VecDeque::new();
        if is_engine_event {
            if let Some(e) = &engine {
                queue.push_back(snapshot_message(e).into());
            }
        }
        queue.push_back(action);
        while let Some(action) = queue.pop_front() {
            for effect in update(&mut state, action) {
                // A column mapped in the data popup: the old engine stops, the data loads
                // again under the new mapping, and the flow runs.
                if let Effect::CancelLoad = effect {
                    load_progress.cancel();
                    continue;
                }
                if let Effect::Remap { role, column } = &effect {
                    session.map_column(role, column);
                    load_progress.restart();
                    if let Some(e) = engine.take() {
                        e.handle.send(EngineCommand::Shutdown);
                    }
                    opts.autorun = true;
                    state.phase = super::app::Phase::Loading;
                    let (tx, session, progress) = (tx.clone(), session.clone(), load_progress.clone());
                    tokio::task::spawn_blocking(move || {
                        let _ = tx.send(Msg::Data(session.load_dataset(Progress(Some(progress)))));
                    });
                    continue;
                }
                if let Some(follow) = perform(effect, &engine, &state, &session) {
                    queue.push_back(follow.into());
                }
            }
        }
        dirty = true;
    }
    if let Some(e) = engine {
        e.handle.send(EngineCommand::Shutdown);
    }
    Ok(())
}

/// The engine's state as the panes need it.
fn snapshot_message(e: &Running) -> Message {
    let snapshot = e.handle.snapshot();
    let views = step_views(&snapshot, &e.store);
    Message::Snapshot(snapshot, views)
}

/// Each step's last output, as the panes show it.
pub fn step_views(snapshot: &FlowSnapshot, store: &ResultStore) -> Vec<Option<StepView>> {
    snapshot
        .steps
        .iter()
        .map(|s| {
            let out = store.peek_step_output(&s.output_ref?)?;
            Some(StepView {
                prompt_tokens: out.context.pruned.tokens,
                completion_tokens: out.context.completion_tokens,
                context: out.context.pruned.clone(),
                output: out,
            })
        })
        .collect()
}

/// The file's columns as the data popup lists them for mapping.
fn data_columns(profile: &crate::data::DataProfile) -> Vec<super::app::DataColumn> {
    profile
        .columns
        .iter()
        .map(|c| super::app::DataColumn {
            name: c.name.clone(),
            kind: c.kind.clone(),
            role: c.role.clone(),
        })
        .collect()
}

/// The header's and Budgets pane's figures from a run report.
pub fn ledger_view(report: &RunReport) -> LedgerView {
    let t = &report.totals;
    let critical = report.critical_facts();
    LedgerView {
        baseline: report.steps.iter().map(|s| s.tokens.baseline_prompt).collect(),
        prompt_tokens: t.prompt_tokens,
        baseline_tokens: t.baseline_prompt_tokens,
        reduction_pct: t.reduction_pct,
        cost_usd: t.cost_usd,
        baseline_cost_usd: t.baseline_cost_usd,
        cost_cached_usd: t.cost_cached_usd,
        baseline_cost_cached_usd: t.baseline_cost_cached_usd,
        cached_reported: report.steps.iter().map(|s| s.tokens.cached_reported).collect(),
        report: report.report.clone(),
        critical_values: critical.iter().map(|f| f.display.clone()).collect(),
        missing: critical
            .iter()
            .filter(|f| report.facts.missing.contains(&f.key))
            .map(|f| f.statement.clone())
            .collect(),
        facts_retained: report.facts.retained,
        facts_critical: report.facts.critical,
        estimated: report.token_counts == crate::engine::TokenCounts::Estimated,
        chart: None,
    }
}

/// The run's monthly revenue and forecast, from the time series and forecast outputs it
/// stored; none when the run made no forecast.
pub fn forecast_chart(report: &RunReport, store: &ResultStore) -> Option<ForecastChart> {
    let output = |prefix: &str| {
        report
            .steps
            .iter()
            .flat_map(|s| s.tools.iter())
            .find(|t| t.label.starts_with(prefix))
            .and_then(|t| store.peek_tool_output(&t.output_ref))
    };
    let points = |v: &serde_json::Value| -> Vec<(String, f64)> {
        v.get("points")
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|p| Some((p.get("label")?.as_str()?.to_string(), p.get("revenue")?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let forecast = output("forecast(")?;
    let series = output("time_series(period=month)")?;
    Some(ForecastChart {
        history: points(&series.result),
        forecast: points(&forecast.result),
        mape_pct: forecast.result.get("mape_pct").and_then(|m| m.as_f64()).unwrap_or(0.0),
        method: forecast
            .result
            .get("method")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_string(),
    })
}

/// Measures the finished run against the baseline off the UI thread; the session keeps it
/// in the history and the cache totals, and what went wrong meanwhile (a corrupt cache
/// file, a full disk, memory that failed) reaches the status line as `run` prints it.
fn spawn_ledger(e: &Running, session: &Arc<Session>, tx: mpsc::UnboundedSender<Msg>) {
    let (session, dataset, snapshot) = (session.clone(), e.dataset.clone(), e.handle.snapshot());
    tokio::task::spawn_blocking(move || {
        let report = session.finish_run(&dataset, &snapshot);
        let mut ledger = ledger_view(&report);
        ledger.chart = forecast_chart(&report, &session.store);
        let _ = tx.send(Msg::Action(Message::Ledger(ledger).into()));
        let warnings = session.take_warnings();
        if !warnings.is_empty() {
            let _ = tx.send(Msg::Action(
                Message::Notice(format!("warning: {}", warnings.join("; "))).into(),
            ));
        }
    });
}

/// Does what `update` asked; may answer with a follow-up action.
/// What the step would recall from long-term memory, and the newest stored insights. A Mem0
/// backend answers over HTTP, so this blocks a worker thread, not the runtime.
fn memory_view(e: &Running, state: &AppState, session: &Session, step: usize) -> Message {
    let def = state.flow.step(step);
    let title = format!("Memory · {}", def.id);
    let Some(memory) = &session.parts.memory else {
        return Message::Inspect {
            title,
            lines: vec![
                "Long-term memory is off or could not be opened.".into(),
                "Set [memory] backend in config.toml; `mrflow-tui memory ls` shows why it fails.".into(),
            ],
        };
    };
    let tokenizer = session.tokenizer;
    let scope = memory.lane(&e.dataset.source(), &e.dataset.reference.to_string());
    let (recalled, stored) = tokio::task::block_in_place(|| {
        (
            memory.search(&def.task, &scope, memory.limit, memory.max_tokens, &tokenizer),
            memory.list(false),
        )
    });
    let mut lines = vec![format!("Store: {}", memory.describe()), String::new()];
    let wants = def
        .context
        .iter()
        .any(|c| c.source == crate::flow::ContextSource::Memory);
    lines.push(if wants {
        format!(
            "Recalled for this step (its task as the query; at most {} hits, {} tokens; from {}, other versions only):",
            memory.limit,
            memory.max_tokens,
            memory.describe_lane()
        )
    } else {
        "This step declares no memory item; it would recall:".into()
    });
    match recalled {
        Ok(hits) if hits.is_empty() => lines.push("  (nothing: no earlier analysis of other data matches)".into()),
        Ok(hits) => lines.extend(hits.iter().map(|h| format!("  {} [{} tokens]", h.line(), h.tokens))),
        Err(err) => lines.push(format!("  search failed: {err}")),
    }
    lines.push(String::new());
    match stored {
        Ok(all) => {
            lines.push(format!("Stored insights: {} (newest first)", all.len()));
            lines.extend(
                all.iter()
                    .take(50)
                    .map(|i| format!("  #{} {} ({})", i.id, i.text, i.flow)),
            );
        }
        Err(err) => lines.push(format!("Listing failed: {err}")),
    }
    Message::Inspect { title, lines }
}

/// The newest eval of the flow, as `eval --show` prints it.
fn evals_view(state: &AppState, session: &Session) -> Message {
    let flow = state.flow.name();
    let kept = session
        .parts
        .dirs
        .as_ref()
        .and_then(|d| crate::eval::Eval::latest(&d.data, flow));
    match kept {
        Some(Ok((path, eval))) => Message::Inspect {
            title: format!("Eval · {}", path.file_name().unwrap_or_default().to_string_lossy()),
            lines: eval.table().lines().map(str::to_string).collect(),
        },
        Some(Err(message)) => Message::Notice(message),
        None => Message::Notice(format!(
            "no eval of {flow} kept yet: `mrflow-tui eval --flow {flow} --llm openai --base-url URL --model M`"
        )),
    }
}

fn perform(effect: Effect, engine: &Option<Running>, state: &AppState, session: &Session) -> Option<Message> {
    // These read what is kept on disk, engine or not.
    match effect {
        Effect::Evals => return Some(evals_view(state, session)),
        Effect::History => {
            let listing = session.runs();
            return Some(Message::HistoryLoaded {
                runs: listing.runs,
                warnings: listing.warnings,
            });
        }
        _ => {}
    }
    let Some(e) = engine else {
        return Some(Message::Notice("the data is not loaded yet".into()));
    };
    match effect {
        Effect::Engine(command) => {
            e.handle.send(command);
            None
        }
        Effect::WhatIf { step, settings } => {
            let id = &state.flow.step(step).id;
            let result = e.handle.what_if(id, &settings)?.map_err(|err| err.to_string());
            Some(Message::WhatIf { step, result })
        }
        Effect::RefreshCache => Some(Message::CacheEntries(e.store.entries())),
        Effect::Inspect(reference) => Some(super::inspect::inspect(&e.store, &reference)),
        Effect::Memory(step) => Some(memory_view(e, state, session, step)),
        Effect::Evict(reference) => {
            let gone = e.store.remove(&reference);
            Some(Message::Notice(if gone {
                format!("evicted {}", reference.short())
            } else {
                "already gone".into()
            }))
        }
        Effect::Export => Some(Message::Notice(
            match session.export(&e.dataset, &e.handle.snapshot()) {
                // The names first: a narrow status line still shows what was written.
                Ok((name, dir)) => format!("exported {name}.md and .json to {}", dir.display()),
                Err(err) => format!("export failed: {err}"),
            },
        )),
        Effect::SaveOverrides => Some(Message::Notice(
            match session.save_tuned_flow(state.steps.iter().map(|s| &s.tuning)) {
                Ok(path) => format!("saved the tuned flow to {0}; run it with --flow {0}", path.display()),
                Err(err) => format!("saving failed: {err}"),
            },
        )),
        // Done by the loop itself: it owns the engine and the load.
        Effect::History | Effect::Evals | Effect::Remap { .. } | Effect::CancelLoad => None,
    }
}
