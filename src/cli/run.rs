//! The headless front end: runs a flow to completion on the engine and prints the report.

use std::io::Write;
use std::path::Path;

use mrflow::cache::ResultStore;
use mrflow::context::ledger::{CachedBasis, StepTokens};
use mrflow::engine::{EngineCommand, FlowSnapshot, RunReport, StepStatus, TokenCounts};
use mrflow::flow::budget_problem;
use mrflow::format::{grouped, pct, usd};

use crate::cli::progress::{self, Progress};
use crate::cli::{Failure, Format, RunArgs, runtime};
use mrflow::data::LoadProgress;

pub fn run(args: &RunArgs) -> Result<(), Failure> {
    if let Some(problem) = args.budget.and_then(budget_problem) {
        return Err(Failure::input(format!("--budget: {problem}")));
    }
    // Results and parsed data persist under the cache directory unless --no-cache.
    let session = args.target.session(!args.no_cache)?;
    for warning in session.take_warnings() {
        eprintln!("mrflow-tui: warning: {warning}");
    }
    let show_progress = progress::wanted(matches!(args.format, Format::Json));
    let load_progress = LoadProgress::new();
    let bar = show_progress.then(|| Progress::load(load_progress.clone()));
    let loaded = session.load_dataset(mrflow::data::Progress(Some(load_progress)));
    if let Some(bar) = bar {
        bar.finish();
    }
    let dataset = loaded.map_err(Failure::input)?;

    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let (handle, mut events) = session.spawn_engine(dataset.clone());
        // The same commands the TUI sends when the analyst changes a setting.
        if args.budget.is_some() || args.strategy.is_some() {
            for step in session.parts.flow.steps() {
                let mut settings = step.settings();
                settings.budget = args.budget.map_or(settings.budget, |b| b as u32);
                settings.strategy = args.strategy.unwrap_or(settings.strategy);
                handle.send(EngineCommand::Configure {
                    step: step.id.clone(),
                    settings,
                });
            }
        }
        let bar = show_progress.then(|| Progress::steps(handle.clone()));
        let snapshot = handle.run_to_end(&mut events).await;
        if let Some(bar) = bar {
            bar.finish();
        }
        handle.send(EngineCommand::Shutdown);
        if let Some(dir) = &args.dump_prompts {
            dump_prompts(dir, &snapshot, &session.store)?;
        }
        Ok::<_, Failure>(session.finish_run(&dataset, &snapshot))
    })?;
    for warning in session.take_warnings() {
        eprintln!("mrflow-tui: warning: {warning}");
    }
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("reports serialize") + "\n",
        Format::Table => render_table(&report),
        Format::Markdown => render_markdown(&report),
    };
    std::io::stdout().lock().write_all(text.as_bytes()).ok();
    if report.succeeded() {
        return Ok(());
    }
    let failed: Vec<String> = report
        .steps
        .iter()
        .filter(|s| s.state.status == StepStatus::Failed)
        .filter_map(|s| s.state.error.as_ref().map(|e| format!("{}: {e}", s.state.id)))
        .collect();
    Err(Failure {
        message: format!("run {}: {}", report.status.as_str(), failed.join("; ")),
        status: 1,
    })
}

/// Writes each step's prompt, exactly the text whose tokens were counted.
fn dump_prompts(dir: &Path, snapshot: &FlowSnapshot, store: &ResultStore) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::input(format!("{}: cannot write prompts: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    for step in &snapshot.steps {
        if let Some(output) = step.output_ref.and_then(|r| store.peek_step_output(&r)) {
            mrflow::private_file::write(&dir.join(format!("{}.txt", step.id)), &output.context.pruned.prompt)
                .map_err(fail)?;
        }
    }
    Ok(())
}

fn ms(d: Option<u64>) -> String {
    d.map_or("-".into(), |d| format!("{d} ms"))
}

/// Tokens, cost and facts in one line.
fn ledger_line(r: &RunReport) -> String {
    let t = &r.totals;
    // A model with its own tokenizer: every count is an o200k estimate, and says so.
    let estimated = r.token_counts == TokenCounts::Estimated;
    let n = |v: usize| {
        if estimated {
            format!("~{}", grouped(v as f64))
        } else {
            grouped(v as f64)
        }
    };
    let mut line = format!(
        "Tokens  {} prompt + {} completion vs {} baseline prompt ({} fewer) · cost {} vs {} ({}, {}{}) · \
         critical facts retained {}/{} (baseline {}/{})",
        n(t.prompt_tokens),
        n(t.completion_tokens),
        n(t.baseline_prompt_tokens),
        pct(t.reduction_pct),
        usd(t.cost_usd),
        usd(t.baseline_cost_usd),
        r.model,
        r.encoding,
        if estimated { ", estimated counts" } else { "" },
        r.facts.retained,
        r.facts.critical,
        r.facts.baseline_retained,
        r.facts.critical,
    );
    let basis = match t.cached_basis {
        CachedBasis::Reported => "as the server reported",
        CachedBasis::Estimated => "estimated",
    };
    line.push_str(&format!(
        "\n        with prompt caching: cost {} vs {} ({} cheaper) · cached prompt tokens {} ({basis}) vs {} \
         (estimated)",
        usd(t.cost_cached_usd),
        usd(t.baseline_cost_cached_usd),
        t.cost_reduction_vs_cached_baseline_pct.map_or("n/a".into(), pct),
        grouped(t.cached_tokens as f64),
        grouped(t.baseline_cached_tokens as f64),
    ));
    if t.cache_write_tokens + t.baseline_cache_write_tokens > 0 {
        line.push_str(&format!(
            " · written to the cache {} vs {}",
            grouped(t.cache_write_tokens as f64),
            grouped(t.baseline_cache_write_tokens as f64),
        ));
    }
    if let (Some(p), Some(c)) = (t.prompt_tokens_reported, t.completion_tokens_reported) {
        line.push_str(&format!(
            "\n        the server reported {} prompt + {} completion ({:+} prompt tokens against our count)",
            grouped(p as f64),
            grouped(c as f64),
            p as i64 - t.prompt_tokens as i64
        ));
    }
    line
}

