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

/// The `.route("...")` paths registered in the source, so that a route added without being
/// documented fails here (Swagger UI's own routes are added by its crate).
fn routes_in_source() -> BTreeSet<String> {
    fn scan(dir: &std::path::Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split(".route(").skip(1) {
                    if let Some(quoted) = piece.trim_start().strip_prefix('"') {
                        out.insert(quoted.split('"').next().unwrap().to_owned());
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    scan(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

#[tokio::test]
async fn openapi_documents_every_route_request_and_response() {
    let w = world().await;
    let reply = w.get("/api/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<String> = paths.keys().filter(|p| *p != "/api/docs/").cloned().collect();
    assert_eq!(documented, routes_in_source(), "documented paths vs routes in the source");

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    // Every reference resolves.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling reference to {name}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let name = format!("{method} {path}");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tag");
            assert!(op.get("summary").or(op.get("description")).is_some(), "{name}: undescribed");
            let responses = op["responses"].as_object().unwrap();
            let ok: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
            assert_eq!(ok.len(), 1, "{name}: one success answer");
            for (status, response) in responses {
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} {status}");
                if status == "204" {
                    continue;
                }
                let content = response["content"].as_object().unwrap_or_else(|| panic!("{name} {status}: no content"));
                for (media, c) in content {
                    if media != "text/event-stream" {
                        assert!(c.get("schema").is_some(), "{name} {status} {media}: no schema");
                    }
                }
                if status.starts_with('4') || status.starts_with('5') {
                    let media =
                        if path.starts_with("/fhir/") { "application/fhir+json" } else { "application/problem+json" };
                    assert!(content.contains_key(media), "{name} {status}: errors are {media}");
                }
            }
            assert!(responses.contains_key("500"), "{name}: 500");
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(responses.contains_key("401") && responses.contains_key("429"), "{name}: 401 and 429");
            }
            if let Some(body) = op.get("requestBody") {
                assert!(body["content"]["application/json"]["schema"].is_object(), "{name}: request schema");
                for s in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(s), "{name}: {s}");
                }
            }
            // Each {parameter} of the path is declared.
            let params: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = path.split('{').skip(1).map(|p| p.split('}').next().unwrap()).collect();
            assert_eq!(params, in_path, "{name}: path parameters");

            // The route answers this method (not the fallback's 404, not 405).
            let concrete: String = path
                .split('{')
                .enumerate()
                .map(|(i, p)| if i == 0 { p.to_owned() } else { format!("1{}", p.split_once('}').unwrap().1) })
                .collect();
            let req =
                Request::builder().method(method.to_uppercase().as_str()).uri(&concrete).body(Body::empty()).unwrap();
            let reply = w.send(req).await;
            assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{name}");
            assert!(!String::from_utf8_lossy(&reply.body).contains("no route for"), "{name}: not routed");
        }
    }
    assert!(operations >= 50, "{operations} operations");

    for name in [
        "LoginRequest",
        "RefreshRequest",
        "TokenResponse",
        "Me",
        "Resident",
        "VitalPoint",
        "VitalSeries",
        "Problem",
        "Bundle",
        "OperationOutcome",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    let metric_codes = serde_json::to_string(&schemas["Metric"]["enum"]).unwrap();
    assert!(metric_codes.contains("\"spo2\"") && metric_codes.contains("\"help_button\""), "{metric_codes}");
    let history = &doc["paths"]["/api/v1/residents/{resident_id}/vitals"]["get"]["parameters"];
    let params: BTreeSet<&str> = history.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, BTreeSet::from(["resident_id", "metric", "from", "to", "resolution", "limit", "cursor"]));
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].get("security").is_none());
}

#[tokio::test]
async fn the_docs_page_is_served_without_outside_resources() {
    let w = world().await;
    let page = w.get("/api/docs/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(html.contains("swagger-ui"), "{html:.200}");
    // Every script and stylesheet the page and its initialiser name is one of ours.
    let init = w.get("/api/docs/swagger-initializer.js", None).await;
    assert_eq!(init.status, StatusCode::OK);
    let init = String::from_utf8_lossy(&init.body).to_string();
    assert!(init.contains("/api/openapi.json"), "{init}");
    let compact: String = init.split_whitespace().collect();
    assert!(compact.contains("\"validatorUrl\":\"none\""), "no online validator: {init}");
    for text in [&html, &init] {
        for attr in ["src=\"", "href=\""] {
            for piece in text.split(attr).skip(1) {
                let url = piece.split('"').next().unwrap();
                assert!(!url.contains("//"), "an outside resource: {url}");
            }
        }
    }
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"] {
        let reply = w.get(&format!("/api/docs/{asset}"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
    }
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
