//! `mrflow-tui tokens FILE`: a text's exact token count in a model's encoding, and how
//! fast it is counted.

use std::io::Write;

use mrflow::format::grouped;

use crate::cli::{Failure, TokensArgs, config_and_dirs};

pub fn run(args: &TokensArgs) -> Result<(), Failure> {
    let (config, _) = config_and_dirs()?;
    let model = args.model.clone().unwrap_or(config.model);
    let path = &args.file;
    let bytes = std::fs::read(path).map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::input(format!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    let tokenizer = mrflow::context::Tokenizer::for_model(&model);
    let tokens = tokenizer.count_uncached(&text);
    let throughput = args.seconds.map(|seconds| {
        let started = std::time::Instant::now();
        let mut runs = 0u64;
        while runs == 0 || started.elapsed().as_secs_f64() < seconds {
            std::hint::black_box(tokenizer.count_uncached(&text));
            runs += 1;
        }
        text.len() as f64 * runs as f64 / started.elapsed().as_secs_f64() / (1 << 20) as f64
    });
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "file": path, "model": model, "encoding": tokenizer.encoding.as_str(), "bytes": text.len(),
            "tokens": tokens, "mib_per_s": throughput,
        });
        writeln!(out, "{value}").ok();
    } else {
        let speed = throughput.map(|t| format!(" · {t:.1} MiB/s")).unwrap_or_default();
        writeln!(
            out,
            "{} tokens ({}, {}) in {} bytes{speed}",
            grouped(tokens as f64),
            tokenizer.encoding.as_str(),
            model,
            grouped(text.len() as f64)
        )
        .ok();
    }
    Ok(())
}
