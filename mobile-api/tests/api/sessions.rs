//! Sessions: logout, password change, and the throttling of failed logins (per account name and
//! per client address), all on the injected clock.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{MINUTE, PASSWORD, Reply, World, world};

async fn login_from(w: &World, username: &str, password: &str, ip: &str) -> Reply {
    let body = json!({"username": username, "password": password}).to_string();
    let mut req = Request::post("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip.parse().unwrap(), 50000)));
    w.send(req).await
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let w = world().await;
    let t = w.login("caregiver").await;
    let other = w.login("caregiver").await;
    let out = w.call(Method::POST, "/api/v1/auth/logout", Some(&t.access_token), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(w.get("/api/v1/me", Some(&t.access_token)).await.problem(401).detail, "session ended");
    assert_eq!(w.refresh(&t.refresh_token).await.problem(401).detail, "invalid refresh token");
    assert_eq!(w.get("/api/v1/me", Some(&other.access_token)).await.status, StatusCode::OK, "other session");
    let audit = w.store.recent_audit(5).await.unwrap();
    assert!(audit.iter().any(|e| e.1 == Some(w.caregiver) && e.2 == "auth.logout"));
}

#[tokio::test]
async fn changing_the_password_needs_the_old_one_and_ends_other_sessions() {
    let w = world().await;
    let here = w.login("family1").await;
    let elsewhere = w.login("family1").await;
    let path = "/api/v1/auth/password";
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let wrong =
        w.call(Method::POST, path, Some(&here.access_token), Some(change("nope", "a brand new passphrase"))).await;
    assert_eq!(wrong.problem(403).type_, "urn:eldercare:problem:wrong-password");
    let weak = w.call(Method::POST, path, Some(&here.access_token), Some(change(PASSWORD, "short"))).await;
    assert!(weak.problem(400).detail.starts_with("new_password:"));
    let named =
        w.call(Method::POST, path, Some(&here.access_token), Some(change(PASSWORD, "family1-is-my-name"))).await;
    assert!(named.problem(400).detail.contains("username"));
    assert_eq!(w.get("/api/v1/me", Some(&elsewhere.access_token)).await.status, StatusCode::OK, "nothing changed yet");

    let ok =
        w.call(Method::POST, path, Some(&here.access_token), Some(change(PASSWORD, "a brand new passphrase"))).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{:?}", ok.body);
    assert_eq!(w.get("/api/v1/me", Some(&here.access_token)).await.status, StatusCode::OK, "this session stays");
    assert_eq!(w.get("/api/v1/me", Some(&elsewhere.access_token)).await.problem(401).detail, "session ended");
    w.refresh(&elsewhere.refresh_token).await.problem(401);
    w.login_reply("family1", PASSWORD).await.problem(401);
    assert_eq!(w.login_reply("family1", "a brand new passphrase").await.status, StatusCode::OK);

    let audit = w.store.recent_audit(10).await.unwrap();
    let actions: Vec<&str> = audit.iter().filter(|e| e.1 == Some(w.family1)).map(|e| e.2.as_str()).collect();
    assert!(actions.contains(&"account.password_changed") && actions.contains(&"account.password_change_failed"));
    assert!(audit.iter().all(|e| !e.4.contains("passphrase") && !e.4.contains(PASSWORD)), "{audit:?}");
}

#[tokio::test]
async fn five_failures_lock_an_account_name_for_a_quarter_hour() {
    let w = world().await;
    for _ in 0..5 {
        login_from(&w, "caregiver", "guess", "198.51.100.7").await.problem(401);
    }
    // Locked: even the right password, from anywhere, is refused until the lock ends.
    let locked = login_from(&w, "caregiver", PASSWORD, "203.0.113.1").await;
    assert_eq!(locked.problem(429).type_, "urn:eldercare:problem:too-many-requests");
    let retry: u64 = locked.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert_eq!(retry, 15 * 60);
    // Other accounts are not affected; unknown names lock the same way (no account oracle).
    assert_eq!(login_from(&w, "admin", PASSWORD, "203.0.113.1").await.status, StatusCode::OK);
    for _ in 0..5 {
        login_from(&w, "nobody", "guess", "203.0.113.2").await.problem(401);
    }
    login_from(&w, "nobody", "guess", "203.0.113.2").await.problem(429);

    w.advance(15 * MINUTE);
    assert_eq!(login_from(&w, "caregiver", PASSWORD, "203.0.113.1").await.status, StatusCode::OK);
    let audit = w.store.recent_audit(30).await.unwrap();
    assert!(audit.iter().any(|e| e.1 == Some(w.caregiver) && e.2 == "auth.login_throttled"));
}

#[tokio::test]
async fn failures_spread_over_time_do_not_lock_and_success_resets_the_count() {
    let w = world().await;
    for _ in 0..4 {
        login_from(&w, "caregiver", "guess", "198.51.100.7").await.problem(401);
    }
    assert_eq!(login_from(&w, "caregiver", PASSWORD, "198.51.100.7").await.status, StatusCode::OK);
    for _ in 0..4 {
        login_from(&w, "caregiver", "guess", "198.51.100.7").await.problem(401);
    }
    w.advance(16 * MINUTE); // the window has passed
    login_from(&w, "caregiver", "guess", "198.51.100.7").await.problem(401);
    assert_eq!(login_from(&w, "caregiver", PASSWORD, "198.51.100.7").await.status, StatusCode::OK);
}

#[tokio::test]
async fn twenty_failures_from_one_address_lock_that_address() {
    let w = world().await;
    // Spread over names so that no single account locks.
    for i in 0..20 {
        login_from(&w, &format!("user{}", i % 5), "guess", "198.51.100.9").await.problem(401);
    }
    login_from(&w, "admin", PASSWORD, "198.51.100.9").await.problem(429);
    assert_eq!(login_from(&w, "admin", PASSWORD, "198.51.100.10").await.status, StatusCode::OK, "other address");
    // The audit log says where the attempts came from.
    let q = eldercare_store::audit_trail::AuditQuery { limit: 100, ..Default::default() };
    let audit = w.store.audit_for_admin(w.admin, &q).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "auth.login_failed" && e.client_ip.as_deref() == Some("198.51.100.9")));
}

#[tokio::test]
async fn each_account_has_a_request_rate_limit() {
    let w = crate::support::world_with(|s| {
        s.with_rate_limit(Some(eldercare_mobile_api::RateLimit { per_second: 1.0, burst: 3.0 }))
    })
    .await;
    let admin = w.token("admin").await;
    let family = w.token("family1").await;
    for _ in 0..3 {
        assert_eq!(w.get("/api/v1/me", Some(&admin)).await.status, StatusCode::OK);
    }
    let limited = w.get("/api/v1/me", Some(&admin)).await;
    assert_eq!(limited.problem(429).detail, "too many requests for this account");
    assert_eq!(limited.headers[header::RETRY_AFTER], "1");
    assert_eq!(w.get("/api/v1/me", Some(&family)).await.status, StatusCode::OK, "per account");
    w.advance(1000);
    assert_eq!(w.get("/api/v1/me", Some(&admin)).await.status, StatusCode::OK, "refilled");
}
