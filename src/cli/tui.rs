//! The interactive front end: resolves options like `run` does, then hands over to the TUI.

use std::sync::Arc;

use mrflow::tui::event_loop::{TuiOptions, run};

use crate::cli::{Failure, Setup, TuiArgs, runtime};

pub fn tui(args: &TuiArgs) -> Result<(), Failure> {
    if args.print_default_config {
        print!("{}", mrflow::config::DEFAULT_CONFIG);
        return Ok(());
    }
    let setup = Setup::resolve(&args.target)?;
    if !setup.data.is_file() && !mrflow::data::warehouse::is_warehouse(&setup.data) {
        return Err(Failure::input(format!("{}: file not found", setup.data.display())));
    }
    let runtime = runtime()?;
    let notices = setup.warnings.clone();
    let options = TuiOptions {
        session: Arc::new(setup.into_session(true)),
        notices,
        autorun: !args.no_autorun,
    };
    runtime
        .block_on(run(options))
        .map_err(|message| Failure { message, status: 1 })
}
