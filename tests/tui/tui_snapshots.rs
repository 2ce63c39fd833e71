//! The TUI rendered on ratatui's TestBackend after a real run on the sample, at the sizes
//! people use, with timings and ages fixed so the snapshots are stable.
#![cfg(feature = "tui")]

use std::sync::Arc;
use std::time::Duration;

use mrflow::cache::ResultStore;
use mrflow::context::Tokenizer;
use mrflow::data::load_file;
use mrflow::engine::{Engine, Measure, RunReport};
use mrflow::flow::Flow;
use mrflow::tui::app::{Action, AppState, Message, update};
use mrflow::tui::event_loop::{forecast_chart, ledger_view, step_views};
use mrflow::tui::keymap::Keymap;
use mrflow::tui::theme::Theme;
use mrflow::tui::{inspect, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const DATA: &str = "beverage_sales.csv · 15,000 rows · cache://dc8314bd25c0";

/// A finished run of `flow` on the sample, as the event loop would hand it to the state.
fn after_run(flow: &str) -> (AppState, Arc<ResultStore>) {
    let flow = Arc::new(Flow::builtin(flow).unwrap());
    let dataset = Arc::new(load_file(&crate::common::sample(), &flow.required_columns()).unwrap());
    let store = Arc::new(ResultStore::new());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut snapshot = rt.block_on(async {
        let (handle, mut events) = Engine::spawn(flow.clone(), dataset.clone(), store.clone());
        handle.run_to_end(&mut events).await
    });
    let tokenizer = Tokenizer::for_model("gpt-4o-mini");
    let measure = Measure {
        model: "gpt-4o-mini",
        tokenizer,
        price: mrflow::config::Config::default_only().price("gpt-4o-mini"),
        cache_rule: Default::default(),
        counts_exact: true,
    };
    let report = RunReport::build(&flow, &dataset, &snapshot, &store, &measure);

    snapshot.duration_ms = Some(123);
    for s in &mut snapshot.steps {
        s.duration_ms = s.duration_ms.map(|_| 42);
    }
    let views = step_views(&snapshot, &store);
    let mut entries = store.entries();
    entries.sort_by_key(|e| e.reference);
    for e in &mut entries {
        e.age = Duration::from_secs(5);
        e.ttl_left = Duration::from_secs(3595);
        e.hits = e.hits.min(1);
    }
    let mut ledger = ledger_view(&report);
    ledger.chart = forecast_chart(&report, &store);
    let mut state = AppState::new(flow, DATA.into());
    for action in [
        Message::Loaded {
            data: DATA.into(),
            mapping: Vec::new(),
            columns: Vec::new(),
        },
        Message::Snapshot(snapshot, views),
        Message::CacheEntries(entries),
        Message::Ledger(ledger),
        Message::Notice("run 1 completed in 123 ms".into()),
    ] {
        update(&mut state, action);
    }
    (state, store)
}

fn render(state: &mut AppState, width: u16, height: u16) -> String {
    let keymap = Keymap::new(&Default::default()).unwrap();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| ui::draw(f, state, &keymap, &Theme::mono())).unwrap();
    terminal.backend().to_string()
}

#[test]
fn main_screen_wide_200x50() {
    let (mut s, _) = after_run("roi_analysis");
    insta::assert_snapshot!(render(&mut s, 200, 50));
}

#[test]
fn main_screen_grid_120x40() {
    let (mut s, _) = after_run("brand_performance");
    insta::assert_snapshot!(render(&mut s, 120, 40));
}

#[test]
fn main_screen_minimum_80x24() {
    let (mut s, _) = after_run("sales_forecast");
    insta::assert_snapshot!(render(&mut s, 80, 24));
}

#[test]
fn too_small_says_what_it_needs() {
    let (mut s, _) = after_run("roi_analysis");
    let screen = render(&mut s, 60, 20);
    assert!(screen.contains("terminal too small: need 80 x 24, have 60 x 20"));
    insta::assert_snapshot!(screen);
}

#[test]
fn help_popup_lists_the_live_keymap() {
    let (mut s, _) = after_run("roi_analysis");
    update(&mut s, Action::Help);
    insta::assert_snapshot!(render(&mut s, 120, 40));
}

