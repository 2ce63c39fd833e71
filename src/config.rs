//! Configuration, layered: the embedded default < the user's `config.toml` < `MRFLOW_*`
//! environment variables < command-line flags (applied by the caller).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::models::Price;
use crate::models::{BUILTIN_MODELS, CacheRule, CacheTtl, ModelCard, Provider, Tokenizer, family};

pub const DEFAULT_CONFIG: &str = include_str!("../assets/config/default.toml");

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub model: String,
    /// What is known of each model: prices, cache rules, window, tokenizer (see
    /// [`crate::models`]); the built-in table with `config.toml`'s `[models]` over it.
    pub models: BTreeMap<String, ModelCard>,
    /// TUI key bindings over the defaults: key → action.
    pub keys: BTreeMap<String, String>,
    /// `default` or `mono`.
    pub theme: String,
    pub cache: CacheSettings,
    pub llm: LlmSettings,
    pub memory: MemorySettings,
    pub data: DataSettings,
}

/// The `[data]` table: how data files map to roles when detection is not enough.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// role → column, e.g. `brand = "Sub-Category"`.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// `dmy`, `mdy`, `ymd` or a chrono pattern such as `%d.%m.%Y`.
    #[serde(default)]
    pub date_format: Option<String>,
    /// The sheet of a workbook to read (default: the first).
    #[serde(default)]
    pub sheet: Option<String>,
}

/// The `[llm]` table: which backend writes step answers, and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmSettings {
    pub backend: LlmBackend,
    /// The server; unset: the backend's own (see [`LlmSettings::base_url`]).
    pub base_url: Option<String>,
    /// The environment variable that holds the API key; the key itself is never in a file.
    /// Unset: the backend's own (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`).
    pub api_key_env: Option<String>,
    pub timeout_seconds: u64,
    pub max_retries: u32,
    pub stream: bool,
    /// Send OpenAI's `prompt_cache_key` (flow and step) when the server is OpenAI's.
    pub prompt_cache_key: bool,
    /// OpenAI's `prompt_cache_retention` (`in_memory` or `24h`), sent to api.openai.com
    /// when set.
    pub prompt_cache_retention: Option<String>,
    /// How long a cache entry written at a breakpoint lives (Anthropic's `cache_control`
    /// TTL); writes are priced by it.
    pub cache_ttl: CacheTtl,
    /// Sampling temperature sent with each request (0: the likeliest answer, repeatable);
    /// not sent to OpenAI's reasoning models, which accept only their own.
    pub temperature: f64,
    /// Sampling seed, for servers that honour one (llama.cpp, vLLM, Ollama, OpenAI).
    pub seed: Option<u64>,
    /// The longest answer asked for, in tokens; also what a prompt must leave room for in
    /// the model's context window.
    pub max_tokens: u32,
    /// The model's context window in tokens; unset: the pricing table's, else what the
    /// server says (llama.cpp `/props`, `/v1/models`).
    pub context_window: Option<usize>,
    /// What follows an answer that lacks its step's critical figures or states figures the
    /// prompt does not hold.
    pub answer_check: AnswerPolicy,
}

/// What the engine does with an answer the fact check flags. Every flagged answer is marked
/// on its step, and later steps get the exact figures whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AnswerPolicy {
    /// A final report that lacks critical figures is completed by one short second call:
    /// the model is given only the missing figures and writes a "Key figures" section,
    /// appended to its report (a few hundred tokens, counted). Other steps are marked.
    #[default]
    CompleteReport,
    /// Every flagged answer is asked for once more, the whole prompt with a note naming the
    /// missing and unsupported figures; the better answer is kept (its tokens counted).
    Retry,
    /// Keep every answer as written.
    Mark,
}

/// Who writes step answers: `[llm] backend` in config, `--llm` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LlmBackend {
    /// The deterministic offline analyst: no network, no key.
    Offline,
    /// Any OpenAI-compatible chat-completions server.
    Openai,
    /// Anthropic's Messages API, with prompt-cache breakpoints.
    Anthropic,
}

