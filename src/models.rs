//! What the tool knows of each model: its provider, list prices, prompt-cache rules, context
//! window and tokenizer, each entry dated and sourced. The table is data
//! (`assets/config/models.toml`, overridable in `config.toml`), because prices change more
//! often than code.

use serde::{Deserialize, Serialize};

/// The built-in table.
pub const BUILTIN_MODELS: &str = include_str!("../assets/config/models.toml");

/// Who serves a model, which decides how its prompt cache works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Provider {
    /// Caches only up to an explicit `cache_control` breakpoint, and charges for writes.
    Anthropic,
    /// Caches every prompt's prefix automatically, in 128-token steps.
    Openai,
    /// Gemini's implicit caching: automatic, like OpenAI's.
    Google,
    /// Anything else (a local server, another vendor): automatic prefix caching assumed.
    Other,
}

/// How a model's tokens are counted here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Tokenizer {
    /// Exact: the model's own encoding.
    O200kBase,
    /// Exact: the model's own encoding.
    Cl100kBase,
    /// The model has a tokenizer of its own that we do not ship: counts are o200k
    /// estimates, and every front end marks them so (`~1,502`).
    Estimated,
}

impl Tokenizer {
    /// Whether counts in this tokenizer are the model's own.
    pub fn exact(self) -> bool {
        self != Tokenizer::Estimated
    }
}

/// USD per million tokens written to the cache, by how long the entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheWrite {
    #[serde(rename = "5m", default, skip_serializing_if = "Option::is_none")]
    pub five_minutes: Option<f64>,
    #[serde(rename = "1h", default, skip_serializing_if = "Option::is_none")]
    pub one_hour: Option<f64>,
}

/// One model's entry. Every field but the optional ones must be given, in the built-in
/// table and in `config.toml` alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    pub provider: Provider,
    /// USD per million uncached input tokens.
    pub input: f64,
    /// USD per million output tokens.
    pub output: f64,
    /// USD per million input tokens read from the prompt cache; absent: no discount.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Where the provider charges for cache writes; absent: writes cost what input does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<CacheWrite>,
    /// A prefix shorter than this is never cached (and no error says so).
    pub min_cacheable_tokens: usize,
    #[serde(default)]
    pub context_window: Option<usize>,
    pub tokenizer: Tokenizer,
    /// The day these figures were read from `source` (YYYY-MM-DD).
    pub prices_as_of: String,
    pub source: String,
}

/// How long a cache entry lives (`[llm] cache_ttl`); Anthropic prices writes by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum CacheTtl {
    #[default]
    #[serde(rename = "5m")]
    #[strum(serialize = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    #[strum(serialize = "1h")]
    OneHour,
}

/// USD per million tokens, as a run is costed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Input read from the provider's prompt cache; absent when the model has no discount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Input written to the provider's cache, where the provider charges for writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

impl Price {
    /// USD per million cached input tokens (the full input price when there is no discount).
    pub fn cached_input(&self) -> f64 {
        self.cached_input.unwrap_or(self.input)
    }

    /// USD per million tokens written to the cache (the input price where writes are free).
    pub fn cache_write(&self) -> f64 {
        self.cache_write.unwrap_or(self.input)
    }
}

/// How a provider's prompt cache decides what it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// Every prompt's prefix, in whole blocks of `step` tokens (OpenAI: 128).
    Automatic { step: usize },
    /// Only up to a breakpoint the request places (Anthropic's `cache_control`).
    Breakpoints,
}

/// A model's prompt-cache rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheRule {
    /// Prefixes shorter than this are never cached.
    pub min_tokens: usize,
    pub mode: CacheMode,
}

impl Default for CacheRule {
    /// OpenAI's: from 1,024 tokens, in 128-token steps. Used for models the table lacks.
    fn default() -> Self {
        CacheRule {
            min_tokens: 1024,
            mode: CacheMode::Automatic { step: 128 },
        }
    }
}

impl ModelCard {
    /// The prices a run is costed at, writes at `ttl`'s price.
    pub fn price(&self, ttl: CacheTtl) -> Price {
        let write = self.cache_write.and_then(|w| match ttl {
            CacheTtl::FiveMinutes => w.five_minutes,
            CacheTtl::OneHour => w.one_hour.or(w.five_minutes),
        });
        Price {
            input: self.input,
            output: self.output,
            cached_input: self.cached_input,
            cache_write: write,
        }
    }

