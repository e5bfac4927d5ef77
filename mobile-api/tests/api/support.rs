//! A small world (a district with two grids, three residents, four accounts, one gateway) in a
//! fresh SQLite file, the app over it, and helpers to send requests through `oneshot`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use eldercare_mobile_api::{ApiState, AuthConfig, JwtSecret, app, password};
use eldercare_schema::Metric;
use eldercare_schema::api::{Problem, TokenResponse};
use eldercare_store::org::OrgKind;
use eldercare_store::{NewReading, Role, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256!";
pub const PASSWORD: &str = "correct horse battery staple";
/// 2024-05-01T08:00:00Z
pub const T0: i64 = 1_714_550_400_000;
pub const MINUTE: i64 = 60_000;

pub struct World {
    pub app: Router,
    pub store: Store,
    pub clock: Arc<AtomicI64>,
    pub resident_a: i64,
    pub resident_b: i64,
    pub resident_c: i64,
    pub admin: i64,
    pub caregiver: i64,
    pub family1: i64,
    #[allow(dead_code)] // Not every test binary module uses every account.
    pub family2: i64,
    /// An open session of each account above, for tokens the tests sign themselves.
    pub sessions: std::collections::HashMap<i64, i64>,
    _dir: tempfile::TempDir,
}

/// A temporary directory for a test database, in memory (`/dev/shm`) where there is one: the
/// store syncs every commit (`synchronous=FULL`), which on a real disk would make the tests
/// slow for nothing.
pub fn temp_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap_or_else(|_| tempfile::tempdir().unwrap())
    } else {
        tempfile::tempdir().unwrap()
    }
}

pub fn auth_config() -> AuthConfig {
    AuthConfig::new(JwtSecret::new(SECRET).unwrap())
}

pub async fn world() -> World {
    world_with(|s| s).await
}

/// The world, with `customise` applied to the state before the app is built.
pub async fn world_with(customise: impl FnOnce(ApiState) -> ApiState) -> World {
    let dir = temp_dir();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("api.db").display())).await.unwrap();
    let s = &store;
    let district = s.create_org_unit(None, OrgKind::District, "Riverside").await.unwrap();
    let community = s.create_org_unit(Some(district), OrgKind::Community, "Elm").await.unwrap();
    let grid1 = s.create_org_unit(Some(community), OrgKind::Grid, "Grid 1").await.unwrap();
    let grid2 = s.create_org_unit(Some(community), OrgKind::Grid, "Grid 2").await.unwrap();
    let h1 = s.create_household(grid1, "No. 1 Elm Street").await.unwrap();
    let h2 = s.create_household(grid2, "No. 9 Oak Lane").await.unwrap();
    let h3 = s.create_household(grid1, "No. 3 Elm Street").await.unwrap();
    let resident_a = s.create_resident(h1, "Wang Fang", Some(1941)).await.unwrap();
    let resident_b = s.create_resident(h2, "Li Wei", None).await.unwrap();
    let resident_c = s.create_resident(h3, "Zhao Min", Some(1938)).await.unwrap();

    let hash = password::hash_password(PASSWORD).unwrap();
    let admin = s.create_user("admin", &hash, Role::Admin, "Administrator").await.unwrap();
    s.grant_scope(admin, district).await.unwrap();
    let caregiver = s.create_user("caregiver", &hash, Role::Caregiver, "Nurse Chen").await.unwrap();
    s.grant_scope(caregiver, grid1).await.unwrap();
    let family1 = s.create_user("family1", &hash, Role::Family, "Wang Jun").await.unwrap();
    s.add_to_care_circle(family1, resident_a, "son").await.unwrap();
    let family2 = s.create_user("family2", &hash, Role::Family, "Li Na").await.unwrap();
    s.add_to_care_circle(family2, resident_b, "daughter").await.unwrap();

    s.register_gateway("gw-1", h1).await.unwrap();
    s.register_device("ox-a", "gw-1", resident_a, "pulse_oximeter").await.unwrap();
    s.register_gateway("gw-2", h2).await.unwrap();
    s.register_device("ox-b", "gw-2", resident_b, "pulse_oximeter").await.unwrap();

    let mut sessions = std::collections::HashMap::new();
    for user in [admin, caregiver, family1, family2] {
        let hash = format!("test-session-of-{user}");
        sessions.insert(user, s.start_session(user, &hash, T0 + 3_600_000, T0, None).await.unwrap());
    }

    let clock = Arc::new(AtomicI64::new(T0));
    let c = clock.clone();
    let state = ApiState::new(store.clone(), auth_config()).with_clock(move || c.load(Ordering::SeqCst));
    let app = app(customise(state));
    World {
        app,
        store,
        clock,
        resident_a,
        resident_b,
        resident_c,
        admin,
        caregiver,
        family1,
        family2,
        sessions,
        _dir: dir,
    }
}

pub fn reading(device: &str, seq: i64, resident_id: i64, metric: Metric, value: f64, measured_ms: i64) -> NewReading {
    NewReading { device_id: device.into(), seq, resident_id, metric, value, measured_ms, time_source: "device" }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    /// Asserts an `application/problem+json` answer with `status` and returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Problem {
        assert_eq!(self.status.as_u16(), status, "body: {:?}", self.body);
        let ct = self.headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
        let p: Problem = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(p.status, status);
        p
    }
}

impl World {
    pub fn advance(&self, ms: i64) {
        self.clock.fetch_add(ms, Ordering::SeqCst);
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub async fn post_json(&self, path: &str, body: impl Into<Body>) -> Reply {
        let req = Request::post(path).header(header::CONTENT_TYPE, "application/json").body(body.into()).unwrap();
        self.send(req).await
    }

    pub async fn login_reply(&self, username: &str, password: &str) -> Reply {
        let body = serde_json::json!({"username": username, "password": password}).to_string();
        self.post_json("/api/v1/auth/login", body).await
    }

    pub async fn login(&self, username: &str) -> TokenResponse {
        let reply = self.login_reply(username, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        serde_json::from_slice(&reply.body).unwrap()
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        let body = serde_json::json!({ "refresh_token": refresh_token }).to_string();
        self.post_json("/api/v1/auth/refresh", body).await
    }

    /// A request with a bearer token (if any) and a JSON body (if any).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// An access token for `username`.
    pub async fn token(&self, username: &str) -> String {
        self.login(username).await.access_token
    }

    /// The resident ids a user's list shows.
    pub async fn visible_ids(&self, username: &str) -> Vec<i64> {
        let reply = self.get("/api/v1/residents", Some(&self.token(username).await)).await;
        assert_eq!(reply.status, StatusCode::OK);
        reply.json().as_array().unwrap().iter().map(|r| r["resident_id"].as_i64().unwrap()).collect()
    }
}
