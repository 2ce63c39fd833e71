//! Command-line interface: argument definitions and the headless front end.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use mrflow::settings::Strategy;
use std::sync::Arc;

use mrflow::config::Config;
use mrflow::dirs::Dirs;
use mrflow::flow::Flow;
use mrflow::sample::{SAMPLE_ROWS, SAMPLE_SEED};
use mrflow::session::{MappingOverrides, Session, SessionError};

#[derive(Debug, Parser)]
#[command(
    name = "mrflow-tui",
    version,
    about = "Flow-based, token-economical LLM pipelines for marketing research",
    long_about = "Runs marketing-research flows (a DAG of analysis steps declared in TOML) over a sales CSV \
                  that is loaded once and passed between steps by reference. Every figure is computed exactly \
                  with polars.",
    after_help = "Examples:\n  mrflow-tui                                       open the TUI on the ROI analysis of the sample\n  \
                  mrflow-tui run                                   the same, headless\n  \
                  mrflow-tui run --flow sales_forecast --format json\n  \
                  mrflow-tui run --flow my_flow.toml --data exports/sales.csv\n  \
                  mrflow-tui gen-data --rows 1000000 --seed 7 --out big.csv",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub tui: TuiArgs,
}

/// With no subcommand, mrflow-tui opens the terminal UI.
#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// List the runs kept (newest last): when, flow, data, changed settings, tokens, cost,
    /// critical facts retained.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// One run: its steps' settings and tokens, its ledger and its report.
    Show {
        /// A run id, a unique prefix of one, or `latest`.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// What changed from run A to run B: tokens and cost per step, facts lost or regained,
    /// and a line diff of the reports.
    Diff {
        /// The earlier run (an id, a unique prefix, or `latest`).
        a: String,
        /// The later run.
        #[arg(default_value = "latest")]
        b: String,
        #[arg(long)]
        json: bool,
    },
}

/// What a run is of: the flow, the data and its mapping, the model and who answers; the
/// same flags for the TUI and `run`.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// A built-in flow name or the path of a flow TOML file.
    #[arg(long, short, default_value = "roi_analysis", value_name = "NAME|PATH")]
    pub flow: String,
    /// Sales data to analyse: CSV, Parquet, .xlsx or .xls, or a warehouse table
    /// `postgres://USER@HOST:PORT/DB?table=NAME` (password from PGPASSWORD) [default: the
    /// bundled sample].
    #[arg(long, short, value_name = "FILE|URL")]
    pub data: Option<PathBuf>,
    /// Model whose encoding counts tokens and whose prices cost the run [default: from config].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Keep findings under this project and recall from it, beside earlier analyses of the
    /// same data source [default: [memory] project].
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    #[command(flatten)]
    pub llm: LlmArgs,
    #[command(flatten)]
    pub mapping: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Open without starting a run (press R to run).
    #[arg(long)]
    pub no_autorun: bool,
    /// Print the default configuration (a starting point for config.toml) and exit.
    #[arg(long)]
    pub print_default_config: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a flow headless and print its report.
    Run(RunArgs),
    /// A/B against one model: the flow optimized and as the naive sequential pipeline, with
    /// tokens, time, critical facts kept and unsupported figures for both.
    Eval(EvalArgs),
    /// The models the tool can cost: provider, prices, cache rules, window, tokenizer, and
    /// when and where each entry was read (config.toml's [models] included).
    Models {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the built-in flows.
    Flows {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Generate synthetic beverage sales (deterministic for a seed).
    GenData(GenDataArgs),
    /// Time the engine on generated data: load, each step, re-pruning, a warm rerun.
    Bench(BenchArgs),
    /// Inspect or clear the persistent result cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// Count a file's tokens exactly, as a prompt would be counted.
    Tokens(TokensArgs),
    /// Long-term memory of insights across runs: list, search, forget, clear.
    Memory {
        #[command(subcommand)]
        action: MemoryAction,
    },
    /// Show what a data file is and how its columns map to roles.
    Data(DataCmdArgs),
    /// Runs kept with their settings, ledger, facts and report: list, show, compare.
    Runs {
        #[command(subcommand)]
        action: RunsAction,
    },
    /// Print a shell completion script, e.g. `mrflow-tui completions bash > ~/.local/share/bash-completion/completions/mrflow-tui`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `mrflow-tui man > ~/.local/share/man/man1/mrflow-tui.1`.
    Man,
}

/// How a data file maps to roles, beyond what is detected.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataArgs {
    /// Read ROLE from COLUMN, e.g. `--column brand=Sub-Category` (repeatable; wins over
    /// config and flow). Roles: sale_date, year, month, quarter, units_sold, price_per_unit,
    /// total_revenue, cost_per_unit, total_cost, profit, profit_margin, brand, category,
    /// region, country, store_id.
    #[arg(long = "column", value_name = "ROLE=COLUMN", value_parser = parse_column)]
    pub columns: Vec<(String, String)>,
    /// How dates are written when the values do not tell: dmy, mdy, ymd, or a pattern such
    /// as `%d.%m.%Y`.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// The sheet of an .xlsx or .xls workbook [default: the first].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
}

fn parse_column(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((role, column)) if !role.trim().is_empty() && !column.trim().is_empty() => {
            Ok((role.trim().to_string(), column.trim().to_string()))
        }
        _ => Err(format!("expected ROLE=COLUMN, e.g. brand=Sub-Category, got `{text}`")),
    }
}

