//! The headless `run` end to end: real binary, real files.

use crate::common::*;

#[test]
fn roi_analysis_on_hand_computed_fixture_matches() {
    let home = tempfile::tempdir().unwrap();
    let data = fixture("tiny_sales.csv");
    let out = run(
        home.path(),
        &["run", "--data", data.to_str().unwrap(), "--format", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json(&out);

    assert_eq!(r["flow"], "roi_analysis");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["data"]["rows"], 8);
    assert_eq!(r["data"]["columns"].as_array().unwrap().len(), 14);
    assert!(r["data"]["ref"].as_str().unwrap().starts_with("cache://"));
    // `profit` is not in the file: derived and said so.
    assert_eq!(r["data"]["notes"][0], "derived `profit` as total_revenue − total_cost");

    // By hand: revenue 1000, cost 690, profit 310.
    assert_eq!(fact(&r, "analyze_profitability", "totals.revenue"), 1000.0);
    assert_eq!(fact(&r, "analyze_profitability", "totals.profit"), 310.0);
    assert_eq!(fact(&r, "analyze_profitability", "totals.margin"), 31.0);
    // Brand profit: A 120, B 30, C 180, D -20; margins 40, 15, 60, -10 %.
    assert_eq!(fact(&r, "analyze_profitability", "profitability.brand.top"), "C");
    assert_eq!(
        fact(&r, "analyze_profitability", "profitability.brand.top_profit"),
        180.0
    );
    assert_eq!(fact(&r, "analyze_profitability", "profitability.brand.bottom"), "D");
    assert_eq!(
        fact(&r, "analyze_profitability", "profitability.brand.highest_margin_pct"),
        60.0
    );
    assert_eq!(
        fact(&r, "analyze_profitability", "profitability.brand.margin_spread"),
        70.0
    );
    // Category: Soda 150 profit, Water 170. Region: North 230 (46 %), South 80.
    assert_eq!(fact(&r, "analyze_profitability", "profitability.category.top"), "Water");
    assert_eq!(fact(&r, "analyze_profitability", "profitability.region.top"), "North");
    assert_eq!(
        fact(&r, "analyze_profitability", "profitability.region.highest_margin_pct"),
        46.0
    );
    // ROI: C 180/120 = 150 %, overall 310/690.
    assert_eq!(fact(&r, "analyze_profitability", "roi.brand.best"), "C");
    assert_eq!(fact(&r, "analyze_profitability", "roi.brand.best_pct"), 150.0);
    let overall = fact(&r, "analyze_profitability", "roi.overall").as_f64().unwrap();
    assert!((overall - 31000.0 / 690.0).abs() < 1e-9);
    // Budget 100,000, shares 2-40 %: A and C hit the 40,000 cap, D (loss-making) the
    // 2,000 floor, B takes the remaining 18,000 (marginal 0.10 < A's 0.26 at the cap).
    assert_eq!(fact(&r, "optimize_budget", "budget.brand.largest"), "A");
    assert_eq!(fact(&r, "optimize_budget", "budget.brand.largest_amount"), 40000.0);
    let s: f64 = 25_000.0;
    let p = |r: f64, x: f64| r * s * (x / s).ln_1p();
    let projected =
        p(120.0 / 180.0, 40_000.0) + p(1.5, 40_000.0) + p(30.0 / 170.0, 18_000.0) + p(-20.0 / 220.0, 2_000.0);
    let roi = fact(&r, "optimize_budget", "budget.projected_roi").as_f64().unwrap();
    assert!(
        (roi - projected / 1000.0).abs() < 1e-6,
        "{roi} vs {}",
        projected / 1000.0
    );

    let report = r["report"].as_str().unwrap();
    assert!(
        report.contains("Top brand by profit: C ($180.00 profit, 60.0% margin)"),
        "{report}"
    );
    assert!(
        report.contains("Largest budget allocation: A gets $40,000 (40.0% of $100,000)"),
        "{report}"
    );
    for step in r["steps"].as_array().unwrap() {
        assert_eq!(step["status"], "done");
        assert_eq!(step["cached"], false);
        assert!(step["output_ref"].as_str().unwrap().starts_with("cache://"));
        assert!(step["duration_ms"].is_u64());
    }
}

/// Per-brand sums over the sample, computed with the standard library only.
fn independent_brand_totals() -> std::collections::BTreeMap<String, (f64, f64)> {
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (b, rev, profit) = (col("brand"), col("total_revenue"), col("profit"));
    let mut sums = std::collections::BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let e: &mut (f64, f64) = sums.entry(f[b].to_string()).or_default();
        e.0 += f[rev].parse::<f64>().unwrap();
        e.1 += f[profit].parse::<f64>().unwrap();
    }
    sums
}

#[test]
fn sample_run_agrees_with_an_independent_computation() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["run", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["data"]["rows"], 15_000);
    assert_eq!(r["data"]["columns"].as_array().unwrap().len(), 16);

    let sums = independent_brand_totals();
    let revenue: f64 = sums.values().map(|v| v.0).sum();
    let profit: f64 = sums.values().map(|v| v.1).sum();
    let (top, _) = sums.iter().max_by(|a, b| a.1.1.total_cmp(&b.1.1)).unwrap();
    let (best_margin, _) = sums
        .iter()
        .max_by(|a, b| (a.1.1 / a.1.0).total_cmp(&(b.1.1 / b.1.0)))
        .unwrap();
    let got = |k: &str| fact(&r, "analyze_profitability", k).clone();
    assert!((got("totals.revenue").as_f64().unwrap() - revenue).abs() < 1e-6 * revenue);
    assert!((got("totals.profit").as_f64().unwrap() - profit).abs() < 1e-6 * profit.abs());
    assert_eq!(got("profitability.brand.top"), top.as_str());
    assert_eq!(got("profitability.brand.highest_margin"), best_margin.as_str());
    assert_eq!(r["steps"].as_array().unwrap().len(), 4);
    assert!(r["report"].as_str().unwrap().starts_with("# Report: roi analysis"));
}

