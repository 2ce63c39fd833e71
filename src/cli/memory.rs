//! `mrflow-tui memory …`: the long-term memory, seen from outside a run.

use std::io::Write;

use mrflow::config::{Config, MemoryBackend};
use mrflow::context::Tokenizer;
use mrflow::dirs::Dirs;
use mrflow::memory::{Insight, Memory, MemoryError, Scope, reset_local};

use crate::cli::{Failure, MemoryAction};

/// How long ago a Unix time was: `2d ago`.
fn ago(created: i64) -> String {
    let age = mrflow::clock::now_secs().saturating_sub(created.max(0) as u64);
    format!("{} ago", mrflow::format::age(age))
}

fn short(dataset: &str) -> &str {
    let hex = dataset.trim_start_matches("cache://");
    &hex[..hex.len().min(12)]
}

/// Where an insight came from, as `memory ls` shows it: the source file's name and the
/// project, the lane recall keeps to.
fn lane(i: &Insight) -> String {
    let file = mrflow::data::source_name(std::path::Path::new(&i.source));
    if i.project.is_empty() {
        file
    } else {
        format!("{file} [{}]", i.project)
    }
}

fn row(i: &Insight) -> String {
    let old = if i.superseded_by.is_some() { " (superseded)" } else { "" };
    format!(
        "{:>6}  {:<8} {:<18} {:<24} {:<12} {}{old}",
        i.id,
        ago(i.created),
        i.flow,
        lane(i),
        short(&i.dataset),
        i.text
    )
}

fn print(text: &str) {
    std::io::stdout().lock().write_all(text.as_bytes()).ok();
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("serializes") + "\n"
}

fn off() -> Failure {
    Failure::input("long-term memory is off ([memory] backend = \"off\" in config)")
}

fn open(config: &Config, dirs: &Dirs) -> Result<Memory, Failure> {
    Memory::open_configured(config, Some(dirs))
        .map_err(Failure::input)?
        .ok_or_else(off)
}

pub fn run(action: &MemoryAction) -> Result<(), Failure> {
    let dirs = Dirs::resolve().map_err(|e| Failure::input(e.to_string()))?;
    let config = Config::load(&dirs.config).map_err(Failure::input)?;
    let failed = |e: MemoryError| Failure {
        message: e.to_string(),
        status: 1,
    };
    match action {
        MemoryAction::Clear => {
            // A damaged local store cannot be opened to be emptied: remove its files.
            let memory = match Memory::open_configured(&config, Some(&dirs)) {
                Err(MemoryError::Corrupt { path, .. }) if config.memory.backend == MemoryBackend::Local => {
                    reset_local(&dirs.data)
                        .map_err(|e| Failure::input(format!("{}: cannot remove: {e}", path.display())))?;
                    eprintln!("removed the damaged memory store {}", path.display());
                    return Ok(());
                }
                other => other.map_err(Failure::input)?,
            };
            let memory = memory.ok_or_else(off)?;
            let n = memory.clear().map_err(failed)?;
            eprintln!("removed {n} insights from {}", memory.describe());
        }
        MemoryAction::Ls { history, json: as_json } => {
            let memory = open(&config, &dirs)?;
            let list = memory.list(*history).map_err(failed)?;
            if *as_json {
                print(&json(&list));
            } else if list.is_empty() {
                print(&format!(
                    "no insights yet in {}; `mrflow-tui run` stores each step's key findings\n",
                    memory.describe()
                ));
            } else {
                let mut out = format!(
                    "recall reaches {}\n{:>6}  {:<8} {:<18} {:<24} {:<12} insight\n",
                    memory.describe_lane(),
                    "id",
                    "age",
                    "flow",
                    "source [project]",
                    "data"
                );
                for i in &list {
                    out.push_str(&row(i));
                    out.push('\n');
                }
                print(&out);
            }
        }
        MemoryAction::Search {
            query,
            limit,
            json: as_json,
        } => {
            let memory = open(&config, &dirs)?;
            let tokenizer = Tokenizer::for_model(&config.model);
            let limit = limit.unwrap_or(memory.limit);
            let hits = memory
                .search(query, &Scope::default(), limit, memory.max_tokens, &tokenizer)
                .map_err(failed)?;
            if *as_json {
                print(&json(&hits));
            } else if hits.is_empty() {
                print(&format!("nothing in memory matches \"{query}\"\n"));
            } else {
                let mut out = String::new();
                for (k, h) in hits.iter().enumerate() {
                    out.push_str(&format!(
                        "{}. {}\n   id {} · score {:.2} · {} tokens · {} · data {} · {}\n",
                        k + 1,
                        h.insight.text,
                        h.insight.id,
                        h.score,
                        h.tokens,
                        h.insight.flow,
                        short(&h.insight.dataset),
                        ago(h.insight.created)
                    ));
                }
                print(&out);
            }
        }
        MemoryAction::Forget { id } => {
            let memory = open(&config, &dirs)?;
            if !memory.forget(id).map_err(failed)? {
                return Err(Failure::input(format!(
                    "no insight with id {id}; `mrflow-tui memory ls` lists them"
                )));
            }
            eprintln!("forgot insight {id}");
        }
    }
    Ok(())
}