/// A step's prompt tokens served from the provider's cache: as reported, or `~` estimated.
fn prompt_cache(t: &StepTokens) -> String {
    match t.cached_reported {
        Some(n) => grouped(n as f64),
        None => format!("~{}", grouped(t.cached_estimated as f64)),
    }
}

fn render_table(r: &RunReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Flow    {} ({} in {})\n",
        r.flow,
        r.status.as_str(),
        ms(r.duration_ms)
    ));
    out.push_str(&format!(
        "Data    {} · {} rows · {}\n",
        r.data.path.display(),
        grouped(r.data.rows as f64),
        r.data.reference.short()
    ));
    for note in &r.data.notes {
        out.push_str(&format!("        {note}\n"));
    }
    out.push_str(&format!(
        "\n{:<22} {:<9} {:<6} {:>7} {:>13} {:>6} {:>7} {:>9}  {}\n",
        "STEP", "STATUS", "CACHED", "TIME", "PROMPT/BUDGET", "PREFIX", "P-CACHE", "BASELINE", "OUTPUT"
    ));
    for s in &r.steps {
        let output = match (&s.state.output_ref, &s.state.error) {
            (Some(r), _) => r.short(),
            (None, Some(e)) => e.clone(),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<22} {:<9} {:<6} {:>7} {:>13} {:>6} {:>7} {:>9}  {}\n",
            s.state.id,
            s.state.status.as_str(),
            if s.state.cached { "yes" } else { "no" },
            ms(s.state.duration_ms),
            format!(
                "{}/{}",
                grouped(s.tokens.prompt as f64),
                grouped(s.state.settings.budget as f64)
            ),
            grouped(s.tokens.stable_prefix as f64),
            prompt_cache(&s.tokens),
            grouped(s.tokens.baseline_prompt as f64),
            output
        ));
    }
    out.push_str(&format!("\n{}\n", ledger_line(r)));
    out.push_str(&checks(r));
    if let Some(report) = &r.report {
        out.push('\n');
        out.push_str(report);
    }
    out
}

/// The answer check's flags and the report's unsupported figures, when there are any.
fn checks(r: &RunReport) -> String {
    let mut out = String::new();
    for s in &r.steps {
        if let Some(c) = s.answer_check.as_ref().filter(|c| c.flagged || c.retried) {
            out.push_str(&format!(
                "        answer check: {} carries {}{}{}\n",
                s.state.id,
                c.summary(),
                if c.retried { " after a retry" } else { "" },
                if c.flagged { " ⚠ flagged" } else { "" },
            ));
        }
    }
    if !r.facts.unsupported.is_empty() {
        out.push_str(&format!(
            "        unsupported figures in the report: {}\n",
            r.facts.unsupported.join(", ")
        ));
    }
    out
}

fn render_markdown(r: &RunReport) -> String {
    let mut out = r
        .report
        .clone()
        .unwrap_or_else(|| format!("# {}\n\nThe run did not produce a report.\n", r.flow));
    out.push_str(&format!(
        "\n## Run\n\nFlow `{}` {} in {} on `{}` ({} rows, `{}`).\n\n",
        r.flow,
        r.status.as_str(),
        ms(r.duration_ms),
        r.data.path.display(),
        grouped(r.data.rows as f64),
        r.data.reference.short()
    ));
    out.push_str(
        "| step | status | cached | time | prompt/budget | stable prefix | prompt cache | baseline | output |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for s in &r.steps {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {}/{} | {} | {} | {} | {} |\n",
            s.state.id,
            s.state.status.as_str(),
            if s.state.cached { "yes" } else { "no" },
            ms(s.state.duration_ms),
            s.tokens.prompt,
            s.state.settings.budget,
            s.tokens.stable_prefix,
            prompt_cache(&s.tokens),
            s.tokens.baseline_prompt,
            s.state.output_ref.map_or("-".into(), |r| format!("`{}`", r.short()))
        ));
    }
    out.push_str(&format!("\n{}\n", ledger_line(r)));
    out.push_str(&checks(r));
    out
}
