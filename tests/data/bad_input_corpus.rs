//! The bad-input corpus: each case is a file or a command line a person might really give,
//! with the exact one-line error it must produce (exit status 2), or the warning it must
//! carry when the data is still usable. Never a panic, never a stack trace.

use crate::common::*;

const HEADER: &str = "sale_date,year,month,quarter,region,country,store_id,brand,category,units_sold,price_per_unit,total_revenue,cost_per_unit,total_cost";
const ROW: &str = "2023-01-05,2023,1,1,North,Norland,N-001,A,Soda,10,10.00,100.00,6.00,60.00";

enum Input {
    Data(Vec<u8>),
    Flow(String),
    Config(String),
    Args(Vec<&'static str>),
}

/// Runs a case; `{path}` in `expected` stands for the file the case wrote.
fn check(name: &str, input: Input, expected: &str) {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(name);
    let args: Vec<String> = match input {
        Input::Data(bytes) => {
            std::fs::write(&path, bytes).unwrap();
            vec![
                "run".into(),
                "--no-cache".into(),
                "--data".into(),
                path.display().to_string(),
            ]
        }
        Input::Flow(text) => {
            std::fs::write(&path, text).unwrap();
            vec![
                "run".into(),
                "--no-cache".into(),
                "--flow".into(),
                path.display().to_string(),
            ]
        }
        Input::Config(text) => {
            std::fs::create_dir_all(home.path().join("config")).unwrap();
            std::fs::write(home.path().join("config/config.toml"), text).unwrap();
            vec!["run".into(), "--no-cache".into()]
        }
        Input::Args(a) => a.into_iter().map(String::from).collect(),
    };
    let out = mrflow(home.path())
        .env_remove("ANTHROPIC_API_KEY")
        .args(&args)
        .output()
        .unwrap();
    let err = stderr(&out);
    let config_path = home.path().join("config/config.toml");
    let expected = expected
        .replace("{path}", &path.display().to_string())
        .replace("{config}", &config_path.display().to_string());
    let wanted = format!("mrflow-tui: error: {expected}");
    let ok = out.status.code() == Some(2) && err.lines().count() == 1 && err.trim_end() == wanted;
    if !ok {
        FAILURES.with(|f| {
            f.borrow_mut().push(format!(
                "{name} (exit {:?}):\n  got:  {}\n  want: {wanted}",
                out.status.code(),
                err.trim_end()
            ))
        });
    }
}

thread_local! {
    /// Every case of a test runs; the mismatches are reported together.
    static FAILURES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn report() {
    let failures = FAILURES.with(|f| f.borrow_mut().split_off(0));
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn csv(lines: &[&str]) -> Vec<u8> {
    (lines.join("\n") + "\n").into_bytes()
}

fn step(id: &str, extra: &str) -> String {
    format!(
        "[[steps]]\nid = \"{id}\"\ntask = \"t\"\nagent = {{ role = \"r\", goal = \"g\", backstory = \"b\" }}\n{extra}\n"
    )
}

fn flow(steps: &[String]) -> String {
    format!("name = \"f\"\n{}", steps.concat())
}

#[test]
fn bad_data_files() {
    check(
        "empty.csv",
        Input::Data(vec![]),
        "{path}: file is empty, expected a header line",
    );
    check(
        "header_only.csv",
        Input::Data(csv(&[HEADER])),
        "{path}: has a header but no data rows",
    );
    // UTF-8 text (`Zürich`) with a stray Latin-1 byte: damaged, not another encoding (a
    // file that is Latin-1 throughout is transcoded: tests/byod.rs).
    check(
        "broken_utf8.csv",
        Input::Data(
            [
                csv(&[HEADER]),
                "2023-01-05,2023,1,1,North,Zürich,N-001,A,Soda,10,10.00,100.00,6.00,60.00\n"
                    .as_bytes()
                    .to_vec(),
                b"2023-01-05,2023,1,1,North,Nor\xe9land,N-001,A,Soda,10,10.00,100.00,6.00,60.00\n".to_vec(),
            ]
            .concat(),
        ),
        "{path}: line 3: not valid UTF-8 (byte 0xE9) in a file that is otherwise UTF-8; the file is damaged, or \
         mixes encodings: save it as UTF-8",
    );
    check(
        "binary.csv",
        Input::Data(b"PK\x03\x04\x00\x00binary zip".to_vec()),
        "{path}: looks like an .xlsx workbook (a zip archive) but cannot be opened: Zip error: invalid Zip \
         archive: Could not find EOCD",
    );
    check(
        "object.json",
        Input::Data(br#"{"brand": "A", "revenue": 1}"#.to_vec()),
        "{path}: looks like JSON, expected a CSV file with a header line (or Parquet, .xlsx, .xls)",
    );
    check(
        "array.json",
        Input::Data(b"[\n {\"brand\": \"A\"}\n]\n".to_vec()),
        "{path}: looks like JSON, expected a CSV file with a header line (or Parquet, .xlsx, .xls)",
    );
    check(
        "ragged.csv",
        Input::Data(csv(&[HEADER, ROW, &format!("{ROW},extra")])),
        "{path}: line 3: 15 fields, but the header has 14 (delimiter `,`)",
    );
    check(
        "short_row.csv",
        Input::Data(csv(&[HEADER, "2023-01-05,2023,1"])),
        "{path}: line 2: 3 fields, but the header has 14 (delimiter `,`)",
    );
    check(
        "duplicate_header.csv",
        Input::Data(csv(&[&format!("{HEADER},brand"), &format!("{ROW},B")])),
        "{path}: line 1: duplicate column `brand`",
    );
    check(
        "no_cost.csv",
        Input::Data(csv(&["brand,region,category,total_revenue,units_sold", "A,N,S,1,1"])),
        "{path}: flow `roi_analysis` cannot run on this file: missing role `total_cost` (numbers, or the columns to \
         derive it as units_sold × cost_per_unit); role `profit` (numbers, or the columns to derive it as \
         total_revenue − total_cost); found columns: brand, region, category, total_revenue, units_sold; built-in \
         flows that run on it: brand_performance (partly) (--flow NAME)",
    );
    check(
        "text_in_number.csv",
        Input::Data(csv(&[HEADER, ROW, &ROW.replace(",10,10.00,", ",ten,10.00,")])),
        "{path}: line 3, column `units_sold`: expected numbers, found `ten`",
    );
    check(
        "text_in_revenue.csv",
        Input::Data(csv(&[HEADER, &ROW.replace(",100.00,", ",about 100,")])),
        "{path}: line 2, column `total_revenue`: expected numbers, found `about 100`",
    );
    check(
        "one_huge_line.csv",
        Input::Data(vec![b'a'; 10 * 1024 * 1024]),
        "{path}: line 1 is longer than 1048576 bytes, expected a CSV header line",
    );
    check(
        "directory",
        Input::Args(vec!["run", "--data", "/"]),
        "/: is a directory, expected a data file (CSV, Parquet, .xlsx or .xls)",
    );
    check(
        "missing.csv",
        Input::Args(vec!["run", "--data", "/no/such.csv"]),
        "/no/such.csv: file not found",
    );
    report();
}

#[test]
fn usable_data_with_warnings_says_what_was_skipped() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("nan.csv");
    let lines = [
        HEADER.to_string(),
        ROW.into(),
        ROW.replace(",100.00,", ",NaN,"),
        ROW.replace(",100.00,", ",inf,"),
        ROW.replace(",60.00", ","),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = run(
        home.path(),
        &[
            "run",
            "--no-cache",
            "--data",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let r = json(&out);
    assert_eq!(r["data"]["rows"], 1);
    assert_eq!(
        r["data"]["notes"],
        serde_json::json!([
            "skipped 1 of 4 rows with empty values in total_cost",
            "skipped 2 of 3 rows with NaN or infinite numbers in total_revenue",
            "derived `profit` as total_revenue − total_cost",
        ])
    );
    // A UTF-8 byte order mark is not a problem at all.
    let bom = home.path().join("bom.csv");
    std::fs::write(&bom, [b"\xef\xbb\xbf".to_vec(), csv(&[HEADER, ROW])].concat()).unwrap();
    let out = run(
        home.path(),
        &[
            "run",
            "--no-cache",
            "--flow",
            "sales_forecast",
            "--data",
            bom.to_str().unwrap(),
        ],
    );
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn bad_flow_files() {
    check(
        "syntax.toml",
        Input::Flow("name = \"f\"\n[[steps]\nid = \"a\"\n".into()),
        "{path}:2:9: unclosed array table, expected `]`",
    );
    check(
        "cycle.toml",
        Input::Flow(flow(&[
            step("a", ""),
            step("b", "listen = [\"a\", \"c\"]"),
            step("c", "listen = [\"b\"]"),
        ])),
        "{path}:8: step `b`: cycle: b → c → b",
    );
    check(
        "unknown_tool.toml",
        Input::Flow(flow(&[step("a", "tools = [{ name = \"teleport\" }]")])),
        "{path}:6:19: unknown variant `teleport`, expected one of `load_data`, `profitability`, `roi`, `budget_optimization`, `time_series`, `forecast`, `market_share`",
    );
    check(
        "unknown_step.toml",
        Input::Flow(flow(&[step("a", ""), step("b", "listen = [\"nope\"]")])),
        "{path}:8: step `b`: listens to unknown step `nope`",
    );
    check(
        "no_start.toml",
        Input::Flow(flow(&[step("a", "listen = [\"b\"]"), step("b", "listen = [\"a\"]")])),
        "{path}: flow has no start step: every step listens to another; give at least one step no `listen`",
    );
    check(
        "duplicate_id.toml",
        Input::Flow(flow(&[step("a", ""), step("a", "")])),
        "{path}:8: step `a`: duplicate step id (steps[1] repeats steps[0])",
    );
    check(
        "negative_budget.toml",
        Input::Flow(flow(&[step("a", "budget = -5")])),
        "{path}:6:10: budget must be between 50 and 200,000 tokens, got -5",
    );
    check(
        "absurd_budget.toml",
        Input::Flow(flow(&[step("a", "budget = 10000000")])),
        "{path}:6:10: budget must be between 50 and 200,000 tokens, got 10000000",
    );
    check(
        "bad_priority.toml",
        Input::Flow(flow(&[step(
            "a",
            "context = [{ key = \"k\", source = \"task\", priority = \"urgent\" }]",
        )])),
        "{path}:6:53: unknown variant `urgent`, expected one of `critical`, `important`, `useful`, `optional`",
    );
    check(
        "bad_strategy.toml",
        Input::Flow(flow(&[step("a", "strategy = \"yolo\"")])),
        "{path}:6:12: unknown variant `yolo`, expected one of `progressive_pruning`, `abstracted_summaries`, `minimal`, `stateless`",
    );
    check(
        "unknown_field.toml",
        Input::Flow(flow(&[step("a", "colour = \"red\"")])),
        "{path}:6:1: unknown field `colour`, expected one of `id`, `listen`, `join`, `router`, `agent`, `task`, `tools`, `budget`, `strategy`, `context`",
    );
    check(
        "bad_router.toml",
        Input::Flow(flow(&[step(
            "a",
            "router = { fact = \"x\", routes = [], default = \"zz\" }",
        )])),
        "{path}:3: step `a`: router goes to unknown step `zz`",
    );
    check(
        "bad_condition.toml",
        Input::Flow(flow(&[
            step("a", ""),
            step(
                "b",
                "listen = [\"a\"]\nrouter = { fact = \"x\", routes = [{ when = \"> lots\", goto = \"b\" }], default = \"b\" }",
            ),
        ])),
        "{path}:12:43: condition `> lots`: `>` needs a number, got `lots`",
    );
    check(
        "empty.toml",
        Input::Flow(String::new()),
        "{path}:1:1: missing field `name`",
    );
    check(
        "nonexistent",
        Input::Args(vec!["run", "--flow", "roi_analysys"]),
        "roi_analysys: no such flow: not a built-in (roi_analysis, brand_performance, sales_forecast) and no such file",
    );
    report();
}

#[test]
fn bad_config_and_command_lines() {
    check(
        "unknown_key",
        Input::Config("colour = \"red\"\n".into()),
        "{config}:1: unknown field `colour`, expected one of `model`, `theme`, `pricing`, `models`, `keys`, `cache`, `llm`, `memory`, `data`",
    );
    check(
        "unknown_llm_backend",
        Input::Config("[llm]\nbackend = \"gpt\"\n".into()),
        "{config}:2: unknown variant `gpt`, expected one of `offline`, `openai`, `anthropic`",
    );
    check(
        "model_entry_without_a_date",
        Input::Config(
            "model = \"acme\"\n[models.\"acme\"]\nprovider = \"other\"\ninput = 1.0\noutput = 2.0\n\
             min_cacheable_tokens = 1024\ntokenizer = \"estimated\"\nsource = \"acme.example\"\n"
                .into(),
        ),
        "{config}:2: missing field `prices_as_of`",
    );
    check(
        "anthropic_without_a_key",
        Input::Args(vec!["run", "--llm", "anthropic", "--model", "claude-sonnet-5-5"]),
        "the anthropic backend needs an API key for https://api.anthropic.com: set ANTHROPIC_API_KEY (or point \
         --base-url at a server that speaks the Messages API, or use --llm offline)",
    );
    check(
        "wrong_type",
        Input::Config("model = 5\n".into()),
        "{config}:1: invalid type: integer `5`, expected a string",
    );
    check(
        "bad_cache",
        Input::Config("[cache]\nmemory_mb = \"lots\"\n".into()),
        "{config}:2: invalid type: string \"lots\", expected u64",
    );
    check(
        "budget",
        Input::Args(vec!["run", "--budget", "10"]),
        "--budget: budget must be between 50 and 200,000 tokens, got 10",
    );
    check(
        "base_url",
        Input::Args(vec!["run", "--llm", "openai", "--base-url", "localhost:8080"]),
        "[llm] base_url: `localhost:8080` must start with http:// or https://",
    );
    report();
}

#[test]
fn unknown_flags_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["run", "--colour"],
        vec!["run", "--format", "yaml"],
        vec!["run", "--strategy", "yolo"],
        vec!["run", "--llm", "claude"],
        vec!["frobnicate"],
    ] {
        let out = run(home.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).starts_with("error: "), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
}

/// A date-only export: year and month come from `sale_date` when every date is
/// `YYYY-MM-DD`; mixed formats are an error naming the line, the value and the first date.
#[test]
fn dates_derive_year_and_month_and_mixed_formats_are_named() {
    let home = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (0..36)
        .map(|i| {
            let (y, m) = (2022 + i / 12, i % 12 + 1);
            format!("{y}-{m:02}-15,{},{},{}", 1000 + i * 10, 400 + i * 3, 50 + i)
        })
        .collect();
    let good = home.path().join("dates.csv");
    std::fs::write(
        &good,
        format!("sale_date,total_revenue,profit,units_sold\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let out = run(
        home.path(),
        &[
            "run",
            "--no-cache",
            "--flow",
            "sales_forecast",
            "--data",
            good.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let notes = json(&out)["data"]["notes"].clone();
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "derived `year` as year of sale_date"),
        "{notes}"
    );

    let mut mixed = rows.clone();
    mixed[4] = mixed[4].replace("2022-05-15", "15/05/2022");
    let bad = home.path().join("mixed.csv");
    std::fs::write(
        &bad,
        format!("sale_date,total_revenue,profit,units_sold\n{}\n", mixed.join("\n")),
    )
    .unwrap();
    let out = run(
        home.path(),
        &[
            "run",
            "--no-cache",
            "--flow",
            "sales_forecast",
            "--data",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "mrflow-tui: error: {}: line 6, column `sale_date`: `15/05/2022` is not a date in the column's \
             format (YYYY-MM-DD (year first)), like line 2's `2022-01-15`; the dates are in mixed formats, use one",
            bad.display()
        )
    );
}