#[test]
fn inspector_shows_a_result_as_json() {
    let (mut s, store) = after_run("roi_analysis");
    let entry = store
        .entries()
        .into_iter()
        .find(|e| e.producer == "profitability(by=brand)")
        .unwrap();
    update(&mut s, inspect::inspect(&store, &entry.reference));
    insta::assert_snapshot!(render(&mut s, 120, 40));
}

#[test]
fn inspector_shows_a_dataset_as_a_table() {
    let (mut s, store) = after_run("roi_analysis");
    let entry = store
        .entries()
        .into_iter()
        .find(|e| e.producer == "beverage_sales.csv")
        .unwrap();
    update(&mut s, inspect::inspect(&store, &entry.reference));
    let screen = render(&mut s, 120, 40);
    assert!(screen.contains("15,000 rows (first 200 shown)"), "{screen}");
    insta::assert_snapshot!(screen);
    // Scrolled down and to the right, the header stays and moves with the columns.
    let header = |screen: &str| screen.lines().any(|l| l.contains("total_revenue │ total_cost"));
    assert!(header(&screen), "{screen}");
    for _ in 0..30 {
        update(&mut s, Action::Down);
    }
    let down = render(&mut s, 120, 40);
    assert!(header(&down), "the header is pinned: {down}");
    assert!(
        !down.contains("Starbucks Cold Brew │         189.8"),
        "the first rows scrolled away"
    );
    update(&mut s, Action::ScrollRight);
    update(&mut s, Action::ScrollRight);
    let right = render(&mut s, 120, 40);
    assert!(header(&right), "the header moves with its columns: {right}");
    assert!(
        !right.contains("              brand │"),
        "the first column scrolled off: {right}"
    );
}