    pub fn cache_rule(&self) -> CacheRule {
        CacheRule {
            min_tokens: self.min_cacheable_tokens,
            mode: match self.provider {
                Provider::Anthropic => CacheMode::Breakpoints,
                Provider::Openai => CacheMode::Automatic { step: 128 },
                Provider::Google | Provider::Other => CacheMode::Automatic { step: 1 },
            },
        }
    }

    /// What is wrong with the entry, if anything: a figure below zero or a date that is
    /// not YYYY-MM-DD.
    pub fn problem(&self) -> Option<String> {
        let prices = [
            ("input", Some(self.input)),
            ("output", Some(self.output)),
            ("cached_input", self.cached_input),
            ("cache_write.5m", self.cache_write.and_then(|w| w.five_minutes)),
            ("cache_write.1h", self.cache_write.and_then(|w| w.one_hour)),
        ];
        if let Some((field, v)) = prices
            .iter()
            .find(|(_, v)| v.is_some_and(|v| !v.is_finite() || v < 0.0))
        {
            return Some(format!(
                "`{field}` must be a price of zero or more USD per million tokens, not {v:?}"
            ));
        }
        if chrono::NaiveDate::parse_from_str(&self.prices_as_of, "%Y-%m-%d").is_err() {
            return Some(format!(
                "`prices_as_of` must be a date like 2026-12-06, not {:?}",
                self.prices_as_of
            ));
        }
        None
    }
}

/// The name a model's entry is kept under: `name` itself, without a provider prefix
/// (`anthropic/claude-sonnet-5-5`), or without a snapshot date (`gpt-4o-2024-08-06`,
/// `claude-haiku-4-5-20251001`); the first of these `known` holds.
pub fn family(name: &str, known: impl Fn(&str) -> bool) -> Option<&str> {
    let bare = name.rsplit('/').next().unwrap_or(name);
    [name, bare, undated(bare)].into_iter().find(|n| known(n))
}

/// A model name without its snapshot date: `gpt-4o-2024-08-06` → `gpt-4o`,
/// `claude-opus-4-5-20251101` → `claude-opus-4-5`.
fn undated(model: &str) -> &str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, date)) = model.rsplit_once('-')
        && date.len() == 8
        && digits(date)
    {
        return head;
    }
    let parts: Vec<&str> = model.rsplitn(4, '-').collect();
    if let [day, month, year, head] = parts.as_slice()
        && (year.len(), month.len(), day.len()) == (4, 2, 2)
        && [year, month, day].iter().all(|p| digits(p))
    {
        return head;
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_prefixed_names_find_their_family() {
        let known = |n: &str| ["gpt-4o", "claude-opus-4-5", "gpt-4o-mini"].contains(&n);
        assert_eq!(family("gpt-4o-2024-08-06", known), Some("gpt-4o"));
        assert_eq!(family("openai/gpt-4o-mini", known), Some("gpt-4o-mini"));
        assert_eq!(family("claude-opus-4-5-20251101", known), Some("claude-opus-4-5"));
        assert_eq!(family("anthropic/claude-opus-4-5", known), Some("claude-opus-4-5"));
        assert_eq!(family("gpt-4o-2024-08", known), None, "not a snapshot date");
        assert_eq!(family("llama3.1", known), None);
    }

    #[test]
    fn writes_are_priced_by_the_entry_lifetime() {
        let card = ModelCard {
            provider: Provider::Anthropic,
            input: 2.0,
            output: 10.0,
            cached_input: Some(0.2),
            cache_write: Some(CacheWrite {
                five_minutes: Some(2.5),
                one_hour: Some(4.0),
            }),
            min_cacheable_tokens: 1024,
            context_window: None,
            tokenizer: Tokenizer::Estimated,
            prices_as_of: "2026-12-06".into(),
            source: "test".into(),
        };
        assert_eq!(card.price(CacheTtl::FiveMinutes).cache_write, Some(2.5));
        assert_eq!(card.price(CacheTtl::OneHour).cache_write, Some(4.0));
        assert_eq!(card.cache_rule().mode, CacheMode::Breakpoints);
        assert_eq!(card.problem(), None);
        let bad = ModelCard {
            prices_as_of: "Dec 2026".into(),
            ..card.clone()
        };
        assert!(bad.problem().unwrap().contains("prices_as_of"));
        let negative = ModelCard { input: -1.0, ..card };
        assert!(negative.problem().unwrap().contains("`input`"));
    }
}
