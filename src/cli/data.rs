//! `mrflow-tui data FILE`: what a data file is and how it maps to roles, before a run.

use std::io::Write;

use mrflow::config::Config;
use mrflow::data::inspect;
use mrflow::dirs::Dirs;
use mrflow::flow::Flow;
use mrflow::sample::sample_path;

use crate::cli::{DataCmdArgs, Failure, load_options};

/// Prints the file's profile; exit status 2 when the flow cannot run on it as mapped.
pub fn run(args: &DataCmdArgs) -> Result<(), Failure> {
    let config = match Dirs::resolve().ok() {
        Some(d) => Config::load(&d.config).map_err(Failure::input)?,
        None => Config::default_only(),
    };
    let flow = Flow::resolve(&args.flow).map_err(Failure::input)?;
    let options = load_options(&config, &flow, &args.mapping)?;
    let path = match &args.file {
        Some(p) => p.clone(),
        None => sample_path().map_err(|m| Failure { message: m, status: 1 })?,
    };
    let inspection = inspect(&path, &flow.required_columns(), &options).map_err(Failure::input)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(&inspection.profile).expect("profiles serialize");
        value["flow"] = serde_json::json!(flow.name());
        value["missing"] = serde_json::to_value(&inspection.missing).expect("serializes");
        value["problem"] = serde_json::json!(inspection.problem);
        writeln!(out, "{}", serde_json::to_string_pretty(&value).expect("serializes")).ok();
    } else {
        write!(out, "{}", inspection.profile.render(&inspection.missing)).ok();
        if let Some(problem) = &inspection.problem {
            writeln!(out, "\nProblem\n  {problem}").ok();
        }
        if inspection.usable() {
            writeln!(out, "\nReady for `{}`.", flow.name()).ok();
        }
    }
    if inspection.usable() {
        Ok(())
    } else {
        Err(Failure::input(format!(
            "{}: cannot run `{}` on it as mapped (see above)",
            path.display(),
            flow.name()
        )))
    }
}
