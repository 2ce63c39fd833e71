//! The OpenAI-compatible backend against a local server: the messages sent are exactly the
//! pruned prompts, streamed and whole answers, usage beside our count, retries, garbage,
//! timeouts, cancellation, and a key that is never written anywhere.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::http::{Reply, Server, completion, messages_streamed, streamed};
use crate::common::{json, mrflow, stderr, stdout};

const KEY: &str = "sk-test-0123456789abcdefSECRET";

/// Writes `[llm]` settings. Answers are only marked, not asked for again, unless `llm`
/// says otherwise: these stubs write no facts, and most tests count requests.
fn config(home: &Path, llm: &str) {
    std::fs::create_dir_all(home.join("config")).unwrap();
    let policy = if llm.contains("answer_check") {
        ""
    } else {
        "answer_check = \"mark\"\n"
    };
    std::fs::write(home.join("config/config.toml"), format!("[llm]\n{policy}{llm}\n")).unwrap();
}

fn run_openai(home: &Path, server: &Server, extra: &[&str]) -> std::process::Output {
    if !home.join("config/config.toml").exists() {
        config(home, "");
    }
    mrflow(home)
        .env("OPENAI_API_KEY", KEY)
        .args([
            "run",
            "--llm",
            "openai",
            "--base-url",
            &server.base_url(),
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// Answers each step with a short text naming the step, streamed in three pieces.
fn streaming_server() -> Server {
    Server::start(|i, _| Reply::Sse(streamed(&["Answer ", &format!("number {i}"), ".\n"], 1000 + i, 5)))
}

#[test]
fn a_streamed_run_sends_exactly_the_pruned_prompts_and_reports_server_usage() {
    let home = tempfile::tempdir().unwrap();
    let server = streaming_server();
    let prompts = home.path().join("prompts");
    let out = run_openai(home.path(), &server, &["--dump-prompts", prompts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["status"], "completed");
    assert_eq!(report["totals"]["cached_basis"], "estimated");

    let requests = server.requests();
    assert_eq!(requests.len(), 4, "one request per step");
    let steps = report["steps"].as_array().unwrap();
    for (i, (req, step)) in requests.iter().zip(steps).enumerate() {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/v1/chat/completions");
        assert_eq!(req.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
        let body = req.json();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["stream"], true);
        let messages = body["messages"].as_array().unwrap();
        let (system, user) = (&messages[0], &messages[1]);
        assert_eq!(
            (system["role"].as_str(), user["role"].as_str()),
            (Some("system"), Some("user"))
        );
        // The dumped prompt is the counted text; the messages are exactly its two parts.
        let id = step["id"].as_str().unwrap();
        let dumped = std::fs::read_to_string(prompts.join(format!("{id}.txt"))).unwrap();
        assert_eq!(
            format!(
                "[system]\n{}\n\n[user]\n{}",
                system["content"].as_str().unwrap(),
                user["content"].as_str().unwrap()
            ),
            dumped
        );
        assert_eq!(step["tokens"]["prompt_reported"], 1000 + i);
        // A server that does not say what it cached: the estimate stands, labelled so.
        assert!(step["tokens"]["cached_reported"].is_null());
        assert_eq!(step["tokens"]["completion_reported"], 5);
        assert!(step["tokens"]["prompt"].as_u64().unwrap() > 0);
        assert_eq!(
            step["analyst"],
            format!("openai/v1 {} gpt-4o-mini", server.base_url()).as_str()
        );
    }
    assert_eq!(report["report"], "Answer number 3.\n");
    assert_eq!(report["totals"]["prompt_tokens_reported"], 1000 + 1001 + 1002 + 1003);
    // The report was written by the model, so the fact check sees what it lost.
    assert_eq!(report["facts"]["retained"], 0);
}

#[test]
fn whole_answers_without_streaming_and_the_table_shows_both_counts() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false");
    let server = Server::start(|i, _| Reply::Json(200, vec![], completion(&format!("Whole answer {i}."), 700, 4)));
    let out = mrflow(home.path())
        .args(["run", "--llm", "openai", "--base-url", &server.base_url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("the server reported 2,800 prompt + 16 completion"),
        "{}",
        stdout(&out)
    );
    let body = server.requests()[0].json();
    assert_eq!(body.get("stream"), None);
    assert_eq!(server.requests()[0].header("authorization"), None, "no key, none sent");
}

#[test]
fn a_429_is_retried_after_the_time_the_server_asks() {
    let home = tempfile::tempdir().unwrap();
    let server = Server::start(|i, _| {
        if i == 0 {
            Reply::Json(
                429,
                vec![("retry-after", "1".into())],
                r#"{"error":{"message":"Rate limit reached"}}"#.into(),
            )
        } else {
            Reply::Sse(streamed(&["ok"], 10, 1))
        }
    });
    let started = Instant::now();
    let out = run_openai(home.path(), &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 5, "the rate-limited request was sent again");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    assert_eq!(server.requests()[0].body, server.requests()[1].body);
}

#[test]
fn server_errors_fail_the_step_after_the_last_retry_and_never_echo_the_key() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "max_retries = 2");
    let server = Server::start(|_, _| {
        Reply::Json(
            503,
            vec![("retry-after", "0".into())],
            format!(r#"{{"error":{{"message":"overloaded; key {KEY} is fine"}}}}"#),
        )
    });
    let out = run_openai(home.path(), &server, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 3, "one attempt and two retries");
    let report = json(&out);
    let load = crate::common::step_of(&report, "load_data");
    assert_eq!(load["status"], "failed");
    assert_eq!(
        load["error"],
        format!(
            "llm: {}/chat/completions: HTTP 503: overloaded; key *** is fine (gave up after 3 attempts)",
            server.base_url()
        )
        .as_str()
    );
    assert_eq!(
        crate::common::step_of(&report, "analyze_profitability")["status"],
        "skipped"
    );
    assert!(!stdout(&out).contains(KEY) && !stderr(&out).contains(KEY));
}

#[test]
fn garbage_from_the_server_is_a_clear_step_error() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false");
    let server = Server::start(|_, _| Reply::Raw(200, "text/plain", "<html>proxy login</html>".into()));
    let out = run_openai(home.path(), &server, &[]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let error = crate::common::step_of(&report, "load_data")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.ends_with(
            "the answer is not a chat completion (expected JSON with choices[0].message.content); it begins \
             \"<html>proxy login</html>\""
        ),
        "{error}"
    );

    let home = tempfile::tempdir().unwrap();
    let server = Server::start(|_, _| Reply::Sse(vec!["{\"choices\":[{\"delta\":{\"content\":\"half\"}}]}".into()]));
    let out = run_openai(home.path(), &server, &[]);
    let report = json(&out);
    assert!(
        crate::common::step_of(&report, "load_data")["error"]
            .as_str()
            .unwrap()
            .ends_with("the stream ended before the answer was finished")
    );
}

#[test]
fn a_hanging_server_times_out_with_the_setting_to_raise() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "timeout_seconds = 1");
    let server = Server::start(|_, _| Reply::Hang(Duration::from_secs(20)));
    let started = Instant::now();
    let out = run_openai(home.path(), &server, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    let report = json(&out);
    assert_eq!(
        crate::common::step_of(&report, "load_data")["error"],
        format!(
            "llm: {}/chat/completions: no response within 1 s (raise [llm] timeout_seconds)",
            server.base_url()
        )
        .as_str()
    );
}

#[test]
fn the_key_is_absent_from_every_file_the_run_writes() {
    let home = tempfile::tempdir().unwrap();
    let server = streaming_server();
    let prompts = home.path().join("prompts");
    let out = run_openai(home.path(), &server, &["--dump-prompts", prompts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // And a second, cached run, and the cache listing.
    let again = run_openai(home.path(), &server, &[]);
    let listing = mrflow(home.path()).args(["cache", "ls", "--json"]).output().unwrap();
    let mut files = 0;
    for entry in crate::common::walk(home.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{} holds the key",
            entry.display()
        );
        files += 1;
    }
    assert!(files > 5, "the run wrote its cache and prompts ({files} files)");
    for o in [&out, &again, &listing] {
        assert!(!stdout(o).contains(KEY) && !stderr(o).contains(KEY));
    }
}

#[test]
fn the_offline_analyst_needs_no_key_and_openai_itself_does() {
    let home = tempfile::tempdir().unwrap();
    let out = mrflow(home.path())
        .env_remove("OPENAI_API_KEY")
        .args(["run", "--llm", "openai"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "mrflow-tui: error: the openai backend needs an API key for https://api.openai.com/v1: set OPENAI_API_KEY \
         (or point --base-url at a local server, or use --llm offline)"
    );
    let out = mrflow(home.path())
        .env_remove("OPENAI_API_KEY")
        .args(["run", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        crate::common::step_of(&json(&out), "generate_report")["analyst"],
        "offline/v1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_step_closes_its_request() {
    use mrflow::engine::{Engine, EngineCommand, EngineConfig, EngineEvent, RunState};
    use mrflow::flow::Flow;
    use mrflow::llm::{OpenAiAnalyst, OpenAiSettings};

    let server = Server::start(|_, _| Reply::Hang(Duration::from_secs(30)));
    let analyst = OpenAiAnalyst::new(OpenAiSettings {
        base_url: server.base_url(),
        model: "gpt-4o-mini".into(),
        api_key: None,
        timeout: Duration::from_secs(30),
        max_retries: 0,
        stream: true,
        prompt_cache_key: false,
        prompt_cache_retention: None,
        backoff: Duration::from_millis(10),
        temperature: None,
        seed: None,
        max_tokens: 1024,
        context_window: None,
        known_window: None,
        is_openai: false,
    })
    .unwrap();
    let flow = Arc::new(Flow::builtin("roi_analysis").unwrap());
    let dataset =
        Arc::new(mrflow::data::load_file(&crate::common::fixture("tiny_sales.csv"), &flow.required_columns()).unwrap());
    let config = EngineConfig {
        analyst: Arc::new(analyst),
        ..EngineConfig::default()
    };
    let store = Arc::new(mrflow::cache::ResultStore::new());
    let (handle, mut events) = Engine::spawn_with(flow, dataset, store, config);
    handle.send(EngineCommand::RunAll);
    while server.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let asked = Instant::now();
    handle.send(EngineCommand::Cancel);
    loop {
        if let Some(EngineEvent::RunFinished { state, .. }) = events.recv().await {
            assert_eq!(state, RunState::Cancelled);
            break;
        }
    }
    assert!(asked.elapsed() < Duration::from_secs(2), "cancel was prompt");
    let closed = Instant::now();
    while !server.hung_up.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(closed.elapsed() < Duration::from_secs(5), "the request was not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server that reports cached prompt tokens: they are recorded per step and in totals,
/// and the cached-price cost uses them instead of the estimate.
#[test]
fn cached_tokens_a_server_reports_are_recorded_and_costed() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false");
    let server = Server::start(|i, _| {
        let mut body: serde_json::Value = serde_json::from_str(&completion(&format!("Answer {i}."), 2000, 10)).unwrap();
        body["usage"]["prompt_tokens_details"] = serde_json::json!({"cached_tokens": 1024 + 128 * i});
        body["usage"]["cache_creation_input_tokens"] = serde_json::json!(16);
        Reply::Json(200, vec![], body.to_string())
    });
    let out = run_openai(home.path(), &server, &["--model", "gpt-4o"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    let steps = report["steps"].as_array().unwrap();
    let reported: Vec<u64> = steps
        .iter()
        .map(|s| s["tokens"]["cached_reported"].as_u64().unwrap())
        .collect();
    assert_eq!(reported, [1024, 1152, 1280, 1408]);
    let totals = &report["totals"];
    assert_eq!(totals["cached_basis"], "reported");
    assert_eq!(totals["cached_tokens_reported"], 4864);
    assert_eq!(totals["cached_tokens"], 4864);
    assert_eq!(steps[0]["tokens"]["cache_write_reported"], 16);
    // gpt-4o: $2.50 input, $1.25 cached input, $10.00 output per million, writes free; at
    // the server's own counts, as every step reported them.
    let (prompt, completion) = (8000.0, 40.0);
    let expected = ((prompt - 4864.0) * 2.5 + 4864.0 * 1.25 + completion * 10.0) / 1e6;
    let got = totals["cost_cached_usd"].as_f64().unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    // Not OpenAI itself: no prompt_cache_key is sent.
    assert_eq!(server.requests()[0].json().get("prompt_cache_key"), None);
}

/// OpenAI's own API gets a prompt_cache_key naming the flow and step, unless turned off.
#[test]
fn the_prompt_cache_key_names_the_flow_and_step() {
    use mrflow::llm::{Analyst, OpenAiAnalyst, OpenAiSettings};

    let server = Server::start(|_, _| Reply::Json(200, vec![], completion("ok", 10, 1)));
    let settings = OpenAiSettings {
        base_url: server.base_url(),
        model: "gpt-5-mini".into(),
        api_key: None,
        timeout: Duration::from_secs(10),
        max_retries: 0,
        stream: false,
        prompt_cache_key: true,
        prompt_cache_retention: None,
        backoff: Duration::from_millis(10),
        temperature: Some(0.0),
        seed: Some(7),
        max_tokens: 1024,
        context_window: None,
        known_window: None,
        is_openai: false,
    };
    let flow = mrflow::flow::Flow::builtin("roi_analysis").unwrap();
    let step = &flow.steps()[1];
    let request = mrflow::llm::AnswerRequest {
        flow: flow.name(),
        step,
        is_final: false,
        stable: Default::default(),
        messages: mrflow::context::Messages {
            system: "You are an analyst.",
            user: "## task\nSay ok.",
        },
        own_facts: &[],
        upstream: vec![],
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    for (on, expected) in [(true, Some("mrflow/roi_analysis/analyze_profitability")), (false, None)] {
        let analyst = OpenAiAnalyst::new(OpenAiSettings {
            prompt_cache_key: on,
            ..settings.clone()
        })
        .unwrap();
        analyst.answer(&request, &mut |_| {}, &cancel).unwrap();
        let body = server.requests().last().unwrap().json();
        assert_eq!(body.get("prompt_cache_key").and_then(|v| v.as_str()), expected);
    }
    // The retention setting goes out as set.
    let analyst = OpenAiAnalyst::new(OpenAiSettings {
        prompt_cache_retention: Some("24h".into()),
        ..settings.clone()
    })
    .unwrap();
    analyst.answer(&request, &mut |_| {}, &cancel).unwrap();
    assert_eq!(
        server.requests().last().unwrap().json()["prompt_cache_retention"],
        "24h"
    );
    // From config, only OpenAI's own host gets the key and the retention.
    let mut llm = mrflow::config::Config::default_only().llm;
    llm.base_url = Some(server.base_url());
    llm.prompt_cache_retention = Some("24h".into());
    let from_config = OpenAiSettings::from_config(&llm, "gpt-5-mini").unwrap();
    assert!(!from_config.prompt_cache_key && from_config.prompt_cache_retention.is_none());
}

/// The figures a correction note names, as the model is asked to state them: its `- `
/// lines after "It left out these exact figures".
fn figures_in_note(body: &serde_json::Value) -> Option<String> {
    let user = body["messages"].as_array()?.last()?["content"].as_str()?.to_string();
    let (_, note) = user.split_once("## Check of your previous answer")?;
    let lines: Vec<&str> = note.lines().filter(|l| l.starts_with("- ")).collect();
    Some(lines.join("\n"))
}

/// The default policy: an answer without its step's critical figures is asked for once
/// more with a note naming them; the better answer is kept and the retry's tokens counted.
#[test]
fn a_flagged_answer_is_asked_again_with_the_missing_figures() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false\nanswer_check = \"retry\"");
    let server = Server::start(|_, req| {
        let text = figures_in_note(&req.json()).unwrap_or_else(|| "Please provide me with the CSV file.".into());
        Reply::Json(200, vec![], completion(&text, 100, 10))
    });
    let out = run_openai(home.path(), &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(server.requests().len(), 8, "each step asked twice");
    let note = figures_in_note(&server.requests()[1].json()).unwrap();
    assert!(
        note.contains("- Dataset: "),
        "the note names the missing figure: {note}"
    );
    for step in report["steps"].as_array().unwrap() {
        let check = &step["answer_check"];
        assert_eq!(check["retried"], true, "{step}");
        assert_eq!(check["flagged"], false, "the retry carried the figures: {check}");
        assert_eq!(check["missing"].as_array().unwrap().len(), 0);
        let retry = check["retry_prompt_tokens"].as_u64().unwrap();
        assert!(retry > 0);
        assert_eq!(step["tokens"]["retry_prompt"].as_u64().unwrap(), retry);
    }
    let f = &report["facts"];
    assert_eq!(f["retained"], f["critical"], "{f}");
    assert_eq!(f["unsupported"].as_array().unwrap().len(), 0);
    // The second prompt is the first with the note after it.
    let (first, second) = (server.requests()[6].json(), server.requests()[7].json());
    let user = |b: &serde_json::Value| b["messages"][1]["content"].as_str().unwrap().to_string();
    assert!(user(&second).starts_with(&user(&first)));
    // Downstream steps were handed the engine's figures, not "provide the CSV file".
    let retried_report = server.requests()[6].json();
    assert!(
        user(&retried_report).contains("Total revenue: $"),
        "{}",
        user(&retried_report)
    );
}

/// `mark`: the answer stands, flagged on its step; later prompts still get the figures.
#[test]
fn the_mark_policy_keeps_the_answer_and_flags_the_step() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false\nanswer_check = \"mark\"");
    let server = Server::start(|_, _| {
        Reply::Json(
            200,
            vec![],
            completion(
                "Revenue grew 87.3% and the CAC is $23.17. Please send the CSV file.",
                100,
                10,
            ),
        )
    });
    let out = run_openai(home.path(), &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 4);
    let report = json(&out);
    let last = crate::common::step_of(&report, "generate_report");
    assert_eq!(last["answer_check"]["flagged"], true);
    assert_eq!(last["answer_check"]["retried"], false);
    assert_eq!(report["facts"]["retained"], 0);
    assert_eq!(report["facts"]["unsupported"], serde_json::json!(["87.3%", "$23.17"]));
    // The report's prompt carries the exact figures of the steps before it.
    let user = server.requests()[3].json()["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(user.contains("Exact figures (computed from the data):"), "{user}");
    assert!(user.contains("Largest budget allocation:"), "{user}");
    let table = mrflow(home.path())
        .args(["run", "--llm", "openai", "--base-url", &server.base_url()])
        .output()
        .unwrap();
    let text = stdout(&table);
    assert!(
        text.contains("unsupported figures in the report: 87.3%, $23.17"),
        "{text}"
    );
    assert!(
        text.contains("answer check: generate_report carries 0 of 13 critical figures, 2 unsupported ⚠ flagged"),
        "{text}"
    );
}

/// A prompt that does not fit the window the server states fails its step with the
/// numbers; nothing is sent to be truncated.
#[test]
fn a_prompt_over_the_window_fails_with_the_numbers() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false\nmax_tokens = 512");
    let server = Server::start(|_, _| Reply::Json(200, vec![], completion("ok", 10, 1))).with_window(600);
    let out = run_openai(home.path(), &server, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(server.requests().is_empty(), "nothing was sent");
    let error = crate::common::step_of(&json(&out), "load_data")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("and 512 for the answer do not fit gpt-4o-mini's context window of 600 tokens"),
        "{error}"
    );
    // Configured, the window needs no server to say it.
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false\ncontext_window = 100000");
    let server = Server::start(|_, _| Reply::Json(200, vec![], completion("ok", 10, 1))).with_window(600);
    assert!(run_openai(home.path(), &server, &[]).status.success());
}

/// `eval` sends the optimized prompts and the baseline's, the baseline's built from its
/// own earlier answers, and reports both arms; a window too small for the baseline's
/// prompts is a finding ("does not fit"), not an error.
#[test]
fn eval_runs_both_arms_against_one_model() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false");
    let server =
        Server::start(|i, _| Reply::Json(200, vec![], completion(&format!("Answer {i}: $77,777."), 100 + i, 5)))
            .with_window(100_000);
    let eval = |home: &Path, server: &Server, extra: &[&str]| {
        mrflow(home)
            .args(["eval", "--llm", "openai", "--base-url", &server.base_url()])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = eval(home.path(), &server, &["--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = json(&out);
    assert_eq!(e["flow"], "roi_analysis");
    assert_eq!(e["context_window"], 100_000);
    assert_eq!(e["critical"], 13);
    let run = &e["runs"][0];
    let (opt, base) = (&run["optimized"], &run["baseline"]);
    assert_eq!(
        (opt["status"].as_str(), base["status"].as_str()),
        (Some("completed"), Some("completed"))
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 8, "four optimized prompts, then four baseline prompts");
    // The baseline's last prompt holds its own earlier answers, not the optimized arm's.
    let last = requests[7].json()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        last.contains("Answer 4: $77,777.") && last.contains("Answer 6: $77,777."),
        "{last}"
    );
    assert!(
        !last.contains("Answer 0:"),
        "the optimized arm's answers stay out of the baseline"
    );
    assert!(base["prompt_tokens"].as_u64().unwrap() > 10 * opt["prompt_tokens"].as_u64().unwrap());
    assert_eq!(base["prompt_tokens_reported"], 104 + 105 + 106 + 107);
    for arm in [opt, base] {
        assert_eq!(arm["facts_kept"], 0);
        assert_eq!(arm["unsupported"], serde_json::json!(["$77,777"]));
        assert_eq!(arm["steps"].as_array().unwrap().len(), 4);
    }
    assert_eq!(e["optimized"]["completed"], 1);
    let kept: Vec<_> = std::fs::read_dir(home.path().join("data/evals"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(kept.len(), 1, "the eval is kept in the data directory");
    let shown = mrflow(home.path())
        .args(["eval", "--show", kept[0].path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(stdout(&shown).contains("optimized  completed"), "{}", stdout(&shown));
    let broken = home.path().join("broken.json");
    std::fs::write(&broken, "{\"flow\": 1}").unwrap();
    let out = mrflow(home.path())
        .args(["eval", "--show", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("broken.json:1:"), "{}", stderr(&out));

    // A 4,000-token window: the optimized prompts fit, the baseline's do not.
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false\nmax_tokens = 256");
    let server = Server::start(|_, _| Reply::Json(200, vec![], completion("ok", 10, 1))).with_window(4000);
    let out = eval(home.path(), &server, &["--repeat", "2", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = json(&out);
    assert_eq!(e["runs"].as_array().unwrap().len(), 2);
    assert_eq!(e["runs"][0]["optimized"]["status"], "completed");
    assert_eq!(e["runs"][0]["baseline"]["status"], "does_not_fit");
    assert!(
        e["runs"][0]["baseline"]["note"]
            .as_str()
            .unwrap()
            .contains("do not fit gpt-4o-mini's context window of 4000 tokens")
    );
    assert_eq!(e["baseline"]["does_not_fit"], 2);
    assert_eq!(
        e["optimized"]["prompt_tokens"]["min"],
        e["optimized"]["prompt_tokens"]["max"]
    );
    let table = eval(home.path(), &server, &["--format", "table"]);
    assert!(stdout(&table).contains("baseline   does_not_fit"), "{}", stdout(&table));

    // A server that is down: exit 2, naming the model.
    let home = tempfile::tempdir().unwrap();
    let out = mrflow(home.path())
        .args(["eval", "--llm", "openai", "--base-url", "http://127.0.0.1:9/v1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
}

/// The default policy: a final report without critical figures is completed by one short
/// call given only those figures; its section is appended and its tokens counted. Earlier
/// steps are only marked.
#[test]
fn a_report_without_its_figures_is_completed_by_one_short_call() {
    let home = tempfile::tempdir().unwrap();
    config(home.path(), "stream = false\nanswer_check = \"complete_report\"");
    let server = Server::start(|_, req| {
        let body = req.json();
        let user = body["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string();
        let text = match user.split_once("## key_figures\n") {
            Some((_, rest)) => {
                let lines: Vec<&str> = rest.lines().take_while(|l| l.starts_with("- ")).collect();
                format!("## Key figures\n{}", lines.join("\n"))
            }
            None => "Please provide me with the CSV file.".into(),
        };
        Reply::Json(200, vec![], completion(&text, 100, 10))
    });
    let out = run_openai(home.path(), &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.requests().len(),
        5,
        "four steps and one completion of the report"
    );
    let report = json(&out);
    let last = crate::common::step_of(&report, "generate_report");
    let check = &last["answer_check"];
    assert_eq!(check["retried"], true);
    assert_eq!(check["missing"].as_array().unwrap().len(), 0, "{check}");
    let extra = check["retry_prompt_tokens"].as_u64().unwrap();
    assert!(extra > 50 && extra < 500, "a short call: {extra} tokens");
    assert_eq!(last["tokens"]["retry_prompt"].as_u64().unwrap(), extra);
    assert_eq!(
        crate::common::step_of(&report, "analyze_profitability")["answer_check"]["flagged"],
        true
    );
    assert_eq!(
        crate::common::step_of(&report, "analyze_profitability")["answer_check"]["retried"],
        false
    );
    let text = report["report"].as_str().unwrap();
    assert!(
        text.starts_with("Please provide me with the CSV file.\n\n## Key figures\n- "),
        "{text}"
    );
    assert_eq!(report["facts"]["retained"], report["facts"]["critical"]);
}

// Anthropic's Messages API.

/// A Claude-like model whose minimum cacheable prefix is `min` (our estimate's tokens), at
/// Sonnet 5.5's prices, written to config.toml beside `llm`.
fn claude_config(home: &Path, min: usize, llm: &str) {
    std::fs::create_dir_all(home.join("config")).unwrap();
    std::fs::write(
        home.join("config/config.toml"),
        format!(
            "[llm]\nanswer_check = \"mark\"\n{llm}\n\n[models.\"claude-test\"]\nprovider = \"anthropic\"\n\
             input = 2.0\noutput = 10.0\ncached_input = 0.2\ncache_write = {{ \"5m\" = 2.5, \"1h\" = 4.0 }}\n\
             min_cacheable_tokens = {min}\ncontext_window = 1000000\ntokenizer = \"estimated\"\n\
             prices_as_of = \"2026-12-06\"\nsource = \"test\"\n"
        ),
    )
    .unwrap();
}

fn run_anthropic(home: &Path, server: &Server, extra: &[&str]) -> std::process::Output {
    mrflow(home)
        .env("ANTHROPIC_API_KEY", KEY)
        .env_remove("OPENAI_API_KEY")
        .args([
            "run",
            "--llm",
            "anthropic",
            "--base-url",
            &format!("http://127.0.0.1:{}", server.port),
            "--model",
            "claude-test",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// The text of a `system` or user `content`: a string, or its text blocks joined.
fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(blocks) => blocks.iter().map(|b| b["text"].as_str().unwrap()).collect(),
        other => panic!("not text: {other}"),
    }
}

/// The cache_control blocks of a request, with the text up to and including each.
fn breakpoints(body: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let mut seen = String::new();
    let mut out = Vec::new();
    for part in [&body["system"], &body["messages"][0]["content"]] {
        match part {
            serde_json::Value::Array(blocks) => {
                for b in blocks {
                    seen.push_str(b["text"].as_str().unwrap());
                    if let Some(c) = b.get("cache_control") {
                        out.push((seen.clone(), c.clone()));
                    }
                }
            }
            serde_json::Value::String(s) => seen.push_str(s),
            _ => {}
        }
    }
    out
}

#[test]
fn anthropic_requests_carry_the_key_the_version_and_exactly_the_pruned_prompt() {
    let home = tempfile::tempdir().unwrap();
    claude_config(home.path(), 100_000, "");
    let server = Server::start(|i, _| Reply::Sse(messages_streamed(&["Answer ", &format!("{i}.")], 900, 0, 0, 7)));
    let prompts = home.path().join("prompts");
    let out = run_anthropic(home.path(), &server, &["--dump-prompts", prompts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["token_counts"], "estimated");
    let steps = report["steps"].as_array().unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), steps.len());
    for (req, step) in requests.iter().zip(steps) {
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/messages"));
        assert_eq!(req.header("x-api-key"), Some(KEY));
        assert_eq!(req.header("anthropic-version"), Some(mrflow::llm::ANTHROPIC_VERSION));
        assert_eq!(req.header("authorization"), None, "the key goes in its own header only");
        let body = req.json();
        assert_eq!(body["model"], "claude-test");
        assert_eq!(body["max_tokens"], 1024);
        assert_eq!(body["stream"], true);
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["messages"][0]["role"], "user");
        // Prefixes under the model's minimum: no breakpoint, plain strings.
        assert!(breakpoints(&body).is_empty());
        let id = step["id"].as_str().unwrap();
        let dumped = std::fs::read_to_string(prompts.join(format!("{id}.txt"))).unwrap();
        assert_eq!(
            format!(
                "[system]\n{}\n\n[user]\n{}",
                text_of(&body["system"]),
                text_of(&body["messages"][0]["content"])
            ),
            dumped
        );
        assert_eq!(step["tokens"]["prompt_reported"], 900);
        assert_eq!(step["tokens"]["completion_reported"], 7);
        assert_eq!(
            step["analyst"].as_str().unwrap(),
            format!("anthropic/messages http://127.0.0.1:{} claude-test", server.port)
        );
    }
    assert_eq!(report["report"], "Answer 3.");
}

#[test]
fn a_breakpoint_ends_a_long_stable_prefix_and_writes_and_reads_are_priced() {
    let home = tempfile::tempdir().unwrap();
    claude_config(home.path(), 64, "cache_ttl = \"1h\"");
    // The first step writes 300 tokens to the cache, the rest read 300 and write 100.
    let server = Server::start(|i, _| {
        let (write, read) = if i == 0 { (300, 0) } else { (100, 300) };
        Reply::Sse(messages_streamed(&[&format!("Answer {i}.")], 500, write, read, 20))
    });
    let prompts = home.path().join("prompts");
    let out = run_anthropic(home.path(), &server, &["--dump-prompts", prompts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    let steps = report["steps"].as_array().unwrap();
    for (req, step) in server.requests().iter().zip(steps) {
        let body = req.json();
        let marks = breakpoints(&body);
        assert_eq!(marks.len(), 1, "one breakpoint: {body}");
        let (upto, control) = &marks[0];
        assert_eq!(control, &serde_json::json!({"type": "ephemeral", "ttl": "1h"}));
        // It closes the stable prefix: the persona, task, tools and dataset, and no result.
        let stable = step["tokens"]["stable_prefix"].as_u64().unwrap();
        assert!(stable >= 64, "{stable}");
        let id = step["id"].as_str().unwrap();
        let dumped = std::fs::read_to_string(prompts.join(format!("{id}.txt"))).unwrap();
        let whole = format!(
            "{}{}",
            text_of(&body["system"]),
            text_of(&body["messages"][0]["content"])
        );
        assert_eq!(dumped.replace("[system]\n", "").replacen("\n\n[user]\n", "", 1), whole);
        assert!(upto.len() < whole.len(), "the volatile part follows the breakpoint");
        assert!(
            !upto.contains("## results") && !upto.contains("Exact figures"),
            "{upto}"
        );
    }
    // Per step as reported; the prompt is the three parts together.
    assert_eq!(steps[0]["tokens"]["cache_write_reported"], 300);
    assert_eq!(steps[1]["tokens"]["cached_reported"], 300);
    assert_eq!(steps[1]["tokens"]["prompt_reported"], 900);
    let t = &report["totals"];
    assert_eq!(
        (t["cached_basis"].as_str(), t["cached_tokens"].as_u64()),
        (Some("reported"), Some(900))
    );
    assert_eq!(t["cache_write_tokens"], 600);
    // $2 input, $0.20 read, $4 an hour's write, $10 output per million, at the server's counts.
    let prompt = 800.0 + 3.0 * 900.0;
    let expected = ((prompt - 900.0 - 600.0) * 2.0 + 900.0 * 0.2 + 600.0 * 4.0 + 80.0 * 10.0) / 1e6;
    let got = t["cost_cached_usd"].as_f64().unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
}

#[test]
fn an_overloaded_server_is_retried_and_unknown_events_are_said_once() {
    let home = tempfile::tempdir().unwrap();
    claude_config(home.path(), 100_000, "");
    let server = Server::start(|i, _| {
        if i == 0 {
            return Reply::Json(
                529,
                vec![("retry-after", "0".into())],
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into(),
            );
        }
        let mut events = messages_streamed(&["Fine."], 800, 0, 0, 3);
        events.insert(1, r#"{"type":"brand_new_event","detail":1}"#.into());
        Reply::Sse(events)
    });
    let out = run_anthropic(home.path(), &server, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    let steps = report["steps"].as_array().unwrap().len();
    assert_eq!(server.requests().len(), steps + 1, "the 529 was asked again");
    assert_eq!(report["status"], "completed");
    let err = stderr(&out);
    assert_eq!(err.matches("unknown type `brand_new_event`").count(), 1, "{err}");
}

#[test]
fn anthropic_keeps_the_key_off_the_disk_and_needs_one_for_its_own_api() {
    let home = tempfile::tempdir().unwrap();
    claude_config(home.path(), 100_000, "");
    let server = Server::start(|i, _| Reply::Sse(messages_streamed(&[&format!("Answer {i}.")], 800, 0, 0, 3)));
    let prompts = home.path().join("prompts");
    let out = run_anthropic(home.path(), &server, &["--dump-prompts", prompts.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for entry in crate::common::walk(home.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{} holds the key",
            entry.display()
        );
    }
    assert!(!stdout(&out).contains(KEY) && !stderr(&out).contains(KEY));

    // api.anthropic.com without a key: a clear error before anything runs.
    let out = mrflow(home.path())
        .env_remove("ANTHROPIC_API_KEY")
        .args(["run", "--llm", "anthropic", "--model", "claude-sonnet-5-5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("the anthropic backend needs an API key for https://api.anthropic.com: set ANTHROPIC_API_KEY"),
        "{err}"
    );
}
