//! Property tests over the parts that take input from people: the CSV loader, the flow
//! parser, and the pruner.

use std::io::Write;

use mrflow::context::layout::Stability;
use mrflow::context::{ContextBundle, ContextItem, Decision, Encoding, Rendition, Tokenizer, assemble, prune};
use mrflow::data::load_file;
use mrflow::flow::{BUILTIN_FLOWS, ContextSource, Flow};
use mrflow::settings::StepSettings;
use mrflow::settings::{Priority, Strategy as ContextStrategy};
use proptest::prelude::*;
use strum::VariantArray;

fn rendition(words: usize, tokenizer: &Tokenizer) -> Rendition {
    let text = (0..words).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
    Rendition {
        tokens: tokenizer.count(&text),
        text,
        facts: vec![],
    }
}

fn item_strategy() -> impl Strategy<Value = (u8, usize, usize, usize, bool, bool, u8)> {
    // priority, full words, summary words, reference words, has summary, has reference, source
    (
        0u8..4,
        1usize..300,
        1usize..60,
        1usize..8,
        any::<bool>(),
        any::<bool>(),
        0u8..4,
    )
}

fn bundle(specs: &[(u8, usize, usize, usize, bool, bool, u8)], tokenizer: &Tokenizer) -> ContextBundle {
    let items = specs
        .iter()
        .enumerate()
        .map(
            |(i, &(p, full, summary, reference, has_s, has_r, source))| ContextItem {
                key: format!("item{i}"),
                source: match source {
                    0 => ContextSource::Task,
                    1 => ContextSource::Results,
                    2 => ContextSource::Step("earlier".into()),
                    _ => ContextSource::Dataset,
                },
                priority: Priority::VARIANTS[p as usize],
                full: Some(rendition(full, tokenizer)),
                summary: has_s.then(|| rendition(summary.min(full), tokenizer)),
                reference: has_r.then(|| rendition(reference, tokenizer)),
            },
        )
        .collect();
    ContextBundle { items, facts: vec![] }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_pruner_respects_the_budget_keeps_critical_items_and_is_deterministic(
        specs in prop::collection::vec(item_strategy(), 1..10),
        budget in 50u32..2000,
        strategy in 0usize..4,
    ) {
        let tokenizer = Tokenizer::new(Encoding::O200kBase);
        let bundle = bundle(&specs, &tokenizer);
        let settings = StepSettings::new(budget, ContextStrategy::VARIANTS[strategy]);
        let strategy = settings.strategy;
        let first = prune(&bundle, &settings, "", &tokenizer);
        prop_assert_eq!(&first, &prune(&bundle, &settings, "", &tokenizer));
        if let Ok(p) = first {
            prop_assert!(p.tokens <= budget as usize);
            prop_assert_eq!(p.tokens, tokenizer.count_uncached(&p.prompt));
            for (d, item) in p.decisions.iter().zip(&bundle.items) {
                let history = matches!(item.source, ContextSource::Step(_));
                let dropped_by_design = strategy == ContextStrategy::Stateless && history;
                if d.priority == Priority::Critical && !dropped_by_design {
                    prop_assert!(d.decision != Decision::Dropped, "critical {} dropped: {:?}", d.key, p.decisions);
                }
            }
        }
    }

    /// Two budgets give prompts that are byte-identical up to the first item (in prompt
    /// order, most stable first) whose decision differs, so a provider's prefix cache
    /// still serves that part after a budget change.
    #[test]
    fn a_budget_change_keeps_the_prefix_up_to_the_first_changed_item(
        specs in prop::collection::vec(item_strategy(), 1..10),
        budgets in (50u32..2000, 50u32..2000),
        strategy in 0usize..4,
    ) {
        let tokenizer = Tokenizer::new(Encoding::O200kBase);
        let mut bundle = bundle(&specs, &tokenizer);
        bundle.items.sort_by_key(|i| Stability::of(&i.source));
        let strategy = ContextStrategy::VARIANTS[strategy];
        let at = |budget| prune(&bundle, &StepSettings::new(budget, strategy), "", &tokenizer);
        if let (Ok(a), Ok(b)) = (at(budgets.0), at(budgets.1)) {
            let decisions = |p: &mrflow::context::PrunedContext| p.decisions.iter().map(|d| d.decision).collect::<Vec<_>>();
            let (da, db) = (decisions(&a), decisions(&b));
            let first_change = da.iter().zip(&db).position(|(x, y)| x != y).unwrap_or(da.len());
            let mut head = da.clone();
            head[first_change..].fill(Decision::Dropped);
            let head = assemble(&bundle, &head);
            let head = head.strip_suffix("[user]\n").unwrap_or(&head);
            prop_assert!(a.prompt.starts_with(head) && b.prompt.starts_with(head), "{:?} vs {:?}", da, db);
            for p in [&a, &b] {
                prop_assert!(p.stable_prefix <= p.tokens);
            }
            if first_change == da.len() {
                prop_assert_eq!(&a.prompt, &b.prompt);
                prop_assert_eq!(a.stable_prefix, b.stable_prefix);
            }
        }
    }

    #[test]
    fn the_flow_parser_never_panics_on_damaged_flows(index in 0usize..3, cut in any::<prop::sample::Index>(), junk in "[\\[\\]{}=\"#a-z0-9 \\n,]{0,12}") {
        let text = BUILTIN_FLOWS[index].1;
        let at = cut.index(text.len());
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let damaged = format!("{}{}{}", &text[..at], junk, &text[at..]);
        let _ = Flow::parse(&damaged, "damaged.toml");
        let _ = Flow::parse(&text[..at], "cut.toml");
    }

    #[test]
    fn the_loader_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400), header in any::<bool>()) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        if header {
            file.write_all(b"brand,units_sold,total_revenue,total_cost,profit\n").unwrap();
        }
        file.write_all(&bytes).unwrap();
        let _ = load_file(file.path(), &["brand", "units_sold", "total_revenue", "total_cost", "profit"]);
    }
}
