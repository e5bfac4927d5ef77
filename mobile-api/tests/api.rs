//! The API through `app(state).oneshot(request)`, over a real SQLite store in a temp dir.

#[path = "api/auth.rs"]
mod auth;
#[path = "api/protocol.rs"]
mod protocol;
#[path = "api/residents.rs"]
mod residents;
#[path = "api/support.rs"]
mod support;
#[path = "api/tokens.rs"]
mod tokens;
#[path = "api/vitals.rs"]
mod vitals;
