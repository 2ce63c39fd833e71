//! Each analytics tool on 10k and 1M generated rows, alone and reading the shared rollup;
//! the rollup's build and the baseline's describe() of every column at 1M rows; and the
//! result cache's get/put.
//!
//! Run with `cargo bench --bench tools`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mrflow::cache::{ResultStore, StoredValue};
use mrflow::data::{Dataset, LoadOptions, generate::generate, load};
use mrflow::reference::Reference;
use mrflow::tools::{Rollup, Rows, ToolCall};

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

/// A generated sales file of `rows` rows, in a directory removed when dropped.
fn generated(rows: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    generate(rows, 42, std::fs::File::create(&path).unwrap()).unwrap();
    (dir, path)
}

/// The columns `calls` read.
fn columns(calls: &[ToolCall]) -> Vec<&str> {
    let mut columns: Vec<&str> = calls.iter().flat_map(|c| c.required_columns()).collect();
    columns.sort();
    columns.dedup();
    columns
}

/// Every row, read whole (a file this large is otherwise read in batches and summed).
fn dataset(rows: usize, calls: &[ToolCall]) -> Dataset {
    let (_dir, path) = generated(rows);
    let whole = LoadOptions {
        stream_from: Some(u64::MAX),
        ..LoadOptions::default()
    };
    load(&path, &columns(calls), &whole, None, None).unwrap()
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

/// The rollup a run shares between its tools (keys coded, measures in cents), each grouping
/// tool reading it, and describe() of the whole file, at 1M rows.
fn rollup_and_describe(c: &mut Criterion) {
    let calls = calls();
    let (_dir, path) = generated(1_000_000);
    let mut whole = None;
    // Read whole: the rows themselves, not the sums of batches.
    let whole_file = LoadOptions {
        stream_from: Some(u64::MAX),
        ..LoadOptions::default()
    };
    let data = load(
        &path,
        &columns(&calls),
        &whole_file,
        None,
        Some(&mut |b: mrflow::data::WholeBatch<'_>| whole = Some(b.frame.clone())),
    )
    .unwrap();
    let whole = whole.expect("the loader shows every column");
    let mut keys: Vec<String> = calls.iter().flat_map(|c| c.group_keys()).collect();
    keys.sort();
    keys.dedup();

    let mut group = c.benchmark_group("rollup_1000000_rows");
    group.sample_size(10);
    group.bench_function("build", |b| {
        b.iter(|| Rollup::build(black_box(&data.frame), &keys).unwrap())
    });
    let rollup = Rollup::build(&data.frame, &keys).unwrap().expect("keys and measures");
    for call in calls.iter().filter(|c| !c.group_keys().is_empty()) {
        let rows = Rows {
            frame: &data.frame,
            rollup: Some(&rollup),
            dataset: None,
            grouped: None,
        };
        group.bench_with_input(BenchmarkId::from_parameter(call.label()), call, |b, call| {
            b.iter(|| call.run_on(black_box(rows)).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("baseline_1000000_rows");
    group.sample_size(10);
    group.bench_function("describe_every_column", |b| {
        b.iter(|| mrflow::context::pandas::describe(black_box(&whole)).unwrap())
    });
    // A large file's describe(): the same rows added up in batches of 250,000.
    group.bench_function("describe_in_batches", |b| {
        b.iter(|| {
            let mut d = mrflow::context::describe::Description::new();
            for i in 0..4 {
                d.add(&whole.slice(i * 250_000, 250_000)).unwrap();
            }
            d.text()
        })
    });
    group.finish();

    // A large file's load: read in batches of 4 MiB (plain ones parsed by our own pass),
    // each summed by its keys.
    let mut group = c.benchmark_group("load_1000000_rows");
    group.sample_size(10);
    for (name, stream_from) in [("whole", Some(u64::MAX)), ("in_batches", Some(0))] {
        let options = LoadOptions {
            stream_from,
            ..LoadOptions::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| load(black_box(&path), &columns(&calls), &options, None, None).unwrap())
        });
    }
    group.finish();
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

criterion_group!(benches, tools, rollup_and_describe, cache);
criterion_main!(benches);
