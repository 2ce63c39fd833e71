//! The engine through its public API: commands in, events and snapshots out.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use mrflow::cache::ResultStore;
use mrflow::context::Decision;
use mrflow::data::{Dataset, load_file};
use mrflow::engine::{Engine, EngineCommand, EngineConfig, EngineEvent, EngineHandle, RunState, StepStatus};
use mrflow::flow::Flow;
use mrflow::llm::{Analyst, Answer, AnswerRequest, LlmError, OfflineAnalyst};
use mrflow::settings::Priority;
use mrflow::settings::StepSettings;
use mrflow::settings::Strategy;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

fn load(flow: &Flow) -> Arc<Dataset> {
    Arc::new(load_file(&crate::common::sample(), &flow.required_columns()).unwrap())
}

fn start(name: &str, analyst: Arc<dyn Analyst>) -> (EngineHandle, UnboundedReceiver<EngineEvent>) {
    let flow = Arc::new(Flow::builtin(name).unwrap());
    let data = load(&flow);
    let config = EngineConfig {
        analyst,
        ..EngineConfig::default()
    };
    Engine::spawn_with(flow, data, Arc::new(ResultStore::new()), config)
}

/// Events up to and including the next `RunFinished`.
async fn until_finished(events: &mut UnboundedReceiver<EngineEvent>) -> Vec<EngineEvent> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("engine answers")
            .unwrap();
        let done = matches!(event, EngineEvent::RunFinished { .. });
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// Waits for `step` to start.
async fn until_started(events: &mut UnboundedReceiver<EngineEvent>, step: &str) {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("engine answers")
            .unwrap();
        if matches!(event, EngineEvent::StepStarted { step: s, .. } if s == step) {
            return;
        }
    }
}

fn status(handle: &EngineHandle, step: &str) -> StepStatus {
    handle.snapshot().step(step).unwrap().status
}

#[tokio::test]
async fn rerunning_a_step_reruns_only_it_and_downstream_from_memoized_results() {
    let (handle, mut events) = start("roi_analysis", Arc::new(OfflineAnalyst));
    handle.send(EngineCommand::RunAll);
    until_finished(&mut events).await;
    let first = handle.snapshot();
    assert_eq!(first.state, RunState::Completed);
    assert!(first.steps.iter().all(|s| s.status == StepStatus::Done));

    handle.send(EngineCommand::RerunStep("analyze_profitability".into()));
    let seen = until_finished(&mut events).await;
    assert!(matches!(&seen[0], EngineEvent::RunStarted { run: 2, steps }
        if steps == &["analyze_profitability", "optimize_budget", "generate_report"]));
    assert!(
        seen.iter()
            .any(|e| matches!(e, EngineEvent::CacheHit { step, .. } if step == "analyze_profitability"))
    );
    let second = handle.snapshot();
    assert_eq!(second.state, RunState::Completed);
    assert_eq!(status(&handle, "load_data"), StepStatus::Done);
    for step in ["analyze_profitability", "optimize_budget", "generate_report"] {
        assert_eq!(status(&handle, step), StepStatus::Cached, "{step}");
        assert!(second.step(step).unwrap().cached);
        // Same inputs, same output, same reference.
        assert_eq!(
            second.step(step).unwrap().output_ref,
            first.step(step).unwrap().output_ref
        );
    }
    // Flow state holds references; the store resolves them.
    let r = second.step("generate_report").unwrap().output_ref.unwrap();
    assert!(
        handle
            .store()
            .step_output(&r)
            .unwrap()
            .answer
            .starts_with("# Report: roi analysis")
    );
}

