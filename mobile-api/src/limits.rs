//! Rate limits: a token bucket per account for every authenticated request, and the policy for
//! failed logins (per account name and per client address, kept in the database so that several
//! API instances share it). Both read the injected clock, so tests move time instead of sleeping.
//!
//! The per-account bucket lives in memory, per instance: behind a load balancer of N instances
//! an account gets at most N times the rate, which is what a per-account limit is for (stopping
//! one runaway client or stolen token from monopolising the API), not an exact quota.
//! `tower_governor` keys on the client address, not on the account a token names, so it would
//! have to parse the token a second time; this is a few lines instead.

use std::collections::HashMap;
use std::sync::Mutex;

use eldercare_store::session::ThrottlePolicy;

use crate::ApiError;

/// Requests per account: a bucket of `burst` requests refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    /// 50 requests a second sustained, bursts of 500: far above what an app or console does
    /// (a dashboard refreshing every few seconds), well below what a script run amok does.
    fn default() -> Self {
        RateLimit { per_second: 50.0, burst: 500.0 }
    }
}

/// Failed-login limits per account name and per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub per_account: ThrottlePolicy,
    pub per_client: ThrottlePolicy,
}

impl Default for LoginThrottle {
    /// An account name is locked for 15 minutes after 5 failures within 15 minutes; a client
    /// address after 20 (several people may share an address: a care home's NAT).
    fn default() -> Self {
        const QUARTER_HOUR_MS: i64 = 15 * 60 * 1000;
        LoginThrottle {
            per_account: ThrottlePolicy { window_ms: QUARTER_HOUR_MS, max_failures: 5, lock_ms: QUARTER_HOUR_MS },
            per_client: ThrottlePolicy { window_ms: QUARTER_HOUR_MS, max_failures: 20, lock_ms: QUARTER_HOUR_MS },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Token buckets by account id.
#[derive(Debug)]
pub(crate) struct AccountLimiter {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// Buckets kept before full ones are forgotten (a full bucket is the same as no bucket).
const MAX_BUCKETS: usize = 10_000;

impl AccountLimiter {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        AccountLimiter { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `user_id`'s bucket, or says how long to wait.
    pub(crate) fn check(&self, user_id: i64, now_ms: i64) -> Result<(), ApiError> {
        let Some(limit) = self.limit else { return Ok(()) };
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                let refilled = b.tokens + (now_ms - b.at_ms).max(0) as f64 / 1000.0 * limit.per_second;
                refilled < limit.burst
            });
        }
        let bucket = buckets.entry(user_id).or_insert(Bucket { tokens: limit.burst, at_ms: now_ms });
        let elapsed_s = (now_ms - bucket.at_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed_s * limit.per_second).min(limit.burst);
        bucket.at_ms = bucket.at_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_s = ((1.0 - bucket.tokens) / limit.per_second).ceil().max(1.0) as u64;
        tracing::info!(user_id, "request rate limit reached");
        Err(ApiError::TooManyRequests { detail: "too many requests for this account", retry_after_s: wait_s })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills_with_the_clock() {
        let l = AccountLimiter::new(Some(RateLimit { per_second: 2.0, burst: 3.0 }));
        for _ in 0..3 {
            l.check(1, 0).unwrap();
        }
        let Err(ApiError::TooManyRequests { retry_after_s, .. }) = l.check(1, 0) else { panic!("not limited") };
        assert_eq!(retry_after_s, 1);
        l.check(2, 0).expect("another account has its own bucket");
        l.check(1, 500).expect("half a second refills one request");
        assert!(l.check(1, 500).is_err());
        for _ in 0..3 {
            l.check(1, 10_000).unwrap();
        }
        assert!(l.check(1, 10_000).is_err(), "the bucket never holds more than the burst");
    }

    #[test]
    fn no_limit_configured_never_limits() {
        let l = AccountLimiter::new(None);
        for _ in 0..10_000 {
            l.check(1, 0).unwrap();
        }
    }
}