#[derive(Debug, clap::Args)]
pub struct DataCmdArgs {
    /// A CSV, Parquet, .xlsx or .xls file, or `postgres://USER@HOST:PORT/DB?table=NAME`
    /// [default: the bundled sample].
    pub file: Option<PathBuf>,
    /// The flow whose needs are checked: a built-in name or a flow TOML file.
    #[arg(long, short, default_value = "roi_analysis", value_name = "NAME|PATH")]
    pub flow: String,
    #[command(flatten)]
    pub mapping: DataArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct TokensArgs {
    /// A text file.
    pub file: PathBuf,
    /// Model whose encoding counts [default: from config].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Also measure throughput: count again and again for this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub seconds: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MemoryAction {
    /// List the current insights, newest first.
    Ls {
        /// Include insights newer values have superseded.
        #[arg(long)]
        history: bool,
        #[arg(long)]
        json: bool,
    },
    /// The insights most relevant to QUERY (relevance, then recency), within the token cap.
    Search {
        query: String,
        /// At most this many hits [default: [memory] limit, 3].
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Remove one insight by its id (as `memory ls` shows it).
    Forget { id: String },
    /// Remove every insight (and reset a damaged local store).
    Clear,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Rows of generated sales data.
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    #[arg(long, default_value_t = SAMPLE_SEED)]
    pub seed: u64,
    /// A built-in flow name or the path of a flow TOML file.
    #[arg(long, default_value = "roi_analysis", value_name = "NAME|PATH")]
    pub flow: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// List cached entries: reference, kind, size, age, time to live, producer.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Show one entry: a result as pretty JSON, a dataset as a table preview.
    Show {
        /// `cache://<hex>`, the hex alone, or a unique prefix of it.
        reference: String,
    },
    /// Entries, bytes, and hits, misses, evictions and expirations over all runs.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Remove everything in the cache directory.
    Clear,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Prompt token budget for every step, overriding the flow's budgets (50-200,000).
    #[arg(long, value_name = "TOKENS", allow_negative_numbers = true)]
    pub budget: Option<i64>,
    /// Context strategy for every step: progressive_pruning, abstracted_summaries, minimal
    /// or stateless.
    #[arg(long, value_name = "STRATEGY")]
    pub strategy: Option<Strategy>,
    /// Write each step's final prompt, exactly as counted, to DIR/<step_id>.txt.
    #[arg(long, value_name = "DIR")]
    pub dump_prompts: Option<PathBuf>,
    /// Keep results in memory only: neither read nor write the cache directory.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format (markdown prints the table).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Run both arms this many times: small models are noisy, so the summary gives medians
    /// and ranges.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,
    /// Print an eval kept earlier (its JSON, e.g. from the data directory's `evals/`) as a
    /// table, and run nothing.
    #[arg(long, value_name = "FILE")]
    pub show: Option<std::path::PathBuf>,
}

/// Who writes the steps' answers.
#[derive(Debug, Clone, clap::Args)]
pub struct LlmArgs {
    /// Who writes the answers [default: from config, `offline`].
    #[arg(long, value_name = "BACKEND")]
    pub llm: Option<mrflow::config::LlmBackend>,
    /// The server: for openai up to `/v1` (e.g. http://127.0.0.1:11434/v1 for Ollama), for
    /// anthropic its root [default: the provider's own].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Step table and the report, for people.
    Table,
    /// One JSON document with stable field names (see docs/reference.md).
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

/// The mapping flags as the library takes them, over config's and the flow's.
impl DataArgs {
    pub fn overrides(&self) -> MappingOverrides {
        MappingOverrides {
            columns: self.columns.clone(),
            date_format: self.date_format.clone(),
            sheet: self.sheet.clone(),
        }
    }
}

/// The user's directories and their layered config (defaults, config.toml, environment).
pub fn config_and_dirs() -> Result<(Config, Option<Dirs>), Failure> {
    let dirs = Dirs::resolve().ok();
    let config = match &dirs {
        Some(d) => Config::load(&d.config).map_err(Failure::input)?,
        None => Config::default_only(),
    };
    Ok((config, dirs))
}

impl From<SessionError> for Failure {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Input(message) => Failure::input(message),
            SessionError::Sample(message) => Failure { message, status: 1 },
        }
    }
}

impl TargetArgs {
    /// The session these flags describe, over the layered config; results persist in the
    /// cache directory when `persist`. What it should say first is in its warnings.
    pub fn session(&self, persist: bool) -> Result<Session, Failure> {
        let (mut config, dirs) = config_and_dirs()?;
        if let Some(p) = &self.project {
            config.memory.project = Some(p.clone());
        }
        if let Some(backend) = self.llm.llm {
            config.llm.backend = backend;
        }
        if let Some(url) = &self.llm.base_url {
            config.llm.base_url = Some(url.clone());
        }
        let mut builder = Session::builder(config)
            .dirs(dirs)
            .flow(Arc::new(Flow::resolve(&self.flow).map_err(Failure::input)?))
            .mapping(self.mapping.overrides())
            .persist(persist);
        if let Some(data) = &self.data {
            builder = builder.data(data.clone());
        }
        if let Some(model) = &self.model {
            builder = builder.model(model.clone());
        }
        Ok(builder.build()?)
    }
}

/// The multi-threaded runtime the engine runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            message: format!("cannot start the runtime: {e}"),
            status: 1,
        })
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