#[tokio::test]
async fn independent_steps_start_together() {
    let (handle, mut events) = start("brand_performance", Arc::new(OfflineAnalyst));
    handle.send(EngineCommand::RunAll);
    let seen = until_finished(&mut events).await;
    let pos = |f: &dyn Fn(&EngineEvent) -> bool| seen.iter().position(f).unwrap();
    let started =
        |id: &'static str| move |e: &EngineEvent| matches!(e, EngineEvent::StepStarted { step, .. } if step == id);
    let finished =
        |id: &'static str| move |e: &EngineEvent| matches!(e, EngineEvent::StepFinished { step, .. } if step == id);
    let both_started = pos(&started("market_share")).max(pos(&started("brand_profitability")));
    let first_finished = pos(&finished("market_share")).min(pos(&finished("brand_profitability")));
    assert!(both_started < first_finished, "{seen:#?}");
    // The all-of join waits for both.
    assert!(
        pos(&started("competitive_position"))
            > pos(&finished("market_share")).max(pos(&finished("brand_profitability")))
    );
}

#[tokio::test]
async fn settings_commands_apply_or_are_rejected_with_a_reason() {
    let (handle, mut events) = start("roi_analysis", Arc::new(OfflineAnalyst));
    let next = |events: &mut UnboundedReceiver<EngineEvent>| events.try_recv();
    let configure = |step: &str, settings: StepSettings| EngineCommand::Configure {
        step: step.into(),
        settings,
    };
    handle.send(configure(
        "optimize_budget",
        StepSettings::new(5, Strategy::ProgressivePruning),
    ));
    handle.send(configure(
        "optimize_budget",
        StepSettings::new(900, Strategy::ProgressivePruning),
    ));
    handle.send(configure("nope", StepSettings::new(500, Strategy::Minimal)));
    let mut report = StepSettings::new(500, Strategy::ProgressivePruning);
    report.priority_overrides.insert("budget_plan".into(), Priority::Useful);
    // An override equal to the flow's priority is dropped, not kept as a change.
    report.priority_overrides.insert("persona".into(), Priority::Critical);
    handle.send(configure("generate_report", report));
    let mut unknown = StepSettings::new(500, Strategy::ProgressivePruning);
    unknown.priority_overrides.insert("weather".into(), Priority::Useful);
    handle.send(configure("generate_report", unknown));
    handle.send(EngineCommand::RerunStep("nope".into()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut seen = Vec::new();
    while let Ok(e) = next(&mut events) {
        seen.push(e);
    }
    let reasons: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            EngineEvent::CommandRejected { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "step `optimize_budget`: budget must be between 50 and 200,000 tokens, got 5",
            "no step `nope` in flow roi_analysis",
            "step `generate_report` has no context item `weather`",
            "no step `nope` in flow roi_analysis",
        ]
    );
    let snap = handle.snapshot();
    assert_eq!(snap.step("optimize_budget").unwrap().settings.budget, 900);
    let report = &snap.step("generate_report").unwrap().settings;
    assert_eq!(
        report.priority_overrides.iter().collect::<Vec<_>>(),
        [(&"budget_plan".to_string(), &Priority::Useful)]
    );
    assert_eq!(snap.state, RunState::Idle);
}

#[tokio::test]
async fn a_burst_of_reruns_is_coalesced_into_one_run() {
    let (handle, mut events) = start("roi_analysis", Arc::new(OfflineAnalyst));
    handle.send(EngineCommand::RunAll);
    until_finished(&mut events).await;
    for _ in 0..20 {
        handle.send(EngineCommand::RerunStep("optimize_budget".into()));
    }
    let seen = until_finished(&mut events).await;
    let starts = seen
        .iter()
        .filter(|e| matches!(e, EngineEvent::RunStarted { .. }))
        .count();
    let budget_runs = seen
        .iter()
        .filter(|e| matches!(e, EngineEvent::StepStarted { step, .. } if step == "optimize_budget"))
        .count();
    assert_eq!((starts, budget_runs), (1, 1), "{seen:#?}");
    assert_eq!(handle.snapshot().state, RunState::Completed);
}

/// An analyst that holds one step until released, to cancel it mid-flight.
struct Gate {
    step: &'static str,
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl Analyst for Gate {
    fn identity(&self) -> String {
        // It writes exactly what the offline analyst writes, only later.
        OfflineAnalyst.identity()
    }

    fn answer(
        &self,
        request: &AnswerRequest<'_>,
        on_text: &mut dyn FnMut(&str),
        cancel: &CancellationToken,
    ) -> Result<Answer, LlmError> {
        if request.step.id == self.step {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.cv.wait(open).unwrap();
            }
        }
        OfflineAnalyst.answer(request, on_text, cancel)
    }
}

#[tokio::test]
async fn cancel_ends_the_run_promptly_and_late_results_are_ignored() {
    let gate = Arc::new(Gate {
        step: "analyze_profitability",
        open: Mutex::new(false),
        cv: Condvar::new(),
    });
    let (handle, mut events) = start("roi_analysis", gate.clone());
    handle.send(EngineCommand::RunAll);
    until_started(&mut events, "analyze_profitability").await;
    handle.send(EngineCommand::Cancel);
    let seen = until_finished(&mut events).await;
    assert!(matches!(
        seen.last(),
        Some(EngineEvent::RunFinished {
            state: RunState::Cancelled,
            ..
        })
    ));
    let snap = handle.snapshot();
    assert_eq!(snap.state, RunState::Cancelled);
    assert_eq!(status(&handle, "load_data"), StepStatus::Done);
    for step in ["analyze_profitability", "optimize_budget", "generate_report"] {
        assert_eq!(status(&handle, step), StepStatus::Cancelled, "{step}");
        assert_eq!(snap.step(step).unwrap().output_ref, None);
    }

    // The blocked step finishes after the cancel; its result must not change the state.
    gate.release();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(handle.snapshot(), snap);

    // And the flow can run again.
    handle.send(EngineCommand::RerunStep("analyze_profitability".into()));
    until_finished(&mut events).await;
    assert_eq!(handle.snapshot().state, RunState::Completed);
}

struct Panicky;

impl Analyst for Panicky {
    fn identity(&self) -> String {
        "panicky".into()
    }

    fn answer(
        &self,
        request: &AnswerRequest<'_>,
        on_text: &mut dyn FnMut(&str),
        cancel: &CancellationToken,
    ) -> Result<Answer, LlmError> {
        if request.step.id == "optimize_budget" {
            panic!("analyst exploded");
        }
        OfflineAnalyst.answer(request, on_text, cancel)
    }
}

#[tokio::test]
async fn a_panicking_step_fails_cleanly_and_downstream_is_skipped() {
    let (handle, mut events) = start("roi_analysis", Arc::new(Panicky));
    handle.send(EngineCommand::RunAll);
    until_finished(&mut events).await;
    let snap = handle.snapshot();
    assert_eq!(snap.state, RunState::Failed);
    let budget = snap.step("optimize_budget").unwrap();
    assert_eq!(budget.status, StepStatus::Failed);
    assert_eq!(budget.error.as_deref(), Some("internal error: analyst exploded"));
    let report = snap.step("generate_report").unwrap();
    assert_eq!(report.status, StepStatus::Skipped);
    assert_eq!(report.error.as_deref(), Some("`optimize_budget` failed"));
    assert_eq!(status(&handle, "analyze_profitability"), StepStatus::Done);
}

#[tokio::test]
async fn what_if_reprunes_without_running_and_matches_a_real_rerun() {
    let (handle, mut events) = start("roi_analysis", Arc::new(OfflineAnalyst));
    assert!(
        handle
            .what_if("optimize_budget", &StepSettings::new(300, Strategy::Minimal))
            .is_none()
    );
    handle.send(EngineCommand::RunAll);
    until_finished(&mut events).await;

    let ran = handle.output("optimize_budget").unwrap().context.pruned.clone();
    let same = handle
        .what_if("optimize_budget", &StepSettings::new(ran.budget, ran.strategy))
        .unwrap()
        .unwrap();
    assert_eq!(same, ran);

    let tight = handle
        .what_if("optimize_budget", &StepSettings::new(200, Strategy::ProgressivePruning))
        .unwrap()
        .unwrap();
    assert!(tight.tokens <= 200 && tight.tokens < ran.tokens);
    assert!(tight.decisions.iter().any(|d| d.decision != Decision::Kept));
    // Nothing ran: the snapshot is as the run left it.
    assert_eq!(
        handle.snapshot().step("optimize_budget").unwrap().settings.budget,
        ran.budget
    );

    // Applying the same settings for real gives the same prompt.
    handle.send(EngineCommand::Configure {
        step: "optimize_budget".into(),
        settings: StepSettings::new(200, Strategy::ProgressivePruning),
    });
    handle.send(EngineCommand::RerunStep("optimize_budget".into()));
    until_finished(&mut events).await;
    assert_eq!(handle.output("optimize_budget").unwrap().context.pruned, tight);

    let mut demote = StepSettings::new(450, Strategy::ProgressivePruning);
    demote
        .priority_overrides
        .insert("profitability".to_string(), Priority::Optional);
    let demoted = handle.what_if("optimize_budget", &demote).unwrap().unwrap();
    let item = demoted.decisions.iter().find(|d| d.key == "profitability").unwrap();
    assert_eq!(item.priority, Priority::Optional);
}

#[tokio::test]
async fn cancelling_at_every_step_leaves_a_consistent_state_that_reruns_cleanly() {
    let clean = {
        let (handle, mut events) = start("roi_analysis", Arc::new(OfflineAnalyst));
        handle.run_to_end(&mut events).await
    };
    let order = [
        "load_data",
        "analyze_profitability",
        "optimize_budget",
        "generate_report",
    ];
    for (k, step) in order.iter().enumerate() {
        let gate = Arc::new(Gate {
            step,
            open: Mutex::new(false),
            cv: Condvar::new(),
        });
        let (handle, mut events) = start("roi_analysis", gate.clone());
        handle.send(EngineCommand::RunAll);
        until_started(&mut events, step).await;
        handle.send(EngineCommand::Cancel);
        until_finished(&mut events).await;
        gate.release();
        let snap = handle.snapshot();
        assert_eq!(snap.state, RunState::Cancelled, "{step}");
        for (j, id) in order.iter().enumerate() {
            let expected = if j < k { StepStatus::Done } else { StepStatus::Cancelled };
            assert_eq!(status(&handle, id), expected, "cancel at {step}: {id}");
        }
        // Rerunning completes with exactly the results of an uninterrupted run.
        handle.send(EngineCommand::RunAll);
        until_finished(&mut events).await;
        let after = handle.snapshot();
        assert_eq!(after.state, RunState::Completed, "{step}");
        for (a, b) in after.steps.iter().zip(&clean.steps) {
            assert_eq!(a.output_ref, b.output_ref, "cancel at {step}: {}", a.id);
        }
    }
}

/// The file is parsed once: a run and its report (baseline preview included) never read it
/// again, so the file changing or disappearing after loading changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_file_disappearing_after_loading_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    std::fs::copy(crate::common::sample(), &path).unwrap();
    let kept = crate::common::roi_report(&path, &Default::default(), || {}).await;
    let gone = crate::common::roi_report(&path, &Default::default(), || std::fs::remove_file(&path).unwrap()).await;
    assert!(!path.exists());
    assert_eq!(gone.status, RunState::Completed);
    assert_eq!(gone.totals, kept.totals, "the baseline did not need the file again");
    assert_eq!(gone.report, kept.report);
    assert!(gone.totals.baseline_prompt_tokens > 10_000);
}

/// An output's reference names its content, not whether this run found its tools cached:
/// so a rerun that finds them in the cache (after a cancel, say) has the same references.
#[tokio::test]
async fn an_outputs_reference_does_not_depend_on_tool_cache_hits() {
    let (handle, mut events) = start("roi_analysis", Arc::new(OfflineAnalyst));
    handle.run_to_end(&mut events).await;
    let output = handle.output("analyze_profitability").unwrap();
    let mut from_cache = (*output).clone();
    for t in &mut from_cache.tools {
        t.cached = !t.cached;
    }
    assert_ne!(from_cache, *output);
    assert_eq!(from_cache.reference(), output.reference());
    let mut other = (*output).clone();
    other.answer.push('!');
    assert_ne!(other.reference(), output.reference());
}
