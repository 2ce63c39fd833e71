//! `mrflow-tui flows`: the built-in flows and their steps.

use std::io::Write;

use mrflow::flow::{BUILTIN_FLOWS, Flow};

use crate::cli::Failure;

pub fn run(json: bool) -> Result<(), Failure> {
    let flows: Vec<Flow> = BUILTIN_FLOWS
        .iter()
        .filter_map(|(name, _)| Flow::builtin(name))
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let list: Vec<serde_json::Value> = flows
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name(),
                    "description": f.def.description,
                    "steps": f.steps().iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&list).expect("serializes")).ok();
        return Ok(());
    }
    for f in &flows {
        let steps: Vec<&str> = f.steps().iter().map(|s| s.id.as_str()).collect();
        writeln!(
            out,
            "{:<18} {}\n{:<18} steps: {}\n",
            f.name(),
            f.def.description,
            "",
            steps.join(", ")
        )
        .ok();
    }
    Ok(())
}
