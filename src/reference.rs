//! Content- and input-addressed references: `cache://<blake3 hex>`.
//!
//! Flow state passes these instead of payloads. A reference is derived from the bytes of a
//! value (datasets) or from everything that determines a value (tool calls), so two different
//! values never share one and an unchanged input always maps to the same one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const SCHEME: &str = "cache://";

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference([u8; 32]);

impl Reference {
    /// Reference of a value's own bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// Reference of a value determined by several inputs. Each part is length-prefixed so
    /// `("ab", "c")` and `("a", "bc")` differ.
    pub fn of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Self(*hasher.finalize().as_bytes())
    }

    pub fn from_hash(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }

    pub fn hex(&self) -> String {
        blake3::Hash::from(self.0).to_hex().to_string()
    }

    /// A short prefix for display; never used to resolve.
    pub fn short(&self) -> String {
        format!("{SCHEME}{}", &self.hex()[..12])
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.hex())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({})", self.short())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a reference: expected `cache://` followed by 64 hex digits")]
pub struct ParseReferenceError(String);

impl FromStr for Reference {
    type Err = ParseReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix(SCHEME).unwrap_or(s);
        blake3::Hash::from_hex(hex)
            .map(Self::from_hash)
            .map_err(|_| ParseReferenceError(s.to_string()))
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_round_trips_through_parse() {
        let r = Reference::of_bytes(b"hello");
        let text = r.to_string();
        assert!(text.starts_with("cache://"));
        assert_eq!(text.len(), 8 + 64);
        assert_eq!(text.parse::<Reference>().unwrap(), r);
    }

    #[test]
    fn parts_are_length_prefixed() {
        let a = Reference::of_parts([b"ab".as_slice(), b"c"]);
        let b = Reference::of_parts([b"a".as_slice(), b"bc"]);
        assert_ne!(a, b);
    }

    #[test]
    fn short_is_a_prefix_of_full() {
        let r = Reference::of_bytes(b"x");
        assert!(r.to_string().starts_with(&r.short()));
    }

    #[test]
    fn rejects_malformed() {
        assert!("cache://zz".parse::<Reference>().is_err());
        assert!("".parse::<Reference>().is_err());
    }
}
