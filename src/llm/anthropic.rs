//! Anthropic's Messages API (`POST {base_url}/v1/messages`), natively: its OpenAI-compatible
//! endpoint does no prompt caching, and this one lets the request say where the cacheable
//! prefix ends. A `cache_control` breakpoint goes at the end of the step's stable prefix
//! (persona, task, tools, dataset: what no rerun changes), and only when that prefix reaches
//! the model's minimum cacheable length: below it the provider caches nothing anyway.
//! Streams by SSE (`message_start` … `message_stop`); retries and errors are
//! [`super::http`]'s.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::http::{self, Dialect, Endpoint, StreamReader, Streamed};
use super::{Analyst, Answer, AnswerRequest, ApiKey, LlmError, Usage};
use crate::config::LlmSettings;
use crate::models::CacheTtl;

/// The API version every request names.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone)]
pub struct AnthropicSettings {
    /// The server's root, e.g. `https://api.anthropic.com` (`/v1/messages` is added).
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub stream: bool,
    pub backoff: Duration,
    pub temperature: f64,
    pub max_tokens: u32,
    pub context_window: Option<usize>,
    /// A stable prefix shorter than this gets no breakpoint.
    pub min_cacheable_tokens: usize,
    pub cache_ttl: CacheTtl,
}

impl AnthropicSettings {
    /// From `[llm]` and what the model table says of `model` (its window and minimum
    /// cacheable prefix), with the key from the environment variable the config names.
    pub fn from_config(
        settings: &LlmSettings,
        model: &str,
        min_cacheable_tokens: usize,
        context_window: Option<usize>,
    ) -> Result<AnthropicSettings, LlmError> {
        let base_url = settings.base_url().trim_end_matches('/').to_string();
        let base_url = base_url.strip_suffix("/v1").unwrap_or(&base_url).to_string();
        let url = reqwest::Url::parse(&base_url)
            .map_err(|e| LlmError::Config(format!("[llm] base_url: `{base_url}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(LlmError::Config(format!(
                "[llm] base_url: `{base_url}` must start with http:// or https://"
            )));
        }
        let api_key = ApiKey::from_env(settings.api_key_env());
        if api_key.is_none() && url.host_str() == Some("api.anthropic.com") {
            return Err(LlmError::Config(format!(
                "the anthropic backend needs an API key for {base_url}: set {} (or point --base-url at a \
                 server that speaks the Messages API, or use --llm offline)",
                settings.api_key_env()
            )));
        }
        Ok(AnthropicSettings {
            base_url,
            model: model.to_string(),
            api_key,
            timeout: Duration::from_secs(settings.timeout_seconds.max(1)),
            max_retries: settings.max_retries,
            stream: settings.stream,
            backoff: Duration::from_millis(500),
            temperature: settings.temperature,
            max_tokens: settings.max_tokens,
            context_window: settings.context_window.or(context_window),
            min_cacheable_tokens,
            cache_ttl: settings.cache_ttl,
        })
    }
}

pub struct AnthropicAnalyst {
    settings: AnthropicSettings,
    endpoint: Endpoint,
    /// Event types the stream carried that we do not know, each said once.
    unknown_events: Mutex<(BTreeSet<String>, Vec<String>)>,
}

impl AnthropicAnalyst {
    pub fn new(settings: AnthropicSettings) -> Result<AnthropicAnalyst, LlmError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(key) = &settings.api_key {
            let mut value = HeaderValue::from_str(key.plain())
                .map_err(|_| LlmError::Config("the API key holds characters a header cannot carry".into()))?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("x-api-key"), value);
        }
        let endpoint = Endpoint {
            client: http::client(settings.timeout)?,
            url: format!("{}/v1/messages", settings.base_url),
            headers,
            key: settings.api_key.clone(),
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            backoff: settings.backoff,
        };
        Ok(AnthropicAnalyst {
            settings,
            endpoint,
            unknown_events: Mutex::new(Default::default()),
        })
    }

    /// The request body: the pruned prompt's `[system]` part as `system`, its `[user]` part
    /// as the one user message, a breakpoint after the stable prefix when it is long enough.
    pub fn body(&self, request: &AnswerRequest<'_>) -> Value {
        let Messages { system, user } = split_at_breakpoint(request, self.breakpoint(request), self.settings.cache_ttl);
        let mut body = json!({
            "model": self.settings.model,
            "max_tokens": self.settings.max_tokens,
            "messages": [{"role": "user", "content": user}],
            "temperature": self.settings.temperature,
        });
        if let Some(system) = system {
            body["system"] = system;
        }
        if self.settings.stream {
            body["stream"] = json!(true);
        }
        body
    }

    /// Where the breakpoint goes, in bytes of the prompt: the end of the stable prefix, when
    /// it holds at least the model's minimum (counted by our encoding: an estimate for
    /// Claude, whose own tokenizer gives more tokens for the same text, so a prefix we count
    /// as long enough is).
    fn breakpoint(&self, request: &AnswerRequest<'_>) -> Option<usize> {
        let stable = request.stable;
        (stable.bytes > 0 && stable.tokens >= self.settings.min_cacheable_tokens).then_some(stable.bytes)
    }

    fn note_unknown(&self, kinds: &[String]) {
        let mut guard = self.unknown_events.lock().unwrap_or_else(|e| e.into_inner());
        let (seen, warnings) = &mut *guard;
        for kind in kinds {
            if seen.insert(kind.clone()) {
                warnings.push(format!(
                    "{}: skipped stream events of an unknown type `{kind}`",
                    self.endpoint.url
                ));
            }
        }
    }
}

