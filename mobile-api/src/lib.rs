//! The HTTP API for phone apps and the console: auth, scopes, residents, vitals, OpenAPI.
//!
//! [`app`] builds the whole router from an [`ApiState`]; the server binds it (and merges its own
//! `/metrics`), tests drive it with `oneshot`. Every resident query goes through the store's
//! scoped queries, so what a caller may not see answers 404, and every read of a resident's data
//! is written to the audit log before it is answered.

pub mod auth;
pub mod error;
mod extract;
pub mod openapi;
pub mod password;
mod rfc3339;
mod routes;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use eldercare_store::Store;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthConfig, AuthUser, JwtSecret, WeakSecret};
pub use error::ApiError;
pub use routes::live::LiveHub;

/// Largest request body accepted, bytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// A request still running after this is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Unix time in milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;
/// `Ok` when a dependency outside the store (the MQTT broker link) is ready; else what is wrong.
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

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
        }
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

    /// Appends to the audit log. A read is answered only once this succeeded.
    pub(crate) async fn audit(
        &self,
        user_id: Option<i64>,
        action: &str,
        resident_id: Option<i64>,
        detail: &str,
    ) -> Result<(), ApiError> {
        Ok(self.store.audit(self.now_ms(), user_id, action, resident_id, detail).await?)
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
                .allow_methods([Method::GET, Method::POST])
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
        .layer(TraceLayer::new_for_http());
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}
