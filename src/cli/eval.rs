//! `mrflow-tui eval`: the flow optimized and as the naive sequential pipeline against one
//! model, side by side; kept in the data directory like runs.

use std::io::Write;

use mrflow::eval::{ArmStatus, Eval, evaluate};
use tokio_util::sync::CancellationToken;

use crate::cli::{EvalArgs, Failure, Format, runtime};

pub fn run(args: &EvalArgs) -> Result<(), Failure> {
    if let Some(path) = &args.show {
        let eval = Eval::read(path).map_err(Failure::input)?;
        std::io::stdout().lock().write_all(eval.table().as_bytes()).ok();
        return Ok(());
    }
    if args.repeat == 0 {
        return Err(Failure::input("--repeat: at least 1"));
    }
    let session = args.target.session(false)?;
    for warning in session.take_warnings() {
        eprintln!("mrflow-tui: warning: {warning}");
    }
    let dataset = session
        .load_dataset(mrflow::data::Progress(None))
        .map_err(Failure::input)?;
    let runtime = runtime()?;
    let cancel = CancellationToken::new();
    let eval = runtime.block_on(async {
        let on_interrupt = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("mrflow-tui: eval cancelled; keeping what finished");
                on_interrupt.cancel();
            }
        });
        evaluate(&session, dataset, args.repeat, &cancel).await
    });
    let saved = match &session.parts.dirs {
        Some(dirs) => eval.keep(&dirs.data).map(Some),
        None => Ok(None),
    };
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&eval).expect("evals serialize") + "\n",
        Format::Table | Format::Markdown => eval.table(),
    };
    std::io::stdout().lock().write_all(text.as_bytes()).ok();
    match saved {
        Ok(Some(path)) => eprintln!("mrflow-tui: eval kept in {}", path.display()),
        Ok(None) => {}
        Err(e) => eprintln!("mrflow-tui: warning: the eval could not be kept: {e}"),
    }
    // A model that cannot be reached fails every optimized arm: say so as bad input.
    let first = eval.runs.first().map(|r| &r.optimized);
    if let Some(arm) = first.filter(|a| a.status == ArmStatus::Failed) {
        return Err(Failure::input(format!(
            "eval: {} ({})",
            arm.note.clone().unwrap_or_default(),
            eval.analyst
        )));
    }
    if eval.cancelled {
        return Err(Failure {
            message: "eval cancelled".into(),
            status: 130,
        });
    }
    Ok(())
}
