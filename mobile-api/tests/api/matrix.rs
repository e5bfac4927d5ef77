//! The authorization matrix, generated over every operation of the OpenAPI document and every
//! role. For each operation:
//!
//! - no token, an expired token and a forged token: 401 (public operations: their normal answer);
//! - for each role (administrator, caregiver, family), a user with the target in scope: the
//!   status the role may get (each in a fresh world, since many operations change things);
//! - for each role, a user of the same role whose scope is elsewhere: the status (404 for
//!   anything named, a list without the target for collections), and nothing of the target's
//!   household in the body: no name, no device or gateway id, no `resident_id` or
//!   `Patient/<id>` of its residents.
//!
//! The operations come from `/api/openapi.json`: an operation without a row in [`cases`] fails
//! the test, so a new route cannot be left out of the matrix.
//!
//! The world: district D; community C1 → grid G1 → households H1 (resident A, gateway gw-1,
//! oximeter ox-a) and H3 (resident C); community C2 → grid G2 → household H2 (resident B,
//! gw-2, ox-b). In scope of A: admin1 (C1), caregiver1 (G1), family1 (A's guardian), family3
//! (invited to A's circle). Elsewhere: admin2 (C2), caregiver2 (G2), family2 (B's guardian).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use eldercare_mobile_api::{ApiState, LiveHub, app, password};
use eldercare_schema::Metric;
use eldercare_store::audit_trail::AuditEntry;
use eldercare_store::care_circle::NewInvitation;
use eldercare_store::fhir::ObservationQuery;
use eldercare_store::org::OrgKind;
use eldercare_store::{Role, Store, Subject};
use futures::StreamExt;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::support::{MINUTE, PASSWORD, SECRET, T0, auth_config, reading};

/// The roles, in the order of the expectation arrays.
const ROLES: [&str; 3] = ["admin", "caregiver", "family"];

/// What the target's household is called, and what identifies it: none of it may reach an
/// out-of-scope caller.
const SECRETS: [&str; 8] =
    ["Wang Fang", "No. 1 Elm Street", "ox-a", "gw-1", "Grid 1", "Community One", "Nurse Chen", "Wang Jun"];

struct Ctx {
    app: Router,
    _dir: tempfile::TempDir,
    /// username → (user id, session id, refresh token)
    users: BTreeMap<&'static str, (i64, i64, String)>,
    resident_a: i64,
    resident_c: i64,
    household_1: i64,
    community_1: i64,
    grid_1: i64,
    invitation: i64,
    alert: i64,
    observation: i64,
}

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash_password(PASSWORD).unwrap())
}

