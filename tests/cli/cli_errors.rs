//! Bad input and usage: one line on stderr naming what is wrong, exit status 2, no panic.

use std::io::Write;

use crate::common::*;

fn expect_input_error(args: &[&str], expected: &str) {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(expected), "{args:?}: `{err}` should contain `{expected}`");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "{args:?}");
}

fn temp_file(content: &[u8], suffix: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    f.write_all(content).unwrap();
    f
}

#[test]
fn missing_data_file() {
    expect_input_error(
        &["run", "--data", "/no/such/file.csv"],
        "mrflow-tui: error: /no/such/file.csv: file not found",
    );
}

#[test]
fn data_that_is_not_csv() {
    let f = temp_file(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ".csv");
    expect_input_error(
        &["run", "--data", f.path().to_str().unwrap()],
        "not a CSV, Parquet or Excel file (binary content at byte 8)",
    );
    let f = temp_file(br#"[{"brand": "A"}]"#, ".csv");
    expect_input_error(
        &["run", "--data", f.path().to_str().unwrap()],
        "looks like JSON, expected a CSV file",
    );
}

#[test]
fn data_missing_a_needed_column() {
    let f = temp_file(b"brand,units_sold\nA,1\n", ".csv");
    let path = f.path().to_str().unwrap();
    expect_input_error(
        &["run", "--data", path],
        &format!(
            "{path}: flow `roi_analysis` cannot run on this file: missing \
             role `total_revenue` (numbers, or the columns to derive it as units_sold × price_per_unit); \
             role `total_cost` (numbers, or the columns to derive it as units_sold × cost_per_unit); \
             role `profit` (numbers, or the columns to derive it as total_revenue − total_cost); \
             role `category` (text); role `region` (text); found columns: brand, units_sold; \
             no built-in flow runs on it"
        ),
    );
}

#[test]
fn data_with_text_in_a_number_column() {
    let mut text = std::fs::read_to_string(fixture("tiny_sales.csv")).unwrap();
    text = text.replacen(",5,20.00,100.00,18.00,90.00", ",five,20.00,100.00,18.00,90.00", 1);
    let f = temp_file(text.as_bytes(), ".csv");
    let path = f.path().to_str().unwrap();
    expect_input_error(
        &["run", "--data", path],
        &format!("{path}: line 4, column `units_sold`: expected numbers, found `five`"),
    );
}

#[test]
fn unknown_flow_name() {
    expect_input_error(
        &["run", "--flow", "roi_analysys"],
        "roi_analysys: no such flow: not a built-in (roi_analysis, brand_performance, sales_forecast) and no such file",
    );
}

#[test]
fn flow_file_with_a_cycle_points_at_the_step() {
    let flow = "name = \"loop\"\n\
                [[steps]]\nid = \"a\"\ntask = \"t\"\nagent = { role = \"r\", goal = \"g\", backstory = \"b\" }\n\
                [[steps]]\nid = \"b\"\nlisten = [\"a\", \"c\"]\ntask = \"t\"\nagent = { role = \"r\", goal = \"g\", backstory = \"b\" }\n\
                [[steps]]\nid = \"c\"\nlisten = [\"b\"]\ntask = \"t\"\nagent = { role = \"r\", goal = \"g\", backstory = \"b\" }\n";
    let f = temp_file(flow.as_bytes(), ".toml");
    let path = f.path().to_str().unwrap();
    expect_input_error(&["run", "--flow", path], &format!("{path}:"));
    expect_input_error(&["run", "--flow", path], "cycle: ");
}

#[test]
fn flow_file_with_a_syntax_error_has_line_and_column() {
    let f = temp_file(b"name = \"x\"\n[[steps]\nid = \"a\"\n", ".toml");
    let path = f.path().to_str().unwrap();
    expect_input_error(&["run", "--flow", path], &format!("{path}:2:"));
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["run", "--colour"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unexpected argument '--colour'"));
    let out = run(home.path(), &["run", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'yaml'"));
}

#[test]
fn help_teaches_with_examples() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for needle in [
        "run",
        "flows",
        "gen-data",
        "Examples:",
        "mrflow-tui run --flow sales_forecast --format json",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}
