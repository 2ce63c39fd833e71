//! Writers of step answers. The engine hands an [`Analyst`] each step's pruned prompt and
//! facts; the offline analyst is the default and needs no network or key, the OpenAI
//! backend speaks to any OpenAI-compatible chat-completions server, the Anthropic backend to
//! the Messages API. Both network backends share one HTTP client loop ([`http`]).
//!
//! Why our own HTTP code rather than a client crate: `async-openai` and the Anthropic
//! crates model each API in full (hundreds of types) yet neither retries on `Retry-After`
//! with our cancel and timeout semantics nor redacts keys from echoed errors; `genai`
//! normalises usage across providers and loses the cache-write and cache-read split the
//! ledger prices. What we need is one POST and one SSE reader per dialect, ~300 lines.

mod anthropic;
mod http;
mod offline;
mod openai;
mod sse;

pub use crate::secret::ApiKey;
pub use anthropic::{ANTHROPIC_VERSION, AnthropicAnalyst, AnthropicSettings};
pub use offline::{OFFLINE_LABEL, OfflineAnalyst};
pub use openai::{OpenAiAnalyst, OpenAiSettings};

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, LlmBackend};
pub use crate::context::StablePrefix;
use crate::context::{Encoding, Messages};
use crate::flow::StepDef;
use crate::tools::Fact;

/// What an analyst may use to answer: the step, the exact prompt pruning produced, and the
/// facts that prompt carries.
#[derive(Debug, Clone)]
pub struct AnswerRequest<'a> {
    pub flow: &'a str,
    pub step: &'a StepDef,
    /// The flow's last step writes the final report.
    pub is_final: bool,
    /// The pruned prompt as chat messages, exactly the text whose tokens were counted.
    pub messages: Messages<'a>,
    /// The prompt's stable prefix, where a provider's cache breakpoint belongs.
    pub stable: StablePrefix,
    /// Facts of this step's own tools that the prompt carries.
    pub own_facts: &'a [Fact],
    /// Earlier steps' facts that the prompt carries, by step id, in flow order.
    pub upstream: Vec<(&'a str, &'a [Fact])>,
}

/// Token usage as a server reports it, kept beside our own exact count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Prompt tokens read from the provider's prompt cache (OpenAI's
    /// `prompt_tokens_details.cached_tokens`, Anthropic's `cache_read_input_tokens`); null
    /// when the server does not say.
    #[serde(default)]
    pub cached_tokens: Option<usize>,
    /// Prompt tokens written to the provider's cache, where a server reports it
    /// (`cache_creation_input_tokens`).
    #[serde(default)]
    pub cache_write_tokens: Option<usize>,
}

impl Usage {
    /// Two calls' usage together (an answer asked for twice).
    pub fn plus(self, other: Usage) -> Usage {
        let both = |a: Option<usize>, b: Option<usize>| a.zip(b).map(|(a, b)| a + b);
        Usage {
            prompt_tokens: self.prompt_tokens + other.prompt_tokens,
            completion_tokens: self.completion_tokens + other.completion_tokens,
            cached_tokens: both(self.cached_tokens, other.cached_tokens),
            cache_write_tokens: both(self.cache_write_tokens, other.cache_write_tokens),
        }
    }
}

/// An answer and, when a server wrote it, the usage the server reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub reported: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("cancelled")]
    Cancelled,
    #[error("{url}: no response within {} s (raise [llm] timeout_seconds)", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    #[error("{url}: cannot connect: {message}")]
    Connect { url: String, message: String },
    #[error("{url}: HTTP {status}: {message}{}", retries_note(*.attempts))]
    Status {
        url: String,
        status: u16,
        message: String,
        attempts: u32,
    },
    #[error("{url}: {message}")]
    Malformed { url: String, message: String },
    #[error("{0}")]
    Config(String),
}

fn retries_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (gave up after {attempts} attempts)")
    } else {
        String::new()
    }
}

pub trait Analyst: Send + Sync {
    /// Who writes the answers, for cache keys and reports: answers of different backends or
    /// models are not interchangeable. Never contains a secret.
    fn identity(&self) -> String;

    /// The model's name, for messages.
    fn name(&self) -> String {
        self.identity()
    }

    /// The model's context window in tokens, when known: a prompt plus
    /// [`answer_reserve`](Self::answer_reserve) must fit in it.
    fn context_window(&self) -> Option<usize> {
        None
    }

    /// Tokens a prompt must leave free for the answer.
    fn answer_reserve(&self) -> usize {
        0
    }

    /// What the analyst noticed and should say once (e.g. stream events of a type it does
    /// not know), taken so each is said once.
    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Answers from the request, passing partial text to `on_text` as it arrives. Called on
    /// a blocking thread; returns [`LlmError::Cancelled`] soon after `cancel` fires.
    fn answer(
        &self,
        request: &AnswerRequest<'_>,
        on_text: &mut dyn FnMut(&str),
        cancel: &CancellationToken,
    ) -> Result<Answer, LlmError>;
}

/// Why a prompt of `tokens` (counted in `encoding`: an estimate for a model with another
/// tokenizer) is not sent to `analyst`: with the answer's reserve it does not fit the
/// model's context window. None when it fits or the window is unknown.
pub fn window_problem(analyst: &dyn Analyst, tokens: usize, encoding: Encoding) -> Option<String> {
    let window = analyst.context_window()?;
    let reserve = analyst.answer_reserve();
    (tokens + reserve > window).then(|| {
        format!(
            "the prompt of {tokens} tokens (~, by {encoding}) and {reserve} for the answer do not fit {}'s context \
             window of {window} tokens",
            analyst.name()
        )
    })
}

/// The analyst the configuration asks for, writing as `model`; the model table supplies
/// its context window and minimum cacheable prefix.
pub fn from_config(config: &Config, model: &str) -> Result<Arc<dyn Analyst>, LlmError> {
    let settings = &config.llm;
    let card = config.model_card(model).map(|(_, c)| c);
    let window = card.and_then(|c| c.context_window);
    match settings.backend {
        LlmBackend::Offline => Ok(Arc::new(OfflineAnalyst)),
        LlmBackend::Openai => {
            let mut s = OpenAiSettings::from_config(settings, model)?;
            s.known_window = window;
            Ok(Arc::new(OpenAiAnalyst::new(s)?))
        }
        LlmBackend::Anthropic => {
            let minimum = config.cache_rule(model).min_tokens;
            Ok(Arc::new(AnthropicAnalyst::new(AnthropicSettings::from_config(
                settings, model, minimum, window,
            )?)?))
        }
    }
}
