//! TUI benchmarks: rendering one frame of the full screen at 200x50, the main panes, the
//! report view and the forecast's report with its chart (target under 1 ms), and
//! the time from launching the binary to its first frame (target under 150 ms).
//!
//! Run with `cargo bench --bench tui`.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mrflow::cache::ResultStore;
use mrflow::context::Tokenizer;
use mrflow::data::load_file;
use mrflow::engine::{Engine, Measure, RunReport};
use mrflow::flow::Flow;
use mrflow::tui::app::{Action, AppState, Message, update};
use mrflow::tui::event_loop::{forecast_chart, ledger_view, step_views};
use mrflow::tui::keymap::Keymap;
use mrflow::tui::theme::Theme;
use mrflow::tui::ui;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn state_after_run(flow: &str) -> AppState {
    let flow = Arc::new(Flow::builtin(flow).unwrap());
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/beverage_sales.csv");
    let dataset = Arc::new(load_file(&sample, &flow.required_columns()).unwrap());
    let store = Arc::new(ResultStore::new());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snapshot = rt.block_on(async {
        let (handle, mut events) = Engine::spawn(flow.clone(), dataset.clone(), store.clone());
        handle.run_to_end(&mut events).await
    });
    let measure = Measure {
        model: "gpt-4o-mini",
        tokenizer: Tokenizer::for_model("gpt-4o-mini"),
        price: None,
        cache_rule: Default::default(),
        counts_exact: true,
    };
    let report = RunReport::build(&flow, &dataset, &snapshot, &store, &measure);
    let mut state = AppState::new(flow, "beverage_sales.csv".into());
    let views = step_views(&snapshot, &store);
    for action in [
        Message::Loaded {
            data: "beverage_sales.csv".into(),
            mapping: Vec::new(),
            columns: Vec::new(),
        },
        Message::Snapshot(snapshot, views),
        Message::CacheEntries(store.entries()),
        Message::Ledger({
            let mut ledger = ledger_view(&report);
            ledger.chart = forecast_chart(&report, &store);
            ledger
        }),
    ] {
        update(&mut state, action);
    }
    state
}

fn render(c: &mut Criterion) {
    let mut state = state_after_run("roi_analysis");
    let keymap = Keymap::new(&Default::default()).unwrap();
    let theme = Theme::color();
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
    c.bench_function("frame_200x50", |b| {
        b.iter(|| {
            // Force a full redraw each time, as after a resize.
            terminal.clear().unwrap();
            terminal.draw(|f| ui::draw(f, &mut state, &keymap, &theme)).unwrap();
        })
    });
    // The report view parses and lays out the report's Markdown on every frame.
    update(&mut state, Action::FocusReport);
    c.bench_function("frame_200x50_report", |b| {
        b.iter(|| {
            terminal.clear().unwrap();
            terminal.draw(|f| ui::draw(f, &mut state, &keymap, &theme)).unwrap();
        })
    });
    // sales_forecast's report draws its chart of 36 months and 6 forecast ones above it.
    let mut state = state_after_run("sales_forecast");
    update(&mut state, Action::FocusReport);
    c.bench_function("frame_200x50_report_chart", |b| {
        b.iter(|| {
            terminal.clear().unwrap();
            terminal.draw(|f| ui::draw(f, &mut state, &keymap, &theme)).unwrap();
        })
    });
}

/// Launches the binary in a pseudo-terminal and times the first frame's header.
fn launch(c: &mut Criterion) {
    let mut group = c.benchmark_group("launch");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("to_first_frame", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let home = tempfile::tempdir().unwrap();
                let pair = native_pty_system()
                    .openpty(PtySize {
                        rows: 50,
                        cols: 200,
                        pixel_width: 0,
                        pixel_height: 0,
                    })
                    .unwrap();
                let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_mrflow-tui"));
                cmd.arg("--no-autorun");
                cmd.cwd(env!("CARGO_MANIFEST_DIR"));
                cmd.env("TERM", "xterm-256color");
                cmd.env("MRFLOW_CONFIG_DIR", home.path());
                cmd.env("MRFLOW_DATA_DIR", home.path());
                let mut reader = pair.master.try_clone_reader().unwrap();
                let mut writer = pair.master.take_writer().unwrap();
                let start = Instant::now();
                let mut child = pair.slave.spawn_command(cmd).unwrap();
                let mut seen = Vec::new();
                let mut buf = [0u8; 65536];
                while !String::from_utf8_lossy(&seen).contains("mrflow-tui") {
                    let n = reader.read(&mut buf).unwrap();
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\x1b[6n") {
                        writer.write_all(b"\x1b[1;1R").unwrap();
                    }
                }
                total += start.elapsed();
                use std::io::Write;
                writer.write_all(b"q").unwrap();
                child.wait().unwrap();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, render, launch);
criterion_main!(benches);
