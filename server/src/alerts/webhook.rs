//! Outgoing webhooks: each pending webhook notification is POSTed as JSON, signed with
//! HMAC-SHA256 over `"<timestamp>.<body>"` with the webhook's secret:
//!
//! ```text
//! X-Eldercare-Timestamp: <unix ms>
//! X-Eldercare-Signature: sha256=<hex>
//! X-Eldercare-Delivery: <notification id>   (the same on every retry: receivers deduplicate on it)
//! ```
//!
//! A 2xx answer is delivered; anything else (error status, timeout, refused connection) is
//! retried with exponential backoff (2 s, 4 s, ... up to 10 min) up to 10 attempts, then
//! marked failed. Every attempt is logged in `delivery_attempts`.

use std::time::{Duration, Instant};

use eldercare_store::escalation::{DeliveryOutcome, DueDelivery};
use eldercare_store::{Store, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const MAX_ATTEMPTS: i64 = 10;
const TIMEOUT: Duration = Duration::from_secs(5);
/// A claimed attempt not finished within this is picked up again (the worker died mid-way).
const LEASE_MS: i64 = 60_000;

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(TIMEOUT).connect_timeout(TIMEOUT).build().expect("HTTP client builds")
}

/// The signature header value of `body` sent at `timestamp_ms`.
pub fn sign(secret: &str, timestamp_ms: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Backoff before attempt `attempts + 1`.
pub fn backoff_ms(attempts: i64) -> i64 {
    (2_000i64 << attempts.clamp(0, 20)).min(600_000)
}

/// Attempts every delivery due at `now_ms`; returns how many were attempted.
pub async fn run_once(store: &Store, client: &reqwest::Client, now_ms: i64) -> Result<usize, StoreError> {
    let due = store.due_deliveries(now_ms, 20).await?;
    let mut attempted = 0;
    for d in due {
        if !store.claim_delivery(&d, now_ms + LEASE_MS).await? {
            continue;
        }
        attempted += 1;
        deliver(store, client, &d, now_ms).await?;
    }
    Ok(attempted)
}

async fn deliver(store: &Store, client: &reqwest::Client, d: &DueDelivery, now_ms: i64) -> Result<(), StoreError> {
    let started = Instant::now();
    let result = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("x-eldercare-timestamp", now_ms.to_string())
        .header("x-eldercare-signature", sign(&d.secret, now_ms, &d.payload))
        .header("x-eldercare-delivery", d.notification_id.to_string())
        .body(d.payload.clone())
        .send()
        .await;
    let duration_ms = started.elapsed().as_millis() as i64;
    let attempts = d.attempts + 1;
    let retry = || {
        if attempts >= MAX_ATTEMPTS {
            DeliveryOutcome::GaveUp
        } else {
            DeliveryOutcome::RetryAt(now_ms + backoff_ms(d.attempts))
        }
    };
    let (code, error, outcome) = match result {
        Ok(res) if res.status().is_success() => (Some(res.status().as_u16() as i64), None, DeliveryOutcome::Delivered),
        Ok(res) => (Some(res.status().as_u16() as i64), Some(format!("HTTP {}", res.status())), retry()),
        Err(e) => {
            let why = if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "connection failed".to_owned()
            } else {
                e.to_string()
            };
            (None, Some(why), retry())
        }
    };
    match outcome {
        DeliveryOutcome::Delivered => {
            metrics::counter!("eldercare_webhook_attempts_total", "outcome" => "delivered").increment(1)
        }
        DeliveryOutcome::RetryAt(_) => {
            metrics::counter!("eldercare_webhook_attempts_total", "outcome" => "retry").increment(1)
        }
        DeliveryOutcome::GaveUp => {
            metrics::counter!("eldercare_webhook_attempts_total", "outcome" => "failed").increment(1);
            tracing::error!(
                notification = d.notification_id,
                webhook = d.webhook_id,
                "webhook delivery failed for good"
            );
        }
    }
    store.record_delivery(d.notification_id, now_ms, code, error.as_deref(), duration_ms, outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference computed with: printf '1700000000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            sign("secret", 1_700_000_000_000, "{\"a\":1}"),
            "sha256=".to_owned() + &reference("secret", "1700000000000.{\"a\":1}")
        );
        assert_ne!(sign("secret", 1, "x"), sign("other", 1, "x"));
        assert_ne!(sign("secret", 1, "x"), sign("secret", 2, "x"));
    }

    fn reference(key: &str, msg: &str) -> String {
        // An independent HMAC (RFC 2104) over sha2, so the test does not trust the hmac crate alone.
        use sha2::Digest;
        let mut k = key.as_bytes().to_vec();
        k.resize(64, 0);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new().chain_update(&ipad).chain_update(msg.as_bytes()).finalize();
        let outer = Sha256::new().chain_update(&opad).chain_update(inner).finalize();
        outer.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0), 2_000);
        assert_eq!(backoff_ms(1), 4_000);
        assert_eq!(backoff_ms(3), 16_000);
        assert_eq!(backoff_ms(30), 600_000);
    }
}
