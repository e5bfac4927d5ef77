//! HTTP-level behaviour: limits, malformed input, unknown routes, OpenAPI, health, CORS.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use crate::support::{World, world, world_with};

#[tokio::test]
async fn an_oversized_body_is_413() {
    let w = world().await;
    let big = format!(r#"{{"username":"admin","password":"{}"}}"#, "x".repeat(100 * 1024));
    let p = w.post_json("/api/v1/auth/login", big).await.problem(413);
    assert_eq!(p.detail, "request body larger than 65536 bytes");
}

#[tokio::test]
async fn malformed_bodies_are_problems_naming_what_is_wrong() {
    let w = world().await;
    let syntax = w.post_json("/api/v1/auth/login", r#"{"username": "admin","#).await.problem(400);
    assert_eq!(syntax.type_, "urn:eldercare:problem:bad-request");
    assert!(syntax.detail.contains("syntax") || syntax.detail.contains("EOF"), "{}", syntax.detail);
    let missing = w.post_json("/api/v1/auth/login", r#"{"username": "admin"}"#).await.problem(422);
    assert!(missing.detail.contains("password"), "{}", missing.detail);
    let mistyped = w.post_json("/api/v1/auth/refresh", r#"{"refresh_token": 7}"#).await.problem(422);
    assert!(mistyped.detail.contains("refresh_token"), "{}", mistyped.detail);
    let no_type = Request::post("/api/v1/auth/login").body(Body::from(r#"{"username":"a","password":"b"}"#)).unwrap();
    w.send(no_type).await.problem(415);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let w = world().await;
    let p = w.get("/api/v1/nothing-here", None).await.problem(404);
    assert_eq!(p.detail, "no route for /api/v1/nothing-here");
    let wrong_method = w.get("/api/v1/auth/login", None).await;
    let p = wrong_method.problem(405);
    assert_eq!(p.title, "Method Not Allowed");
    assert_eq!(wrong_method.headers[header::ALLOW], "POST");
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let w = world().await;
    let reply = w.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    let paths: BTreeSet<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let expected = BTreeSet::from([
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/me",
        "/api/v1/residents",
        "/api/v1/residents/{resident_id}",
        "/api/v1/residents/{resident_id}/vitals/latest",
        "/api/v1/residents/{resident_id}/vitals",
        "/healthz",
        "/readyz",
        "/api/openapi.json",
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}",
        "/api/v1/alerts/{alert_id}/acknowledge",
        "/api/v1/alerts/{alert_id}/resolve",
        "/api/v1/alerts/{alert_id}/snooze",
        "/api/v1/live",
        "/api/v1/residents/{resident_id}/silences",
    ]);
    assert_eq!(paths, expected);

    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["paths"]["/api/v1/residents"]["get"]["security"][0]["bearer"], serde_json::json!([]));
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].get("security").is_none());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in
        ["LoginRequest", "RefreshRequest", "TokenResponse", "Me", "Resident", "VitalPoint", "VitalHistory", "Problem"]
    {
        assert!(schemas.contains_key(name), "{name}");
    }
    let metric_codes = serde_json::to_string(&schemas["Metric"]["enum"]).unwrap();
    assert!(metric_codes.contains("\"spo2\"") && metric_codes.contains("\"help_button\""), "{metric_codes}");
    let problem_401 = &doc["paths"]["/api/v1/me"]["get"]["responses"]["401"]["content"];
    assert!(problem_401.get("application/problem+json").is_some(), "{problem_401}");
    let history = &doc["paths"]["/api/v1/residents/{resident_id}/vitals"]["get"]["parameters"];
    let params: BTreeSet<&str> = history.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, BTreeSet::from(["resident_id", "metric", "from", "to", "limit"]));
}

#[tokio::test]
async fn health_and_readiness() {
    let w = world().await;
    let live = w.get("/healthz", None).await;
    assert_eq!((live.status, &live.body[..]), (StatusCode::OK, &b"ok"[..]));
    let ready = w.get("/readyz", None).await;
    assert_eq!((ready.status, &ready.body[..]), (StatusCode::OK, &b"ready"[..]));

    let broker_down = world_with(|s| s.with_readiness(|| Err("mqtt broker link down".into()))).await;
    let p = broker_down.get("/readyz", None).await.problem(503);
    assert_eq!(p.detail, "not ready: mqtt broker link down");

    w.store.close().await;
    let p = w.get("/readyz", None).await.problem(503);
    assert_eq!(p.detail, "not ready: database unreachable");
}

#[tokio::test]
async fn storage_failures_are_500_without_details() {
    let w = world().await;
    let token = w.token("admin").await;
    w.store.close().await;
    let p = w.get("/api/v1/residents", Some(&token)).await.problem(500);
    assert_eq!(p.detail, "internal error");
    assert_eq!(p.type_, "urn:eldercare:problem:internal");
}

async fn preflight(w: &World, origin: &str) -> axum::http::HeaderMap {
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/residents")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap();
    w.send(req).await.headers
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let plain = world().await;
    let headers = preflight(&plain, "https://console.example.org").await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let w = world_with(|s| s.with_cors_origins(vec!["https://console.example.org".into()])).await;
    let headers = preflight(&w, "https://console.example.org").await;
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://console.example.org");
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let other = preflight(&w, "https://evil.example").await;
    assert!(other.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}
