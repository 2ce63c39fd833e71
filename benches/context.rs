//! Context engineering benchmarks: token counting, and the what-if re-pruning the TUI calls
//! on every keypress (target: under 5 ms per call on the built-in flows).
//!
//! Run with `cargo bench --bench context`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use mrflow::cache::ResultStore;
use mrflow::context::{Encoding, Tokenizer};
use mrflow::data::load_file;
use mrflow::engine::Engine;
use mrflow::flow::{BUILTIN_FLOWS, Flow};
use mrflow::settings::StepSettings;
use mrflow::settings::Strategy;
use mrflow::step_output::StepOutput;
use strum::VariantArray;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/beverage_sales.csv")
}

/// Runs a built-in flow on the sample and returns each step's definition and output.
fn completed_steps(name: &str) -> Vec<(mrflow::flow::StepDef, Arc<StepOutput>)> {
    let flow = Arc::new(Flow::builtin(name).unwrap());
    let data = Arc::new(load_file(&sample(), &flow.required_columns()).unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Arc::new(ResultStore::new());
        let (handle, mut events) = Engine::spawn(flow.clone(), data, store.clone());
        let snapshot = handle.run_to_end(&mut events).await;
        flow.steps()
            .iter()
            .filter_map(|def| {
                let r = snapshot.step(&def.id)?.output_ref?;
                Some((def.clone(), store.step_output(&r)?))
            })
            .collect()
    })
}

fn token_counting(c: &mut Criterion) {
    let csv = std::fs::read_to_string(sample()).unwrap();
    let csv: String = csv.lines().take(400).collect::<Vec<_>>().join("\n");
    let prose = "The analyst compares brand profitability across regions, noting that energy drinks \
                 carry the highest margins while juice brands struggle with rising costs. "
        .repeat(60);
    let tokenizer = Tokenizer::new(Encoding::O200kBase);
    let mut group = c.benchmark_group("count_tokens");
    group.throughput(criterion::Throughput::Bytes(csv.len() as u64));
    group.bench_function("csv_400_lines_o200k", |b| {
        b.iter(|| tokenizer.count_uncached(black_box(&csv)))
    });
    group.throughput(criterion::Throughput::Bytes(prose.len() as u64));
    group.bench_function("prose_o200k", |b| {
        b.iter(|| tokenizer.count_uncached(black_box(&prose)))
    });
    group.finish();
}

fn what_if(c: &mut Criterion) {
    let mut group = c.benchmark_group("what_if");
    for (name, _) in BUILTIN_FLOWS {
        let steps = completed_steps(name);
        // Every step of the flow at a sweep of budgets and strategies, as an analyst
        // pressing keys would produce.
        group.bench_function(format!("{name}_all_steps"), |b| {
            let mut budget = 200u32;
            b.iter(|| {
                budget = if budget >= 1500 { 200 } else { budget + 25 };
                for (i, (def, out)) in steps.iter().enumerate() {
                    let strategy = Strategy::VARIANTS[(budget as usize / 25 + i) % Strategy::VARIANTS.len()];
                    let _ = black_box(out.what_if(def, &StepSettings::new(budget, strategy)));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, token_counting, what_if);
criterion_main!(benches);
