//! The whole `roi_analysis` flow as a user runs it: `mrflow-tui run` on the sample, as a
//! process, with an empty cache directory (cold) and with the previous run's cache (warm).
//!
//! Run with `cargo bench --bench flow`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn run(cache: &Path, home: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_mrflow-tui"))
        .args(["run", "--format", "json"])
        .env("MRFLOW_CACHE_DIR", cache)
        .env("MRFLOW_CONFIG_DIR", home)
        .env("MRFLOW_DATA_DIR", home)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn flow(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("roi_analysis_process");
    group.sample_size(20).measurement_time(Duration::from_secs(15));
    group.bench_function("cold", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |cache| run(cache.path(), home.path()),
            BatchSize::PerIteration,
        )
    });
    let warm = tempfile::tempdir().unwrap();
    run(warm.path(), home.path());
    group.bench_function("warm", |b| b.iter(|| run(warm.path(), home.path())));
    group.finish();
}

criterion_group!(benches, flow);
criterion_main!(benches);
