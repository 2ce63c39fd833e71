//! Any OpenAI-compatible chat-completions server: OpenAI, Gemini's OpenAI endpoint, Ollama,
//! vLLM, llama.cpp's server. Streams by SSE and keeps the usage the server reports (cached
//! and cache-write tokens where it says); retries and errors are [`super::http`]'s.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::http::{self, Dialect, Endpoint, StreamReader, Streamed};
use super::{Analyst, Answer, AnswerRequest, ApiKey, LlmError, Usage};
use crate::config::LlmSettings;

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    /// No response, or no streamed chunk, within this ends the attempt.
    pub timeout: Duration,
    pub max_retries: u32,
    pub stream: bool,
    /// Send `prompt_cache_key`: set only for OpenAI's own API, which documents it.
    pub prompt_cache_key: bool,
    /// `prompt_cache_retention`, sent only to OpenAI's own API.
    pub prompt_cache_retention: Option<String>,
    /// The first wait after a 429/5xx without `Retry-After`; doubles each retry.
    pub backoff: Duration,
    /// Sent unless the model takes none (OpenAI's reasoning models).
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    pub max_tokens: u32,
    /// The model's context window when configured; otherwise asked of the server once.
    pub context_window: Option<usize>,
    /// The model table's window, for a server that does not say its own.
    pub known_window: Option<usize>,
    /// OpenAI's own API, which names the answer limit `max_completion_tokens`.
    pub is_openai: bool,
}

/// OpenAI's reasoning models reject any temperature but their own.
fn takes_temperature(model: &str) -> bool {
    let bare = model.rsplit('/').next().unwrap_or(model);
    !["o1", "o3", "o4", "gpt-5"].iter().any(|p| bare.starts_with(p))
}

impl OpenAiSettings {
    /// From `[llm]`, with the key from the environment variable it names.
    pub fn from_config(settings: &LlmSettings, model: &str) -> Result<OpenAiSettings, LlmError> {
        let base_url = settings.base_url().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base_url)
            .map_err(|e| LlmError::Config(format!("[llm] base_url: `{base_url}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(LlmError::Config(format!(
                "[llm] base_url: `{base_url}` must start with http:// or https://"
            )));
        }
        let api_key = ApiKey::from_env(settings.api_key_env());
        let is_openai = url.host_str() == Some("api.openai.com");
        if api_key.is_none() && is_openai {
            return Err(LlmError::Config(format!(
                "the openai backend needs an API key for {base_url}: set {} (or point --base-url at a local \
                 server, or use --llm offline)",
                settings.api_key_env()
            )));
        }
        Ok(OpenAiSettings {
            base_url,
            model: model.to_string(),
            api_key,
            timeout: Duration::from_secs(settings.timeout_seconds.max(1)),
            max_retries: settings.max_retries,
            stream: settings.stream,
            prompt_cache_key: settings.prompt_cache_key && is_openai,
            prompt_cache_retention: settings.prompt_cache_retention.clone().filter(|_| is_openai),
            backoff: Duration::from_millis(500),
            temperature: takes_temperature(model).then_some(settings.temperature),
            seed: settings.seed,
            max_tokens: settings.max_tokens,
            context_window: settings.context_window,
            known_window: None,
            is_openai,
        })
    }
}

pub struct OpenAiAnalyst {
    settings: OpenAiSettings,
    endpoint: Endpoint,
    /// The window the server reported, asked once.
    window: std::sync::OnceLock<Option<usize>>,
}