async fn ctx() -> Ctx {
    let dir = crate::support::temp_dir();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("m.db").display())).await.unwrap();
    let s = &store;
    let district = s.create_org_unit(None, OrgKind::District, "Riverside").await.unwrap();
    let c1 = s.create_org_unit(Some(district), OrgKind::Community, "Community One").await.unwrap();
    let c2 = s.create_org_unit(Some(district), OrgKind::Community, "Community Two").await.unwrap();
    let g1 = s.create_org_unit(Some(c1), OrgKind::Grid, "Grid 1").await.unwrap();
    let g2 = s.create_org_unit(Some(c2), OrgKind::Grid, "Grid 2").await.unwrap();
    let h1 = s.create_household(g1, "No. 1 Elm Street").await.unwrap();
    let h2 = s.create_household(g2, "No. 9 Oak Lane").await.unwrap();
    let h3 = s.create_household(g1, "No. 3 Elm Street").await.unwrap();
    let a = s.create_resident(h1, "Wang Fang", Some(1941)).await.unwrap();
    let b = s.create_resident(h2, "Li Wei", None).await.unwrap();
    let c = s.create_resident(h3, "Zhao Min", Some(1938)).await.unwrap();

    let accounts: [(&str, Role, &str, Option<i64>); 9] = [
        ("admin1", Role::Admin, "Admin One", Some(c1)),
        ("admin2", Role::Admin, "Admin Two", Some(c2)),
        ("caregiver1", Role::Caregiver, "Nurse Chen", Some(g1)),
        ("caregiver2", Role::Caregiver, "Nurse Liu", Some(g2)),
        ("family1", Role::Family, "Wang Jun", None),
        ("family2", Role::Family, "Li Na", None),
        ("family3", Role::Family, "Wang Lei", None),
        ("family4", Role::Family, "Wang Hua", None),
        ("family5", Role::Family, "Zhou Yan", None),
    ];
    let mut users = BTreeMap::new();
    for (name, role, display, scope) in accounts {
        let id = s.create_user(name, password_hash(), role, display).await.unwrap();
        if let Some(unit) = scope {
            s.grant_scope(id, unit).await.unwrap();
        }
        let refresh = format!("refresh-token-of-{name}");
        let hash = hex::encode(Sha256::digest(refresh.as_bytes()));
        let session = s.start_session(id, &hash, T0 + 3_600_000, T0, None).await.unwrap();
        users.insert(name, (id, session, refresh));
    }
    let uid = |n: &str| users[n].0;
    s.add_to_care_circle(uid("family1"), a, "son").await.unwrap();
    s.set_guardian(uid("family1"), a, true).await.unwrap();
    s.add_to_care_circle(uid("family2"), b, "daughter").await.unwrap();
    s.set_guardian(uid("family2"), b, true).await.unwrap();

    s.register_gateway("gw-1", h1).await.unwrap();
    s.register_device("ox-a", "gw-1", a, "pulse_oximeter").await.unwrap();
    s.register_gateway("gw-2", h2).await.unwrap();
    s.register_device("ox-b", "gw-2", b, "pulse_oximeter").await.unwrap();
    s.ingest("gw-1", &[reading("ox-a", 1, a, Metric::Spo2, 91.0, T0 - 10 * MINUTE)], &[], T0).await.unwrap();
    s.ingest("gw-2", &[reading("ox-b", 1, b, Metric::Spo2, 97.0, T0 - 10 * MINUTE)], &[], T0).await.unwrap();
    let q = ObservationQuery { resident_ids: vec![a], metrics: vec![Metric::Spo2], limit: 1, ..Default::default() };
    let observation = s.observations(&q).await.unwrap()[0].row_id;

    let mut tx = s.begin().await.unwrap();
    let alert = tx.raise(Subject::Resident(a), "spo2_low", "critical", "SpO2 low", "{}", T0).await.unwrap().alert_id;
    tx.commit().await.unwrap();
    let new = NewInvitation {
        resident_id: a,
        invitee_id: uid("family3"),
        relationship: "grandson",
        guardian: false,
        invited_by: uid("caregiver1"),
    };
    let invitation = s.create_invitation(&new, T0).await.unwrap().invitation_id;
    // Something about A already in the audit log, which an administrator elsewhere must not see.
    let entry = AuditEntry {
        at_ms: T0,
        user_id: Some(uid("caregiver1")),
        action: "resident.read".into(),
        resident_id: Some(a),
        detail: "setup".into(),
        client_ip: None,
    };
    s.append_audit(&[entry]).await.unwrap();

    let state = ApiState::new(store.clone(), auth_config())
        .with_clock(|| T0)
        .with_rate_limit(None)
        .with_baselines(|_, _, _| Vec::new())
        .with_live(LiveHub::spawn(store.clone(), tokio_util::sync::CancellationToken::new()));
    Ctx {
        app: app(state),
        _dir: dir,
        users,
        resident_a: a,
        resident_c: c,
        household_1: h1,
        community_1: c1,
        grid_1: g1,
        invitation,
        alert,
        observation,
    }
}

