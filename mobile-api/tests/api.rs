//! The API through `app(state).oneshot(request)`, over a real SQLite store in a temp dir.

#[path = "api/alert_names.rs"]
mod alert_names;
#[path = "api/audit.rs"]
mod audit;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/baselines.rs"]
mod baselines;
#[path = "api/care_circle.rs"]
mod care_circle;
#[path = "api/fhir.rs"]
mod fhir;
#[path = "api/matrix.rs"]
mod matrix;
#[path = "api/protocol.rs"]
mod protocol;
#[path = "api/residents.rs"]
mod residents;
#[path = "api/resources.rs"]
mod resources;
#[path = "api/sessions.rs"]
mod sessions;
#[path = "api/support.rs"]
mod support;
#[path = "api/time_zones.rs"]
mod time_zones;
#[path = "api/tokens.rs"]
mod tokens;
#[path = "api/vitals.rs"]
mod vitals;
