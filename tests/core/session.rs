//! The session every front end runs through, without a terminal: a run's cache counters
//! reach `cache stats`, the run reaches the history, and a damaged cache file is a warning
//! the front end can show.

use std::sync::Arc;

use mrflow::config::Config;
use mrflow::dirs::Dirs;
use mrflow::flow::Flow;
use mrflow::session::Session;

fn session(home: &std::path::Path) -> Session {
    Session::builder(Config::default_only())
        .flow(Arc::new(Flow::builtin("roi_analysis").unwrap()))
        .data(crate::common::sample())
        .dirs(Some(Dirs {
            config: home.join("config"),
            cache: home.join("cache"),
            data: home.join("data"),
        }))
        .memory(None)
        .build()
        .unwrap()
}

async fn run_once(home: &std::path::Path) -> (mrflow::engine::RunReport, Vec<String>) {
    let s = session(home);
    let dataset = s.load_dataset(Default::default()).unwrap();
    let (handle, mut events) = s.spawn_engine(dataset.clone());
    let snapshot = handle.run_to_end(&mut events).await;
    let report = s.finish_run(&dataset, &snapshot);
    (report, s.take_warnings())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_run_counts_in_cache_stats_and_history_and_says_what_broke() {
    let home = tempfile::tempdir().unwrap();
    let (report, warnings) = run_once(home.path()).await;
    assert!(report.succeeded());
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        report.totals.baseline_prompt_tokens, 19952,
        "the preview came from the one parse"
    );

    let stats = crate::common::json(&crate::common::run(home.path(), &["cache", "stats", "--json"]));
    assert_eq!(stats["totals"]["runs"], 1, "{stats}");
    let runs = crate::common::json(&crate::common::run(home.path(), &["runs", "ls", "--json"]));
    assert_eq!(runs.as_array().unwrap().len(), 1);

    for f in std::fs::read_dir(home.path().join("cache/v1/results")).unwrap() {
        let f = f.unwrap().path();
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 3]).unwrap();
    }
    let (again, warnings) = run_once(home.path()).await;
    assert_eq!(again.report, report.report);
    assert!(warnings.iter().any(|w| w.contains("is corrupt")), "{warnings:?}");
}
