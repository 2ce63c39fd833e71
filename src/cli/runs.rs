//! `mrflow-tui runs …`: the run history, seen from outside a run.

use mrflow::dirs::Dirs;
use mrflow::format::{grouped, usd};
use mrflow::history::{self, History, Listing, RunRecord};

use crate::cli::{Failure, RunsAction};

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("history records serialize") + "\n"
}

fn listing() -> Result<Listing, Failure> {
    let dirs = Dirs::resolve().map_err(|e| Failure::input(e.to_string()))?;
    let listing = History::in_data_dir(&dirs.data).list();
    for warning in &listing.warnings {
        eprintln!("mrflow-tui: warning: {warning}");
    }
    Ok(listing)
}

fn find<'a>(listing: &'a Listing, id: &str) -> Result<&'a RunRecord, Failure> {
    listing.find(id).map_err(Failure::input)
}

pub fn run(action: &RunsAction) -> Result<(), Failure> {
    let listing = listing()?;
    let text = match action {
        RunsAction::Ls { json: true } => json(&listing.runs),
        RunsAction::Ls { json: false } => table(&listing.runs),
        RunsAction::Show { id, json: true } => json(find(&listing, id)?),
        RunsAction::Show { id, json: false } => show(find(&listing, id)?),
        RunsAction::Diff { a, b, json: as_json } => {
            let diff = history::diff(find(&listing, a)?, find(&listing, b)?);
            if *as_json {
                json(&diff)
            } else {
                diff.lines().join("\n") + "\n"
            }
        }
    };
    print!("{text}");
    Ok(())
}

fn table(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "No runs kept yet: `mrflow-tui run` or the TUI keeps each run here.\n".into();
    }
    let mut out = format!("{:<20} {}\n", "ID", RunRecord::row_header());
    for r in runs {
        out.push_str(&format!("{:<20} {}\n", r.id, r.row()));
    }
    out
}

fn show(r: &RunRecord) -> String {
    let mut out = format!(
        "Run     {} · {} UTC · {} ({})\nData    {} · {}\nModel   {}\n\n{:<24} {:<10} {:>7} {:<20} {:>7} {:>9}  {}\n",
        r.id,
        r.when(),
        r.flow,
        r.status.as_str(),
        r.data.display(),
        r.data_ref,
        r.model,
        "STEP",
        "STATUS",
        "BUDGET",
        "STRATEGY",
        "PROMPT",
        "BASELINE",
        "CHANGED"
    );
    for s in &r.steps {
        out.push_str(&format!(
            "{:<24} {:<10} {:>7} {:<20} {:>7} {:>9}  {}\n",
            s.id,
            s.status.as_str(),
            s.settings.budget,
            s.settings.strategy.as_str(),
            grouped(s.tokens.prompt as f64),
            grouped(s.tokens.baseline_prompt as f64),
            s.changes().join(", ")
        ));
    }
    let t = &r.totals;
    out.push_str(&format!(
        "\nTokens  {} prompt vs {} baseline · cost {} vs {} · critical facts retained {}/{}\n",
        grouped(t.prompt_tokens as f64),
        grouped(t.baseline_prompt_tokens as f64),
        usd(t.cost_usd),
        usd(t.baseline_cost_usd),
        r.facts.retained,
        r.facts.critical
    ));
    if let Some(report) = &r.report {
        out.push('\n');
        out.push_str(report);
        if !report.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
