use std::process::ExitCode;

use clap::Parser;

mod bench_cli;
mod cache_cli;
mod cli;
mod data_cli;
mod headless;
mod interactive;
mod memory_cli;
mod runs_cli;
mod shell_cli;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // A bug must not greet the user with a backtrace: one line, and where to report it.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("mrflow-tui: internal error: {message}{place}; please report this");
    }));

    let cli = Cli::parse();
    let result = match &cli.command {
        None => interactive::tui(&cli.tui),
        Some(Command::Run(args)) => headless::run(args),
        Some(Command::Flows { json }) => cli::flows(*json),
        Some(Command::GenData(args)) => cli::gen_data(args),
        Some(Command::Cache { action }) => cache_cli::run(action),
        Some(Command::Bench(args)) => bench_cli::run(args),
        Some(Command::Memory { action }) => memory_cli::run(action),
        Some(Command::Tokens(args)) => cli::tokens(args),
        Some(Command::Data(args)) => data_cli::run(args),
        Some(Command::Runs { action }) => runs_cli::run(action),
        Some(Command::Completions { shell }) => shell_cli::completions(*shell),
        Some(Command::Man) => shell_cli::man_page(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("mrflow-tui: error: {}", failure.message);
            ExitCode::from(failure.status)
        }
    }
}
