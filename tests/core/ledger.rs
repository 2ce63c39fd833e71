//! Context pruning and the token ledger, end to end on the bundled sample.

use crate::common::*;
use mrflow::context::{Encoding, Tokenizer};

fn run_json(args: &[&str]) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    let mut full = vec!["run", "--format", "json"];
    full.extend_from_slice(args);
    let out = run(home.path(), &full);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    json(&out)
}

#[test]
fn builtin_flows_cut_prompts_by_92_percent_and_keep_every_critical_fact() {
    for flow in ["roi_analysis", "brand_performance", "sales_forecast"] {
        let r = run_json(&["--flow", flow]);
        let t = &r["totals"];
        let prompt = t["prompt_tokens"].as_u64().unwrap();
        let baseline = t["baseline_prompt_tokens"].as_u64().unwrap();
        assert!(prompt * 100 <= baseline * 8, "{flow}: {prompt} of {baseline}");
        assert!(t["reduction_pct"].as_f64().unwrap() >= 92.0, "{flow}");
        assert_eq!(r["facts"]["retained"], r["facts"]["critical"], "{flow}: {}", r["facts"]);
        assert_eq!(r["facts"]["baseline_retained"], r["facts"]["critical"], "{flow}");
        assert!(r["facts"]["critical"].as_u64().unwrap() >= 5, "{flow}");
        if flow == "roi_analysis" {
            assert!(prompt < 3500, "{prompt}");
            // The original design's calibration: a sequential ROI analysis costs tens of
            // thousands of tokens.
            assert!(baseline > 15_000, "{baseline}");
        }
        for step in r["steps"].as_array().unwrap() {
            let tokens = step["tokens"]["prompt"].as_u64().unwrap();
            assert!(tokens <= step["budget"].as_u64().unwrap(), "{flow}/{}", step["id"]);
        }
    }
}

#[test]
fn a_600_token_budget_is_never_exceeded_and_decisions_show_what_was_cut() {
    let r = run_json(&["--budget", "600"]);
    assert_eq!(r["status"], "completed");
    let mut cut = 0;
    for step in r["steps"].as_array().unwrap() {
        assert_eq!(step["budget"], 600);
        assert!(step["tokens"]["prompt"].as_u64().unwrap() <= 600, "{}", step["id"]);
        for item in step["context"].as_array().unwrap() {
            let decision = item["decision"].as_str().unwrap();
            assert!(["kept", "summarized", "referenced", "dropped"].contains(&decision));
            assert!(
                item["tokens_after"].as_u64().unwrap() <= item["tokens_before"].as_u64().unwrap() || decision == "kept"
            );
            if decision == "summarized" || decision == "dropped" {
                cut += 1;
            }
        }
    }
    assert!(cut > 0);
}

#[test]
fn a_tight_budget_loses_facts_visibly_and_an_impossible_one_fails_plainly() {
    let r = run_json(&["--budget", "200"]);
    let retained = r["facts"]["retained"].as_u64().unwrap();
    assert!(retained < r["facts"]["critical"].as_u64().unwrap());
    assert!(!r["facts"]["missing"].as_array().unwrap().is_empty());

    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["run", "--budget", "60", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let r = json(&out);
    let failed = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "failed")
        .unwrap();
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with("context: the critical context needs "),
        "{failed}"
    );
}

