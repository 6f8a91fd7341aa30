//! When to try a failed batch again: exponential backoff with full jitter.

use std::time::Duration;

/// Bounds on retrying transient failures (timeouts, dropped connections, 408, 429, 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per event, the first included; then it is dead-lettered.
    pub max_attempts: u32,
    /// The backoff ceiling after the first failure; it doubles with each failure.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// No retry starts later than this after a batch's first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt after `failures` failed ones: a uniformly random
    /// duration up to `min(max_delay, base_delay * 2^(failures-1))` ("full jitter", which
    /// spreads clients that failed together), and never less than the server's
    /// `Retry-After`.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(fastrand::u64(0..=ceiling_ms));
        jittered.max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_a_doubling_ceiling() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for failures in 1..=8u32 {
            let ceiling = (100u64 << (failures - 1)).min(1000);
            let mut longest = Duration::ZERO;
            for _ in 0..500 {
                let d = policy.delay(failures, None);
                assert!(d <= Duration::from_millis(ceiling), "{failures}: {d:?}");
                longest = longest.max(d);
            }
            // Full jitter uses the whole range, not just its bottom.
            assert!(longest >= Duration::from_millis(ceiling / 2), "{failures}");
        }
    }

    #[test]
    fn retry_after_is_a_floor() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            assert!(policy.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        }
    }
}