/// The request's `system` and user `content`, split into text blocks at the breakpoint.
struct Messages {
    system: Option<Value>,
    user: Value,
}

fn split_at_breakpoint(request: &AnswerRequest<'_>, breakpoint: Option<usize>, ttl: CacheTtl) -> Messages {
    let m = request.messages;
    let plain = Messages {
        system: (!m.system.is_empty()).then(|| json!(m.system)),
        user: json!(m.user),
    };
    let Some(at) = breakpoint else { return plain };
    let control = match ttl {
        CacheTtl::FiveMinutes => json!({"type": "ephemeral"}),
        CacheTtl::OneHour => json!({"type": "ephemeral", "ttl": "1h"}),
    };
    // The prompt reads `[system]\n{system}\n\n[user]\n{user}` (or `[user]\n{user}`): find
    // which message the breakpoint falls in, and where.
    let (system_start, user_start) = match m.system.is_empty() {
        true => (0, "[user]\n".len()),
        false => {
            let start = "[system]\n".len();
            (start, start + m.system.len() + "\n\n[user]\n".len())
        }
    };
    let blocks = |text: &str, cut: usize| -> Value {
        let cut = cut.min(text.len());
        let (head, tail) = text.split_at(if text.is_char_boundary(cut) { cut } else { text.len() });
        let mut out = vec![json!({"type": "text", "text": head, "cache_control": control})];
        if !tail.is_empty() {
            out.push(json!({"type": "text", "text": tail}));
        }
        json!(out)
    };
    if !m.system.is_empty() && at < user_start {
        Messages {
            system: Some(blocks(m.system, at.saturating_sub(system_start))),
            user: json!(m.user),
        }
    } else if at > user_start {
        Messages {
            system: plain.system,
            user: blocks(m.user, at - user_start),
        }
    } else {
        // The breakpoint falls between the messages: the whole system message.
        Messages {
            system: Some(blocks(m.system, m.system.len())),
            user: json!(m.user),
        }
    }
}

/// Messages API replies, whole or as events.
struct MessagesApi;

#[derive(Default)]
struct EventStream {
    usage: Counts,
    stopped: bool,
    /// Event types we do not know, skipped.
    unknown: Vec<String>,
}

/// Anthropic's usage fields as they arrive: `message_start` says the input side, each
/// `message_delta` the counts so far (cumulative; some servers, LiteLLM's among them, say
/// the input side only there).
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    input: Option<usize>,
    cache_write: Option<usize>,
    cache_read: Option<usize>,
    output: Option<usize>,
}

impl Counts {
    /// These counts with every field `u` states replaced.
    fn updated(self, u: &Value) -> Counts {
        let count = |key: &str| u.get(key).and_then(Value::as_u64).map(|n| n as usize);
        Counts {
            input: count("input_tokens").or(self.input),
            cache_write: count("cache_creation_input_tokens").or(self.cache_write),
            cache_read: count("cache_read_input_tokens").or(self.cache_read),
            output: count("output_tokens").or(self.output),
        }
    }

    /// `input_tokens` leaves out what was read from or written to the cache, so the
    /// prompt is the three together.
    fn usage(self) -> Option<Usage> {
        Some(Usage {
            prompt_tokens: self.input? + self.cache_write.unwrap_or(0) + self.cache_read.unwrap_or(0),
            completion_tokens: self.output.unwrap_or(0),
            cached_tokens: self.cache_read,
            cache_write_tokens: self.cache_write,
        })
    }
}

