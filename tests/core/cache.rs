//! The persistent cache across processes: warm reruns, invalidation by content, damaged
//! files, and the `cache` commands.

use crate::common::*;

fn run_json(home: &std::path::Path, args: &[&str]) -> (serde_json::Value, String) {
    let mut full = vec!["run", "--format", "json"];
    full.extend_from_slice(args);
    let out = run(home, &full);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    (json(&out), stderr(&out))
}

fn cached(r: &serde_json::Value) -> Vec<bool> {
    step_values(r, "cached").iter().map(|v| v.as_bool().unwrap()).collect()
}

fn refs(r: &serde_json::Value) -> Vec<serde_json::Value> {
    step_values(r, "output_ref")
}

#[test]
fn a_second_run_on_unchanged_data_is_served_from_the_cache() {
    let home = tempfile::tempdir().unwrap();
    let (cold, _) = run_json(home.path(), &[]);
    assert_eq!(cached(&cold), [false; 4]);
    assert_eq!(cold["cache"]["disk_hits"], 0);
    let (warm, _) = run_json(home.path(), &[]);
    assert_eq!(cached(&warm), [true; 4]);
    assert!(
        warm["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "cached")
    );
    assert_eq!(warm["cache"]["misses"], 0);
    assert!(warm["cache"]["disk_hits"].as_u64().unwrap() >= 4);
    // Same results, same references, same report and ledger.
    assert_eq!(refs(&warm), refs(&cold));
    assert_eq!(warm["report"], cold["report"]);
    assert_eq!(warm["totals"], cold["totals"]);
    // --no-cache neither reads nor writes the directory.
    let (fresh, _) = run_json(home.path(), &["--no-cache"]);
    assert_eq!(cached(&fresh), [false; 4]);
}

#[test]
fn editing_one_byte_of_the_data_misses_every_step() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("sales.csv");
    std::fs::copy(sample(), &data).unwrap();
    let path = data.to_str().unwrap();
    let (first, _) = run_json(home.path(), &["--data", path]);
    // One digit of the last line's margin: still valid, different bytes.
    let mut bytes = std::fs::read(&data).unwrap();
    let at = bytes.len() - 2;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&data, &bytes).unwrap();
    let (second, _) = run_json(home.path(), &["--data", path]);
    assert_ne!(first["data"]["ref"], second["data"]["ref"]);
    assert_eq!(cached(&second), [false; 4]);
    assert_eq!(second["cache"]["disk_hits"], 0);
}

#[test]
fn damaged_cache_files_are_reported_removed_and_recomputed() {
    let home = tempfile::tempdir().unwrap();
    let (cold, _) = run_json(home.path(), &[]);
    let results = home.path().join("cache/v1/results");
    let mut files: Vec<_> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Truncate every result, and delete the cached dataset.
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        std::fs::write(f, &bytes[..bytes.len() / 3]).unwrap();
    }
    for f in std::fs::read_dir(home.path().join("cache/v1/frames")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    let (again, err) = run_json(home.path(), &[]);
    assert!(err.contains("mrflow-tui: warning: cache: "), "{err}");
    assert!(err.contains("is corrupt"), "{err}");
    assert_eq!(again["report"], cold["report"]);
    assert_eq!(refs(&again), refs(&cold));
    // Reported once: the damaged files were replaced, so the next run is clean and cached.
    let (third, err) = run_json(home.path(), &[]);
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(cached(&third), [true; 4]);
}

