//! The HTTP API for phone apps and the console: auth, scopes, residents, vitals, OpenAPI.
//!
//! [`app`] builds the whole router from an [`ApiState`]; the server binds it (and merges its own
//! `/metrics`), tests drive it with `oneshot`. Every resident query goes through the store's
//! scoped queries, so what a caller may not see answers 404, and every read of a resident's data
//! is written to the audit log before it is answered.

pub mod auth;
mod client_ip;
pub mod error;
mod extract;
pub mod fhir;
pub mod limits;
pub mod openapi;
mod params;
pub mod password;
mod rfc3339;
mod routes;
mod scope;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use eldercare_store::Store;
use eldercare_store::audit_trail::AuditEntry;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthConfig, AuthUser, JwtSecret, WeakSecret};
pub use error::ApiError;
pub use limits::{LoginThrottle, RateLimit};
pub use routes::baselines::{Baseline, BaselineSource};
pub use routes::live::LiveHub;

/// Largest request body accepted, bytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// A request still running after this is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Unix time in milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;
/// `Ok` when a dependency outside the store (the MQTT broker link) is ready; else what is wrong.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;
/// `Ok` when threshold overrides (a JSON object) mean something to the rules engine; else why not.
pub type ThresholdCheck = Arc<dyn Fn(&serde_json::Value) -> Result<(), String> + Send + Sync>;

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) store: Store,
    pub(crate) tokens: Arc<auth::Tokens>,
    clock: Clock,
    pub(crate) readiness: Option<ReadinessCheck>,
    cors_origins: Arc<[String]>,
    /// Bounds concurrent argon2 work (each verification holds ~19 MiB).
    pub(crate) hashing: Arc<Semaphore>,
    /// The live stream's feed, when the server runs one.
    pub(crate) live: Option<routes::live::LiveHub>,
    pub(crate) limiter: Arc<limits::AccountLimiter>,
    pub(crate) login_throttle: LoginThrottle,
    /// Proxies whose `X-Forwarded-For` is believed.
    trusted_proxies: Arc<[IpAddr]>,
    /// The rules engine's check of threshold overrides, when the server provides one.
    pub(crate) threshold_check: Option<ThresholdCheck>,
    /// The rules engine's reading of a resident's baselines, when the server provides one.
    pub(crate) baselines: Option<BaselineSource>,
}

impl ApiState {
    /// The system clock, no readiness check beyond the store, no CORS.
    pub fn new(store: Store, auth: AuthConfig) -> Self {
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        ApiState {
            store,
            tokens: Arc::new(auth::Tokens::new(auth)),
            clock: Arc::new(eldercare_store::now_ms),
            readiness: None,
            cors_origins: Arc::from([]),
            hashing: Arc::new(Semaphore::new(permits)),
            live: None,
            limiter: Arc::new(limits::AccountLimiter::new(Some(RateLimit::default()))),
            login_throttle: LoginThrottle::default(),
            trusted_proxies: Arc::from([]),
            threshold_check: None,
            baselines: None,
        }
    }

    /// Reads personal baselines with the rules engine (`GET /residents/{id}/baselines`): given
    /// a resident's id, stored rule state and threshold overrides (JSON, `None` when absent),
    /// the baselines as the engine uses them. Without one, that route answers 503.
    pub fn with_baselines(
        mut self,
        source: impl Fn(i64, Option<&str>, Option<&str>) -> Vec<Baseline> + Send + Sync + 'static,
    ) -> Self {
        self.baselines = Some(Arc::new(source));
        self
    }

    /// Checks threshold overrides against the rules engine before they are stored (the engine
    /// lives in the server, which depends on this crate, not the reverse). Without one, only
    /// their shape is checked.
    pub fn with_threshold_check(
        mut self,
        check: impl Fn(&serde_json::Value) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.threshold_check = Some(Arc::new(check));
        self
    }

