//! Data in a real PostgreSQL server (`.ci/postgres.sh` starts a throwaway one and says
//! where in `MRFLOW_TEST_POSTGRES`): every flow's figures from a table equal the file's to
//! the cent, the server is only asked for aggregates, a changed row misses the cache, and a
//! bad URL, password or table is one clear line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{json, run, sample, stderr, stdout};
use mrflow::data::{DataError, LoadOptions, LoadProgress, Progress, load};

/// The server's URL (with its password) and its statement log.
fn server() -> (String, PathBuf) {
    let url = std::env::var("MRFLOW_TEST_POSTGRES").expect(
        "MRFLOW_TEST_POSTGRES is not set: the warehouse tests need a PostgreSQL server; \
         run them through .ci/run, or `eval \"$(.ci/postgres.sh start)\"` first",
    );
    let log = std::env::var("MRFLOW_TEST_POSTGRES_LOG").expect("MRFLOW_TEST_POSTGRES_LOG is set with the URL");
    (url, PathBuf::from(log))
}

/// PostgreSQL's own client, from the server's directory or the PATH.
fn psql(url: &str, sql: &str) {
    let psql = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path().join("bin/psql")).find(|p| p.exists()))
        .unwrap_or_else(|| PathBuf::from("psql"));
    let out = Command::new(psql)
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bundled sample in table `name`, typed as a warehouse would hold it.
fn sample_table(url: &str, name: &str) {
    psql(url, &format!("DROP TABLE IF EXISTS {name} CASCADE"));
    psql(
        url,
        &format!(
            "CREATE TABLE {name} (sale_date date, year int, month int, quarter int, region text, \
             country text, store_id text, brand varchar(80), category text, units_sold int, \
             price_per_unit numeric(10,2), total_revenue numeric(12,2), cost_per_unit numeric(10,2), \
             total_cost numeric(12,2), profit numeric(12,2), profit_margin double precision)"
        ),
    );
    psql(
        url,
        &format!(
            "\\copy {name} FROM '{}' WITH (FORMAT csv, HEADER true)",
            sample().display()
        ),
    );
}

fn table_url(url: &str, table: &str) -> String {
    format!("{url}?table={table}")
}

/// The statements the server logged that name `table`.
fn statements_on(log: &Path, table: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log).expect("the server's log reads");
    text.lines()
        .filter_map(|l| {
            l.split_once("statement: ")
                .or_else(|| l.split_once(": SELECT"))
                .map(|(_, s)| s)
        })
        .filter(|s| s.contains(&format!("\"{table}\"")))
        .map(str::to_string)
        .collect()
}

/// The same facts, statements and shown figures, each value within half a cent (a sum
/// of group sums may differ from a sum of rows in a float's last bits).
fn same_to_the_cent(table: &serde_json::Value, file: &serde_json::Value, what: &str) {
    let (table, file) = (table.as_array().unwrap(), file.as_array().unwrap());
    assert_eq!(table.len(), file.len(), "{what}: facts differ: {table:#?} vs {file:#?}");
    for (t, f) in table.iter().zip(file) {
        for field in ["key", "statement", "display", "priority"] {
            assert_eq!(t[field], f[field], "{what}: {field} differs");
        }
        match (t["value"].as_f64(), f["value"].as_f64()) {
            (Some(a), Some(b)) => {
                assert!(
                    (a - b).abs() < 0.005,
                    "{what}: {} is {a} from the table, {b} from the file",
                    t["key"]
                )
            }
            _ => assert_eq!(t["value"], f["value"], "{what}: {} differs", t["key"]),
        }
    }
}

