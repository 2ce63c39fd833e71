//! Any OpenAI-compatible chat-completions server: OpenAI, Ollama, vLLM, llama.cpp's server.
//! Streams by SSE, keeps the usage the server reports, retries 429 and 5xx with backoff
//! (honouring `Retry-After`), and gives up with one clear error. Dropping the request
//! future (on cancel) closes the connection.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::sse::SseParser;
use super::{Analyst, Answer, AnswerRequest, ApiKey, LlmError, Usage};
use crate::config::LlmSettings;
use crate::net::{preview, root_cause, server_message as error_message};

/// The longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(60);

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
    /// The first wait after a 429/5xx without `Retry-After`; doubles each retry.
    pub backoff: Duration,
    /// Sent unless the model takes none (OpenAI's reasoning models).
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    pub max_tokens: u32,
    /// The model's context window when configured; otherwise asked of the server once.
    pub context_window: Option<usize>,
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
        let base_url = settings.base_url.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base_url)
            .map_err(|e| LlmError::Config(format!("[llm] base_url: `{base_url}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(LlmError::Config(format!(
                "[llm] base_url: `{base_url}` must start with http:// or https://"
            )));
        }
        let api_key = ApiKey::from_env(&settings.api_key_env);
        if api_key.is_none() && url.host_str() == Some("api.openai.com") {
            return Err(LlmError::Config(format!(
                "the openai backend needs an API key for {base_url}: set {} (or point --base-url at a local \
                 server, or use --llm offline)",
                settings.api_key_env
            )));
        }
        Ok(OpenAiSettings {
            base_url,
            model: model.to_string(),
            api_key,
            timeout: Duration::from_secs(settings.timeout_seconds.max(1)),
            max_retries: settings.max_retries,
            stream: settings.stream,
            prompt_cache_key: settings.prompt_cache_key && url.host_str() == Some("api.openai.com"),
            backoff: Duration::from_millis(500),
            temperature: takes_temperature(model).then_some(settings.temperature),
            seed: settings.seed,
            max_tokens: settings.max_tokens,
            context_window: settings.context_window,
            is_openai: url.host_str() == Some("api.openai.com"),
        })
    }
}

pub struct OpenAiAnalyst {
    settings: OpenAiSettings,
    client: reqwest::Client,
    url: String,
    /// The window the server reported, asked once.
    window: std::sync::OnceLock<Option<usize>>,
}

