//! Exact token counts with the encodings OpenAI models use.
//!
//! Counting uses `bpe-openai` (GitHub's linear-time BPE): the same tokens as tiktoken, but
//! its tables are deserialized rather than built at start-up and number-heavy text counts
//! about twice as fast. build.rs writes its tables again as bincode, which loads o200k in
//! about 20 ms (its own MessagePack about 31 ms, tiktoken-rs builds them in 130 ms). `tests/core/tokenizer_parity.rs`
//! checks the counts against tiktoken-rs on real prompts and random text.
//!
//! Each encoding is loaded once per process, on first use or by [`warm_up`] on a background
//! thread so start-up never waits for it. Counts are memoized by the blake3 hash of the
//! text, so re-pruning after a small change only encodes what changed.

use std::fmt;
use std::sync::LazyLock;

use bpe_openai::Tokenizer as Bpe;
use bpe_openai::byte_pair_encoding::BytePairEncoding;
use serde::{Deserialize, Serialize};

use super::memo::Memo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[strum(serialize = "o200k_base")]
    O200kBase,
    #[strum(serialize = "cl100k_base")]
    Cl100kBase,
}

impl Encoding {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }

    /// The encoding a model name uses. GPT-4o, GPT-4.1, GPT-5 and the o-series use
    /// `o200k_base`; GPT-4, GPT-3.5 and the `text-embedding-3` models use `cl100k_base`.
    /// Other models (local ones served through an OpenAI-compatible API) have tokenizers of
    /// their own; `o200k_base` is the closest stand-in, and the model name says which.
    pub fn for_model(model: &str) -> Encoding {
        let m = model.to_ascii_lowercase();
        let m = m.rsplit('/').next().unwrap_or(&m);
        let cl100k = ["gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada"];
        if m == "gpt-4" || cl100k.iter().any(|p| m.starts_with(p)) && !m.starts_with("gpt-4o") {
            Encoding::Cl100kBase
        } else {
            Encoding::O200kBase
        }
    }

    fn bpe(&self) -> &'static Bpe {
        match self {
            Encoding::O200kBase => &O200K_BASE,
            Encoding::Cl100kBase => &CL100K_BASE,
        }
    }
}

// The encodings as bpe-openai builds them (its patterns, copied), from the tables build.rs
// wrote as bincode.
static O200K_BASE: LazyLock<Bpe> = LazyLock::new(|| {
    let pieces = [
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        "\\p{N}{1,3}",
        " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*",
        "\\s*[\\r\\n]+",
        "\\s+$",
    ];
    tokenizer(
        include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.bincode")),
        &pieces.join("|"),
    )
});

static CL100K_BASE: LazyLock<Bpe> = LazyLock::new(|| {
    tokenizer(
        include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.bincode")),
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+$",
    )
});

/// A tokenizer from its tables and its first pattern; the look-ahead patterns bpe-openai
/// adds are the same for both encodings.
fn tokenizer(tables: &[u8], pattern: &str) -> Bpe {
    let config = bincode::config::standard().with_fixed_int_encoding();
    let (bpe, _): (BytePairEncoding, usize) =
        bincode::serde::decode_from_slice(tables, config).expect("build.rs wrote the tables");
    Bpe::new_lookahead(bpe, &[(pattern, false), ("\\s+\\s", true), ("\\s+", false)], false)
        .expect("bpe-openai's patterns compile")
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Loads an encoding on a background thread, so the first count does not wait for it.
pub fn warm_up(encoding: Encoding) {
    std::thread::spawn(move || {
        encoding.bpe();
    });
}

/// Token counts by encoding and blake3 of the text (about 10 MB when full).
static COUNTS: LazyLock<Memo<(Encoding, [u8; 32]), usize>> = LazyLock::new(|| Memo::new(200_000));

/// Prefix token counts by encoding, blake3 of the text and the prefix's length in bytes: the
/// what-if re-prunes the same prompts on every keypress.
static PREFIXES: LazyLock<Memo<PrefixKey, usize>> = LazyLock::new(|| Memo::new(200_000));

/// Encoding, blake3 of the text, bytes of the prefix.
type PrefixKey = (Encoding, [u8; 32], usize);

/// Counts tokens in one encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokenizer {
    pub encoding: Encoding,
}