/// Where insights persist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryBackend {
    /// SQLite with full-text search in the data directory.
    Local,
    /// A Mem0 server.
    Mem0,
    /// No long-term memory.
    Off,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmLayer {
    backend: Option<LlmBackend>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    timeout_seconds: Option<u64>,
    max_retries: Option<u32>,
    stream: Option<bool>,
    prompt_cache_key: Option<bool>,
    prompt_cache_retention: Option<String>,
    cache_ttl: Option<CacheTtl>,
    temperature: Option<f64>,
    seed: Option<u64>,
    max_tokens: Option<u32>,
    context_window: Option<usize>,
    answer_check: Option<AnswerPolicy>,
}

/// The `[memory]` table: where insights persist and how many a step may be given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorySettings {
    pub backend: MemoryBackend,
    pub limit: usize,
    pub max_tokens: usize,
    pub mem0_base_url: String,
    pub mem0_api_key_env: String,
    pub mem0_user_id: String,
    pub timeout_seconds: u64,
    /// Findings are kept under this project and recalled from it (as well as from earlier
    /// analyses of the same data source).
    pub project: Option<String>,
    /// Recall from every data source: off by default, so one dataset's findings never reach
    /// another's prompts.
    pub across_data: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemoryLayer {
    backend: Option<MemoryBackend>,
    limit: Option<usize>,
    max_tokens: Option<usize>,
    mem0_base_url: Option<String>,
    mem0_api_key_env: Option<String>,
    mem0_user_id: Option<String>,
    timeout_seconds: Option<u64>,
    project: Option<String>,
    across_data: Option<bool>,
}

/// The `[cache]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub ttl_seconds: u64,
    /// Seconds by tool name.
    #[serde(default)]
    pub ttl: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheLayer {
    memory_mb: Option<u64>,
    disk_mb: Option<u64>,
    ttl_seconds: Option<u64>,
    #[serde(default)]
    ttl: BTreeMap<String, u64>,
}

/// One layer as written in a file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    model: Option<String>,
    theme: Option<String>,
    /// Price-only overrides (the older form): an entry updates a known model's prices or
    /// adds a model with OpenAI's cache rules and estimated counts.
    #[serde(default)]
    pricing: BTreeMap<String, Price>,
    #[serde(default)]
    models: BTreeMap<String, ModelCard>,
    #[serde(default)]
    keys: BTreeMap<String, String>,
    cache: Option<CacheLayer>,
    llm: Option<LlmLayer>,
    memory: Option<MemoryLayer>,
    data: Option<DataSettings>,
}

#[derive(Debug, thiserror::Error)]
#[error("{origin}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