#[test]
fn every_flow_gives_the_files_figures_from_a_table_and_reads_only_aggregates() {
    let (url, log) = server();
    sample_table(&url, "wh_flows");
    let home = tempfile::tempdir().unwrap();
    let sample = sample();
    for flow in ["roi_analysis", "brand_performance", "sales_forecast"] {
        let args = |data: &str| {
            vec![
                "run".to_string(),
                "--flow".into(),
                flow.into(),
                "--format".into(),
                "json".into(),
                "--no-cache".into(),
                "--data".into(),
                data.to_string(),
            ]
        };
        let from_table = run(
            home.path(),
            &args(&table_url(&url, "wh_flows"))
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert!(from_table.status.success(), "{flow}: {}", stderr(&from_table));
        let from_file = run(
            home.path(),
            &args(&sample.display().to_string())
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        let (table, file) = (json(&from_table), json(&from_file));
        // The same facts (every figure, to the cent) and the same report.
        assert_eq!(table["facts"], file["facts"], "{flow}: facts differ");
        assert_eq!(table["report"], file["report"], "{flow}: reports differ");
        for (t, f) in table["steps"]
            .as_array()
            .unwrap()
            .iter()
            .zip(file["steps"].as_array().unwrap())
        {
            same_to_the_cent(&t["facts"], &f["facts"], &format!("{flow}: step {}", t["id"]));
        }
        // The baseline's describe() of the table is the file's.
        assert_eq!(
            table["totals"]["baseline_prompt_tokens"], file["totals"]["baseline_prompt_tokens"],
            "{flow}: the baseline differs"
        );
        assert_eq!(table["data"]["rows"], 15_000);
        assert_eq!(table["data"]["format"], "postgres");
        // Sums came back, not rows: the sample's CSV is 1.6 MB.
        let received = table["data"]["bytes"].as_u64().unwrap();
        assert!(received < 120_000, "{flow}: {received} bytes received");
        let shown = stdout(&from_table) + &stderr(&from_table);
        assert!(
            !shown.contains(url.split(':').nth(2).unwrap().split('@').next().unwrap()),
            "the password was shown"
        );
    }
    let statements = statements_on(&log, "wh_flows");
    assert!(statements.iter().any(|s| s.contains("GROUP BY")), "{statements:#?}");
    for s in &statements {
        let aggregate = ["COUNT(", "SUM(", "AVG(", "PERCENTILE_CONT("]
            .iter()
            .any(|a| s.contains(a));
        let bounded = s.contains("LIMIT 0") || s.contains("LIMIT 20");
        assert!(aggregate || bounded, "a statement that reads rows back: {s}");
    }
}

#[test]
fn a_changed_row_changes_the_reference_and_misses_the_cache() {
    let (url, _) = server();
    sample_table(&url, "wh_changes");
    let home = tempfile::tempdir().unwrap();
    let data = table_url(&url, "wh_changes");
    let args = ["run", "--format", "json", "--data", data.as_str()];
    let first = json(&run(home.path(), &args));
    let again = json(&run(home.path(), &args));
    assert_eq!(first["data"]["ref"], again["data"]["ref"]);
    assert!(
        again["steps"].as_array().unwrap().iter().all(|s| s["cached"] == true),
        "an unchanged table reuses every step: {:#?}",
        again["steps"]
    );
    psql(
        &url,
        "UPDATE wh_changes SET total_revenue = total_revenue + 1, profit = profit + 1 \
         WHERE ctid = (SELECT ctid FROM wh_changes LIMIT 1)",
    );
    let changed = json(&run(home.path(), &args));
    assert_ne!(changed["data"]["ref"], first["data"]["ref"]);
    assert!(
        changed["steps"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .all(|s| s["cached"] == false),
        "one changed row: every step that reads the sums runs again: {:#?}",
        changed["steps"]
    );
    // The table's reference is the same whichever flow reads it (memory files each flow's
    // findings under the same data), as a file's is.
    let other = json(&run(
        home.path(),
        &[
            "run",
            "--flow",
            "brand_performance",
            "--format",
            "json",
            "--data",
            &data,
        ],
    ));
    assert_eq!(other["data"]["ref"], changed["data"]["ref"]);
    // A row moved to another brand leaves the table's totals as they were, but not the
    // flow's sums: its results are keyed by them, so they miss too.
    psql(
        &url,
        "UPDATE wh_changes SET brand = 'Red Bull' WHERE ctid = \
         (SELECT ctid FROM wh_changes WHERE brand = 'Monster' LIMIT 1)",
    );
    let moved = json(&run(home.path(), &args));
    assert_eq!(moved["data"]["ref"], changed["data"]["ref"]);
    assert!(
        moved["steps"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .all(|s| s["cached"] == false),
        "{:#?}",
        moved["steps"]
    );
}

#[test]
fn a_tables_own_column_names_map_and_data_shows_them() {
    let (url, _) = server();
    psql(&url, "DROP TABLE IF EXISTS wh_orders");
    psql(
        &url,
        "CREATE TABLE wh_orders (\"ORDERNUMBER\" int, \"QUANTITYORDERED\" int, \"SALES\" numeric(12,2), \
         \"ORDERDATE\" timestamp, \"PRODUCTLINE\" text, \"COUNTRY\" text)",
    );
    psql(
        &url,
        "INSERT INTO wh_orders SELECT g, 1 + g % 40, round((50 + g % 97 * 3.5)::numeric, 2), \
         timestamp '2023-01-01' + (g % 730) * interval '1 day', \
         (ARRAY['Classic Cars','Motorcycles','Planes','Ships'])[1 + g % 4], \
         (ARRAY['USA','France','Spain'])[1 + g % 3] FROM generate_series(1, 3000) g",
    );
    let home = tempfile::tempdir().unwrap();
    let data = table_url(&url, "wh_orders");
    let shown = run(home.path(), &["data", data.as_str(), "--flow", "sales_forecast"]);
    let text = stdout(&shown);
    assert!(shown.status.success(), "{text}{}", stderr(&shown));
    assert!(
        text.contains("QUANTITYORDERED") && text.contains("units_sold (synonym)"),
        "{text}"
    );
    assert!(text.contains("ORDERDATE") && text.contains("date"), "{text}");
    assert!(text.contains("Rows    3,000"), "{text}");
    assert!(text.contains("sales_forecast     runs"), "{text}");
    // Revenue without cost: the forecast runs, summed by month on the server.
    let out = run(
        home.path(),
        &[
            "run",
            "--flow",
            "sales_forecast",
            "--format",
            "json",
            "--no-cache",
            "--data",
            data.as_str(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["status"], "completed", "{report:#?}");
    assert_eq!(report["data"]["rows"], 3000);
    // A query the analyst writes is a source too.
    let query = format!("{url}?query=SELECT%20*%20FROM%20wh_orders%20WHERE%20%22COUNTRY%22%20%3D%20%27France%27");
    let out = run(
        home.path(),
        &[
            "run",
            "--flow",
            "sales_forecast",
            "--format",
            "json",
            "--no-cache",
            "--data",
            &query,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["data"]["rows"], 1000);
}

#[test]
fn bad_urls_passwords_and_tables_are_one_clear_line_with_exit_2() {
    let (url, _) = server();
    let home = tempfile::tempdir().unwrap();
    let password = url.split(':').nth(2).unwrap().split('@').next().unwrap().to_string();
    let failing = |data: &str, expected: &[&str]| {
        let out = run(home.path(), &["run", "--data", data]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{data}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        for e in expected {
            assert!(err.contains(e), "{data}: expected `{e}` in: {err}");
        }
        assert!(!err.contains(&password), "the password was shown: {err}");
    };
    failing(
        &table_url(&url, "no_such_table"),
        &["127.0.0.1", "no_such_table", "does not exist"],
    );
    failing(&url, &["?table=NAME"]);
    let wrong = url.replacen(&password, "not-the-password", 1);
    failing(
        &table_url(&wrong, "wh_any"),
        &["password authentication failed", "127.0.0.1"],
    );
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    failing(
        &format!("postgres://postgres@127.0.0.1:{closed}/postgres?table=t"),
        &["cannot connect to 127.0.0.1", "refused"],
    );
    // A column mapped to a measure that is text.
    psql(&url, "DROP TABLE IF EXISTS wh_text");
    psql(
        &url,
        "CREATE TABLE wh_text (brand text, total_revenue text, total_cost numeric, profit numeric)",
    );
    psql(&url, "INSERT INTO wh_text VALUES ('A', '10', 5, 5)");
    failing(
        &table_url(&url, "wh_text"),
        &["column `total_revenue` is text", "--column"],
    );
    // `data` on a table a flow cannot run on: the table, its verdict and its last line
    // name the source without the password.
    let out = run(
        home.path(),
        &["data", &table_url(&url, "wh_text"), "--flow", "sales_forecast"],
    );
    assert_eq!(out.status.code(), Some(2));
    let shown = stdout(&out) + &stderr(&out);
    assert!(shown.contains("cannot run `sales_forecast`"), "{shown}");
    assert!(!shown.contains(&password), "the password was shown: {shown}");
}

#[test]
fn a_cancelled_load_asks_the_server_to_stop_the_query() {
    let (url, log) = server();
    sample_table(&url, "wh_cancel");
    // A view whose every row takes the server a while: the group-by cannot finish soon.
    psql(&url, "DROP VIEW IF EXISTS wh_slow");
    psql(
        &url,
        "CREATE VIEW wh_slow AS SELECT s.* FROM wh_cancel s, generate_series(1, 100000) g WHERE g > 0",
    );
    let progress = Arc::new(LoadProgress::default());
    let options = LoadOptions {
        progress: Progress(Some(progress.clone())),
        optional: vec![
            "brand".into(),
            "total_revenue".into(),
            "total_cost".into(),
            "profit".into(),
        ],
        ..LoadOptions::default()
    };
    let cancel = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            progress.cancel();
        })
    };
    let started = Instant::now();
    let result = load(Path::new(&table_url(&url, "wh_slow")), &[], &options, None, None);
    cancel.join().unwrap();
    assert!(matches!(result, Err(DataError::Cancelled { .. })), "{:?}", result.err());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    // The server heard the cancel request.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("canceling statement due to user request") {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not log the cancel");
        std::thread::sleep(Duration::from_millis(100));
    }
}