#[test]
fn every_builtin_flow_completes_on_the_sample() {
    let home = tempfile::tempdir().unwrap();
    for (flow, steps) in [("roi_analysis", 4), ("brand_performance", 5), ("sales_forecast", 5)] {
        let out = run(home.path(), &["run", "--flow", flow, "--format", "json"]);
        assert!(out.status.success(), "{flow}: {}", stderr(&out));
        let r = json(&out);
        assert_eq!(r["status"], "completed", "{flow}");
        let s = r["steps"].as_array().unwrap();
        assert_eq!(s.len(), steps, "{flow}");
        assert!(
            s.iter()
                .all(|s| ["done", "cached", "skipped"].contains(&s["status"].as_str().unwrap())),
            "{flow}: {s:?}"
        );
        assert!(r["report"].as_str().unwrap().contains("## Key findings"), "{flow}");
    }
}

#[test]
fn sales_forecast_routes_to_the_seasonal_branch_on_the_sample() {
    let home = tempfile::tempdir().unwrap();
    let r = json(&run(
        home.path(),
        &["run", "--flow", "sales_forecast", "--format", "json"],
    ));
    let step = |id: &str| step_of(&r, id).clone();
    assert_eq!(step("time_series")["route"], "seasonal_forecast");
    assert_eq!(step("seasonal_forecast")["status"], "done");
    assert_eq!(step("trend_forecast")["status"], "skipped");
    assert_eq!(
        step("trend_forecast")["error"],
        "router of `time_series` chose `seasonal_forecast`"
    );
    assert_eq!(step("forecast_report")["status"], "done");
}

#[test]
fn table_and_markdown_formats_show_steps_and_report() {
    let home = tempfile::tempdir().unwrap();
    let table = stdout(&run(home.path(), &["run"]));
    assert!(table.starts_with("Flow    roi_analysis (completed in "), "{table}");
    assert!(table.contains("\nSTEP "), "{table}");
    assert!(table.contains("# Report: roi analysis"));
    let md = stdout(&run(home.path(), &["run", "--format", "markdown"]));
    assert!(
        md.contains(
            "| step | status | cached | time | prompt/budget | stable prefix | prompt cache | baseline | output |"
        ),
        "{md}"
    );
    // The second run in the same home is served from the cache.
    assert!(md.contains("| generate_report | cached | yes |"), "{md}");
}

/// Two months of history feed no forecast: the router passes over the seasonal method,
/// the trend says it needs four months, and the report is written from the series alone.
#[test]
fn a_history_too_short_for_any_forecast_skips_the_forecast_with_a_note() {
    let home = tempfile::tempdir().unwrap();
    let data = fixture("tiny_sales.csv");
    let out = run(
        home.path(),
        &[
            "run",
            "--flow",
            "sales_forecast",
            "--data",
            data.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["status"], "completed");
    let step = |id: &str| step_of(&r, id).clone();
    assert_eq!(step("time_series")["route"], "trend_forecast");
    assert_eq!(step("trend_forecast")["status"], "skipped");
    assert_eq!(
        step("trend_forecast")["error"],
        "trend_forecast skipped: method `trend` needs 4 months of history, the data has 2: three months to fit a \
         trend and one held out for the backtest"
    );
    let notes = r["data"]["notes"].to_string();
    assert!(
        notes.contains("time_series: `seasonal_forecast` cannot run (method `trend_seasonal` needs 25 months"),
        "{notes}"
    );
    assert_eq!(step("forecast_report")["status"], "done");
    assert!(r["report"].as_str().unwrap().contains("Peak season"));
}

#[test]
fn a_failing_step_fails_the_run_with_status_1_and_skips_what_depends_on_it() {
    let home = tempfile::tempdir().unwrap();
    let data = fixture("tiny_sales.csv");
    // A budget too small for the time series step's critical context fails that step.
    let flow = home.path().join("tight.toml");
    let text = std::fs::read_to_string(crate::common::repo().join("assets/flows/sales_forecast.toml"))
        .unwrap()
        .replacen("budget = 500", "budget = 50", 1);
    std::fs::write(&flow, text).unwrap();
    let out = run(
        home.path(),
        &[
            "run",
            "--flow",
            flow.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["status"], "failed");
    let step = |id: &str| step_of(&r, id).clone();
    assert_eq!(step("time_series")["status"], "failed");
    assert!(
        step("time_series")["error"]
            .as_str()
            .unwrap()
            .starts_with("context: the critical context needs"),
        "{}",
        step("time_series")
    );
    assert_eq!(step("forecast_report")["status"], "skipped");
    assert!(r["report"].is_null());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("mrflow-tui: error: run failed: time_series: context: "),
        "{err}"
    );
}

#[test]
fn the_same_data_gives_the_same_references_in_every_process() {
    // polars adds partial sums in whatever order its threads finish; the tools sum in whole
    // cents so results, and the references derived from them, are bit-identical.
    let home = tempfile::tempdir().unwrap();
    let refs = |flow: &str| -> Vec<serde_json::Value> {
        step_values(
            &json(&run(home.path(), &["run", "--flow", flow, "--format", "json"])),
            "output_ref",
        )
    };
    for flow in ["roi_analysis", "brand_performance", "sales_forecast"] {
        let first = refs(flow);
        for _ in 0..3 {
            assert_eq!(refs(flow), first, "{flow}");
        }
    }
}
