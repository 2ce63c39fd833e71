//! Mem0 as the memory backend, through its documented REST API: add
//! (`POST /v1/memories/`), search (`POST /v2/memories/search/`), list
//! (`GET /v1/memories/?user_id=…`), delete one (`DELETE /v1/memories/{id}/`) and all
//! (`DELETE /v1/memories/?user_id=…`), authenticated with `Authorization: Token <key>`.
//!
//! Insights are sent as written (`infer: false`), with our fields in `metadata`, so Mem0's
//! own fact extraction does not rewrite exact figures. Mem0 ranks by embeddings; its scores
//! are used as the relevance.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::insight::{Insight, NewInsight};
use super::{Candidate, InsightStore, MemoryError, Scope};
use crate::net::{block_on, excerpt, root_cause, server_message};
use crate::secret::ApiKey;

pub struct Mem0Memory {
    base_url: String,
    user_id: String,
    key: Option<ApiKey>,
    timeout: Duration,
    client: reqwest::Client,
    /// Content keys of the insights already in Mem0 (read once), so a rerun adds nothing.
    known: Mutex<Option<HashSet<String>>>,
}

impl Mem0Memory {
    pub fn new(base_url: &str, user_id: &str, key: Option<ApiKey>, timeout: Duration) -> Result<Self, MemoryError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let ok = reqwest::Url::parse(&base_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(MemoryError::Config(format!(
                "[memory] mem0_base_url: `{base_url}` is not an http:// or https:// URL"
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("mrflow-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MemoryError::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Mem0Memory {
            base_url,
            user_id: user_id.to_string(),
            key,
            timeout,
            client,
            known: Mutex::new(None),
        })
    }

    fn redact(&self, text: &str) -> String {
        self.key.as_ref().map_or_else(|| text.to_string(), |k| k.redact(text))
    }

    /// One request; the JSON answer, or an error naming the URL and what went wrong.
    fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Value, MemoryError> {
        let url = format!("{}{path}", self.base_url);
        let fail = |message: String| MemoryError::Remote {
            url: url.clone(),
            message: self.redact(&message),
        };
        let mut request = self
            .client
            .request(method, &url)
            .query(query)
            .header("accept", "application/json");
        if let Some(key) = &self.key {
            request = request.header("authorization", key.token());
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let timeout = self.timeout;
        let result = block_on(async {
            let response = request.send().await?;
            let status = response.status();
            let text = response.text().await?;
            Ok::<_, reqwest::Error>((status, text))
        })
        .map_err(fail)?;
        let (status, text) = result.map_err(|e| {
            if e.is_timeout() {
                fail(format!(
                    "no response within {} s (raise [memory] timeout_seconds)",
                    timeout.as_secs()
                ))
            } else {
                fail(format!("cannot reach Mem0: {}", root_cause(&e)))
            }
        })?;
        if !status.is_success() {
            return Err(fail(format!("HTTP {}: {}", status.as_u16(), server_message(&text))));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|_| fail(format!("the answer is not JSON; it begins {:?}", excerpt(&text))))
    }
}

/// Mem0 answers lists either bare or as `{"results": [...]}`.
fn results(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o.get("results").and_then(Value::as_array).cloned().unwrap_or_default(),
        _ => vec![],
    }
}

fn insight(v: &Value) -> Option<Insight> {
    let meta = v.get("metadata").cloned().unwrap_or(Value::Null);
    let field = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let created = v
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_seconds)
        .unwrap_or(0);
    Some(Insight {
        id: v.get("id")?.as_str()?.to_string(),
        text: v.get("memory")?.as_str()?.to_string(),
        analysis: field("analysis"),
        flow: field("flow"),
        dataset: field("dataset"),
        source: field("source"),
        project: field("project"),
        step: field("step"),
        metric: field("metric"),
        metrics: meta
            .get("metrics")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        created,
        superseded_by: None,
    })
}

/// Seconds since the epoch of an RFC 3339 time like `2025-10-22T04:40:22.864647-07:00`.
fn parse_rfc3339_seconds(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time: String = rest.chars().take(8).collect();
    let mut t = time.split(':').map(|p| p.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let offset = match rest.rfind(['+', '-']) {
        Some(i) if i >= 8 => {
            let sign = if &rest[i..i + 1] == "-" { -1 } else { 1 };
            let (oh, om) = rest[i + 1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
        _ => 0,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

impl InsightStore for Mem0Memory {
    fn describe(&self) -> String {
        format!("mem0 {} (user {})", self.base_url, self.user_id)
    }

    fn remember(&self, insights: &[NewInsight], _now: i64) -> Result<usize, MemoryError> {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.is_none() {
            let answer = self.call(Method::GET, "/v1/memories/", &[("user_id", &self.user_id)], None)?;
            let keys = results(&answer)
                .iter()
                .filter_map(|v| {
                    v.pointer("/metadata/content_key")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect();
            *known = Some(keys);
        }
        let known = known.as_mut().expect("loaded above");
        let mut added = 0;
        for i in insights {
            let key = i.content_key();
            if known.contains(&key) {
                continue;
            }
            self.call(
                Method::POST,
                "/v1/memories/",
                &[],
                Some(json!({
                    "messages": [{"role": "user", "content": i.text}],
                    "user_id": self.user_id,
                    "infer": false,
                    "metadata": {
                        "analysis": i.analysis, "flow": i.flow, "dataset": i.dataset, "step": i.step,
                        "source": i.source, "project": i.project,
                        "metric": i.metric, "metrics": i.metrics, "terms": i.terms,
                        "content_key": key,
                    },
                })),
            )?;
            known.insert(key);
            added += 1;
        }
        Ok(added)
    }

    fn candidates(&self, query: &str, scope: &Scope, limit: usize) -> Result<Vec<Candidate>, MemoryError> {
        let answer = self.call(
            Method::POST,
            "/v2/memories/search/",
            &[],
            Some(json!({"query": query, "filters": {"user_id": self.user_id}, "top_k": limit})),
        )?;
        Ok(results(&answer)
            .iter()
            .filter_map(|v| {
                let insight = insight(v)?;
                let score = v.get("score").and_then(Value::as_f64).unwrap_or(0.0);
                Some(Candidate {
                    insight,
                    relevance: score,
                })
            })
            .filter(|c| scope.admits(&c.insight))
            .collect())
    }

    fn list(&self, _history: bool) -> Result<Vec<Insight>, MemoryError> {
        let answer = self.call(Method::GET, "/v1/memories/", &[("user_id", &self.user_id)], None)?;
        Ok(results(&answer).iter().filter_map(insight).collect())
    }

    fn forget(&self, id: &str) -> Result<bool, MemoryError> {
        match self.call(Method::DELETE, &format!("/v1/memories/{id}/"), &[], None) {
            Ok(_) => Ok(true),
            Err(MemoryError::Remote { message, .. }) if message.starts_with("HTTP 404") => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn clear(&self) -> Result<usize, MemoryError> {
        let n = self.list(true)?.len();
        self.call(Method::DELETE, "/v1/memories/", &[("user_id", &self.user_id)], None)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_seconds("2025-10-22T04:40:22.864647-07:00"),
            Some(1_761_133_222)
        );
        assert_eq!(parse_rfc3339_seconds("2024-02-29T12:00:00+01:00"), Some(1_709_204_400));
        assert_eq!(parse_rfc3339_seconds("yesterday"), None);
    }
}