impl Dialect for MessagesApi {
    type Stream = EventStream;
    const WHAT: &'static str = "a Messages API reply (expected JSON with content[].text)";

    fn whole(value: &Value) -> Result<(String, Option<Usage>), String> {
        let content = value
            .get("content")
            .and_then(Value::as_array)
            .ok_or("the answer has no content array")?;
        let text: String = content
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        Ok((
            text,
            value.get("usage").and_then(|u| Counts::default().updated(u).usage()),
        ))
    }
}

impl StreamReader for EventStream {
    fn event(&mut self, data: &str) -> Result<Streamed, String> {
        let value = http::event_json(data, "a Messages API event")?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "message_start" => {
                if let Some(u) = value.pointer("/message/usage") {
                    self.usage = self.usage.updated(u);
                }
                Ok(Streamed::Nothing)
            }
            "content_block_delta" => Ok(match value.pointer("/delta/text").and_then(Value::as_str) {
                // Thinking and tool-input deltas carry no answer text.
                Some(text) if value.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta") => {
                    Streamed::Text(text.to_string())
                }
                _ => Streamed::Nothing,
            }),
            "message_delta" => {
                if let Some(u) = value.get("usage") {
                    self.usage = self.usage.updated(u);
                }
                self.stopped |= value.pointer("/delta/stop_reason").is_some_and(|r| !r.is_null());
                Ok(Streamed::Nothing)
            }
            "message_stop" => {
                self.stopped = true;
                Ok(Streamed::Done)
            }
            "content_block_start" | "content_block_stop" | "ping" => Ok(Streamed::Nothing),
            other => {
                if !self.unknown.iter().any(|k| k == other) {
                    self.unknown.push(other.to_string());
                }
                Ok(Streamed::Nothing)
            }
        }
    }

    fn finished(&self) -> bool {
        self.stopped
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.usage()
    }
}

impl Analyst for AnthropicAnalyst {
    fn identity(&self) -> String {
        format!("anthropic/messages {} {}", self.settings.base_url, self.settings.model)
    }

    fn name(&self) -> String {
        self.settings.model.clone()
    }

    fn context_window(&self) -> Option<usize> {
        self.settings.context_window
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
        let body = self.body(request).to_string();
        let mut unknown = Vec::new();
        let mut inspect = |s: &EventStream| unknown.extend(s.unknown.iter().cloned());
        let answer = http::until_cancelled(
            self.endpoint.answer_with::<MessagesApi>(&body, on_text, &mut inspect),
            cancel,
        );
        self.note_unknown(&unknown);
        answer
    }

    fn take_warnings(&self) -> Vec<String> {
        let mut guard = self.unknown_events.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut guard.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_sums_the_prompt_from_its_three_parts_as_the_events_say_them() {
        let mut s = EventStream::default();
        s.event(
            r#"{"type":"message_start","message":{"usage":{"input_tokens":21,
                "cache_creation_input_tokens":1200,"cache_read_input_tokens":300,"output_tokens":1}}}"#,
        )
        .unwrap();
        s.event(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#)
            .unwrap();
        let u = s.usage().unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_tokens,
                u.cache_write_tokens
            ),
            (1521, 42, Some(300), Some(1200))
        );
        // A server that says the input side only at the end (LiteLLM's proxy), and no cache.
        let mut s = EventStream::default();
        s.event(r#"{"type":"message_start","message":{"usage":{"input_tokens":0,"output_tokens":0}}}"#)
            .unwrap();
        s.event(r#"{"type":"message_delta","delta":{},"usage":{"input_tokens":250,"output_tokens":171}}"#)
            .unwrap();
        let u = s.usage().unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.cached_tokens),
            (250, 171, None)
        );
    }

    #[test]
    fn unknown_events_are_skipped_and_named() {
        let mut s = EventStream::default();
        assert!(matches!(
            s.event(r#"{"type":"brand_new_thing"}"#),
            Ok(Streamed::Nothing)
        ));
        assert!(matches!(
            s.event(r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}"#),
            Ok(Streamed::Text(t)) if t == "Hi"
        ));
        assert!(matches!(s.event(r#"{"type":"message_stop"}"#), Ok(Streamed::Done)));
        assert_eq!(s.unknown, ["brand_new_thing"]);
        assert!(
            s.event(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
                .is_err()
        );
    }
}
