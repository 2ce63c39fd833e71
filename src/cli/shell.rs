//! The command line in its ecosystem: shell completions and the man page, generated from
//! the same clap definitions the parser uses, so they never drift from the real flags.

use crate::cli::{Cli, Failure};

/// The completion script for `shell`, from the same definitions the parser uses.
pub fn completions(shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "mrflow-tui", &mut out);
    write_stdout(&out)
}

/// The man page, from the same definitions the parser uses.
pub fn man_page() -> Result<(), Failure> {
    let command = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .map_err(|e| Failure::input(format!("cannot render the man page: {e}")))?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::input(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}