impl Ctx {
    fn token(&self, user: &str, exp_offset_s: i64, secret: &str) -> String {
        let (id, session, _) = &self.users[user];
        let now = T0 / 1000;
        let claims = json!({"sub": id.to_string(), "sid": session, "role": "admin", "iss": "eldercare",
            "aud": "eldercare-api", "iat": now, "nbf": now, "exp": now + exp_offset_s});
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    /// A concrete path for an OpenAPI path template.
    fn path(&self, template: &str) -> String {
        let id = if template.starts_with("/fhir/r4/Observation") {
            self.observation.to_string()
        } else if template.starts_with("/fhir/r4/Device") {
            "d-ox-a".to_owned()
        } else {
            self.resident_a.to_string()
        };
        template
            .replace("{resident_id}", &self.resident_a.to_string())
            .replace("{user_id}", &self.users["family1"].0.to_string())
            .replace("{device_id}", "ox-a")
            .replace("{gateway_id}", "gw-1")
            .replace("{org_unit_id}", &self.community_1.to_string())
            .replace("{invitation_id}", &self.invitation.to_string())
            .replace("{alert_id}", &self.alert.to_string())
            .replace("{id}", &id)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        stream: bool,
    ) -> (StatusCode, String) {
        let mut req =
            Request::builder().method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap()).uri(path);
        req = req.header(header::HOST, "api.test");
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
        let res = self.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        if stream && status == StatusCode::OK {
            // An event stream never ends; its headers are the answer.
            return (status, String::new());
        }
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// One operation's row of the matrix.
struct Case {
    method: &'static str,
    path: &'static str,
    /// Extra query string (`a=b`), with `{A}` for resident A's id and `{G1}` for grid 1's.
    query: &'static str,
    /// The body, by the caller's role.
    body: fn(&Ctx, &str) -> Option<Value>,
    /// No token needed.
    public: bool,
    /// Status for a user of each role with the target in scope.
    in_scope: [u16; 3],
    /// Status for a user of each role whose scope is elsewhere.
    out_of_scope: [u16; 3],
    /// The family member in scope, if not family1 (the invitee, for accepting).
    family_in_scope: &'static str,
    /// `text/event-stream`: only the status is checked.
    stream: bool,
}

fn none(_: &Ctx, _: &str) -> Option<Value> {
    None
}

const fn case(method: &'static str, path: &'static str, in_scope: [u16; 3], out_of_scope: [u16; 3]) -> Case {
    Case {
        method,
        path,
        query: "",
        body: none,
        public: false,
        in_scope,
        out_of_scope,
        family_in_scope: "family1",
        stream: false,
    }
}

const fn public(method: &'static str, path: &'static str) -> Case {
    Case { public: true, ..case(method, path, [200; 3], [200; 3]) }
}

const ALL_OK: [u16; 3] = [200; 3];
const NOT_FOUND: [u16; 3] = [404; 3];
const STAFF_ONLY: [u16; 3] = [200, 200, 404];

fn cases() -> Vec<Case> {
    vec![
        Case {
            public: true,
            body: |_, user| Some(json!({"username": user, "password": PASSWORD})),
            ..case("post", "/api/v1/auth/login", ALL_OK, ALL_OK)
        },
        Case {
            public: true,
            body: |cx, user| Some(json!({"refresh_token": cx.users[user].2})),
            ..case("post", "/api/v1/auth/refresh", ALL_OK, ALL_OK)
        },
        case("post", "/api/v1/auth/logout", [204; 3], [204; 3]),
        Case {
            body: |_, _| Some(json!({"current_password": PASSWORD, "new_password": "an entirely new passphrase"})),
            ..case("post", "/api/v1/auth/password", [204; 3], [204; 3])
        },
        case("get", "/api/v1/me", ALL_OK, ALL_OK),
        Case {
            body: |cx, _| {
                Some(json!({"username": "new.nurse", "display_name": "New Nurse", "role": "caregiver",
                    "password": PASSWORD, "org_unit_ids": [cx.grid_1]}))
            },
            ..case("post", "/api/v1/accounts", [201, 404, 404], NOT_FOUND)
        },
        case("get", "/api/v1/org-units", ALL_OK, ALL_OK),
        Case {
            body: |cx, _| Some(json!({"parent_id": cx.community_1, "kind": "grid", "name": "Grid 3"})),
            ..case("post", "/api/v1/org-units", [201, 404, 404], NOT_FOUND)
        },
        Case {
            body: |_, _| Some(json!({"time_zone": "Asia/Urumqi"})),
            ..case("patch", "/api/v1/org-units/{org_unit_id}", [200, 404, 404], NOT_FOUND)
        },
        case("get", "/api/v1/households", ALL_OK, ALL_OK),
        Case {
            body: |cx, _| Some(json!({"org_unit_id": cx.grid_1, "name": "No. 5 Elm Street"})),
            ..case("post", "/api/v1/households", [201, 201, 404], NOT_FOUND)
        },
        case("get", "/api/v1/residents", ALL_OK, ALL_OK),
        Case {
            body: |cx, _| Some(json!({"household_id": cx.household_1, "full_name": "Wang Ming", "birth_year": 1950})),
            ..case("post", "/api/v1/residents", [201, 201, 404], NOT_FOUND)
        },
        case("get", "/api/v1/residents/{resident_id}", ALL_OK, NOT_FOUND),
        Case {
            body: |_, _| Some(json!({"birth_year": 1942})),
            ..case("patch", "/api/v1/residents/{resident_id}", STAFF_ONLY, NOT_FOUND)
        },
        case("get", "/api/v1/residents/{resident_id}/vitals/latest", ALL_OK, NOT_FOUND),
        case("get", "/api/v1/residents/{resident_id}/baselines", ALL_OK, NOT_FOUND),
        Case { query: "metric=spo2", ..case("get", "/api/v1/residents/{resident_id}/vitals", ALL_OK, NOT_FOUND) },
        Case { query: "resident_ids={A}", ..case("get", "/api/v1/vitals/latest", ALL_OK, ALL_OK) },
        case("get", "/api/v1/devices", ALL_OK, ALL_OK),
        Case {
            body: |cx, _| {
                Some(
                    json!({"device_id": "sc-a-01", "kind": "scale", "gateway_id": "gw-1", "resident_id": cx.resident_a}),
                )
            },
            ..case("post", "/api/v1/devices", [201, 201, 404], NOT_FOUND)
        },
        case("get", "/api/v1/devices/{device_id}", ALL_OK, NOT_FOUND),
        Case {
            body: |cx, _| Some(json!({"gateway_id": "gw-1", "resident_id": cx.resident_a})),
            ..case("put", "/api/v1/devices/{device_id}/binding", STAFF_ONLY, NOT_FOUND)
        },
        case("get", "/api/v1/gateways", ALL_OK, ALL_OK),
        Case {
            body: |cx, _| Some(json!({"gateway_id": "gw-1b", "household_id": cx.household_1})),
            ..case("post", "/api/v1/gateways", [201, 201, 404], NOT_FOUND)
        },
        case("get", "/api/v1/gateways/{gateway_id}", ALL_OK, NOT_FOUND),
        case("get", "/api/v1/residents/{resident_id}/care-circle", ALL_OK, NOT_FOUND),
        Case {
            body: |_, _| Some(json!({"guardian": false})),
            ..case("put", "/api/v1/residents/{resident_id}/care-circle/{user_id}", STAFF_ONLY, NOT_FOUND)
        },
        case("delete", "/api/v1/residents/{resident_id}/care-circle/{user_id}", [204; 3], NOT_FOUND),
        case("get", "/api/v1/residents/{resident_id}/care-circle/invitations", ALL_OK, NOT_FOUND),
        Case {
            body: |_, _| Some(json!({"username": "family4", "relationship": "niece"})),
            ..case("post", "/api/v1/residents/{resident_id}/care-circle/invitations", [201; 3], NOT_FOUND)
        },
        case("get", "/api/v1/care-circle/invitations", ALL_OK, ALL_OK),
        Case {
            body: |_, user| {
                if user.starts_with("family") {
                    Some(json!({"method": "guardian"}))
                } else {
                    Some(json!({"method": "resident_written", "note": "consent form signed on 2024-05-01"}))
                }
            },
            ..case("post", "/api/v1/care-circle/invitations/{invitation_id}/consent", ALL_OK, NOT_FOUND)
        },
        Case {
            family_in_scope: "family3",
            ..case("post", "/api/v1/care-circle/invitations/{invitation_id}/accept", [404, 404, 200], NOT_FOUND)
        },
        Case {
            family_in_scope: "family3",
            ..case("post", "/api/v1/care-circle/invitations/{invitation_id}/decline", [404, 404, 200], NOT_FOUND)
        },
        case("post", "/api/v1/care-circle/invitations/{invitation_id}/cancel", ALL_OK, NOT_FOUND),
        case("get", "/api/v1/residents/{resident_id}/thresholds", ALL_OK, NOT_FOUND),
        Case {
            body: |_, _| Some(json!({"spo2_scale": 2})),
            ..case("put", "/api/v1/residents/{resident_id}/thresholds", STAFF_ONLY, NOT_FOUND)
        },
        case("get", "/api/v1/residents/{resident_id}/thresholds/history", ALL_OK, NOT_FOUND),
        Case { query: "org_unit_id={G1}", ..case("get", "/api/v1/stats", STAFF_ONLY, NOT_FOUND) },
        case("get", "/api/v1/audit", [200, 404, 404], [200, 404, 404]),
        case("get", "/api/v1/residents/{resident_id}/audit", [200, 404, 200], NOT_FOUND),
        public("get", "/fhir/r4/metadata"),
        case("get", "/fhir/r4/Patient", ALL_OK, ALL_OK),
        case("get", "/fhir/r4/Patient/{id}", ALL_OK, NOT_FOUND),
        Case { query: "patient={A}", ..case("get", "/fhir/r4/Observation", ALL_OK, ALL_OK) },
        case("get", "/fhir/r4/Observation/{id}", ALL_OK, NOT_FOUND),
        case("get", "/fhir/r4/Device", ALL_OK, ALL_OK),
        case("get", "/fhir/r4/Device/{id}", ALL_OK, NOT_FOUND),
        public("get", "/healthz"),
        public("get", "/readyz"),
        public("get", "/api/docs/"),
        public("get", "/api/openapi.json"),
        // The alert routes.
        case("get", "/api/v1/alerts", ALL_OK, ALL_OK),
        case("get", "/api/v1/alerts/{alert_id}", ALL_OK, NOT_FOUND),
        Case {
            body: |_, _| Some(json!({"note": "calling her now"})),
            ..case("post", "/api/v1/alerts/{alert_id}/acknowledge", ALL_OK, NOT_FOUND)
        },
        Case {
            body: |_, _| Some(json!({"note": "visited; oximeter was loose"})),
            ..case("post", "/api/v1/alerts/{alert_id}/resolve", [200, 200, 403], NOT_FOUND)
        },
        Case {
            body: |_, _| Some(json!({"minutes": 30})),
            ..case("post", "/api/v1/alerts/{alert_id}/snooze", [200, 200, 403], NOT_FOUND)
        },
        Case { stream: true, ..case("get", "/api/v1/live", ALL_OK, ALL_OK) },
        Case {
            body: |_, _| Some(json!({"minutes": 60, "reason": "in hospital"})),
            ..case("post", "/api/v1/residents/{resident_id}/silences", [201, 201, 403], NOT_FOUND)
        },
    ]
}

/// What of the target's household is in `body`, if anything.
fn leaks(cx: &Ctx, body: &str) -> Vec<String> {
    let mut found: Vec<String> = SECRETS.iter().filter(|s| body.contains(*s)).map(|s| s.to_string()).collect();
    let hidden = [cx.resident_a, cx.resident_c];
    fn walk(v: &Value, hidden: &[i64], found: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if k.ends_with("resident_id") && v.as_i64().is_some_and(|id| hidden.contains(&id)) {
                        found.push(format!("{k}: {v}"));
                    }
                    if k == "reference" && hidden.iter().any(|id| v.as_str() == Some(&format!("Patient/{id}"))) {
                        found.push(format!("{k}: {v}"));
                    }
                    walk(v, hidden, found);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, hidden, found)),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        walk(&v, &hidden, &mut found);
    }
    found
}