#[test]
fn cache_commands_list_show_count_and_clear() {
    let home = tempfile::tempdir().unwrap();
    run_json(home.path(), &[]);
    run_json(home.path(), &[]);
    let list = json(&run(home.path(), &["cache", "ls", "--json"]));
    let entries = list.as_array().unwrap();
    assert!(entries.iter().any(|e| e["kind"] == "dataset"));
    let tool = entries
        .iter()
        .find(|e| e["producer"] == "profitability(by=brand)")
        .unwrap();

    let out = run(home.path(), &["cache", "show", tool["reference"].as_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"top_by_profit\": \"Coca-Cola\""),
        "{}",
        stdout(&out)
    );
    let dataset = entries.iter().find(|e| e["kind"] == "dataset").unwrap();
    let hex = &dataset["reference"].as_str().unwrap()[8..20];
    let out = run(home.path(), &["cache", "show", hex]);
    assert!(stdout(&out).contains("15,000 rows x 7 columns"), "{}", stdout(&out));
    assert!(stdout(&out).contains("brand"));

    let out = run(home.path(), &["cache", "show", "zz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a reference"));

    let stats = json(&run(home.path(), &["cache", "stats", "--json"]));
    assert_eq!(stats["totals"]["runs"], 2);
    assert!(stats["totals"]["disk_hits"].as_u64().unwrap() >= 4);
    assert_eq!(stats["entries"].as_u64().unwrap() as usize, entries.len());

    let out = run(home.path(), &["cache", "clear"]);
    assert!(
        stdout(&out).starts_with(&format!("cleared {} entries", entries.len())),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        json(&run(home.path(), &["cache", "ls", "--json"])),
        serde_json::json!([])
    );
}

#[test]
fn an_unwritable_cache_directory_is_reported_once_and_the_run_completes() {
    let home = tempfile::tempdir().unwrap();
    // A cache "directory" under a regular file cannot be created, even by root.
    std::fs::write(home.path().join("blocker"), b"").unwrap();
    let out = mrflow(home.path())
        .env("MRFLOW_CACHE_DIR", home.path().join("blocker/cache"))
        .args(["run", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("mrflow-tui: warning: cache: cannot write under "),
        "{err}"
    );
    assert!(err.contains("results stay in memory for this run"), "{err}");
    assert_eq!(json(&out)["status"], "completed");
}

/// A full disk, as a file-size limit: every write past 64 KB fails with EFBIG (the signal
/// that would kill the process is ignored, as a full disk would not send one). The run
/// completes from memory, says so once, and leaves nothing that breaks the next run.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_reported_and_the_run_completes() {
    use std::os::unix::process::CommandExt;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = mrflow(home.path());
    cmd.args(["run", "--format", "json"]);
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("mrflow-tui: warning: cache: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let full = json(&out);
    assert_eq!(full["status"], "completed");
    let leftovers: Vec<_> = crate::common::walk(&home.path().join("cache"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "partial files were removed: {leftovers:?}");

    // With room again, the next run works and finds nothing corrupt.
    let (again, warnings) = run_json(home.path(), &[]);
    assert_eq!(warnings, "", "no corrupt leftovers");
    assert_eq!(again["status"], "completed");
    assert_eq!(again["report"], full["report"]);
    assert_eq!(again["totals"], full["totals"]);
}

#[cfg(unix)]
#[test]
fn cache_files_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    run_json(home.path(), &[]);
    for sub in ["results", "frames"] {
        for f in std::fs::read_dir(home.path().join("cache/v1").join(sub)).unwrap() {
            let mode = f.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}

/// Two flows that read other columns of one file hold other frames: the second must not be
/// served the first's profile or results from the cache.
#[test]
fn flows_reading_other_columns_of_one_file_do_not_share_results() {
    let fact_keys = |r: &serde_json::Value| -> Vec<String> {
        r["steps"][0]["facts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_string())
            .collect()
    };
    let alone = tempfile::tempdir().unwrap();
    let (expected, _) = run_json(alone.path(), &["--flow", "sales_forecast"]);
    let shared = tempfile::tempdir().unwrap();
    let (roi, _) = run_json(shared.path(), &["--flow", "roi_analysis"]);
    assert!(fact_keys(&roi).contains(&"data.distinct.brand".to_string()));
    let (after, _) = run_json(shared.path(), &["--flow", "sales_forecast"]);
    assert!(cached(&after).iter().all(|c| !c), "nothing of roi_analysis' frame fits");
    assert_eq!(fact_keys(&after), fact_keys(&expected));
    assert_eq!(refs(&after), refs(&expected));
    assert_eq!(after["report"], expected["report"]);
}