fn parse(text: &str, origin: &str) -> Result<Layer, ConfigError> {
    let layer: Layer = toml::from_str(text).map_err(|e| ConfigError {
        origin: origin.to_string(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().trim().to_string(),
    })?;
    for (name, card) in &layer.models {
        if let Some(problem) = card.problem() {
            return Err(ConfigError {
                origin: origin.to_string(),
                line: text
                    .lines()
                    .position(|l| l.trim_start().starts_with("[models.") && l.contains(name.as_str()))
                    .map(|n| n + 1),
                message: format!("[models.\"{name}\"]: {problem}"),
            });
        }
    }
    Ok(layer)
}

impl Config {
    /// The embedded default alone.
    pub fn default_only() -> Config {
        let layer = parse(DEFAULT_CONFIG, "default config").expect("the default config parses (tested)");
        let table = parse(BUILTIN_MODELS, "built-in model table").expect("the model table parses (tested)");
        let mut config = Config {
            model: layer.model.expect("default sets a model"),
            models: table.models,
            keys: layer.keys,
            theme: layer.theme.unwrap_or_else(|| "default".into()),
            cache: {
                let c = layer.cache.expect("default has [cache]");
                CacheSettings {
                    memory_mb: c.memory_mb.expect("default sets memory_mb"),
                    disk_mb: c.disk_mb.expect("default sets disk_mb"),
                    ttl_seconds: c.ttl_seconds.expect("default sets ttl_seconds"),
                    ttl: c.ttl,
                }
            },
            llm: {
                let l = layer.llm.expect("default has [llm]");
                LlmSettings {
                    backend: l.backend.expect("default sets backend"),
                    base_url: l.base_url,
                    api_key_env: l.api_key_env,
                    timeout_seconds: l.timeout_seconds.expect("default sets timeout_seconds"),
                    max_retries: l.max_retries.expect("default sets max_retries"),
                    stream: l.stream.expect("default sets stream"),
                    prompt_cache_key: l.prompt_cache_key.expect("default sets prompt_cache_key"),
                    prompt_cache_retention: l.prompt_cache_retention,
                    cache_ttl: l.cache_ttl.unwrap_or_default(),
                    temperature: l.temperature.expect("default sets temperature"),
                    seed: l.seed,
                    max_tokens: l.max_tokens.expect("default sets max_tokens"),
                    context_window: l.context_window,
                    answer_check: l.answer_check.expect("default sets answer_check"),
                }
            },
            memory: {
                let m = layer.memory.expect("default has [memory]");
                MemorySettings {
                    backend: m.backend.expect("default sets backend"),
                    limit: m.limit.expect("default sets limit"),
                    max_tokens: m.max_tokens.expect("default sets max_tokens"),
                    mem0_base_url: m.mem0_base_url.expect("default sets mem0_base_url"),
                    mem0_api_key_env: m.mem0_api_key_env.expect("default sets mem0_api_key_env"),
                    mem0_user_id: m.mem0_user_id.expect("default sets mem0_user_id"),
                    timeout_seconds: m.timeout_seconds.expect("default sets timeout_seconds"),
                    project: m.project,
                    across_data: m.across_data.unwrap_or(false),
                }
            },
            data: layer.data.unwrap_or_default(),
        };
        config.apply_prices(layer.pricing);
        config
    }

    /// Default, then `config.toml` in `config_dir` if present, then the environment.
    pub fn load(config_dir: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::default_only();
        let path: PathBuf = config_dir.join("config.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => config.apply(parse(&text, &path.display().to_string())?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError {
                    origin: path.display().to_string(),
                    line: None,
                    message: format!("cannot read: {e}"),
                });
            }
        }
        if let Some(model) = std::env::var("MRFLOW_MODEL").ok().filter(|m| !m.is_empty()) {
            config.model = model;
        }
        Ok(config)
    }

    fn apply(&mut self, layer: Layer) {
        if let Some(model) = layer.model {
            self.model = model;
        }
        if let Some(theme) = layer.theme {
            self.theme = theme;
        }
        self.models.extend(layer.models);
        self.apply_prices(layer.pricing);
        self.keys.extend(layer.keys);
        if let Some(c) = layer.cache {
            self.cache.memory_mb = c.memory_mb.unwrap_or(self.cache.memory_mb);
            self.cache.disk_mb = c.disk_mb.unwrap_or(self.cache.disk_mb);
            self.cache.ttl_seconds = c.ttl_seconds.unwrap_or(self.cache.ttl_seconds);
            self.cache.ttl.extend(c.ttl);
        }
        if let Some(l) = layer.llm {
            let s = &mut self.llm;
            s.backend = l.backend.unwrap_or(s.backend);
            s.base_url = l.base_url.or(s.base_url.take());
            s.api_key_env = l.api_key_env.or(s.api_key_env.take());
            s.timeout_seconds = l.timeout_seconds.unwrap_or(s.timeout_seconds);
            s.max_retries = l.max_retries.unwrap_or(s.max_retries);
            s.stream = l.stream.unwrap_or(s.stream);
            s.prompt_cache_key = l.prompt_cache_key.unwrap_or(s.prompt_cache_key);
            s.prompt_cache_retention = l.prompt_cache_retention.or(s.prompt_cache_retention.take());
            s.cache_ttl = l.cache_ttl.unwrap_or(s.cache_ttl);
            s.temperature = l.temperature.unwrap_or(s.temperature);
            s.seed = l.seed.or(s.seed);
            s.max_tokens = l.max_tokens.unwrap_or(s.max_tokens);
            s.context_window = l.context_window.or(s.context_window);
            s.answer_check = l.answer_check.unwrap_or(s.answer_check);
        }
        if let Some(d) = layer.data {
            self.data.columns.extend(d.columns);
            self.data.date_format = d.date_format.or(self.data.date_format.take());
            self.data.sheet = d.sheet.or(self.data.sheet.take());
        }
        if let Some(m) = layer.memory {
            let s = &mut self.memory;
            s.backend = m.backend.unwrap_or(s.backend);
            s.limit = m.limit.unwrap_or(s.limit);
            s.max_tokens = m.max_tokens.unwrap_or(s.max_tokens);
            s.mem0_base_url = m.mem0_base_url.unwrap_or(std::mem::take(&mut s.mem0_base_url));
            s.mem0_api_key_env = m.mem0_api_key_env.unwrap_or(std::mem::take(&mut s.mem0_api_key_env));
            s.mem0_user_id = m.mem0_user_id.unwrap_or(std::mem::take(&mut s.mem0_user_id));
            s.timeout_seconds = m.timeout_seconds.unwrap_or(s.timeout_seconds);
            s.project = m.project.or(s.project.take());
            s.across_data = m.across_data.unwrap_or(s.across_data);
        }
    }

    /// `[pricing]` entries: a known model's prices replaced, an unknown one added with
    /// OpenAI's cache rules and estimated counts.
    fn apply_prices(&mut self, prices: BTreeMap<String, Price>) {
        for (name, price) in prices {
            let card = self.models.entry(name).or_insert_with(|| ModelCard {
                provider: Provider::Other,
                input: 0.0,
                output: 0.0,
                cached_input: None,
                cache_write: None,
                min_cacheable_tokens: CacheRule::default().min_tokens,
                context_window: None,
                tokenizer: Tokenizer::Estimated,
                prices_as_of: "2026-01-01".into(),
                source: "config.toml [pricing]".into(),
            });
            card.input = price.input;
            card.output = price.output;
            card.cached_input = price.cached_input;
            if price.cache_write.is_some() {
                card.cache_write = Some(crate::models::CacheWrite {
                    five_minutes: price.cache_write,
                    one_hour: price.cache_write,
                });
            }
            card.source = "config.toml [pricing]".into();
        }
    }

    /// The entry for `model`: its own, else its family's (a dated snapshot or a
    /// provider-prefixed name takes its family's entry).
    pub fn model_card(&self, model: &str) -> Option<(&str, &ModelCard)> {
        let name = family(model, |n| self.models.contains_key(n))?;
        self.models.get_key_value(name).map(|(k, v)| (k.as_str(), v))
    }

    /// The price of `model`, writes at the configured cache TTL; None when the table does
    /// not know the model.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.model_card(model).map(|(_, card)| card.price(self.llm.cache_ttl))
    }

    /// The prompt-cache rules `model` is costed by (OpenAI's for a model the table lacks).
    pub fn cache_rule(&self, model: &str) -> CacheRule {
        self.model_card(model).map(|(_, c)| c.cache_rule()).unwrap_or_default()
    }

    /// Whether token counts for `model` are exact: its tokenizer is one we ship. A model the
    /// table lacks is exact when its name is one of OpenAI's.
    pub fn counts_exact(&self, model: &str) -> bool {
        match self.model_card(model) {
            Some((_, card)) => card.tokenizer.exact(),
            None => {
                let bare = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
                ["gpt-", "o1", "o3", "o4", "text-embedding"]
                    .iter()
                    .any(|p| bare.starts_with(p))
            }
        }
    }
}