fn with_query(cx: &Ctx, case: &Case, path: String) -> String {
    if case.query.is_empty() {
        return path;
    }
    let q = case.query.replace("{A}", &cx.resident_a.to_string()).replace("{G1}", &cx.grid_1.to_string());
    format!("{path}?{q}")
}

/// Runs one operation's row; returns the failures.
async fn run(case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    let name = format!("{} {}", case.method.to_uppercase(), case.path);
    let mut check = |what: &str, got: StatusCode, want: u16, body: &str, leaked: Vec<String>| {
        if got.as_u16() != want {
            failures.push(format!("{name} [{what}]: status {got}, expected {want}: {body:.300}"));
        }
        if !leaked.is_empty() {
            failures.push(format!("{name} [{what}]: leaked {leaked:?}: {body:.300}"));
        }
    };

    // Tokens that must not work, and users whose scope is elsewhere: nothing may change, so one
    // world serves them all.
    let cx0 = ctx().await;
    let cx = &cx0;
    let path = with_query(cx, case, cx.path(case.path));
    let body = (case.body)(cx, "admin1");
    if !case.public {
        let expired = cx.token("admin1", -3600, SECRET);
        let forged = cx.token("admin1", 900, "a-forged-secret-that-is-long-enough-too");
        for (what, token) in [("no token", None), ("expired token", Some(expired)), ("forged token", Some(forged))] {
            let (status, text) = cx.send(case.method, &path, token.as_deref(), body.clone(), case.stream).await;
            check(what, status, 401, &text, leaks(cx, &text));
        }
    }
    for (i, user) in ["admin2", "caregiver2", "family2"].into_iter().enumerate() {
        let token = cx.token(user, 900, SECRET);
        let (status, text) = cx.send(case.method, &path, Some(&token), (case.body)(cx, user), case.stream).await;
        check(&format!("{} elsewhere", ROLES[i]), status, case.out_of_scope[i], &text, leaks(cx, &text));
    }

    // Users with the target in scope: a read shares the world; anything else gets a fresh one
    // for each user, since it may change what the next one finds.
    let read_only = case.method == "get";
    for (i, user) in ["admin1", "caregiver1", case.family_in_scope].into_iter().enumerate() {
        let cx = if read_only { None } else { Some(ctx().await) };
        let cx = cx.as_ref().unwrap_or(&cx0);
        let path = with_query(cx, case, cx.path(case.path));
        let token = cx.token(user, 900, SECRET);
        let (status, text) = cx.send(case.method, &path, Some(&token), (case.body)(cx, user), case.stream).await;
        check(&format!("{} in scope", ROLES[i]), status, case.in_scope[i], &text, Vec::new());
    }
    failures
}

