//! Small helpers shared by the HTTP backends (the OpenAI-compatible LLM, Mem0).

use std::future::Future;

/// Runs `work` to completion from synchronous code: on the current runtime when called from
/// one of its blocking threads (where the engine runs steps), else on a small runtime of
/// its own (the CLI's memory commands).
pub fn block_on<T>(work: impl Future<Output = T>) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(work)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(work))
            .map_err(|e| format!("cannot start a runtime: {e}")),
    }
}

/// The innermost cause of an error, which says what actually went wrong (refused, reset,
/// name not found) where the outer layers only say "error sending request".
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A server's own words for an error: `{"error": {"message": …}}` (OpenAI), `{"detail": …}`
/// (Mem0), a plain `error` or `message` string, or else the start of the body.
pub fn server_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("detail"))
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .and_then(serde_json::Value::as_str)
    });
    match message {
        Some(m) => m.to_string(),
        None if body.trim().is_empty() => "no message".into(),
        None => excerpt(body),
    }
}

/// The first 120 characters of a text, marked when cut: what an error quotes of a reply.
pub fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_body() {
        assert_eq!(
            server_message(r#"{"error":{"message":"Rate limit reached","type":"x"}}"#),
            "Rate limit reached"
        );
        assert_eq!(server_message(r#"{"error":"model not found"}"#), "model not found");
        assert_eq!(
            server_message(r#"{"detail":"database unavailable"}"#),
            "database unavailable"
        );
        assert_eq!(server_message("<html>Bad Gateway</html>"), "<html>Bad Gateway</html>");
        assert_eq!(server_message(""), "no message");
        assert_eq!(server_message(&"x".repeat(200)), format!("{}…", "x".repeat(120)));
    }
}
