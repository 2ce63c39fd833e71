//! `mrflow-tui runs`: every run kept with its settings, ledger, facts and report; listed,
//! shown and compared from the command line. A damaged record is skipped with a warning;
//! past 200 runs the oldest go.

use crate::common::*;

fn runs_json(home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = run(home, args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    json(&out)
}

#[test]
fn runs_are_kept_listed_shown_and_compared() {
    let home = tempfile::tempdir().unwrap();
    assert!(stdout(&run(home.path(), &["runs", "ls"])).contains("No runs kept yet"));
    assert!(run(home.path(), &["run"]).status.success());
    assert!(run(home.path(), &["run", "--budget", "200"]).status.success());

    let listed = runs_json(home.path(), &["runs", "ls", "--json"]);
    let runs = listed.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let (a, b) = (runs[0]["id"].as_str().unwrap(), runs[1]["id"].as_str().unwrap());
    assert_eq!(runs[1]["steps"][0]["budget"], 200);
    assert_eq!(runs[0]["facts"]["retained"], 13);
    let table = stdout(&run(home.path(), &["runs", "ls"]));
    assert!(table.contains("flow defaults"), "{table}");
    assert!(table.contains("load_data: budget 200"), "{table}");

    let shown = runs_json(home.path(), &["runs", "show", "latest", "--json"]);
    assert_eq!(shown["id"], b);
    assert!(shown["report"].as_str().unwrap().starts_with("# Report: roi analysis"));
    let text = stdout(&run(home.path(), &["runs", "show", a]));
    assert!(text.contains("Tokens  1,501 prompt"), "{text}");

    let diff = runs_json(home.path(), &["runs", "diff", a, b, "--json"]);
    assert!(diff["prompt_tokens_delta"].as_i64().unwrap() < 0, "{diff}");
    assert_eq!(diff["steps"][0]["settings_changed"][0], "budget 300 → 200");
    assert_eq!(diff["facts_retained"]["b"], 4);
    assert_eq!(diff["facts_lost"].as_array().unwrap().len(), 9);
    assert!(
        diff["report_diff"]
            .as_str()
            .unwrap()
            .contains("-- Total profit: $1,419,443")
    );
    let text = stdout(&run(home.path(), &["runs", "diff", a]));
    assert!(text.contains("lost:     Total profit: $1,419,443"), "{text}");

    let out = run(home.path(), &["runs", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no run `nope` in the history"),
        "{}",
        stderr(&out)
    );
    let out = run(home.path(), &["runs", "show", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("matches several runs"), "{}", stderr(&out));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = home.path().join("data/runs").join(format!("{a}.json"));
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_damaged_record_is_skipped_with_a_warning_and_the_oldest_go_past_200() {
    let home = tempfile::tempdir().unwrap();
    assert!(run(home.path(), &["run"]).status.success());
    let dir = home.path().join("data/runs");
    let only = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&only).unwrap()).unwrap();

    // 200 older runs, then a damaged file.
    for i in 0..200u64 {
        let mut old = record.clone();
        let id = format!("20200101-000000-{i:04x}");
        old["id"] = id.clone().into();
        old["recorded_at_ms"] = (1_577_836_800_000 + i * 1000).into();
        std::fs::write(dir.join(format!("{id}.json")), old.to_string()).unwrap();
    }
    std::fs::write(dir.join("20200101-000000-zzzz.json"), b"{ not json").unwrap();
    let out = run(home.path(), &["runs", "ls", "--json"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("20200101-000000-zzzz.json: skipped, not a run record"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&out).as_array().unwrap().len(), 201);

    // One more run: 200 are kept, the oldest gone, the newest two there.
    assert!(run(home.path(), &["run", "--budget", "250"]).status.success());
    let runs = runs_json(home.path(), &["runs", "ls", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 200);
    assert_eq!(runs[0]["id"], "20200101-000000-0002");
    assert_eq!(runs[199]["steps"][0]["budget"], 250);
}