/// Every operation of the document, as (method, path).
async fn documented_operations() -> BTreeSet<(String, String)> {
    let cx = ctx().await;
    let (status, text) = cx.send("get", "/api/openapi.json", None, None, false).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_for_every_role_in_and_out_of_scope() {
    let documented = documented_operations().await;
    let cases = cases();
    let covered: BTreeSet<(String, String)> = cases.iter().map(|c| (c.method.to_owned(), c.path.to_owned())).collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "operations without a row in the authorization matrix (add one to cases()): {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&documented).collect();
    assert!(stale.is_empty(), "matrix rows for operations not in the OpenAPI document: {stale:?}");

    let cases = Arc::new(cases);
    let failures: Vec<String> = futures::stream::iter(0..cases.len())
        .map(|i| {
            let cases = cases.clone();
            tokio::spawn(async move { run(&cases[i]).await })
        })
        .buffer_unordered(4)
        .flat_map(|r| futures::stream::iter(r.unwrap()))
        .collect()
        .await;
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn the_matrix_notices_a_leak() {
    // The control for the leak check: the target's own caregiver does see A's household.
    let cx = ctx().await;
    let token = cx.token("caregiver1", 900, SECRET);
    let (status, text) = cx.send("get", "/api/v1/residents", Some(&token), None, false).await;
    assert_eq!(status, StatusCode::OK);
    let found = leaks(&cx, &text);
    assert!(found.iter().any(|f| f == "Wang Fang") && found.iter().any(|f| f.starts_with("resident_id")), "{found:?}");
    let (_, fhir) =
        cx.send("get", &format!("/fhir/r4/Observation?patient={}", cx.resident_a), Some(&token), None, false).await;
    assert!(leaks(&cx, &fhir).iter().any(|f| f.starts_with("reference")), "{fhir}");
}