impl Tokenizer {
    pub fn new(encoding: Encoding) -> Self {
        Tokenizer { encoding }
    }

    pub fn for_model(model: &str) -> Self {
        Tokenizer::new(Encoding::for_model(model))
    }

    /// Exact number of tokens in `text` (special-token text counts as ordinary text).
    pub fn count(&self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        let key = (self.encoding, *blake3::hash(text.as_bytes()).as_bytes());
        COUNTS.get_or_insert_with(key, || self.count_uncached(text))
    }

    /// Counts without the memo, for benchmarks and for checking the memo.
    pub fn count_uncached(&self, text: &str) -> usize {
        self.encoding.bpe().count(text)
    }

    /// Tokens of `text` that lie wholly within its first `bytes` bytes: the part of a
    /// prompt's token sequence that a byte-identical prefix fixes.
    pub fn prefix_tokens(&self, text: &str, bytes: usize) -> usize {
        if bytes >= text.len() {
            return self.count(text);
        }
        let key = (self.encoding, *blake3::hash(text.as_bytes()).as_bytes(), bytes);
        PREFIXES.get_or_insert_with(key, || {
            let bpe = self.encoding.bpe();
            let mut end = 0;
            bpe.encode(text)
                .into_iter()
                .take_while(|&t| {
                    end += bpe.bpe.token_len(t);
                    end <= bytes
                })
                .count()
        })
    }

    /// The tokens of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.encoding.bpe().encode(text)
    }

    /// The longest prefix of `text` that is at most `max_tokens` tokens and ends on a token
    /// boundary (and a character boundary).
    pub fn truncate<'a>(&self, text: &'a str, max_tokens: usize) -> &'a str {
        let bpe = self.encoding.bpe();
        let tokens = bpe.encode(text);
        if tokens.len() <= max_tokens {
            return text;
        }
        // Byte length of the first `n` tokens; a multi-byte character split across tokens is
        // left out whole.
        let bytes: usize = tokens[..max_tokens].iter().map(|&t| bpe.bpe.token_len(t)).sum();
        let mut end = bytes.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_map_to_encodings() {
        for m in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1-mini",
            "o3-mini",
            "gpt-5",
            "openai/gpt-4o",
            "llama3.1",
        ] {
            assert_eq!(Encoding::for_model(m), Encoding::O200kBase, "{m}");
        }
        for m in ["gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "text-embedding-3-small"] {
            assert_eq!(Encoding::for_model(m), Encoding::Cl100kBase, "{m}");
        }
    }

    #[test]
    fn counts_match_known_values_and_the_memo() {
        let t = Tokenizer::new(Encoding::Cl100kBase);
        assert_eq!(t.count("hello world"), 2);
        assert_eq!(t.count(""), 0);
        let o = Tokenizer::new(Encoding::O200kBase);
        let text = "Revenue 422718.16000000003 in Q3, margin 41.9% — naïve café";
        assert_eq!(o.count(text), o.count_uncached(text));
        assert_eq!(o.count(text), o.count(text));
    }

    #[test]
    fn the_tables_count_as_bpe_openai_loads_them() {
        let text = "Revenue 422718.16000000003 in Q3, margin 41.9% — naïve café's DON'T\r\n\n  日本語 🎉 x  ";
        for (ours, theirs) in [
            (&*O200K_BASE, bpe_openai::o200k_base()),
            (&*CL100K_BASE, bpe_openai::cl100k_base()),
        ] {
            assert_eq!(ours.encode(text), theirs.encode(text));
            let sample = include_str!("../../sample-data/beverage_sales.csv");
            assert_eq!(ours.count(sample), theirs.count(sample));
        }
    }

    #[test]
    fn truncation_ends_on_a_token_boundary_and_never_splits_characters() {
        let t = Tokenizer::new(Encoding::O200kBase);
        let text = "Überraschung: 日本語のテキスト and emoji 🎉🎉 with numbers 12345.678";
        for n in 0..t.count(text) + 2 {
            let cut = t.truncate(text, n);
            assert!(text.starts_with(cut));
            assert!(t.count(cut) <= n, "{n}: {cut:?}");
        }
        assert_eq!(t.truncate(text, 1000), text);
    }
}
