//! Helpers for running the real binary with isolated directories.

#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests").join("fixtures").join(name)
}

pub fn sample() -> PathBuf {
    repo().join("sample-data").join("beverage_sales.csv")
}

/// The binary with config, cache and data directories inside `home`, so nothing touches
/// the user's real directories.
pub fn mrflow(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mrflow-tui"));
    cmd.env("MRFLOW_CONFIG_DIR", home.join("config"))
        .env("MRFLOW_CACHE_DIR", home.join("cache"))
        .env("MRFLOW_DATA_DIR", home.join("data"))
        .env("HOME", home)
        .env("NO_COLOR", "1");
    cmd
}

pub fn run(home: &Path, args: &[&str]) -> Output {
    mrflow(home).args(args).output().expect("binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// Step `id` of a run report.
pub fn step_of<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    let steps = report["steps"].as_array().unwrap();
    steps
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

/// The value of the fact `key` in step `step` of a run report.
pub fn fact<'a>(report: &'a serde_json::Value, step: &str, key: &str) -> &'a serde_json::Value {
    let s = step_of(report, step);
    let f = s["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no fact {key} in {step}"));
    &f["value"]
}

/// Each step's value of `field` in a run report.
pub fn step_values(report: &serde_json::Value, field: &str) -> Vec<serde_json::Value> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[field].clone())
        .collect()
}

/// Every file under `dir`, recursively (none if it does not exist).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `roi_analysis` on `path` loaded with `options` and run offline to its report, with the
/// baseline's preview made from the loader's parse; `after_load` runs between the load and
/// the run.
pub async fn roi_report(
    path: &Path,
    options: &mrflow::data::LoadOptions,
    after_load: impl FnOnce(),
) -> mrflow::engine::RunReport {
    use mrflow::engine::{Engine, Measure, PreviewJob, RunReport};
    use std::sync::Arc;
    let flow = Arc::new(mrflow::flow::Flow::builtin("roi_analysis").unwrap());
    let store = Arc::new(mrflow::cache::ResultStore::new());
    let mut preview = PreviewJob::default();
    let data = mrflow::data::load(
        path,
        &flow.required_columns(),
        options,
        None,
        Some(&mut preview.observer()),
    );
    let data = Arc::new(data.unwrap());
    preview.start(&data.reference);
    preview.finish(&store);
    after_load();
    let (handle, mut events) = Engine::spawn(flow.clone(), data.clone(), store.clone());
    let snapshot = handle.run_to_end(&mut events).await;
    let measure = Measure {
        model: "gpt-4o-mini",
        tokenizer: mrflow::context::Tokenizer::for_model("gpt-4o-mini"),
        price: None,
        cache_rule: Default::default(),
        counts_exact: true,
    };
    RunReport::build(&flow, &data, &snapshot, &store, &measure)
}
