//! The interactive front end: resolves options like `run` does, then hands over to the TUI.

use std::sync::Arc;

use mrflow::config::Config;
use mrflow::dirs::Dirs;
use mrflow::engine::Flow;
use mrflow::sample::sample_path;
use mrflow::tui::event_loop::{TuiOptions, run};

use crate::cli::{Failure, TuiArgs};

pub fn tui(args: &TuiArgs) -> Result<(), Failure> {
    if args.print_default_config {
        print!("{}", mrflow::config::DEFAULT_CONFIG);
        return Ok(());
    }
    let dirs = Dirs::resolve().ok();
    let config = match &dirs {
        Some(d) => Config::load(&d.config).map_err(Failure::input)?,
        None => Config::default_only(),
    };
    let flow = Arc::new(Flow::resolve(&args.flow).map_err(Failure::input)?);
    let data = match &args.data {
        Some(p) => p.clone(),
        None => sample_path().map_err(|m| Failure { message: m, status: 1 })?,
    };
    if !data.is_file() {
        return Err(Failure::input(format!("{}: file not found", data.display())));
    }
    let model = args.model.clone().unwrap_or_else(|| config.model.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            message: format!("cannot start the runtime: {e}"),
            status: 1,
        })?;
    let cache = config.cache_config(dirs.as_ref().map(|d| d.cache.clone()));
    let options = TuiOptions {
        flow,
        data,
        cache,
        model,
        autorun: !args.no_autorun,
        config,
        dirs,
    };
    runtime
        .block_on(run(options))
        .map_err(|message| Failure { message, status: 1 })
}
