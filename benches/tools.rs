//! Each analytics tool on 10k and 1M generated rows, and the result cache's get/put.
//!
//! Run with `cargo bench --bench tools`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mrflow::cache::{Reference, ResultStore, StoredValue};
use mrflow::data::{Dataset, generate::generate, load_csv};
use mrflow::tools::ToolCall;

fn calls() -> Vec<ToolCall> {
    [
        r#"{"name": "load_data"}"#,
        r#"{"name": "profitability", "by": "brand"}"#,
        r#"{"name": "roi", "by": "brand"}"#,
        r#"{"name": "budget_optimization", "by": "brand"}"#,
        r#"{"name": "time_series", "period": "month"}"#,
        r#"{"name": "forecast"}"#,
        r#"{"name": "market_share", "within": "region"}"#,
    ]
    .iter()
    .map(|j| serde_json::from_str(j).expect("a valid tool call"))
    .collect()
}

fn dataset(rows: usize, calls: &[ToolCall]) -> Dataset {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    generate(rows, 42, std::fs::File::create(&path).unwrap()).unwrap();
    let mut columns: Vec<&str> = calls.iter().flat_map(|c| c.required_columns()).collect();
    columns.sort();
    columns.dedup();
    load_csv(&path, &columns).unwrap()
}

fn tools(c: &mut Criterion) {
    let calls = calls();
    for rows in [10_000, 1_000_000] {
        let data = dataset(rows, &calls);
        let mut group = c.benchmark_group(format!("tool_{rows}_rows"));
        if rows > 100_000 {
            group.sample_size(10);
        }
        for call in &calls {
            group.bench_with_input(BenchmarkId::from_parameter(call.label()), call, |b, call| {
                b.iter(|| call.run(black_box(&data.frame)).unwrap())
            });
        }
        group.finish();
    }
}

fn cache(c: &mut Criterion) {
    let calls = calls();
    let data = dataset(10_000, &calls);
    let output = Arc::new(calls[1].run(&data.frame).unwrap());
    let store = ResultStore::new();
    let keys: Vec<Reference> = (0..1000u32)
        .map(|i| Reference::of_parts([&i.to_le_bytes()[..]]))
        .collect();
    for k in &keys {
        store.put(*k, StoredValue::ToolOutput(output.clone()));
    }
    let mut group = c.benchmark_group("cache");
    let mut i = 0;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            store.tool_output(black_box(&keys[i])).unwrap()
        })
    });
    let missing = Reference::of_parts([b"missing".as_slice()]);
    group.bench_function("get_miss", |b| b.iter(|| store.tool_output(black_box(&missing))));
    let mut n = 0u64;
    group.bench_function("put", |b| {
        b.iter(|| {
            n += 1;
            store.put(
                Reference::of_parts([&n.to_le_bytes()[..]]),
                StoredValue::ToolOutput(output.clone()),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, tools, cache);
criterion_main!(benches);
