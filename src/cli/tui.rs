//! The interactive front end: resolves options like `run` does, then hands over to the TUI.

use std::sync::Arc;

use mrflow::tui::event_loop::{TuiOptions, run};

use crate::cli::{Failure, TuiArgs, runtime};

pub fn tui(args: &TuiArgs) -> Result<(), Failure> {
    if args.print_default_config {
        print!("{}", mrflow::config::DEFAULT_CONFIG);
        return Ok(());
    }
    let session = args.target.session(true)?;
    let data = &session.parts.data;
    if !data.is_file() && !mrflow::data::warehouse::is_warehouse(data) {
        return Err(Failure::input(format!("{}: file not found", data.display())));
    }
    let runtime = runtime()?;
    let notices = session.take_warnings();
    let options = TuiOptions {
        session: Arc::new(session),
        notices,
        autorun: !args.no_autorun,
    };
    runtime
        .block_on(run(options))
        .map_err(|message| Failure { message, status: 1 })
}