/// How one attempt failed.
enum Failure {
    /// 429 or 5xx: worth another attempt.
    Retryable {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    Fatal(LlmError),
}

impl From<LlmError> for Failure {
    fn from(e: LlmError) -> Self {
        Failure::Fatal(e)
    }
}

impl OpenAiAnalyst {
    pub fn new(settings: OpenAiSettings) -> Result<OpenAiAnalyst, LlmError> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.timeout)
            .user_agent(concat!("mrflow-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Config(format!("cannot set up the HTTP client: {e}")))?;
        let url = format!("{}/chat/completions", settings.base_url);
        Ok(OpenAiAnalyst {
            settings,
            client,
            url,
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

    fn redact(&self, text: &str) -> String {
        match &self.settings.api_key {
            Some(k) => k.redact(text),
            None => text.to_string(),
        }
    }

    fn malformed(&self, message: impl Into<String>) -> LlmError {
        LlmError::Malformed {
            url: self.url.clone(),
            message: self.redact(&message.into()),
        }
    }

    fn timeout(&self) -> LlmError {
        LlmError::Timeout {
            url: self.url.clone(),
            after: self.settings.timeout,
        }
    }

    async fn complete(&self, request: &AnswerRequest<'_>, on_text: &mut dyn FnMut(&str)) -> Result<Answer, LlmError> {
        let body = self.body(request);
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(&body, on_text).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::Retryable {
                    status,
                    message,
                    retry_after,
                }) => {
                    if attempts > self.settings.max_retries {
                        return Err(LlmError::Status {
                            url: self.url.clone(),
                            status,
                            message,
                            attempts,
                        });
                    }
                    let backoff = self.settings.backoff.saturating_mul(1 << (attempts - 1).min(16));
                    tokio::time::sleep(retry_after.unwrap_or(backoff).min(MAX_WAIT)).await;
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    async fn attempt(&self, body: &str, on_text: &mut dyn FnMut(&str)) -> Result<Answer, Failure> {
        let mut builder = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.settings.api_key {
            builder = builder.header(AUTHORIZATION, key.bearer());
        }
        let limit = self.settings.timeout;
        let mut response = tokio::time::timeout(limit, builder.send())
            .await
            .map_err(|_| self.timeout())?
            .map_err(|e| {
                if e.is_timeout() {
                    self.timeout()
                } else {
                    LlmError::Connect {
                        url: self.url.clone(),
                        message: self.redact(&root_cause(&e)),
                    }
                }
            })?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let text = tokio::time::timeout(limit, response.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let message = self.redact(&error_message(&text));
            return Err(if status.as_u16() == 429 || status.is_server_error() {
                Failure::Retryable {
                    status: status.as_u16(),
                    message,
                    retry_after,
                }
            } else {
                Failure::Fatal(LlmError::Status {
                    url: self.url.clone(),
                    status: status.as_u16(),
                    message,
                    attempts: 1,
                })
            });
        }
        let is_event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));

        if !is_event_stream {
            // A whole completion (also what a server that ignores `stream` sends).
            let text = tokio::time::timeout(limit, response.text())
                .await
                .map_err(|_| self.timeout())?
                .map_err(|e| self.malformed(format!("the answer could not be read: {}", root_cause(&e))))?;
            let value: Value = serde_json::from_str(&text).map_err(|_| {
                self.malformed(format!(
                    "the answer is not a chat completion (expected JSON with choices[0].message.content); it \
                     begins {:?}",
                    preview(&text)
                ))
            })?;
            let content = value
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    self.malformed(format!(
                        "the answer has no choices[0].message.content; it begins {:?}",
                        preview(&text)
                    ))
                })?;
            on_text(content);
            return Ok(Answer {
                text: content.to_string(),
                reported: usage(&value),
            });
        }

        let mut parser = SseParser::default();
        let mut text = String::new();
        let mut reported = None;
        let mut finished = false;
        let (mut ended, mut saw_done) = (false, false);
        while !ended && !saw_done {
            let chunk = tokio::time::timeout(limit, response.chunk())
                .await
                .map_err(|_| self.timeout())?
                .map_err(|e| self.malformed(format!("the stream broke: {}", root_cause(&e))))?;
            let events = match chunk {
                Some(bytes) => parser.feed(&bytes),
                None => {
                    ended = true;
                    parser.finish().into_iter().collect()
                }
            };
            for data in events {
                if data.trim() == "[DONE]" {
                    saw_done = true;
                    break;
                }
                let value: Value = serde_json::from_str(&data).map_err(|_| {
                    self.malformed(format!(
                        "the stream carried something other than a chat completion chunk: {:?}",
                        preview(&data)
                    ))
                })?;
                if value.get("error").is_some() {
                    return Err(self
                        .malformed(format!("the stream reported an error: {}", error_message(&data)))
                        .into());
                }
                if let Some(delta) = value.pointer("/choices/0/delta/content").and_then(Value::as_str) {
                    text.push_str(delta);
                    on_text(delta);
                }
                finished |= value.pointer("/choices/0/finish_reason").is_some_and(|r| !r.is_null());
                reported = usage(&value).or(reported);
            }
            // A stream that closes without `[DONE]` is complete only if a choice finished.
            if ended && !saw_done && !finished {
                return Err(self.malformed("the stream ended before the answer was finished").into());
            }
        }
        Ok(Answer { text, reported })
    }
}

impl OpenAiAnalyst {
    /// The context window as the server states it: llama.cpp's `/props`
    /// (`default_generation_settings.n_ctx`), or `/v1/models` (vLLM's `max_model_len`,
    /// llama.cpp's `meta.n_ctx_train`, others' `context_length` or `context_window`).
    async fn ask_window(&self) -> Option<usize> {
        let get = |url: String| async move {
            let response = self
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
        *self
            .window
            .get_or_init(|| crate::net::block_on(self.ask_window()).ok().flatten())
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
        let work = async {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(LlmError::Cancelled),
                answer = self.complete(request, on_text) => answer,
            }
        };
        crate::net::block_on(work).map_err(LlmError::Config)?
    }
}

fn usage(value: &Value) -> Option<Usage> {
    let u = value.get("usage")?;
    let count = |pointer: &str| u.pointer(pointer).and_then(Value::as_u64).map(|n| n as usize);
    Some(Usage {
        prompt_tokens: count("/prompt_tokens")?,
        completion_tokens: count("/completion_tokens")?,
        cached_tokens: count("/prompt_tokens_details/cached_tokens").or_else(|| count("/cache_read_input_tokens")),
        cache_write_tokens: count("/cache_creation_input_tokens"),
    })
}

/// `Retry-After` in seconds (the HTTP-date form is rare from these servers; it falls back to
/// our backoff).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn a_key_is_required_only_by_openai_itself() {
        let mut s = crate::config::Config::default_only().llm;
        s.api_key_env = "MRFLOW_TEST_UNSET_KEY_VARIABLE".into();
        let e = OpenAiSettings::from_config(&s, "gpt-4o-mini").unwrap_err();
        assert!(e.to_string().contains("set MRFLOW_TEST_UNSET_KEY_VARIABLE"), "{e}");
        s.base_url = "http://127.0.0.1:11434/v1/".into();
        let ok = OpenAiSettings::from_config(&s, "llama3").unwrap();
        assert_eq!(ok.base_url, "http://127.0.0.1:11434/v1");
        s.base_url = "ftp://x".into();
        assert!(OpenAiSettings::from_config(&s, "m").is_err());
    }
}
