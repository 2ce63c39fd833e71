//! `mrflow-tui eval`: the flow optimized and as the naive sequential pipeline against one
//! model, side by side; kept in the data directory like runs.

use std::io::Write;

use mrflow::eval::{Arm, ArmStatus, ArmStep, Eval, Spread, evaluate};
use mrflow::tools::format::grouped;
use tokio_util::sync::CancellationToken;

use crate::cli::{EvalArgs, Failure, Format, Setup, runtime};

pub fn run(args: &EvalArgs) -> Result<(), Failure> {
    if let Some(path) = &args.show {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?;
        let eval: Eval = serde_json::from_str(&text).map_err(|e| {
            Failure::input(format!(
                "{}:{}:{}: not an eval ({e}); `mrflow-tui eval --format json` writes one",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        std::io::stdout().lock().write_all(render_table(&eval).as_bytes()).ok();
        return Ok(());
    }
    if args.repeat == 0 {
        return Err(Failure::input("--repeat: at least 1"));
    }
    let setup = Setup::resolve(&args.target)?;
    for warning in &setup.warnings {
        eprintln!("mrflow-tui: warning: {warning}");
    }
    let session = setup.into_session(false);
    let dataset = session
        .load_dataset(mrflow::data::Progress(None))
        .map_err(Failure::input)?;
    let runtime = runtime()?;
    let cancel = CancellationToken::new();
    let eval = runtime.block_on(async {
        let on_interrupt = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("mrflow-tui: eval cancelled; keeping what finished");
                on_interrupt.cancel();
            }
        });
        evaluate(&session, dataset, args.repeat, &cancel).await
    });
    let saved = save(&session, &eval);
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&eval).expect("evals serialize") + "\n",
        Format::Table | Format::Markdown => render_table(&eval),
    };
    std::io::stdout().lock().write_all(text.as_bytes()).ok();
    match saved {
        Ok(Some(path)) => eprintln!("mrflow-tui: eval kept in {}", path.display()),
        Ok(None) => {}
        Err(e) => eprintln!("mrflow-tui: warning: the eval could not be kept: {e}"),
    }
    // A model that cannot be reached fails every optimized arm: say so as bad input.
    let first = eval.runs.first().map(|r| &r.optimized);
    if let Some(arm) = first.filter(|a| a.status == ArmStatus::Failed) {
        return Err(Failure::input(format!(
            "eval: {} ({})",
            arm.note.clone().unwrap_or_default(),
            eval.analyst
        )));
    }
    if eval.cancelled {
        return Err(Failure {
            message: "eval cancelled".into(),
            status: 130,
        });
    }
    Ok(())
}

/// Writes the eval as JSON to `<data dir>/evals/<flow>-<UTC time>.json`.
fn save(session: &mrflow::session::Session, eval: &Eval) -> std::io::Result<Option<std::path::PathBuf>> {
    let Some(dirs) = &session.parts.dirs else {
        return Ok(None);
    };
    let dir = dirs.data.join("evals");
    std::fs::create_dir_all(&dir)?;
    let stamp = chrono::DateTime::from_timestamp_millis(mrflow::history::now_ms() as i64)
        .map_or_else(|| "unknown-time".into(), |t| t.format("%Y-%m-%dT%H-%M-%S").to_string());
    let path = dir.join(format!("{}-{stamp}.json", eval.flow));
    let json = serde_json::to_string_pretty(eval).expect("evals serialize");
    mrflow::private_file::write(&path, &json)?;
    Ok(Some(path))
}

fn count(n: Option<usize>) -> String {
    n.map_or("-".into(), |n| grouped(n as f64))
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn spread(s: Option<Spread>, unit: impl Fn(f64) -> String) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.min == s.max => unit(s.median),
        Some(s) => format!("{} [{}–{}]", unit(s.median), unit(s.min), unit(s.max)),
    }
}

fn arm_line(name: &str, arm: &Arm) -> String {
    let mut line = format!(
        "{name:<10} {:<12} prompt {:>7} (server {:>7}) · {:>7} · facts {}/{} · unsupported {}",
        arm.status.as_str(),
        grouped(arm.prompt_tokens as f64),
        count(arm.prompt_tokens_reported),
        secs(arm.wall_ms),
        arm.facts_kept,
        arm.critical,
        arm.unsupported.len(),
    );
    if !arm.unsupported.is_empty() {
        line.push_str(&format!(" ({})", arm.unsupported.join(", ")));
    }
    if let Some(note) = &arm.note {
        line.push_str(&format!("\n{:<10} {note}", ""));
    }
    line
}

fn render_table(e: &Eval) -> String {
    let mut out = format!(
        "Eval    {} · {} · window {} · {} repeat(s){}\n",
        e.flow,
        e.analyst,
        count(e.context_window),
        e.repeat,
        if e.cancelled { " · cancelled" } else { "" }
    );
    for (k, run) in e.runs.iter().enumerate() {
        out.push_str(&format!(
            "\nRun {}\n{:<22} {:>9} {:>9} {:>8} {:>6} {:>6}   {:>9} {:>9} {:>8} {:>6} {:>6}\n",
            k + 1,
            "STEP",
            "PROMPT",
            "SERVER",
            "TIME",
            "FACTS",
            "UNSUP",
            "BASE",
            "SERVER",
            "TIME",
            "FACTS",
            "UNSUP"
        ));
        for step in &run.optimized.steps {
            let [p, s, t, f, u] = cells(Some(step));
            let [bp, bs, bt, bf, bu] = cells(run.baseline.steps.iter().find(|b| b.id == step.id));
            out.push_str(&format!(
                "{:<22} {p:>9} {s:>9} {t:>8} {f:>6} {u:>6}   {bp:>9} {bs:>9} {bt:>8} {bf:>6} {bu:>6}\n",
                step.id
            ));
        }
        out.push_str(&format!(
            "{}\n{}\n",
            arm_line("optimized", &run.optimized),
            arm_line("baseline", &run.baseline)
        ));
    }
    let facts = |n: f64| format!("{n:.0}/{}", e.critical);
    let tokens = |n: f64| grouped(n);
    let time = |n: f64| secs(n as u64);
    let plain = |n: f64| format!("{n:.0}");
    out.push_str("\nSummary (median [range] over the runs that completed)\n");
    for (name, s) in [("optimized", &e.optimized), ("baseline", &e.baseline)] {
        out.push_str(&format!(
            "{name:<10} completed {}/{}{} · prompt {} · time {} · facts {} · unsupported {}\n",
            s.completed,
            e.runs.len(),
            if s.does_not_fit > 0 {
                format!(" (does not fit: {})", s.does_not_fit)
            } else {
                String::new()
            },
            spread(s.prompt_tokens, tokens),
            spread(s.wall_ms, time),
            spread(s.facts_kept, facts),
            spread(s.unsupported, plain),
        ));
    }
    out
}

/// A step's prompt, server count, time, facts and unsupported figures; dashes for a step
/// the arm did not run, and "no fit" for a prompt that did not fit or failed.
fn cells(step: Option<&ArmStep>) -> [String; 5] {
    match step {
        None => std::array::from_fn(|_| "-".to_string()),
        Some(s) => [
            if s.error.is_some() {
                format!("{} ✗", grouped(s.prompt_tokens as f64))
            } else {
                grouped(s.prompt_tokens as f64)
            },
            count(s.prompt_tokens_reported),
            secs(s.wall_ms),
            format!("{}/{}", s.facts_kept, s.facts_expected),
            s.unsupported.len().to_string(),
        ],
    }
}
