//! Wall-clock time as the stores keep it: whole seconds or milliseconds since the Unix
//! epoch (a plain number on disk and in JSON, which any tool reads), and the UTC text a
//! person reads. One clock, chrono's, for the cache, memory, the run history and evals.

use chrono::{DateTime, Utc};

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    Utc::now().timestamp().max(0) as u64
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    Utc::now().timestamp_millis().max(0) as u64
}

/// Milliseconds since the epoch as UTC text in chrono's `format` (`%Y-%m-%d %H:%M:%S`).
pub fn utc(ms: u64, format: &str) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms.min(i64::MAX as u64) as i64)
        .unwrap_or_default()
        .format(format)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_from_the_epoch() {
        assert_eq!(utc(0, "%Y%m%d-%H%M%S"), "19700101-000000");
        assert_eq!(utc(951_782_400_000, "%Y%m%d-%H%M%S"), "20000229-000000");
        assert_eq!(utc(1_795_622_874_000, "%Y-%m-%d %H:%M:%S"), "2026-11-25 16:07:54");
    }

    #[test]
    fn now_is_after_the_epoch() {
        assert!(now_secs() > 1_700_000_000);
        assert_eq!(now_ms() / 1000 / 10, now_secs() / 10);
    }
}
