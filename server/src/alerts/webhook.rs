//! Outgoing webhooks: each pending webhook notification is POSTed as JSON, signed with
//! HMAC-SHA256 over `"<timestamp>.<body>"` with the webhook's secret:
//!
//! ```text
//! X-Eldercare-Timestamp: <unix ms>
//! X-Eldercare-Signature: sha256=<hex>
//! X-Eldercare-Delivery: <notification id>   (the same on every retry: receivers deduplicate on it)
//! ```
//!
//! A 2xx answer is delivered; anything else (error status, timeout, refused connection, a
//! certificate that does not verify) is retried with exponential backoff (2 s, 4 s, ... up to
//! 10 min) up to 10 attempts, then marked failed. Every attempt is logged in
//! `delivery_attempts`, with the reason of a failure ("TLS failed: invalid peer certificate:
//! UnknownIssuer").
//!
//! `https://` receivers are verified against the platform's root certificates plus, when given,
//! an extra CA file (a receiver with a private CA). The client is hyper's over hyper-rustls with
//! our own rustls configuration (the `ring` provider, [`crate::tls`]), not reqwest: reqwest 0.13's
//! rustls features either build aws-lc-rs or leave every `reqwest::Client::new()` in the process
//! panicking for want of a process-wide provider.

use std::path::Path;
use std::time::{Duration, Instant};

use eldercare_store::escalation::{DeliveryOutcome, DueDelivery};
use eldercare_store::{Store, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

use crate::tls::{self, TlsError};

pub const MAX_ATTEMPTS: i64 = 10;
const TIMEOUT: Duration = Duration::from_secs(5);
/// A claimed attempt not finished within this is picked up again (the worker died mid-way).
const LEASE_MS: i64 = 60_000;
/// Of a receiver's answer only the status matters; its body is read (so the connection can be
/// reused) up to this size.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The HTTP(S) client of deliveries. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("webhook::Client").finish_non_exhaustive()
    }
}

/// Why an attempt failed, as the delivery log records it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    #[error("timed out")]
    Timeout,
    #[error("connection failed")]
    Connect,
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("{0}")]
    Http(String),
}

impl Client {
    /// Trusts the platform's root certificates plus the CA certificates of `extra_ca` (a PEM
    /// file). Fails on an unreadable or invalid CA file, or when no root at all can be trusted.
    pub fn new(extra_ca: Option<&Path>) -> Result<Client, TlsError> {
        let extra = match extra_ca {
            Some(path) => tls::read_certs(path, "the webhook CA file")?,
            None => Vec::new(),
        };
        Ok(Client::with_tls(tls::platform_client(extra)?))
    }

    /// Trusts the platform's root certificates. Never fails: on a system without any, `https://`
    /// deliveries fail (each attempt logged with the reason) and `http://` ones still work.
    pub fn platform() -> Client {
        match Client::new(None) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no trusted root certificates: https:// webhooks will fail");
                Client::with_tls(tls::untrusting_client(e.to_string()))
            }
        }
    }

    /// A client with this TLS configuration for `https://`.
    pub fn with_tls(config: rustls::ClientConfig) -> Client {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(TIMEOUT));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Client { http: HyperClient::builder(TokioExecutor::new()).build(https) }
    }

    /// POSTs `body` as JSON with `headers`; the answer's status, within [`TIMEOUT`].
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<hyper::StatusCode, AttemptError> {
        let uri: hyper::Uri =
            url.parse().map_err(|e: hyper::http::uri::InvalidUri| AttemptError::Url(e.to_string()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(AttemptError::Url(format!("{url} is not an http:// or https:// URL")));
        }
        let mut req = hyper::Request::post(uri).header("content-type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| AttemptError::Http(e.to_string()))?;
        let exchange = async {
            let res = self.http.request(req).await.map_err(|e| classify(&e))?;
            let status = res.status();
            // Drained so the connection can be reused; what it says does not matter.
            let _ = Limited::new(res.into_body(), MAX_ANSWER_BYTES).collect().await;
            Ok(status)
        };
        tokio::time::timeout(TIMEOUT, exchange).await.unwrap_or(Err(AttemptError::Timeout))
    }
}

fn classify(e: &hyper_util::client::legacy::Error) -> AttemptError {
    if let Some(why) = tls::tls_cause(e) {
        AttemptError::Tls(why)
    } else if e.is_connect() {
        AttemptError::Connect
    } else {
        AttemptError::Http(e.to_string())
    }
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
pub async fn run_once(store: &Store, client: &Client, now_ms: i64) -> Result<usize, StoreError> {
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

async fn deliver(store: &Store, client: &Client, d: &DueDelivery, now_ms: i64) -> Result<(), StoreError> {
    let started = Instant::now();
    let headers = [
        ("x-eldercare-timestamp", now_ms.to_string()),
        ("x-eldercare-signature", sign(&d.secret, now_ms, &d.payload)),
        ("x-eldercare-delivery", d.notification_id.to_string()),
    ];
    let result = client.post_json(&d.url, &headers, d.payload.clone()).await;
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
        Ok(status) if status.is_success() => (Some(status.as_u16() as i64), None, DeliveryOutcome::Delivered),
        Ok(status) => (Some(status.as_u16() as i64), Some(format!("HTTP {status}")), retry()),
        Err(e) => {
            if let AttemptError::Tls(why) = &e {
                // Does not mend by retrying alone: the receiver's certificate or our trust is wrong.
                tracing::warn!(webhook = d.webhook_id, reason = %why, "webhook receiver's TLS refused");
            }
            (None, Some(e.to_string()), retry())
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

    #[tokio::test]
    async fn our_client_and_any_reqwest_client_build_side_by_side() {
        // reqwest::Client::new() panicked in every crate of the workspace once reqwest's
        // provider-less rustls was turned on for webhooks; ours brings its own provider.
        let ours = Client::platform();
        let _theirs = reqwest::Client::new();
        let refused = ours.post_json("ftp://127.0.0.1/hook", &[], "{}".into()).await;
        assert!(matches!(refused, Err(AttemptError::Url(_))), "{refused:?}");
        assert!(matches!(ours.post_json("not a url", &[], "{}".into()).await, Err(AttemptError::Url(_))));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0), 2_000);
        assert_eq!(backoff_ms(1), 4_000);
        assert_eq!(backoff_ms(3), 16_000);
        assert_eq!(backoff_ms(30), 600_000);
    }
}
