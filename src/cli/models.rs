//! `mrflow-tui models`: the model table as the config layers make it, for people or as JSON.

use std::io::Write;

use serde::Serialize;

use mrflow::models::{CacheWrite, ModelCard, Provider, Tokenizer};

use super::{Failure, config_and_dirs};

/// One entry as `models --json` prints it: field names are a stable interface.
#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    provider: Provider,
    input: f64,
    output: f64,
    cached_input: Option<f64>,
    cache_write: Option<CacheWrite>,
    context_window: Option<usize>,
    min_cacheable_tokens: usize,
    tokenizer: Tokenizer,
    prices_as_of: &'a str,
    source: &'a str,
}

impl<'a> Entry<'a> {
    fn of(name: &'a str, card: &'a ModelCard) -> Entry<'a> {
        Entry {
            name,
            provider: card.provider,
            input: card.input,
            output: card.output,
            cached_input: card.cached_input,
            cache_write: card.cache_write,
            context_window: card.context_window,
            min_cacheable_tokens: card.min_cacheable_tokens,
            tokenizer: card.tokenizer,
            prices_as_of: &card.prices_as_of,
            source: &card.source,
        }
    }
}

pub fn run(json: bool) -> Result<(), Failure> {
    let (config, _) = config_and_dirs()?;
    let mut entries: Vec<Entry<'_>> = config.models.iter().map(|(n, c)| Entry::of(n, c)).collect();
    // By provider, then dearest first: the order a reader scans a price list in.
    entries.sort_by(|a, b| {
        let p = |e: &Entry<'_>| -> &'static str { e.provider.into() };
        p(a).cmp(p(b))
            .then(b.input.total_cmp(&a.input))
            .then(a.name.cmp(b.name))
    });
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&entries).expect("serializes")).ok();
        return Ok(());
    }
    writeln!(out, "{}", table(&entries, &config.model)).ok();
    Ok(())
}

fn table(entries: &[Entry<'_>], current: &str) -> String {
    let usd = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v}"));
    let writes = |w: Option<CacheWrite>| match w {
        Some(CacheWrite {
            five_minutes,
            one_hour: Some(h),
        }) => format!("{} / {h}", usd(five_minutes)),
        Some(w) => usd(w.five_minutes),
        None => "-".into(),
    };
    let tokens = |n: Option<usize>| n.map_or("?".to_string(), |n| mrflow::format::grouped(n as f64));
    let header = [
        "MODEL",
        "PROVIDER",
        "INPUT",
        "OUTPUT",
        "CACHED",
        "WRITE 5m/1h",
        "MIN CACHE",
        "WINDOW",
        "TOKENS",
        "AS OF",
    ];
    let rows: Vec<[String; 10]> = entries
        .iter()
        .map(|e| {
            let provider: &'static str = e.provider.into();
            let tokenizer: &'static str = e.tokenizer.into();
            [
                if e.name == current {
                    format!("{} *", e.name)
                } else {
                    e.name.to_string()
                },
                provider.to_string(),
                usd(Some(e.input)),
                usd(Some(e.output)),
                usd(e.cached_input),
                writes(e.cache_write),
                tokens(Some(e.min_cacheable_tokens)),
                tokens(e.context_window),
                tokenizer.to_string(),
                e.prices_as_of.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if (2..8).contains(&i) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.push(String::new());
    out.push(format!(
        "USD per million tokens. * the configured model ({current}). TOKENS: how this tool counts them \
         (estimated: o200k_base counts, shown as ~N). `--json` adds each entry's source."
    ));
    out.join("\n")
}