    /// Requests per account ([`RateLimit::default`] unless set); `None` turns the limit off
    /// (benchmarks).
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.limiter = Arc::new(limits::AccountLimiter::new(limit));
        self
    }

    /// Failed-login limits ([`LoginThrottle::default`] unless set).
    pub fn with_login_throttle(mut self, throttle: LoginThrottle) -> Self {
        self.login_throttle = throttle;
        self
    }

    /// Reverse proxies (by address) whose `X-Forwarded-For` names the client. Empty (the
    /// default): the peer address is the client.
    pub fn with_trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = proxies.into();
        self
    }

    /// Replaces the clock (Unix milliseconds): tests move time without sleeping.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds a check `/readyz` runs besides pinging the store. It must be cheap and must not
    /// block (read a flag); its error text is shown to whoever calls `/readyz`.
    pub fn with_readiness(mut self, check: impl Fn() -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.readiness = Some(Arc::new(check));
        self
    }

    /// Browser origins allowed to call the API (e.g. `https://console.example.org`), or `*` for
    /// any. Empty (the default): no CORS headers at all.
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_origins = origins.into();
        self
    }

    /// Serves `/api/v1/live` from this feed (see [`LiveHub::spawn`]).
    pub fn with_live(mut self, hub: LiveHub) -> Self {
        self.live = Some(hub);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// Appends to the audit log what `user_id` did (or, with `None`, someone not signed in),
    /// from where the current request came. A read is answered only once this succeeded.
    pub async fn audit(
        &self,
        user_id: Option<i64>,
        action: &str,
        resident_id: Option<i64>,
        detail: &str,
    ) -> Result<(), ApiError> {
        self.audit_residents(user_id, action, &[resident_id], detail).await
    }

    /// [`ApiState::audit`] of one action on many residents (one entry each), in one transaction.
    pub async fn audit_residents(
        &self,
        user_id: Option<i64>,
        action: &str,
        resident_ids: &[Option<i64>],
        detail: &str,
    ) -> Result<(), ApiError> {
        let at_ms = self.now_ms();
        let ip = client_ip::current().map(|ip| ip.to_string());
        let entries: Vec<AuditEntry> = resident_ids
            .iter()
            .map(|&resident_id| AuditEntry {
                at_ms,
                user_id,
                action: action.to_owned(),
                resident_id,
                detail: detail.to_owned(),
                client_ip: ip.clone(),
            })
            .collect();
        Ok(self.store.append_audit(&entries).await?)
    }

    /// The client address of a request (see `client_ip`).
    pub(crate) fn client_ip(&self, parts: &axum::http::request::Parts) -> Option<IpAddr> {
        client_ip::client_ip(parts, &self.trusted_proxies)
    }

    fn cors_layer(&self) -> Option<CorsLayer> {
        if self.cors_origins.is_empty() {
            return None;
        }
        let origin = if self.cors_origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            let list = self.cors_origins.iter().filter_map(|o| match HeaderValue::from_str(o) {
                Ok(v) => Some(v),
                Err(_) => {
                    tracing::warn!(origin = %o, "ignoring an invalid CORS origin");
                    None
                }
            });
            AllowOrigin::list(list)
        };
        Some(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(Duration::from_secs(3600)),
        )
    }
}

impl fmt::Debug for ApiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiState")
            .field("store", &self.store)
            .field("auth", &self.tokens.config)
            .field("readiness", &self.readiness.is_some())
            .field("cors_origins", &self.cors_origins)
            .field("login_throttle", &self.login_throttle)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// The whole API: `/api/v1/...`, `/api/openapi.json`, `/healthz`, `/readyz`. Unknown routes,
/// wrong methods, oversized bodies and timeouts all answer `application/problem+json`.
pub fn app(state: ApiState) -> Router {
    let cors = state.cors_layer();
    let router = routes::router()
        .merge(openapi::router())
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        // Streams last longer than any request timeout.
        .merge(routes::live::router())
        .layer(middleware::map_response(error::problem_for_bare_errors))
        .layer(middleware::from_fn_with_state(state.clone(), client_ip::remember))
        .layer(TraceLayer::new_for_http());
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}
