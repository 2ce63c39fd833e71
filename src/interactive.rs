//! The interactive front end: resolves options like `run` does, then hands over to the TUI.

use mrflow::tui::event_loop::{TuiOptions, run};

use crate::cli::{Failure, Setup, TuiArgs, runtime};

pub fn tui(args: &TuiArgs) -> Result<(), Failure> {
    if args.print_default_config {
        print!("{}", mrflow::config::DEFAULT_CONFIG);
        return Ok(());
    }
    let Setup {
        dirs,
        config,
        flow,
        data,
        model,
        analyst,
        memory,
        warnings,
        load,
    } = Setup::resolve(
        &args.flow,
        args.data.as_ref(),
        args.model.as_ref(),
        &args.llm,
        &args.mapping,
    )?;
    if !data.is_file() {
        return Err(Failure::input(format!("{}: file not found", data.display())));
    }
    let runtime = runtime()?;
    let cache = config.cache_config(dirs.as_ref().map(|d| d.cache.clone()));
    let options = TuiOptions {
        flow,
        data,
        cache,
        model,
        analyst,
        memory,
        notices: warnings,
        load,
        autorun: !args.no_autorun,
        config,
        dirs,
    };
    runtime
        .block_on(run(options))
        .map_err(|message| Failure { message, status: 1 })
}
