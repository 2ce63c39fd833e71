use std::process::ExitCode;

use clap::Parser;

mod cli;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // A bug must not greet the user with a backtrace: one line, and where to report it.
    std::panic::set_hook(Box::new(|info| {
        let message = mrflow::format::panic_message(info.payload());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("mrflow-tui: internal error: {message}{place}; please report this");
    }));

    let cli = Cli::parse();
    let result = match &cli.command {
        None => cli::tui::tui(&cli.tui),
        Some(Command::Run(args)) => cli::run::run(args),
        Some(Command::Eval(args)) => cli::eval::run(args),
        Some(Command::Flows { json }) => cli::flows::run(*json),
        Some(Command::Models { json }) => cli::models::run(*json),
        Some(Command::GenData(args)) => cli::gen_data::run(args),
        Some(Command::Cache { action }) => cli::cache::run(action),
        Some(Command::Bench(args)) => cli::bench::run(args),
        Some(Command::Memory { action }) => cli::memory::run(action),
        Some(Command::Tokens(args)) => cli::tokens::run(args),
        Some(Command::Data(args)) => cli::data::run(args),
        Some(Command::Runs { action }) => cli::runs::run(action),
        Some(Command::Completions { shell }) => cli::shell::completions(*shell),
        Some(Command::Man) => cli::shell::man_page(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("mrflow-tui: error: {}", failure.message);
            ExitCode::from(failure.status)
        }
    }
}