impl LlmSettings {
    /// The server: the configured one, else the backend's own.
    pub fn base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or(match self.backend {
            LlmBackend::Anthropic => "https://api.anthropic.com",
            LlmBackend::Offline | LlmBackend::Openai => "https://api.openai.com/v1",
        })
    }

    /// The variable that holds the key: the configured one, else the backend's own.
    pub fn api_key_env(&self) -> &str {
        self.api_key_env.as_deref().unwrap_or(match self.backend {
            LlmBackend::Anthropic => "ANTHROPIC_API_KEY",
            LlmBackend::Offline | LlmBackend::Openai => "OPENAI_API_KEY",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_parses_with_prices() {
        let c = Config::default_only();
        assert_eq!(c.model, "gpt-4o-mini");
        assert_eq!(
            c.price("gpt-4o"),
            Some(Price {
                input: 2.5,
                output: 10.0,
                cached_input: Some(1.25),
                cache_write: None,
            })
        );
        for model in ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"] {
            let (_, card) = c.model_card(model).unwrap_or_else(|| panic!("{model} is known"));
            assert_eq!(card.provider, Provider::Anthropic);
            assert!(card.cache_write.is_some() && card.context_window.is_some(), "{model}");
        }
        assert!(c.model_card("gemini-3-pro-preview").is_some() && c.model_card("gpt-5.6-terra").is_some());
        assert_eq!(
            c.model_card("claude-haiku-4-5-20251001").map(|(n, _)| n),
            Some("claude-haiku-4-5")
        );
        assert!(!c.counts_exact("claude-sonnet-5-5") && c.counts_exact("gpt-5.4") && !c.counts_exact("llama3"));
        for model in ["gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "o3", "o4-mini"] {
            let p = c.price(model).unwrap_or_else(|| panic!("{model} has a price"));
            assert!(p.cached_input() < p.input, "{model}");
        }
        assert_eq!(c.price("gpt-4o-2024-08-06"), c.price("gpt-4o"));
        assert_eq!(c.price("openai/gpt-4o-mini"), c.price("gpt-4o-mini"));
        assert_eq!(c.price("llama3.1"), None);
        assert_eq!(c.price("gpt-4o-2024-08"), None, "not a snapshot date");
        assert!(c.llm.prompt_cache_key);
    }

    #[test]
    fn user_file_overrides_and_extends() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "model = \"gpt-4o\"\n[pricing]\n\"local\" = { input = 0.0, output = 0.0 }\n",
        )
        .unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert!(c.price("local").is_some() && c.price("gpt-4o-mini").is_some());
        assert_eq!(c.model_card("local").unwrap().1.source, "config.toml [pricing]");
    }

    #[test]
    fn a_model_entry_missing_a_field_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let entry = "[models.\"acme-1\"]\nprovider = \"other\"\ninput = 1.0\noutput = 2.0\nmin_cacheable_tokens = 0\n\
                     tokenizer = \"estimated\"\nsource = \"acme.example/pricing\"\n";
        std::fs::write(&path, format!("model = \"acme-1\"\n\n{entry}")).unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:3: missing field `prices_as_of`", path.display())),
            "{err}"
        );
        std::fs::write(&path, format!("{entry}prices_as_of = \"soon\"\n")).unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(":1: [models.\"acme-1\"]: `prices_as_of` must be a date"),
            "{err}"
        );
        std::fs::write(&path, format!("{entry}prices_as_of = \"2026-12-01\"\n")).unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.price("acme-1").map(|p| p.output), Some(2.0));
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "model = \"x\"\ncolour = 1\n").unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:2: unknown field `colour`", path.display())),
            "{err}"
        );
        std::fs::write(&path, "model = 5\n").unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(":1: invalid type: integer `5`, expected a string"),
            "{err}"
        );
    }
}
