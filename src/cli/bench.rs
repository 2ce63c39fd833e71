//! `mrflow-tui bench`: a quick benchmark of the engine on this machine, for bug reports.
//! It generates data, then times, through the same [`Session`] as `run` and the TUI,
//! loading, each step, the report against the baseline, re-pruning, a warm rerun and token
//! counting. For careful measurements use `cargo bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mrflow::config::Config;
use mrflow::data::{Progress, generate::generate};
use mrflow::flow::Flow;
use mrflow::session::Session;
use mrflow::settings::StepSettings;
use serde::Serialize;

use crate::cli::{BenchArgs, Failure, runtime};

#[derive(Serialize)]
struct StepTime {
    id: String,
    ms: u64,
}

#[derive(Serialize)]
struct Figures {
    flow: String,
    rows: usize,
    csv_bytes: u64,
    generate_ms: f64,
    load_ms: f64,
    /// Each step's time, in flow order.
    steps: Vec<StepTime>,
    cold_run_ms: f64,
    /// The run's report against the baseline, waiting for the baseline's describe() of
    /// the file where it is still running.
    report_ms: f64,
    warm_run_ms: f64,
    what_if_us: f64,
    count_tokens_mib_per_s: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: &BenchArgs) -> Result<(), Failure> {
    let fail = |m: String| Failure { message: m, status: 1 };
    let flow = Arc::new(Flow::resolve(&args.flow).map_err(Failure::input)?);
    let dir = tempfile::tempdir().map_err(|e| fail(format!("cannot make a temporary directory: {e}")))?;
    let path = dir.path().join("bench.csv");

    let t = Instant::now();
    let file = std::fs::File::create(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    generate(args.rows, args.seed, file).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let generate_ms = ms(t.elapsed());
    let csv_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());

    // The default configuration, the offline analyst, no memory and nothing kept on disk:
    // what is timed is the engine, not this machine's cache or settings.
    let session = Session::builder(Config::default_only())
        .flow(flow.clone())
        .data(path.clone())
        .memory(None)
        .persist(false)
        .build()?;
    // Load the encoding first so it is not charged to the first step.
    let tokenizer = session.tokenizer;
    tokenizer.count("warm up");

    let t = Instant::now();
    let dataset = session
        .load_dataset(Progress::default())
        .map_err(|e| fail(e.to_string()))?;
    let load_ms = ms(t.elapsed());

    let rt = runtime()?;
    let (snapshot, cold, report, warm) = rt.block_on(async {
        let (handle, mut events) = session.spawn_engine(dataset.clone());
        let t = Instant::now();
        let snapshot = handle.run_to_end(&mut events).await;
        let cold = t.elapsed();
        let t = Instant::now();
        session.report(&dataset, &snapshot);
        let report = t.elapsed();
        let t = Instant::now();
        handle.run_to_end(&mut events).await;
        (snapshot, cold, report, t.elapsed())
    });
    let store = &session.store;

    // Re-pruning every step at a sweep of budgets, as the TUI does on keypresses.
    let outputs: Vec<_> = flow
        .steps()
        .iter()
        .filter_map(|d| Some((d, store.peek_step_output(&snapshot.step(&d.id)?.output_ref?)?)))
        .collect();
    let rounds = 200;
    let t = Instant::now();
    for k in 0..rounds {
        for (def, out) in &outputs {
            let _ = out.what_if(def, &StepSettings::new(200 + 5 * k as u32, def.strategy));
        }
    }
    let what_if_us = t.elapsed().as_secs_f64() * 1e6 / (rounds * outputs.len().max(1)) as f64;

    let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
    let sample: String = text.chars().take(1 << 20).collect();
    let t = Instant::now();
    tokenizer.count_uncached(&sample);
    let count_tokens_mib_per_s = sample.len() as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64();

    let figures = Figures {
        flow: flow.name().to_string(),
        rows: args.rows,
        csv_bytes,
        generate_ms,
        load_ms,
        steps: snapshot
            .steps
            .iter()
            .map(|s| StepTime {
                id: s.id.clone(),
                ms: s.duration_ms.unwrap_or(0),
            })
            .collect(),
        cold_run_ms: ms(cold),
        report_ms: ms(report),
        warm_run_ms: ms(warm),
        what_if_us,
        count_tokens_mib_per_s,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures).expect("serializes"));
        return Ok(());
    }
    println!(
        "{} on {} generated rows ({:.1} MB of CSV)",
        figures.flow,
        figures.rows,
        csv_bytes as f64 / 1e6
    );
    println!("  generate          {:>10.1} ms", figures.generate_ms);
    println!("  load (parse CSV)  {:>10.1} ms", figures.load_ms);
    for s in &figures.steps {
        println!("  step {:<24} {:>5} ms", s.id, s.ms);
    }
    println!("  whole flow, cold  {:>10.1} ms", figures.cold_run_ms);
    println!(
        "  report + baseline {:>10.1} ms (after the cold run)",
        figures.report_ms
    );
    println!(
        "  whole flow, warm  {:>10.1} ms (everything cached)",
        figures.warm_run_ms
    );
    println!("  what-if re-prune  {:>10.1} µs per step", figures.what_if_us);
    println!(
        "  token counting    {:>10.1} MiB/s (o200k_base, CSV text)",
        figures.count_tokens_mib_per_s
    );
    Ok(())
}
