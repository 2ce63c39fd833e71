//! Bring your own data: exports shaped as other tools write them (tests/fixtures/byod/,
//! made by make_fixtures.py with Python's csv, openpyxl, xlwt and pyarrow) run through the
//! real binary. The expected figures were computed by that script, not by mrflow.

use std::path::{Path, PathBuf};

use crate::common::{fact, json, run, stderr, stdout};

fn byod(name: &str) -> PathBuf {
    crate::common::repo().join("tests/fixtures/byod").join(name)
}

fn run_json(home: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["run", "--no-cache", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(home, &all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    json(&out)
}

fn number(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.006
}

/// The retail export: `Order Date` month-first with two-digit years, `Sales`, `Quantity`,
/// `Profit`, no cost column, product names quoted with embedded quotes, CRLF. roi_analysis
/// runs with the brand role read from `Sub-Category`, and every figure matches.
#[test]
fn a_retail_export_runs_roi_analysis_with_an_explicit_brand() {
    let home = tempfile::tempdir().unwrap();
    let data = byod("retail_export.csv");
    let data = data.to_str().unwrap();

    // Without a brand, what needs none runs (profitability by category and region), and
    // the notes say what was skipped and the fix.
    let r = run_json(home.path(), &["--data", data]);
    assert_eq!(r["status"], "completed");
    let notes = r["data"]["notes"].to_string();
    assert!(
        notes.contains("analyze_profitability: no brand column: profitability(by=brand) and ROI skipped"),
        "{notes}"
    );
    assert!(
        notes.contains("optimize_budget skipped: no brand column for budget optimization"),
        "{notes}"
    );
    assert!(
        notes.contains("--column brand=Sub-Category would run what needs `brand`"),
        "{notes}"
    );
    assert_eq!(
        fact(&r, "analyze_profitability", "profitability.category.top"),
        "Technology"
    );
    // A brand flow without a brand refuses: the role, the columns that could serve, the fix.
    let out = run(
        home.path(),
        &["run", "--no-cache", "--flow", "brand_performance", "--data", data],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("missing role `brand` (text); columns that could serve: Sub-Category, Product Name"),
        "{err}"
    );
    assert!(err.contains("add --column brand=Sub-Category"), "{err}");
    assert!(
        err.contains("built-in flows that run on it: roi_analysis (partly), sales_forecast"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());

    let r = run_json(home.path(), &["--data", data, "--column", "brand=Sub-Category"]);
    assert_eq!(r["status"], "completed");
    let notes = r["data"]["notes"].to_string();
    assert!(notes.contains("brand ← `Sub-Category`"), "{notes}");
    assert!(notes.contains("total_revenue ← `Sales`"), "{notes}");
    assert!(
        notes.contains("derived `total_cost` as total_revenue − profit"),
        "{notes}"
    );
    assert_eq!(r["data"]["rows"], 48);
    let p = "analyze_profitability";
    assert!(close(number(fact(&r, p, "totals.revenue")), 48670.75));
    assert!(close(number(fact(&r, p, "totals.profit")), 6296.92));
    assert_eq!(fact(&r, p, "profitability.brand.top"), "Phones");
    assert_eq!(fact(&r, p, "profitability.brand.highest_margin"), "Chairs");
    assert!(close(number(fact(&r, p, "profitability.brand.top_profit")), 1541.77));
    assert!(close(
        number(fact(&r, p, "profitability.brand.highest_margin_pct")),
        20.2477
    ));
    let report = r["report"].as_str().unwrap();
    assert!(report.contains("Phones") && report.contains("$48,671"), "{report}");
    assert_eq!(r["facts"]["missing"], serde_json::json!([]));
}

/// The same rows as Parquet, .xlsx (data on its second sheet) and .xls give the same figures.
#[test]
fn parquet_and_excel_give_the_same_figures() {
    let home = tempfile::tempdir().unwrap();
    for (file, extra) in [
        ("retail_export.parquet", vec![]),
        ("retail_export.xlsx", vec!["--sheet", "Orders"]),
        ("retail_export.xls", vec![]),
    ] {
        let data = byod(file);
        let mut args = vec!["--data", data.to_str().unwrap(), "--column", "brand=Sub-Category"];
        args.extend(extra);
        let r = run_json(home.path(), &args);
        let p = "analyze_profitability";
        assert!(close(number(fact(&r, p, "totals.revenue")), 48670.75), "{file}");
        assert!(close(number(fact(&r, p, "totals.profit")), 6296.92), "{file}");
        assert_eq!(fact(&r, p, "profitability.brand.top"), "Phones", "{file}");
    }
    // The first sheet of the workbook holds notes, not data: named, with the way out.
    let data = byod("retail_export.xlsx");
    let out = run(home.path(), &["run", "--no-cache", "--data", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        home.path(),
        &["run", "--data", data.to_str().unwrap(), "--sheet", "Summary"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no sheet `Summary`; its sheets are: Notes, Orders"),
        "{}",
        stderr(&out)
    );
}

/// `;`, `1.234,56 €`, Windows-1252 brand names and `DD.MM.YYYY` dates.
#[test]
fn a_european_export_is_transcoded_and_read_with_decimal_commas() {
    let home = tempfile::tempdir().unwrap();
    let data = byod("european_export.csv");
    let data = data.to_str().unwrap();
    let r = run_json(home.path(), &["--data", data]);
    let notes = r["data"]["notes"].to_string();
    assert!(notes.contains("Windows-1252"), "{notes}");
    assert!(notes.contains("decimal commas"), "{notes}");
    let p = "analyze_profitability";
    assert!(close(number(fact(&r, p, "totals.revenue")), 50775.0));
    assert!(close(number(fact(&r, p, "totals.profit")), 20310.0));
    assert_eq!(fact(&r, p, "profitability.brand.top"), "Señor Limón");

    let out = run(home.path(), &["data", data, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let d = json(&out);
    assert_eq!(d["format"], "csv");
    assert_eq!(d["delimiter"], ";");
    assert_eq!(d["encoding"], "Windows-1252");
    assert_eq!(d["decimal"], ",");
    assert_eq!(d["rows"], 24);
    assert_eq!(d["roles"]["total_revenue"], "Revenue");
    assert_eq!(d["roles"]["sale_date"], "Date");
    let units = d["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Units")
        .unwrap();
    assert_eq!(units["type"], "number");
    assert_eq!(units["role"], "units_sold");

    // Day-first dates decided by the values (`03.01.2024` … `27.…`).
    let out = run(home.path(), &["data", data, "--flow", "sales_forecast", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["date_format"], "DD/MM/YYYY (day first)");
}

/// CrewAI's own beverage layout writes quarters as `Q4`; the quarterly series reads them.
#[test]
fn quarters_written_as_q4_run_sales_forecast() {
    let home = tempfile::tempdir().unwrap();
    let data = byod("crewai_beverage.csv");
    let r = run_json(
        home.path(),
        &["--data", data.to_str().unwrap(), "--flow", "sales_forecast"],
    );
    assert_eq!(r["status"], "completed");
}

/// Headers in other cases and spellings map by name; a bare quote inside an unquoted field
/// is text; tab-separated; two revenue candidates are reported, not guessed.
#[test]
fn names_quotes_and_ambiguity() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("shouting.tsv");
    std::fs::write(
        &path,
        "BRAND\tCATEGORY\tREGION\tTOTAL_REVENUE\tTotal Cost\tUnits Sold\n\
         Big 5\" Cola\tSoda\tNorth\t$1,200.50\t$700.25\t100\n\
         Aqua\tWater\tSouth\t$800.00\t$300.00\t80\n\
         Big 5\" Cola\tSoda\tSouth\t$99.50\t$49.75\t10\n\
         Fizz\tSoda\tNorth\t10.00\t5.00\t1\n\
         Zest\tSoda\tNorth\t10.00\t5.00\t1\n\
         Mint\tWater\tSouth\t10.00\t5.00\t1\n",
    )
    .unwrap();
    let r = run_json(home.path(), &["--data", path.to_str().unwrap()]);
    let p = "analyze_profitability";
    assert!(close(number(fact(&r, p, "totals.revenue")), 2130.0));
    assert!(close(number(fact(&r, p, "totals.profit")), 1065.0));
    assert_eq!(fact(&r, p, "profitability.brand.top"), "Big 5\" Cola");

    let path = home.path().join("two_revenues.csv");
    std::fs::write(
        &path,
        "brand,category,region,Sales,Revenue,cost,units\nA,S,N,10,10,5,1\nB,S,N,20,20,5,2\nC,S,N,5,5,1,1\nD,S,N,5,5,1,1\nE,S,N,5,5,1,1\n",
    )
    .unwrap();
    let out = run(home.path(), &["run", "--no-cache", "--data", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "role `total_revenue` (numbers, or the columns to derive it as units_sold × price_per_unit): several \
             columns match (Sales, Revenue), choose one with --column total_revenue=COLUMN"
        ),
        "{}",
        stderr(&out)
    );
    let r = run_json(
        home.path(),
        &["--data", path.to_str().unwrap(), "--column", "total_revenue=Revenue"],
    );
    assert!(close(number(fact(&r, "analyze_profitability", "totals.revenue")), 45.0));
}

/// A custom dimension by its own column name, from a flow file that also maps a role.
#[test]
fn a_flow_groups_by_any_text_column() {
    let home = tempfile::tempdir().unwrap();
    let flow = home.path().join("segments.toml");
    std::fs::write(
        &flow,
        r#"name = "segments"
[data.columns]
brand = "Sub-Category"

[[steps]]
id = "by_segment"
task = "Profitability by customer segment and ship mode."
tools = [{ name = "profitability", by = "Segment" }, { name = "profitability", by = "ship mode" }]
agent = { role = "Analyst", goal = "Find the best segment", backstory = "Retail analyst." }
context = [
  { key = "task", source = "task", priority = "critical" },
  { key = "results", source = "results", priority = "critical" },
]
"#,
    )
    .unwrap();
    let data = byod("retail_export.csv");
    let r = run_json(
        home.path(),
        &["--data", data.to_str().unwrap(), "--flow", flow.to_str().unwrap()],
    );
    assert_eq!(fact(&r, "by_segment", "profitability.Segment.top"), "Corporate");
    assert!(close(
        number(fact(&r, "by_segment", "profitability.Segment.top_profit")),
        2396.52
    ));
    // An unknown column is named before anything runs, with the text columns there are.
    std::fs::write(
        &flow,
        std::fs::read_to_string(&flow)
            .unwrap()
            .replace("\"Segment\"", "\"Channel\""),
    )
    .unwrap();
    let out = run(
        home.path(),
        &[
            "run",
            "--no-cache",
            "--data",
            data.to_str().unwrap(),
            "--flow",
            flow.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("column `Channel` (text); columns that could serve: "),
        "{}",
        stderr(&out)
    );
}

/// Dates where every value reads both ways are refused with the way to choose, and the
/// choice changes the dataset's reference (nothing cached under another reading is reused).
#[test]
fn ambiguous_dates_are_refused_and_a_chosen_format_is_part_of_the_reference() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("ambiguous.csv");
    // 36 months, every day and month at most 12: both readings are dates.
    let rows: Vec<String> = (0..36)
        .map(|i| {
            let (a, b, y) = (i % 12 + 1, (i * 5) % 12 + 1, 2022 + i / 12);
            format!("{a:02}/{b:02}/{y},{},{},{}", 1000 + 37 * i, 400 + 11 * i, 10 + i)
        })
        .collect();
    std::fs::write(&path, format!("Date,Sales,Profit,Qty\n{}\n", rows.join("\n"))).unwrap();
    let p = path.to_str().unwrap();
    let out = run(home.path(), &["run", "--flow", "sales_forecast", "--data", p]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "column `Date`: every date reads day-first and month-first alike (e.g. `01/01/2022`, `02/06/2022`); \
             choose with --date-format dmy or --date-format mdy"
        ),
        "{}",
        stderr(&out)
    );
    let dmy = run_json(
        home.path(),
        &["--flow", "sales_forecast", "--data", p, "--date-format", "dmy"],
    );
    let mdy = run_json(
        home.path(),
        &["--flow", "sales_forecast", "--data", p, "--date-format", "mdy"],
    );
    assert_eq!(dmy["data"]["ref"], mdy["data"]["ref"], "the file's bytes are the same");
    let outputs = |r: &serde_json::Value| crate::common::step_values(r, "output_ref");
    assert_ne!(outputs(&dmy), outputs(&mdy));
}

/// A shop's order lines (make_order_fixtures.py): upper-case names, revenue with no cost or
/// profit, `2/24/2003 0:00` dates, 29 months. The forecast runs; a brand flow runs on the one
/// product column as the brand, partly and with notes; ROI refuses and names what runs.
#[test]
fn order_lines_without_cost_run_what_revenue_allows() {
    let home = tempfile::tempdir().unwrap();
    let data = byod("order_lines.csv");
    let data = data.to_str().unwrap();

    let r = run_json(home.path(), &["--flow", "sales_forecast", "--data", data]);
    assert_eq!(r["status"], "completed");
    // Common export names map without flags.
    let roles = &r["data"]["roles"];
    assert_eq!(roles["units_sold"], "QUANTITYORDERED");
    assert_eq!(roles["total_revenue"], "SALES");
    assert_eq!(roles["sale_date"], "ORDERDATE");
    assert_eq!(r["facts"]["retained"], r["facts"]["critical"], "{}", r["facts"]);
    assert_eq!(
        step(&r, "seasonal_forecast")["status"],
        "done",
        "29 months feed the seasonal method"
    );

    let r = run_json(
        home.path(),
        &[
            "--flow",
            "brand_performance",
            "--data",
            data,
            "--column",
            "brand=PRODUCTLINE",
        ],
    );
    assert_eq!(r["status"], "completed");
    let notes = r["data"]["notes"].to_string();
    assert!(
        notes.contains("market_share: no category column: market share is overall, not within category"),
        "{notes}"
    );
    assert!(
        notes.contains("brand_profitability skipped: no cost or profit column for profitability and ROI"),
        "{notes}"
    );
    assert_eq!(step(&r, "brand_profitability")["status"], "skipped");
    assert_eq!(fact(&r, "market_share", "market_share.leader"), "Classic Cars");
    assert!(close(
        number(fact(&r, "market_share", "market_share.leader_pct")),
        20.379
    ));
    let report = r["report"].as_str().unwrap();
    assert!(
        report.contains("Top three productlines hold"),
        "the file's word: {report}"
    );
    assert_eq!(r["facts"]["retained"], r["facts"]["critical"], "{}", r["facts"]);

    let out = run(home.path(), &["run", "--no-cache", "--data", data]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("flow `roi_analysis` cannot run on this file: missing role `brand`"),
        "{err}"
    );
    assert!(
        err.contains("role `total_cost`") && err.contains("role `profit`"),
        "{err}"
    );
    assert!(err.contains("built-in flows that run on it: sales_forecast"), "{err}");
    let data_cmd = stdout(&run(home.path(), &["data", data]));
    assert!(data_cmd.contains("sales_forecast     runs"), "{data_cmd}");
    assert!(data_cmd.contains("roi_analysis       cannot run (needs "), "{data_cmd}");
}

/// Two years of a brand's retail export: `Operating Profit`, `$1,257 ` money, m/d/yyyy dates,
/// exactly 24 months. The forecast falls back to the trend with a note; ROI runs by
/// region without a brand, and by retailer in the file's own word with one.
#[test]
fn a_two_year_export_forecasts_and_reports_in_its_own_words() {
    let home = tempfile::tempdir().unwrap();
    let data = byod("two_year_retail.csv");
    let data = data.to_str().unwrap();

    let r = run_json(home.path(), &["--flow", "sales_forecast", "--data", data]);
    assert_eq!(r["status"], "completed");
    assert_eq!(r["data"]["roles"]["profit"], "Operating Profit");
    assert_eq!(step(&r, "time_series")["route"], "trend_forecast");
    let notes = r["data"]["notes"].to_string();
    assert!(
        notes.contains(
            "`seasonal_forecast` cannot run (method `trend_seasonal` needs 25 months of history, the data has 24"
        ),
        "{notes}"
    );
    assert_eq!(step(&r, "forecast_report")["status"], "done");
    assert_eq!(r["facts"]["retained"], r["facts"]["critical"], "{}", r["facts"]);

    let r = run_json(home.path(), &["--data", data]);
    assert_eq!(r["status"], "completed");
    assert_eq!(fact(&r, "analyze_profitability", "profitability.region.top"), "Midwest");
    assert!(close(
        number(fact(&r, "analyze_profitability", "totals.profit")),
        779635.0
    ));
    assert!(
        r["data"]["notes"]
            .to_string()
            .contains("optimize_budget skipped: no brand column")
    );

    let r = run_json(home.path(), &["--data", data, "--column", "brand=Retailer"]);
    assert_eq!(fact(&r, "analyze_profitability", "profitability.brand.top"), "Kohl's");
    assert!(close(
        number(fact(&r, "analyze_profitability", "profitability.brand.top_profit")),
        151300.0
    ));
    let report = r["report"].as_str().unwrap();
    assert!(
        report.contains("Top Retailer by profit: Kohl's ($151,300 profit"),
        "{report}"
    );
    assert!(!report.contains(" brand "), "{report}");
    assert_eq!(r["facts"]["retained"], r["facts"]["critical"], "{}", r["facts"]);
}

fn step<'a>(r: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    crate::common::step_of(r, id)
}