#[test]
fn tuning_shows_the_what_if_before_any_rerun() {
    let (mut s, store) = after_run("roi_analysis");
    update(&mut s, Action::Down);
    update(&mut s, Action::FocusContext);
    let effects = update(&mut s, Action::BudgetDown);
    // Perform the what-if as the event loop does.
    let [mrflow::tui::app::Effect::WhatIf { step, settings }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let out = store
        .peek_step_output(&s.snapshot.as_ref().unwrap().steps[*step].output_ref.unwrap())
        .unwrap();
    let result = out.what_if(s.flow.step(*step), settings).map_err(|e| e.to_string());
    update(&mut s, Message::WhatIf { step: *step, result });
    let screen = render(&mut s, 200, 50);
    assert!(screen.contains("what-if"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn prompt_view_shows_the_exact_prompt() {
    let (mut s, _) = after_run("roi_analysis");
    update(&mut s, Action::FocusContext);
    update(&mut s, Action::TogglePrompt);
    let screen = render(&mut s, 200, 50);
    assert!(screen.contains("[system]"), "{screen}");
    insta::assert_snapshot!(screen);
}

const SIZES: [(u16, u16); 3] = [(200, 50), (120, 40), (80, 24)];

#[test]
fn report_view_at_every_size() {
    let (mut s, _) = after_run("roi_analysis");
    update(&mut s, Action::FocusReport);
    for (w, h) in SIZES {
        let screen = render(&mut s, w, h);
        assert!(screen.contains("All 13 critical facts reached the report"), "{screen}");
        insta::assert_snapshot!(format!("report_view_{w}x{h}"), screen);
    }
}

#[test]
fn step_detail_at_every_size() {
    let (mut s, _) = after_run("roi_analysis");
    update(&mut s, Action::Down);
    update(&mut s, Action::Open);
    for (w, h) in SIZES {
        let screen = render(&mut s, w, h);
        assert!(screen.contains("analyze_profitability · ↑↓ scroll"), "{screen}");
        insta::assert_snapshot!(format!("step_detail_{w}x{h}"), screen);
    }
}

#[test]
fn zoomed_context_at_every_size() {
    let (mut s, _) = after_run("brand_performance");
    update(&mut s, Action::FocusContext);
    update(&mut s, Action::Zoom);
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("zoomed_context_{w}x{h}"), render(&mut s, w, h));
    }
}

/// Two kept runs of roi_analysis: as it ran, and a later one with analyze_profitability's
/// budget cut, fewer tokens and a fact lost; fixed times so the snapshots are stable.
fn two_runs() -> (AppState, Vec<mrflow::history::RunRecord>) {
    let (state, store) = after_run("roi_analysis");
    let flow = Flow::builtin("roi_analysis").unwrap();
    let dataset = load_file(&crate::common::sample(), &flow.required_columns()).unwrap();
    let snapshot = state.snapshot.clone().unwrap();
    let price = mrflow::config::Config::default_only().price("gpt-4o-mini");
    let measure = Measure {
        model: "gpt-4o-mini",
        tokenizer: Tokenizer::for_model("gpt-4o-mini"),
        price,
        cache_rule: Default::default(),
        counts_exact: true,
    };
    let report = RunReport::build(&flow, &dataset, &snapshot, &store, &measure);
    let first = mrflow::history::RunRecord::of(&report, &flow, price, 1_795_622_874_000);
    let mut second = mrflow::history::RunRecord::of(&report, &flow, price, 1_795_622_934_000);
    second.steps[1].settings.budget = 300;
    second.steps[1].tokens.prompt -= 220;
    second.totals.prompt_tokens -= 220;
    second.facts.retained -= 1;
    let (lost_key, lost_statement) = first.critical[1].clone();
    second.facts.missing.push(lost_key);
    second.report = second.report.map(|r| {
        r.lines()
            .filter(|l| !l.contains(&lost_statement))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    (state, vec![first, second])
}

#[test]
fn run_history_at_every_size() {
    let (mut s, runs) = two_runs();
    update(&mut s, Message::HistoryLoaded { runs, warnings: vec![] });
    for (w, h) in SIZES {
        let screen = render(&mut s, w, h);
        assert!(screen.contains("Runs · 2 kept"), "{screen}");
        insta::assert_snapshot!(format!("run_history_{w}x{h}"), screen);
    }
}

#[test]
fn compare_at_every_size() {
    let (mut s, runs) = two_runs();
    update(&mut s, Message::HistoryLoaded { runs, warnings: vec![] });
    update(&mut s, Action::Compare);
    for (w, h) in SIZES {
        let screen = render(&mut s, w, h);
        assert!(screen.contains("(-220)"), "{screen}");
        insta::assert_snapshot!(format!("compare_{w}x{h}"), screen);
    }
}

#[test]
fn filtered_cache_and_context_at_every_size() {
    let (mut s, _) = after_run("roi_analysis");
    update(&mut s, Action::FocusCache);
    update(&mut s, Action::Filter);
    for c in "baseline".chars() {
        update(&mut s, Action::Char(c));
    }
    update(&mut s, Action::Open);
    update(&mut s, Action::FocusContext);
    update(&mut s, Action::Filter);
    for c in "crit".chars() {
        update(&mut s, Action::Char(c));
    }
    for (w, h) in SIZES {
        let screen = render(&mut s, w, h);
        assert!(screen.contains(" filter: type to narrow the list"), "{screen}");
        insta::assert_snapshot!(format!("filtered_{w}x{h}"), screen);
    }
}

/// While the data loads, the header shows bytes read against the file's size, then the
/// parse (a large file's batches with a bar of their own); while a run goes, steps done
/// against all.
#[test]
fn the_header_shows_load_progress() {
    let flow = Arc::new(Flow::builtin("roi_analysis").unwrap());
    let mut s = AppState::new(flow, "big.csv · loading…".into());
    update(
        &mut s,
        Message::LoadProgress {
            read: 42_000_000,
            total: 100_000_000,
            stage: mrflow::data::Stage::Reading,
        },
    );
    let screen = render(&mut s, 120, 40);
    assert!(screen.contains("loading ▕████░░░░░░▏ 42% of 100 MB · "), "{screen}");
    update(
        &mut s,
        Message::LoadProgress {
            read: 100_000_000,
            total: 100_000_000,
            stage: mrflow::data::Stage::Parsing,
        },
    );
    assert!(render(&mut s, 120, 40).contains("parsing 100 MB · "));
    // A large file parsed in batches: its bar again, for the bytes parsed.
    update(
        &mut s,
        Message::LoadProgress {
            read: 20_000_000,
            total: 100_000_000,
            stage: mrflow::data::Stage::Batches,
        },
    );
    let screen = render(&mut s, 120, 40);
    assert!(screen.contains("parsing ▕██░░░░░░░░▏ 20% of 100 MB · "), "{screen}");
}

/// A model whose tokenizer we do not ship (Claude, Gemini): the header's counts are marked
/// as estimates.
#[test]
fn estimated_counts_are_marked_in_the_header() {
    let (mut s, _) = after_run("roi_analysis");
    let exact = render(&mut s, 200, 50);
    assert!(
        exact.contains("−92.5% tokens (1,501 vs 19,952) · facts 13/13 · $0.0007 vs $0.0034"),
        "{exact}"
    );
    if let Some(l) = s.ledger.as_mut() {
        l.estimated = true;
    }
    let screen = render(&mut s, 200, 50);
    assert!(screen.contains("tokens (~1,501 vs ~19,952)"), "{screen}");
}

/// The header at the three sizes: a good run, one that lost critical facts (marked), and a
/// failed run (the step and its error, not a saving).
#[test]
fn the_header_leads_with_the_saving_or_the_failure() {
    let mut out = String::new();
    for (name, change) in [("good run", 0), ("facts lost", 1), ("failed run", 2)] {
        let (mut s, _) = after_run("roi_analysis");
        match change {
            1 => {
                if let Some(l) = s.ledger.as_mut() {
                    l.facts_retained = 10;
                }
            }
            2 => {
                if let Some(snap) = s.snapshot.as_mut() {
                    snap.state = mrflow::engine::RunState::Failed;
                    let step = snap.steps.iter_mut().find(|st| st.id == "optimize_budget").unwrap();
                    step.status = mrflow::engine::StepStatus::Failed;
                    step.error = Some("llm: http://127.0.0.1:8093/v1/chat/completions: HTTP 503".into());
                }
            }
            _ => {}
        }
        for (w, h) in [(80, 24), (120, 40), (200, 50)] {
            let screen = render(&mut s, w, h);
            let header = screen.lines().next().unwrap_or_default().to_string();
            out.push_str(&format!("{name} {w}x{h}: {header}\n"));
        }
    }
    assert!(out.contains("⚠ facts 10/13"), "{out}");
    assert!(out.contains("✗ optimize_budget failed: llm:"), "{out}");
    insta::assert_snapshot!(out);
}

/// A what-if that pushes a critical item down to its reference says, before any rerun, how
/// many critical figures would leave the prompt.
#[test]
fn the_what_if_names_critical_figures_that_would_leave_the_prompt() {
    let (mut s, store) = after_run("roi_analysis");
    update(&mut s, Action::Down);
    // analyze_profitability's results demoted to optional, at 250 tokens: dropped.
    update(&mut s, Action::FocusContext);
    while s.selected_item().map(|i| i.key.as_str()) != Some("profitability_results") {
        update(&mut s, Action::Down);
    }
    for _ in 0..3 {
        update(&mut s, Action::PriorityNext);
    }
    let mut effects = Vec::new();
    for _ in 0..5 {
        effects = update(&mut s, Action::BudgetDown);
    }
    let [mrflow::tui::app::Effect::WhatIf { step, settings }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    let out = store
        .peek_step_output(&s.snapshot.as_ref().unwrap().steps[*step].output_ref.unwrap())
        .unwrap();
    let result = out.what_if(s.flow.step(*step), settings).map_err(|e| e.to_string());
    update(&mut s, Message::WhatIf { step: *step, result });
    let leaving = s.critical_facts_leaving(*step);
    assert!(!leaving.is_empty(), "{:?}", s.what_if_result(*step));
    let screen = render(&mut s, 200, 50);
    assert!(
        screen.contains(&format!("⚠ {} critical figures leave", leaving.len())),
        "{screen}"
    );
}

/// sales_forecast's report view draws the monthly revenue with the forecast and its band.
#[test]
fn the_forecast_is_drawn_above_its_report() {
    let (mut s, _) = after_run("sales_forecast");
    let chart = s
        .ledger
        .as_ref()
        .and_then(|l| l.chart.clone())
        .expect("a forecast run has a chart");
    assert_eq!(chart.history.len(), 36, "three years of months");
    assert_eq!(chart.forecast.len(), 6);
    update(&mut s, Action::FocusReport);
    update(&mut s, Action::Zoom);
    for (w, h) in SIZES {
        let screen = render(&mut s, w, h);
        if h >= 40 {
            assert!(screen.contains("forecast (trend_seasonal)"), "{screen}");
            assert!(screen.contains("2022-01") && screen.contains("2025-06"), "{screen}");
        }
        insta::assert_snapshot!(format!("forecast_chart_{w}x{h}"), screen);
    }
}

/// The data popup of a file the flow cannot run on: the problem, the columns to map, and
/// the role list open on the chosen one.
#[test]
fn the_data_popup_maps_a_column_in_place() {
    use mrflow::tui::app::DataColumn;
    let flow = Arc::new(Flow::builtin("brand_performance").unwrap());
    let mut s = AppState::new(flow, "retail_export.csv · loading…".into());
    let column = |name: &str, kind: &str, role: Option<&str>| DataColumn {
        name: name.into(),
        kind: kind.into(),
        role: role.map(String::from),
    };
    let message = "retail_export.csv: flow `brand_performance` cannot run on this file: missing role `brand` (text); \
                   add --column brand=Sub-Category"
        .to_string();
    update(
        &mut s,
        Message::LoadFailed {
            message: message.clone(),
            mapping: Some(vec![message, String::new(), "File    retail_export.csv".into()]),
            columns: vec![
                column("Order Date", "date", Some("sale_date")),
                column("Segment", "text", None),
                column("Category", "text", Some("category")),
                column("Sub-Category", "text", None),
                column("Sales", "number", Some("total_revenue")),
            ],
        },
    );
    update(&mut s, Action::Down);
    update(&mut s, Action::Down);
    let list = render(&mut s, 120, 40);
    assert!(list.contains("> Sub-Category"), "{list}");
    update(&mut s, Action::Open);
    for (w, h) in SIZES {
        let screen = render(&mut s, w, h);
        assert!(screen.contains("Read `Sub-Category` as"), "{screen}");
        insta::assert_snapshot!(format!("data_role_picker_{w}x{h}"), screen);
    }
}

/// A time series opens in the inspector with its revenue drawn as a sparkline first.
#[test]
fn a_time_series_is_drawn_in_the_inspector() {
    let (mut s, store) = after_run("sales_forecast");
    let entry = store
        .entries()
        .into_iter()
        .find(|e| e.producer.starts_with("time_series(period=month)"))
        .unwrap();
    update(&mut s, inspect::inspect(&store, &entry.reference));
    let screen = render(&mut s, 120, 40);
    assert!(
        screen.contains("revenue ") && screen.contains(" 2022-01 to 2024-12"),
        "{screen}"
    );
    assert!(screen.contains('█') && screen.contains('▁'), "{screen}");
}

/// The Budgets bars scroll with the selected step when not all fit, and say so.
#[test]
fn budget_bars_scroll_to_the_selected_step() {
    let (mut s, _) = after_run("brand_performance");
    let top = render(&mut s, 120, 40);
    assert!(top.contains("… 4 more steps (↑↓ scroll, z zooms)"), "{top}");
    for _ in 0..4 {
        update(&mut s, Action::Down);
    }
    let bottom = render(&mut s, 120, 40);
    let bars: Vec<&str> = bottom
        .lines()
        .skip_while(|l| !l.contains("█ optimized vs ░ baseline"))
        .take(4)
        .collect();
    assert!(bars.iter().any(|l| l.contains("brand_report")), "{bars:?}");
    assert!(bottom.contains("4 above (↑↓ scroll, z zooms)"), "{bottom}");
}
