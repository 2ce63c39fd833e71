//! Our token counts (bpe-openai) are tiktoken's, exactly: on the texts the tool counts
//! (data, prompts, docs) and on random text full of the cases tokenizers get wrong.

use mrflow::context::{Encoding, Tokenizer};
use proptest::prelude::*;

fn reference(encoding: Encoding) -> &'static tiktoken_rs::CoreBPE {
    match encoding {
        Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
    }
}

fn same(text: &str) {
    for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
        let ours = Tokenizer::new(encoding).count_uncached(text);
        let theirs = reference(encoding).encode_ordinary(text).len();
        assert_eq!(ours, theirs, "{encoding} on {:?}", &text[..text.len().min(200)]);
    }
}

#[test]
fn the_texts_we_count_count_the_same() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = std::fs::read_to_string(root.join("sample-data/beverage_sales.csv")).unwrap();
    // Whole, and line by line (pre-tokenization edges at every line end).
    same(&sample[..200_000]);
    for line in sample.lines().take(2_000) {
        same(line);
    }
    for file in [
        "README.md",
        "assets/flows/roi_analysis.toml",
        "src/context/prune.rs",
        "src/tools/budget.rs",
    ] {
        same(&std::fs::read_to_string(root.join(file)).unwrap());
    }
}

/// Pieces that stress pre-tokenization: contractions, numbers of every length, runs of
/// spaces and newlines, non-Latin scripts, emoji, combining marks, punctuation runs.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]{1,12}",
        "[0-9]{1,9}(\\.[0-9]{1,6})?",
        "[ \t\n\r]{1,6}",
        "('s|'t|'re|'ve|'m|'ll|'d|'S|'LL)",
        "[$€%#@&*()\\[\\]{},.;:!?/\\\\|_+=<>~`\"'-]{1,5}",
        "[àéîõüçñßøÅÆŒ]{1,4}",
        "[日本語のテキスト中文한국어]{1,6}",
        "[αβγδεζηθ]{1,5}|[абвгдежз]{1,5}",
        "(🎉|👍🏽|🇫🇷|❤️|e\u{301}|\u{200d})",
        "[ \u{a0}\u{2003}]{1,3}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn random_text_counts_the_same(pieces in proptest::collection::vec(piece(), 0..40)) {
        same(&pieces.concat());
    }
}
