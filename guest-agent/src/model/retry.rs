//! How long to wait before trying a model request again.

use std::time::{Duration, SystemTime};

use super::ModelError;

/// Retries before giving up (Claude Code's figure); `WORKROOM_MAX_RETRIES` overrides it.
pub fn max_retries() -> u32 {
    std::env::var("WORKROOM_MAX_RETRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// The delay before attempt `attempt` (1-based): the server's `retry-after` when given (capped at a
/// minute), else exponential backoff from `WORKROOM_RETRY_BASE_MS` (500 ms) up to 8 s, with jitter.
pub fn delay(attempt: u32, error: &ModelError) -> Duration {
    if let Some(after) = error.retry_after() {
        return after.min(Duration::from_secs(60));
    }
    let base = std::env::var("WORKROOM_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(500);
    let exp = base.saturating_mul(1u64 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(8_000.max(base));
    // Jitter in [0.75, 1.0] so parallel sessions do not retry in lockstep.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = 0.75 + 0.25 * (nanos % 1000) as f64 / 1000.0;
    Duration::from_millis((capped as f64 * jitter) as u64)
}

/// `retry-after`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_delay_wins_and_backoff_grows() {
        let e = ModelError::Http {
            status: 429,
            kind: "rate_limit_error".into(),
            message: String::new(),
            retry_after: Some(Duration::from_millis(1234)),
            should_retry: None,
        };
        assert_eq!(delay(1, &e), Duration::from_millis(1234));
        let dropped = ModelError::Connection("reset".into());
        assert!(delay(1, &dropped) <= Duration::from_millis(500));
        assert!(delay(10, &dropped) <= Duration::from_secs(8));
        assert!(delay(10, &dropped) >= Duration::from_secs(6));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn x_should_retry_overrides_status() {
        let e = |status, should_retry| ModelError::Http {
            status,
            kind: "x".into(),
            message: String::new(),
            retry_after: None,
            should_retry,
        };
        assert!(e(529, None).retryable());
        assert!(!e(400, None).retryable());
        assert!(!e(529, Some(false)).retryable());
        assert!(e(400, Some(true)).retryable());
    }
}
