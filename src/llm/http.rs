//! One answer over HTTP, whatever the API's dialect: a JSON POST, retried on 429 and 5xx
//! (Anthropic's 529 "overloaded" among them) with `Retry-After` honoured and backoff
//! otherwise, then the reply read whole or as server-sent events. A [`Dialect`] says how a
//! reply is read; everything else (timeouts, retries, redaction, errors) lives here once.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::Value;

use super::sse::SseParser;
use super::{Answer, ApiKey, LlmError, Usage};
use crate::net::{excerpt, root_cause, server_message};

/// The longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// How one API's replies read.
pub(super) trait Dialect {
    /// What a streamed reply is folded into, fresh for each attempt.
    type Stream: StreamReader;

    /// What the API calls a whole reply, for error messages.
    const WHAT: &'static str;

    /// The text and usage of a whole (non-streamed) reply.
    fn whole(value: &Value) -> Result<(String, Option<Usage>), String>;
}

/// A streamed reply, event by event.
pub(super) trait StreamReader: Default {
    /// Folds one event's data in; returns what it says.
    fn event(&mut self, data: &str) -> Result<Streamed, String>;
    /// Whether a stream that closes now (without its end marker) holds a whole answer.
    fn finished(&self) -> bool;
    fn usage(&self) -> Option<Usage>;
}

/// What one streamed event said.
pub(super) enum Streamed {
    Text(String),
    Nothing,
    /// The end of the answer.
    Done,
}

/// Where and how requests go.
pub(super) struct Endpoint {
    pub client: reqwest::Client,
    pub url: String,
    /// Headers every request carries; the key's among them, never in the URL or body.
    pub headers: HeaderMap,
    /// The key, to redact from anything a server echoes back.
    pub key: Option<ApiKey>,
    /// No response, or no streamed chunk, within this ends the attempt.
    pub timeout: Duration,
    pub max_retries: u32,
    /// The first wait after a 429/5xx without `Retry-After`; doubles each retry.
    pub backoff: Duration,
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

/// An HTTP client with our user agent and connect timeout.
pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .user_agent(concat!("mrflow-tui/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Config(format!("cannot set up the HTTP client: {e}")))
}

impl Endpoint {
    pub fn redact(&self, text: &str) -> String {
        match &self.key {
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

    fn timed_out(&self) -> LlmError {
        LlmError::Timeout {
            url: self.url.clone(),
            after: self.timeout,
        }
    }

    /// Posts `body` until an attempt succeeds, fails for good, or the retries run out.
    pub async fn answer<D: Dialect>(&self, body: &str, on_text: &mut dyn FnMut(&str)) -> Result<Answer, LlmError> {
        self.answer_with::<D>(body, on_text, &mut |_| {}).await
    }

    /// [`answer`](Self::answer), showing `inspect` each streamed reply once it is read.
    pub async fn answer_with<D: Dialect>(
        &self,
        body: &str,
        on_text: &mut dyn FnMut(&str),
        inspect: &mut dyn FnMut(&D::Stream),
    ) -> Result<Answer, LlmError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt::<D>(body, on_text, inspect).await {
                Ok(answer) => return Ok(answer),
                Err(Failure::Retryable {
                    status,
                    message,
                    retry_after,
                }) => {
                    if attempts > self.max_retries {
                        return Err(LlmError::Status {
                            url: self.url.clone(),
                            status,
                            message,
                            attempts,
                        });
                    }
                    let backoff = self.backoff.saturating_mul(1 << (attempts - 1).min(16));
                    tokio::time::sleep(retry_after.unwrap_or(backoff).min(MAX_WAIT)).await;
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    async fn attempt<D: Dialect>(
        &self,
        body: &str,
        on_text: &mut dyn FnMut(&str),
        inspect: &mut dyn FnMut(&D::Stream),
    ) -> Result<Answer, Failure> {
        let request = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        let limit = self.timeout;
        let mut response = tokio::time::timeout(limit, request.send())
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|e| {
                if e.is_timeout() {
                    self.timed_out()
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
            let message = self.redact(&server_message(&text));
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
            // A whole reply (also what a server that ignores `stream` sends).
            let text = tokio::time::timeout(limit, response.text())
                .await
                .map_err(|_| self.timed_out())?
                .map_err(|e| self.malformed(format!("the answer could not be read: {}", root_cause(&e))))?;
            let value: Value = serde_json::from_str(&text).map_err(|_| {
                self.malformed(format!("the answer is not {}; it begins {:?}", D::WHAT, excerpt(&text)))
            })?;
            let (content, reported) =
                D::whole(&value).map_err(|m| self.malformed(format!("{m}; it begins {:?}", excerpt(&text))))?;
            on_text(&content);
            return Ok(Answer {
                text: content,
                reported,
            });
        }

        let mut parser = SseParser::default();
        let mut stream = D::Stream::default();
        let mut text = String::new();
        let (mut ended, mut done) = (false, false);
        while !ended && !done {
            let chunk = tokio::time::timeout(limit, response.chunk())
                .await
                .map_err(|_| self.timed_out())?
                .map_err(|e| self.malformed(format!("the stream broke: {}", root_cause(&e))))?;
            let events = match chunk {
                Some(bytes) => parser.feed(&bytes),
                None => {
                    ended = true;
                    parser.finish().into_iter().collect()
                }
            };
            for data in events {
                match stream.event(&data).map_err(|m| self.malformed(m))? {
                    Streamed::Text(delta) => {
                        on_text(&delta);
                        text.push_str(&delta);
                    }
                    Streamed::Nothing => {}
                    Streamed::Done => {
                        done = true;
                        break;
                    }
                }
            }
            // A stream that closes without its end marker is complete only if the answer
            // finished.
            if ended && !done && !stream.finished() {
                return Err(self.malformed("the stream ended before the answer was finished").into());
            }
        }
        inspect(&stream);
        Ok(Answer {
            text,
            reported: stream.usage(),
        })
    }
}

/// Runs `work` (an answer being fetched) on the shared runtime until it ends or `cancel`
/// fires; dropping the request on cancel closes its connection.
pub(super) fn until_cancelled(
    work: impl std::future::Future<Output = Result<Answer, LlmError>>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Answer, LlmError> {
    let work = async {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(LlmError::Cancelled),
            answer = work => answer,
        }
    };
    crate::net::block_on(work).map_err(LlmError::Config)?
}

/// A streamed event's data as JSON, or why it is not.
pub(super) fn event_json(data: &str, what: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(data)
        .map_err(|_| format!("the stream carried something other than {what}: {:?}", excerpt(data)))?;
    if value.get("error").is_some_and(|e| !e.is_null()) {
        return Err(format!("the stream reported an error: {}", server_message(data)));
    }
    Ok(value)
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
}