#[test]
fn counted_tokens_equal_the_tokens_of_the_dumped_prompts() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("prompts");
    for (model, encoding) in [("gpt-4o-mini", Encoding::O200kBase), ("gpt-4", Encoding::Cl100kBase)] {
        let out = run(
            home.path(),
            &[
                "run",
                "--flow",
                "brand_performance",
                "--model",
                model,
                "--format",
                "json",
                "--dump-prompts",
                dir.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let r = json(&out);
        assert_eq!(r["encoding"], encoding.as_str());
        let tokenizer = Tokenizer::new(encoding);
        for step in r["steps"].as_array().unwrap() {
            let text = std::fs::read_to_string(dir.join(format!("{}.txt", step["id"].as_str().unwrap()))).unwrap();
            assert_eq!(
                step["tokens"]["prompt"].as_u64().unwrap() as usize,
                tokenizer.count_uncached(&text),
                "{model}"
            );
        }
    }
}

#[test]
fn strategies_apply_to_every_step() {
    let r = run_json(&["--strategy", "stateless"]);
    for step in r["steps"].as_array().unwrap() {
        assert_eq!(step["strategy"], "stateless");
        for item in step["context"].as_array().unwrap() {
            if item["source"].as_str().unwrap().starts_with("step:") {
                assert_eq!(item["decision"], "dropped");
            }
        }
    }
    // With no history, the report has nothing to report.
    assert_eq!(r["facts"]["retained"], 0);
}

#[test]
fn costs_come_from_the_pricing_table() {
    let r = run_json(&["--model", "gpt-4o"]);
    let t = &r["totals"];
    let expected = (t["prompt_tokens"].as_f64().unwrap() * 2.5 + t["completion_tokens"].as_f64().unwrap() * 10.0) / 1e6;
    assert!((t["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12);
    assert!(t["baseline_cost_usd"].as_f64().unwrap() > t["cost_usd"].as_f64().unwrap());
    let r = run_json(&["--model", "my-local-llama"]);
    assert!(r["totals"]["cost_usd"].is_null());
    assert_eq!(r["encoding"], "o200k_base");
    assert_eq!(r["token_counts"], "estimated");
}

/// The model table lists current Claude, Gemini and GPT-5.x models, each dated and sourced
/// with its window and cache figures.
#[test]
fn models_lists_dated_entries_with_windows_and_cache_rules() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["models", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let models = json(&out);
    let entry = |name: &str| {
        models
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"))
            .clone()
    };
    for (name, provider) in [
        ("claude-opus-5-5", "anthropic"),
        ("claude-sonnet-5-5", "anthropic"),
        ("claude-haiku-5-5", "anthropic"),
        ("gemini-3-pro-preview", "google"),
        ("gemini-3-flash-preview", "google"),
        ("gpt-5.6-terra", "openai"),
        ("gpt-5.4-mini", "openai"),
    ] {
        let m = entry(name);
        assert_eq!(m["provider"], provider, "{name}");
        for key in [
            "input",
            "output",
            "cached_input",
            "min_cacheable_tokens",
            "tokenizer",
            "prices_as_of",
            "source",
        ] {
            assert!(!m[key].is_null(), "{name}.{key}: {m}");
        }
        assert!(
            m.get("cache_write").is_some() && m.get("context_window").is_some(),
            "{name}"
        );
    }
    let sonnet = entry("claude-sonnet-5-5");
    assert_eq!(sonnet["cache_write"], serde_json::json!({"5m": 2.5, "1h": 4.0}));
    assert_eq!(sonnet["context_window"], 1_000_000);
    assert_eq!(sonnet["tokenizer"], "estimated");
    assert_eq!(entry("claude-opus-4-5")["min_cacheable_tokens"], 4096);
    assert_eq!(entry("gpt-5.6-luna")["cache_write"]["5m"], 1.25);
    let table = stdout(&run(home.path(), &["models"]));
    assert!(table.lines().next().unwrap().starts_with("MODEL"), "{table}");
    assert!(
        table.contains("gpt-4o-mini *"),
        "the configured model is marked: {table}"
    );
}

/// A Claude model: estimated counts, marked; the same 92% reduction; costs at its prices.
#[test]
fn a_claude_model_is_costed_at_its_prices_with_estimated_counts() {
    let r = run_json(&["--model", "claude-sonnet-5-5"]);
    assert_eq!(r["token_counts"], "estimated");
    let t = &r["totals"];
    assert!(t["reduction_pct"].as_f64().unwrap() >= 92.0);
    let expected = (t["prompt_tokens"].as_f64().unwrap() * 2.0 + t["completion_tokens"].as_f64().unwrap() * 10.0) / 1e6;
    assert!((t["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12);
    // Every prompt is under Sonnet's 1,024-token minimum: nothing of ours is cached or
    // written. The baseline, cached automatically, writes every prompt and reads nothing.
    assert_eq!(
        (t["cached_tokens"].as_u64(), t["cache_write_tokens"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(t["baseline_cache_write_tokens"], t["baseline_prompt_tokens"]);
    let home = tempfile::tempdir().unwrap();
    let table = stdout(&run(home.path(), &["run", "--model", "claude-sonnet-5-5"]));
    assert!(table.contains("Tokens  ~1,501 prompt"), "{table}");
}

#[test]
fn bad_budget_and_strategy_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["run", "--budget", "-5"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "mrflow-tui: error: --budget: budget must be between 50 and 200,000 tokens, got -5\n"
    );
    let out = run(home.path(), &["run", "--strategy", "yolo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(
        "unknown strategy `yolo`, expected one of: progressive_pruning, abstracted_summaries, minimal, stateless"
    ));
}

/// The figures README quotes for the sample, exactly: the baseline's describe() of the file
/// depends on how every column is typed when read, so a change to reading shows here.
#[test]
fn the_readme_figures_for_the_sample_hold() {
    for (flow, prompt, baseline) in [
        ("roi_analysis", 1501, 19952),
        ("brand_performance", 1682, 25218),
        ("sales_forecast", 1139, 19744),
    ] {
        let r = run_json(&["--flow", flow, "--no-cache"]);
        assert_eq!(r["totals"]["prompt_tokens"], prompt, "{flow}");
        assert_eq!(r["totals"]["baseline_prompt_tokens"], baseline, "{flow}");
    }
}

/// Two prompts sharing a known prefix: the second is billed with the shared part, made
/// cacheable (from 1,024 tokens, in 128-token steps), at the cached price.
#[test]
fn the_cached_baseline_cost_of_a_known_shared_prefix_is_exact() {
    use mrflow::config::Price;
    use mrflow::context::ledger::{StepTokens, Totals};
    use mrflow::context::{Encoding, Tokenizer, layout};

    let t = Tokenizer::new(Encoding::O200kBase);
    // " x" is one token in o200k_base, so the shared prefix is exactly 1,300 tokens.
    let shared = " x".repeat(1300);
    let first = format!("{shared}\nFirst step's own question?");
    let second = format!("{shared}\nA second, different question about revenue.");
    let tokens: Vec<Vec<u32>> = [&first, &second].iter().map(|p| t.encode(p)).collect();
    assert_eq!(t.encode(&shared).len(), 1300);
    let common = tokens[0].iter().zip(&tokens[1]).take_while(|(a, b)| a == b).count();
    assert!((1300..1302).contains(&common), "{common}");
    let used = layout::cache_use(&tokens, &[], mrflow::models::CacheRule::default());
    let cached: Vec<usize> = used.iter().map(|u| u.read).collect();
    assert_eq!(cached, [0, 1280], "1,024 + 2 × 128 of the shared 1,300");

    let price = Price {
        input: 1.25,
        output: 10.0,
        cached_input: Some(0.125),
        cache_write: None,
    };
    let steps: Vec<StepTokens> = tokens
        .iter()
        .zip(&cached)
        .map(|(p, &c)| StepTokens {
            prompt: 100,
            completion: 10,
            baseline_prompt: p.len(),
            baseline_cached_estimated: c,
            ..StepTokens::default()
        })
        .collect();
    let totals = Totals::of(&steps, Some(price));
    let input = (tokens[0].len() + tokens[1].len()) as f64;
    let expected = ((input - 1280.0) * 1.25 + 1280.0 * 0.125 + 20.0 * 10.0) / 1e6;
    assert_eq!(totals.baseline_cached_tokens, 1280);
    assert!(
        (totals.baseline_cost_cached_usd.unwrap() - expected).abs() < 1e-15,
        "{:?} vs {expected}",
        totals.baseline_cost_cached_usd
    );
    assert!(totals.baseline_cost_cached_usd < totals.baseline_cost_usd);
}

/// The run JSON carries the caching figures; offline they are estimates, labelled so.
#[test]
fn the_run_json_has_stable_prefixes_and_both_cost_comparisons() {
    let r = run_json(&["--no-cache"]);
    let totals = &r["totals"];
    assert_eq!(totals["cached_basis"], "estimated");
    assert!(totals["cached_tokens_reported"].is_null());
    for key in [
        "cost_cached_usd",
        "baseline_cost_cached_usd",
        "cost_reduction_pct",
        "cost_reduction_vs_cached_baseline_pct",
    ] {
        assert!(totals[key].as_f64().is_some(), "{key}: {totals}");
    }
    for step in r["steps"].as_array().unwrap() {
        let tokens = &step["tokens"];
        let (prefix, prompt) = (
            tokens["stable_prefix"].as_u64().unwrap(),
            tokens["prompt"].as_u64().unwrap(),
        );
        assert!(prefix > 0 && prefix <= prompt, "{step}");
        assert!(tokens["cached_reported"].is_null());
    }
}

/// A model the pricing table lacks is said once, and its costs are null, not zero.
#[test]
fn a_model_without_a_price_is_said_once_and_costs_null() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["run", "--format", "json", "--model", "llama3.1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("no price for model `llama3.1`").count(), 1, "{err}");
    let totals = &json(&out)["totals"];
    for key in [
        "cost_usd",
        "baseline_cost_usd",
        "cost_cached_usd",
        "baseline_cost_cached_usd",
    ] {
        assert!(totals[key].is_null(), "{key}: {totals}");
    }
}
