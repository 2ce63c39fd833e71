//! API keys: held in memory only, never printed. `Debug` and `Display` show `***`, and any
//! text that might echo a key back (a server's error body) goes through [`ApiKey::redact`].

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key in environment variable `var`, if set and not empty.
    pub fn from_env(var: &str) -> Option<ApiKey> {
        std::env::var(var)
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(|k| ApiKey(k.trim().to_string()))
    }

    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The value for an `Authorization` header.
    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// The key as its own header's value (Anthropic's `x-api-key`).
    pub(crate) fn plain(&self) -> &str {
        &self.0
    }

    /// The value for Mem0's `Authorization` header.
    pub(crate) fn token(&self) -> String {
        format!("Token {}", self.0)
    }

    /// `text` with every occurrence of the key replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let k = ApiKey::new("sk-secret-123");
        assert_eq!(format!("{k:?} {k}"), "ApiKey(***) ***");
        assert_eq!(k.redact("bad key sk-secret-123 given"), "bad key *** given");
        assert_eq!(k.bearer(), "Bearer sk-secret-123");
    }
}
