//! `mrflow-tui gen-data`: a synthetic sales file of any size, for benchmarks.

use mrflow::data::generate::generate;
use mrflow::format::grouped;

use crate::cli::{Failure, GenDataArgs};

pub fn run(args: &GenDataArgs) -> Result<(), Failure> {
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
