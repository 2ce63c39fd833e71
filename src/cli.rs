//! Command-line interface: argument definitions and the headless front end.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use mrflow::cache::ResultStore;
use mrflow::data::{generate::generate, load_csv};
use mrflow::engine::{BUILTIN_FLOWS, Engine, EngineCommand, EngineEvent, Flow, RunReport};
use mrflow::sample::{SAMPLE_ROWS, SAMPLE_SEED, sample_path};
use mrflow::tools::format::grouped;

#[derive(Debug, Parser)]
#[command(
    name = "mrflow-tui",
    version,
    about = "Flow-based, token-economical LLM pipelines for marketing research",
    long_about = "Runs marketing-research flows (a DAG of analysis steps declared in TOML) over a sales CSV \
                  that is loaded once and passed between steps by reference. Every figure is computed exactly \
                  with polars.",
    after_help = "Examples:\n  mrflow-tui run                                   ROI analysis of the bundled sample\n  \
                  mrflow-tui run --flow sales_forecast --format json\n  \
                  mrflow-tui run --flow my_flow.toml --data exports/sales.csv\n  \
                  mrflow-tui gen-data --rows 1000000 --seed 7 --out big.csv",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a flow headless and print its report.
    Run(RunArgs),
    /// List the built-in flows.
    Flows {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Generate synthetic beverage sales (deterministic for a seed).
    GenData(GenDataArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A built-in flow name or the path of a flow TOML file.
    #[arg(long, short, default_value = "roi_analysis", value_name = "NAME|PATH")]
    pub flow: String,
    /// Sales CSV to analyse [default: the bundled sample].
    #[arg(long, short, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Step table and the report, for people.
    Table,
    /// One JSON document with stable field names (see README).
    Json,
    /// The report and a step table as Markdown.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct GenDataArgs {
    /// Number of sales rows.
    #[arg(long, default_value_t = SAMPLE_ROWS)]
    pub rows: usize,
    /// Random seed; the same seed always gives the same file.
    #[arg(long, default_value_t = SAMPLE_SEED)]
    pub seed: u64,
    /// Output file, or `-` for standard output.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// A failure and the exit status it maps to.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    /// Bad input or usage: exit status 2.
    pub fn input(message: impl ToString) -> Self {
        Failure {
            message: message.to_string(),
            status: 2,
        }
    }
}

pub fn flows(json: bool) -> Result<(), Failure> {
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

pub fn gen_data(args: &GenDataArgs) -> Result<(), Failure> {
    if args.out.as_os_str() == "-" {
        return generate(args.rows, args.seed, std::io::stdout().lock()).map_err(|e| Failure {
            message: format!("cannot write to standard output: {e}"),
            status: 1,
        });
    }
    let path = &args.out;
    let file =
        std::fs::File::create(path).map_err(|e| Failure::input(format!("{}: cannot create: {e}", path.display())))?;
    generate(args.rows, args.seed, file).map_err(|e| Failure {
        message: format!("{}: cannot write: {e}", path.display()),
        status: 1,
    })?;
    eprintln!("wrote {} rows to {}", grouped(args.rows as f64), path.display());
    Ok(())
}

pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let flow = Arc::new(Flow::resolve(&args.flow).map_err(Failure::input)?);
    let path = match &args.data {
        Some(p) => p.clone(),
        None => sample_path().map_err(|m| Failure { message: m, status: 1 })?,
    };
    let dataset = Arc::new(load_csv(&path, &flow.required_columns()).map_err(Failure::input)?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            message: format!("cannot start the runtime: {e}"),
            status: 1,
        })?;
    let report = runtime.block_on(async {
        let store = Arc::new(ResultStore::new());
        let (handle, mut events) = Engine::spawn(flow.clone(), dataset.clone(), store.clone());
        handle.send(EngineCommand::RunAll);
        while let Some(event) = events.recv().await {
            if matches!(event, EngineEvent::RunFinished { .. }) {
                break;
            }
        }
        let snapshot = handle.snapshot();
        handle.send(EngineCommand::Shutdown);
        RunReport::build(&flow, &dataset, &snapshot, &store)
    });

    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("reports serialize") + "\n",
        Format::Table => render_table(&report),
        Format::Markdown => render_markdown(&report),
    };
    std::io::stdout().lock().write_all(text.as_bytes()).ok();
    if report.succeeded() {
        Ok(())
    } else {
        let failed: Vec<String> = report
            .steps
            .iter()
            .filter_map(|s| {
                s.error
                    .as_ref()
                    .filter(|_| s.status == mrflow::engine::StepStatus::Failed)
                    .map(|e| format!("{}: {e}", s.id))
            })
            .collect();
        Err(Failure {
            message: format!("run {}: {}", report.status.as_str(), failed.join("; ")),
            status: 1,
        })
    }
}

fn ms(d: Option<u64>) -> String {
    d.map_or("-".into(), |d| format!("{d} ms"))
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
        "\n{:<24} {:<10} {:<7} {:>8}  {}\n",
        "STEP", "STATUS", "CACHED", "TIME", "OUTPUT"
    ));
    for s in &r.steps {
        let output = match (&s.output_ref, &s.error) {
            (Some(r), _) => r.short(),
            (None, Some(e)) => e.clone(),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<24} {:<10} {:<7} {:>8}  {}\n",
            s.id,
            s.status.as_str(),
            if s.cached { "yes" } else { "no" },
            ms(s.duration_ms),
            output
        ));
    }
    if let Some(report) = &r.report {
        out.push('\n');
        out.push_str(report);
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
    out.push_str("| step | status | cached | time | output |\n|---|---|---|---|---|\n");
    for s in &r.steps {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            s.id,
            s.status.as_str(),
            if s.cached { "yes" } else { "no" },
            ms(s.duration_ms),
            s.output_ref.map_or("-".into(), |r| format!("`{}`", r.short()))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
