//! `gen-data` and `flows`.

use crate::common::*;

#[test]
fn gen_data_reproduces_the_bundled_sample() {
    let home = tempfile::tempdir().unwrap();
    let out_path = home.path().join("gen.csv");
    let out = run(
        home.path(),
        &[
            "gen-data",
            "--rows",
            "15000",
            "--seed",
            "42",
            "--out",
            out_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&out_path).unwrap(), std::fs::read(sample()).unwrap());
}

#[test]
fn gen_data_to_stdout_is_deterministic_and_seed_dependent() {
    let home = tempfile::tempdir().unwrap();
    let a = run(home.path(), &["gen-data", "--rows", "200", "--seed", "9", "--out", "-"]);
    let b = run(home.path(), &["gen-data", "--rows", "200", "--seed", "9", "--out", "-"]);
    let c = run(
        home.path(),
        &["gen-data", "--rows", "200", "--seed", "10", "--out", "-"],
    );
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    assert_eq!(stdout(&a).lines().count(), 201);
}

#[test]
fn gen_data_into_a_missing_directory_is_an_input_error() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["gen-data", "--rows", "5", "--out", "/no/such/dir/x.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("mrflow-tui: error: /no/such/dir/x.csv: cannot create: "));
}

#[test]
fn flows_lists_the_builtins() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["flows", "--json"]);
    let list = json(&out);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["roi_analysis", "brand_performance", "sales_forecast"]);
    assert_eq!(list[0]["steps"][0], "load_data");
    let text = stdout(&run(home.path(), &["flows"]));
    assert!(text.contains("sales_forecast") && text.contains("steps: load_data, time_series"));
}

#[test]
fn bench_reports_every_figure() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["bench", "--rows", "3000", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["rows"], 3000);
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "load_data",
            "analyze_profitability",
            "optimize_budget",
            "generate_report"
        ]
    );
    for field in [
        "generate_ms",
        "load_ms",
        "cold_run_ms",
        "warm_run_ms",
        "what_if_us",
        "count_tokens_mib_per_s",
    ] {
        assert!(r[field].as_f64().unwrap() > 0.0, "{field}: {r}");
    }
}
