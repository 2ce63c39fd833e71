//! `mrflow-tui data FILE`: what a data file is and how it maps to roles, before a run.

use std::io::Write;

use mrflow::data::DataProfile;
use mrflow::data::inspect;
use mrflow::data::roles::find_column;
use mrflow::flow::{BUILTIN_FLOWS, Flow, Verdict};
use mrflow::sample::sample_path;

use crate::cli::{DataCmdArgs, Failure, config_and_dirs};

/// Prints the file's profile; exit status 2 when the flow cannot run on it as mapped.
pub fn run(args: &DataCmdArgs) -> Result<(), Failure> {
    let (config, _) = config_and_dirs()?;
    let flow = Flow::resolve(&args.flow).map_err(Failure::input)?;
    let options = args.mapping.overrides().load_options(&config, &flow)?;
    let path = match &args.file {
        Some(p) => p.clone(),
        None => sample_path().map_err(|m| Failure { message: m, status: 1 })?,
    };
    // Every role the flow reads is asked for when available: what it lacks skips work or,
    // where nothing would run, keeps the flow from the file.
    let options = mrflow::data::LoadOptions {
        optional: flow.required_columns().into_iter().map(String::from).collect(),
        ..options
    };
    let inspection = inspect(&path, &[], &options).map_err(Failure::input)?;
    let profile = &inspection.profile;
    let chosen = verdict(&flow, profile);
    let missing: Vec<_> = match &chosen {
        Verdict::Cannot { needs } => profile
            .unavailable
            .iter()
            .filter(|m| needs.contains(&m.name))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let flows: Vec<(String, Verdict)> = BUILTIN_FLOWS
        .iter()
        .filter_map(|(name, _)| Flow::builtin(name))
        .map(|f| (f.name().to_string(), verdict(&f, profile)))
        .collect();
    let usable = inspection.problem.is_none() && !matches!(chosen, Verdict::Cannot { .. });
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(profile).expect("profiles serialize");
        value["flow"] = serde_json::json!(flow.name());
        value["missing"] = serde_json::to_value(&missing).expect("serializes");
        value["problem"] = serde_json::json!(inspection.problem);
        value["flows"] = serde_json::json!(
            flows
                .iter()
                .map(|(name, v)| {
                    let (status, detail) = match v {
                        Verdict::Runs => ("runs", serde_json::json!([])),
                        Verdict::Partly { notes } => ("partly", serde_json::json!(notes)),
                        Verdict::Cannot { needs } => ("cannot", serde_json::json!(needs)),
                    };
                    serde_json::json!({"name": name, "status": status, "detail": detail})
                })
                .collect::<Vec<_>>()
        );
        writeln!(out, "{}", serde_json::to_string_pretty(&value).expect("serializes")).ok();
    } else {
        write!(out, "{}", profile.render(&missing)).ok();
        if let Some(problem) = &inspection.problem {
            writeln!(out, "\nProblem\n  {problem}").ok();
        }
        writeln!(out, "\nBuilt-in flows").ok();
        for (name, v) in &flows {
            writeln!(out, "  {name:<18} {}", v.summary()).ok();
        }
        if usable {
            writeln!(out, "\nReady for `{}`.", flow.name()).ok();
        }
    }
    if usable {
        Ok(())
    } else {
        Err(Failure::input(format!(
            "{}: cannot run `{}` on it as mapped (see above)",
            mrflow::data::shown_path(&path).display(),
            flow.name()
        )))
    }
}

/// What of `flow` runs on the file `profile` describes: its roles, mapped or derivable, and
/// the columns a flow names by their own name.
fn verdict(flow: &Flow, profile: &DataProfile) -> Verdict {
    let available = profile.available_roles();
    let header: Vec<String> = profile.columns.iter().map(|c| c.name.clone()).collect();
    flow.coverage(&|r| available.contains(r) || find_column(&header, r).is_some())
        .verdict()
}
