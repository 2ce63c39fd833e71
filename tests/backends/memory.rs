//! Long-term memory through the binary: what a run stores, search from a new process, no
//! duplicates, concurrent writers, a damaged store, the Mem0 backend against a local server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::http::{Reply, Server};
use crate::common::{fact, json, mrflow, run, stderr, stdout};
use serde_json::Value;

fn insights(home: &Path) -> Vec<Value> {
    let out = run(home, &["memory", "ls", "--history", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out).as_array().unwrap().clone()
}

fn texts(home: &Path) -> Vec<String> {
    let mut t: Vec<String> = insights(home)
        .iter()
        .map(|i| format!("{} | {}", i["dataset"], i["text"]))
        .collect();
    t.sort();
    t
}

fn generated(home: &Path, seed: u64) -> PathBuf {
    let path = home.join(format!("sales-{seed}.csv"));
    let out = run(
        home,
        &[
            "gen-data",
            "--rows",
            "3000",
            "--seed",
            &seed.to_string(),
            "--out",
            path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

#[test]
fn a_new_process_finds_the_top_brand_by_margin_and_reruns_add_nothing() {
    let home = tempfile::tempdir().unwrap();
    let first = run(home.path(), &["run", "--format", "json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let report = json(&first);
    let brand = fact(&report, "analyze_profitability", "profitability.brand.highest_margin")
        .as_str()
        .unwrap()
        .to_string();
    let margin = format!(
        "{:.1}%",
        fact(
            &report,
            "analyze_profitability",
            "profitability.brand.highest_margin_pct"
        )
        .as_f64()
        .unwrap()
    );

    let out = run(
        home.path(),
        &["memory", "search", "top brand by profit margin", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let hits = json(&out);
    let hits = hits.as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() <= 3, "{hits:?}");
    let top = hits[0]["text"].as_str().unwrap();
    assert!(
        top.contains(&brand) && top.contains(&margin),
        "{top} should name {brand} at {margin}"
    );
    assert!(hits.iter().map(|h| h["tokens"].as_u64().unwrap()).sum::<u64>() <= 500);
    assert_eq!(hits[0]["flow"], "roi_analysis");
    assert_eq!(hits[0]["dataset"], report["data"]["ref"]);
    assert!(hits[0]["metrics"]["profitability.brand.highest_margin_pct"].is_number());

    // Facts become insights, raw data does not; every critical fact is there.
    let before = texts(home.path());
    for step in report["steps"].as_array().unwrap() {
        for f in step["facts"].as_array().unwrap() {
            if f["priority"] == "critical" {
                assert!(
                    before.iter().any(|t| t.contains(f["statement"].as_str().unwrap())),
                    "missing {}",
                    f["key"]
                );
            }
        }
    }

    // A second run, computed again (no cache) or from the cache, stores nothing new.
    assert!(run(home.path(), &["run", "--no-cache"]).status.success());
    assert!(run(home.path(), &["run"]).status.success());
    assert_eq!(texts(home.path()), before);
}

/// The `past_insights` item of a run's report step, and the lines its prompt shows.
fn recalled(home: &Path, data: &Path, extra: &[&str]) -> (Value, Vec<String>) {
    let prompts = home.join("prompts");
    let _ = std::fs::remove_dir_all(&prompts);
    let mut args = vec![
        "run",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "json",
        "--budget",
        "4000",
        "--dump-prompts",
        prompts.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(home, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    let item = crate::common::step_of(&report, "generate_report")["context"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == "past_insights")
        .cloned()
        .unwrap();
    let prompt = std::fs::read_to_string(prompts.join("generate_report.txt")).unwrap();
    let lines = prompt
        .split("## past_insights\n")
        .nth(1)
        .map(|section| {
            section
                .lines()
                .skip(1)
                .take_while(|l| l.starts_with("- "))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    (item, lines)
}

/// Memory stays in its lane: a step recalls earlier analyses of the same data source (an
/// earlier version of the same file) or of the same project, never another dataset's
/// findings unless `[memory] across_data` opts in; and each recalled line says it is an
/// earlier finding, of which file and when.
#[test]
fn recall_keeps_to_the_same_source_or_project_unless_opted_in() {
    let home = tempfile::tempdir().unwrap();
    let (a, b) = (generated(home.path(), 1), generated(home.path(), 2));
    let (first, _) = recalled(home.path(), &a, &[]);
    // Nothing earlier: the item is empty. Its own data's findings are not recalled.
    assert_eq!(first["tokens_before"], 0);
    let (again, _) = recalled(home.path(), &a, &[]);
    assert_eq!(again["tokens_before"], 0);

    // Another file: nothing of the first reaches its prompt.
    let (other, lines) = recalled(home.path(), &b, &[]);
    assert_eq!(other["tokens_before"], 0, "{lines:?}");

    // A new version of the first file: its earlier findings come back, labelled.
    std::fs::copy(generated(home.path(), 3), &a).unwrap();
    let (item, lines) = recalled(home.path(), &a, &[]);
    assert_eq!(item["decision"], "kept");
    let tokens = item["tokens_before"].as_u64().unwrap();
    assert!(tokens > 0 && tokens <= 520, "{tokens}");
    assert!((1..=3).contains(&lines.len()), "{lines:?}");
    assert!(
        lines.iter().all(
            |l| l.starts_with("- Earlier finding (roi_analysis on sales-1.csv, data ")
                && l.contains("; not this data): ")
        ),
        "{lines:?}"
    );

    // A project: findings kept under it reach another file analysed under it.
    let c = generated(home.path(), 4);
    recalled(home.path(), &c, &["--project", "beverages"]);
    let (item, lines) = recalled(home.path(), &b, &["--project", "beverages"]);
    assert!(item["tokens_before"].as_u64().unwrap() > 0);
    assert!(lines.iter().all(|l| l.contains("on sales-4.csv")), "{lines:?}");
    let ls = stdout(&run(home.path(), &["memory", "ls"]));
    assert!(ls.contains("sales-4.csv [beverages]"), "{ls}");
    assert!(ls.starts_with("recall reaches the same data source"), "{ls}");

    // Across every source, only when asked.
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(home.path().join("config/config.toml"), "[memory]\nacross_data = true\n").unwrap();
    let (item, lines) = recalled(home.path(), &b, &[]);
    assert!(item["tokens_before"].as_u64().unwrap() > 0);
    assert!(
        lines.iter().all(|l| !l.contains("on sales-2.csv")),
        "never its own data: {lines:?}"
    );
}

#[test]
fn concurrent_runs_lose_no_insight() {
    let together = tempfile::tempdir().unwrap();
    let apart = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (1..=4).map(|s| generated(together.path(), s)).collect();
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            mrflow(together.path())
                .args(["run", "--no-cache", "--data", f.to_str().unwrap()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("memory"), "no memory warning: {err}");
    }
    for f in &files {
        assert!(
            run(apart.path(), &["run", "--no-cache", "--data", f.to_str().unwrap()])
                .status
                .success()
        );
    }
    let (t, a) = (texts(together.path()), texts(apart.path()));
    assert!(a.len() >= 4 * 20, "{}", a.len());
    assert_eq!(
        t, a,
        "the concurrent runs stored exactly what the same runs store one by one"
    );
}

#[test]
fn forget_clear_and_their_errors() {
    let home = tempfile::tempdir().unwrap();
    let empty = run(home.path(), &["memory", "ls"]);
    assert!(
        stdout(&empty).starts_with("no insights yet in local "),
        "{}",
        stdout(&empty)
    );
    assert!(run(home.path(), &["run"]).status.success());
    let all = insights(home.path());
    let id = all[0]["id"].as_str().unwrap();
    let out = run(home.path(), &["memory", "forget", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(insights(home.path()).len(), all.len() - 1);
    let out = run(home.path(), &["memory", "forget", id]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        format!("mrflow-tui: error: no insight with id {id}; `mrflow-tui memory ls` lists them")
    );
    assert!(run(home.path(), &["memory", "clear"]).status.success());
    assert!(insights(home.path()).is_empty());
    let none = run(home.path(), &["memory", "search", "brand"]);
    assert_eq!(stdout(&none), "nothing in memory matches \"brand\"\n");
}

#[test]
fn a_damaged_store_is_named_with_its_reset_and_runs_go_on_without_it() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("memory.sqlite3");
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let expected = format!(
        "{}: not a usable memory database (file is not a database); run `mrflow-tui memory clear` to reset it \
         (this deletes the file)",
        db.display()
    );
    let out = run(home.path(), &["memory", "ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), format!("mrflow-tui: error: {expected}"));

    let out = run(home.path(), &["run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!("mrflow-tui: warning: {expected}; running without long-term memory")
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        vec![0x5a; 8192],
        "the file is left as it was"
    );

    assert!(run(home.path(), &["memory", "clear"]).status.success());
    assert!(run(home.path(), &["run"]).status.success());
    assert!(!insights(home.path()).is_empty());
}

#[cfg(unix)]
#[test]
fn the_store_is_readable_by_the_user_only() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    assert!(run(home.path(), &["run"]).status.success());
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(home.path().join("data/memory.sqlite3")), 0o600);
    assert_eq!(mode(home.path().join("data")), 0o700);
}

const MEM0_KEY: &str = "m0-test-KEY-4242";

fn mem0_home(server: &Server, extra: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(
        home.path().join("config/config.toml"),
        format!(
            "[memory]\nbackend = \"mem0\"\nmem0_base_url = \"http://127.0.0.1:{}\"\nmem0_user_id = \"team\"\n{extra}",
            server.port
        ),
    )
    .unwrap();
    home
}

fn mem0_result(id: &str, text: &str, score: f64) -> Value {
    serde_json::json!({"id": id, "memory": text, "user_id": "team", "score": score,
        "created_at": "2026-11-20T10:00:00Z",
        "metadata": {"flow": "roi_analysis", "dataset": "cache://abc", "metric": "m", "analysis": "a"}})
}

#[test]
fn mem0_add_and_search_follow_its_rest_api() {
    let stored = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let stored_by_server = stored.clone();
    let server = Server::start(move |_, req| {
        if req.path.starts_with("/v2/memories/search") {
            let results: Vec<Value> = (0..5)
                .map(|i| mem0_result(&format!("m{i}"), &format!("Insight {i}"), 0.9 - i as f64 * 0.1))
                .collect();
            Reply::Json(200, vec![], serde_json::json!({ "results": results }).to_string())
        } else if req.method == "GET" {
            // What it was given so far, as Mem0 lists memories.
            let stored: Vec<Value> = stored_by_server.lock().unwrap().clone();
            Reply::Json(200, vec![], Value::Array(stored).to_string())
        } else if req.method == "POST" {
            let body = req.json();
            let mut stored = stored_by_server.lock().unwrap();
            let id = format!("m{}", stored.len());
            stored.push(serde_json::json!({"id": id, "memory": body["messages"][0]["content"],
                "metadata": body["metadata"]}));
            Reply::Json(
                200,
                vec![],
                r#"[{"id":"x","data":{"memory":"ok"},"event":"ADD"}]"#.into(),
            )
        } else {
            Reply::Json(
                200,
                vec![],
                r#"[{"id":"x","data":{"memory":"ok"},"event":"ADD"}]"#.into(),
            )
        }
    });
    let home = mem0_home(&server, "");
    let out = mrflow(home.path())
        .env("MEM0_API_KEY", MEM0_KEY)
        .args(["run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.requests();
    let adds: Vec<_> = requests.iter().filter(|r| r.path == "/v1/memories/").collect();
    assert!(adds.len() >= 20, "one add per insight ({})", adds.len());
    let add = adds[0];
    assert_eq!(add.method, "POST");
    assert_eq!(add.header("authorization"), Some(format!("Token {MEM0_KEY}").as_str()));
    let body = add.json();
    assert_eq!(body["user_id"], "team");
    assert_eq!(body["infer"], false);
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["metadata"]["flow"], "roi_analysis");
    assert!(body["metadata"]["metric"].as_str().unwrap().contains('.'));

    // A second run finds its insights already in Mem0 and adds none.
    let posted = stored.lock().unwrap().len();
    let out = mrflow(home.path())
        .env("MEM0_API_KEY", MEM0_KEY)
        .args(["run", "--no-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stored.lock().unwrap().len(), posted, "no duplicates");

    let out = mrflow(home.path())
        .env("MEM0_API_KEY", MEM0_KEY)
        .args(["memory", "search", "top brand", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let hits = json(&out);
    let ids: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["m0", "m1", "m2"], "at most 3 hits, best first");
    // The run searched too (for its steps' memory items); the command's search is the last.
    let search = server
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/v2/memories/search/")
        .unwrap();
    let body = search.json();
    assert_eq!(body["query"], "top brand");
    assert_eq!(body["filters"]["user_id"], "team");
    assert!(!stdout(&out).contains(MEM0_KEY) && !stderr(&out).contains(MEM0_KEY));
}

#[test]
fn mem0_failures_are_clear_and_runs_survive_them() {
    let server = Server::start(|_, _| Reply::Json(500, vec![], r#"{"detail":"database unavailable"}"#.into()));
    let home = mem0_home(&server, "");
    let out = run(home.path(), &["memory", "search", "brand"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "mrflow-tui: error: http://127.0.0.1:{}/v2/memories/search/: HTTP 500: database unavailable",
            server.port
        )
    );
    let out = run(home.path(), &["run", "--format", "json"]);
    assert!(
        out.status.success(),
        "a memory failure never fails the run: {}",
        stderr(&out)
    );
    let port = server.port;
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "mrflow-tui: warning: memory: http://127.0.0.1:{port}/v1/memories/: HTTP 500: database unavailable\n\
             mrflow-tui: warning: memory search: http://127.0.0.1:{port}/v2/memories/search/: HTTP 500: database \
             unavailable"
        )
    );

    let hang = Server::start(|_, _| Reply::Hang(Duration::from_secs(10)));
    let home = mem0_home(&hang, "timeout_seconds = 1\n");
    let out = run(home.path(), &["memory", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .trim()
            .ends_with("no response within 1 s (raise [memory] timeout_seconds)"),
        "{}",
        stderr(&out)
    );
}