impl OpenAiAnalyst {
    pub fn new(settings: OpenAiSettings) -> Result<OpenAiAnalyst, LlmError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &settings.api_key {
            let mut value = HeaderValue::from_str(&key.bearer())
                .map_err(|_| LlmError::Config("the API key holds characters a header cannot carry".into()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let endpoint = Endpoint {
            client: http::client(settings.timeout)?,
            url: format!("{}/chat/completions", settings.base_url),
            headers,
            key: settings.api_key.clone(),
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            backoff: settings.backoff,
        };
        Ok(OpenAiAnalyst {
            settings,
            endpoint,
            window: std::sync::OnceLock::new(),
        })
    }

    /// The request body: the pruned prompt as messages, nothing added.
    fn body(&self, request: &AnswerRequest<'_>) -> String {
        let mut messages = Vec::new();
        if !request.messages.system.is_empty() {
            messages.push(json!({"role": "system", "content": request.messages.system}));
        }
        messages.push(json!({"role": "user", "content": request.messages.user}));
        let mut body = json!({"model": self.settings.model, "messages": messages});
        if self.settings.prompt_cache_key {
            body["prompt_cache_key"] = json!(format!("mrflow/{}/{}", request.flow, request.step.id));
        }
        if let Some(retention) = &self.settings.prompt_cache_retention {
            body["prompt_cache_retention"] = json!(retention);
        }
        if let Some(t) = self.settings.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(seed) = self.settings.seed {
            body["seed"] = json!(seed);
        }
        let limit = if self.settings.is_openai {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[limit] = json!(self.settings.max_tokens);
        if self.settings.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body.to_string()
    }
}

/// Chat completions, whole or as chunks ending in `[DONE]`.
struct ChatCompletions;

#[derive(Default)]
struct ChunkStream {
    finished: bool,
    usage: Option<Usage>,
}

impl Dialect for ChatCompletions {
    type Stream = ChunkStream;
    const WHAT: &'static str = "a chat completion (expected JSON with choices[0].message.content)";

    fn whole(value: &Value) -> Result<(String, Option<Usage>), String> {
        let content = value
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or("the answer has no choices[0].message.content")?;
        Ok((content.to_string(), usage(value)))
    }
}

impl StreamReader for ChunkStream {
    fn event(&mut self, data: &str) -> Result<Streamed, String> {
        if data.trim() == "[DONE]" {
            return Ok(Streamed::Done);
        }
        let value = http::event_json(data, "a chat completion chunk")?;
        self.finished |= value.pointer("/choices/0/finish_reason").is_some_and(|r| !r.is_null());
        self.usage = usage(&value).or(self.usage);
        Ok(
            match value.pointer("/choices/0/delta/content").and_then(Value::as_str) {
                Some(delta) => Streamed::Text(delta.to_string()),
                None => Streamed::Nothing,
            },
        )
    }

    fn finished(&self) -> bool {
        self.finished
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

impl OpenAiAnalyst {
    /// The context window as the server states it: llama.cpp's `/props`
    /// (`default_generation_settings.n_ctx`), or `/v1/models` (vLLM's `max_model_len`,
    /// llama.cpp's `meta.n_ctx_train`, others' `context_length` or `context_window`).
    async fn ask_window(&self) -> Option<usize> {
        let get = |url: String| async move {
            let response = self
                .endpoint
                .client
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .ok()?
                .error_for_status()
                .ok()?;
            response.json::<Value>().await.ok()
        };
        let number = |v: &Value, pointers: &[&str]| {
            pointers
                .iter()
                .find_map(|p| v.pointer(p).and_then(Value::as_u64))
                .map(|n| n as usize)
        };
        let root = self.settings.base_url.trim_end_matches("/v1");
        if let Some(props) = get(format!("{root}/props")).await
            && let Some(n) = number(&props, &["/default_generation_settings/n_ctx", "/n_ctx"])
        {
            return Some(n);
        }
        let models = get(format!("{}/models", self.settings.base_url)).await?;
        let entries = models.get("data")?.as_array()?;
        let entry = entries
            .iter()
            .find(|m| m.get("id").and_then(Value::as_str) == Some(self.settings.model.as_str()))
            .or_else(|| entries.first())?;
        number(
            entry,
            &[
                "/max_model_len",
                "/context_length",
                "/context_window",
                "/meta/n_ctx_train",
            ],
        )
    }
}

impl Analyst for OpenAiAnalyst {
    fn identity(&self) -> String {
        format!("openai/v1 {} {}", self.settings.base_url, self.settings.model)
    }

    fn name(&self) -> String {
        self.settings.model.clone()
    }

    fn context_window(&self) -> Option<usize> {
        if let Some(n) = self.settings.context_window {
            return Some(n);
        }
        *self.window.get_or_init(|| {
            crate::net::block_on(self.ask_window())
                .ok()
                .flatten()
                .or(self.settings.known_window)
        })
    }

    fn answer_reserve(&self) -> usize {
        self.settings.max_tokens as usize
    }

    fn answer(
        &self,
        request: &AnswerRequest<'_>,
        on_text: &mut dyn FnMut(&str),
        cancel: &CancellationToken,
    ) -> Result<Answer, LlmError> {
        let body = self.body(request);
        http::until_cancelled(self.endpoint.answer::<ChatCompletions>(&body, on_text), cancel)
    }
}

/// Usage as OpenAI reports it; cache writes where a model reports them (GPT-5.6 on:
/// `cache_write_tokens`), and the Anthropic-style names some compatible servers use.
fn usage(value: &Value) -> Option<Usage> {
    let u = value.get("usage")?;
    let count = |pointer: &str| u.pointer(pointer).and_then(Value::as_u64).map(|n| n as usize);
    Some(Usage {
        prompt_tokens: count("/prompt_tokens")?,
        completion_tokens: count("/completion_tokens")?,
        cached_tokens: count("/prompt_tokens_details/cached_tokens").or_else(|| count("/cache_read_input_tokens")),
        cache_write_tokens: count("/prompt_tokens_details/cache_write_tokens")
            .or_else(|| count("/cache_write_tokens"))
            .or_else(|| count("/cache_creation_input_tokens")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_required_only_by_openai_itself() {
        let mut s = crate::config::Config::default_only().llm;
        s.backend = crate::config::LlmBackend::Openai;
        s.api_key_env = Some("MRFLOW_TEST_UNSET_KEY_VARIABLE".into());
        let e = OpenAiSettings::from_config(&s, "gpt-4o-mini").unwrap_err();
        assert!(e.to_string().contains("set MRFLOW_TEST_UNSET_KEY_VARIABLE"), "{e}");
        s.base_url = Some("http://127.0.0.1:11434/v1/".into());
        let ok = OpenAiSettings::from_config(&s, "llama3").unwrap();
        assert_eq!(ok.base_url, "http://127.0.0.1:11434/v1");
        s.base_url = Some("ftp://x".into());
        assert!(OpenAiSettings::from_config(&s, "m").is_err());
    }

    #[test]
    fn cache_writes_are_read_where_reported() {
        let v: Value = serde_json::from_str(
            r#"{"usage":{"prompt_tokens":2048,"completion_tokens":9,
                "prompt_tokens_details":{"cached_tokens":1024,"cache_write_tokens":1024}}}"#,
        )
        .unwrap();
        let u = usage(&v).unwrap();
        assert_eq!((u.cached_tokens, u.cache_write_tokens), (Some(1024), Some(1024)));
    }
}
