//! Every way a bearer token can be wrong answers 401 problem+json with a Bearer challenge.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::{MINUTE, SECRET, T0, World, world};

/// Claims as the API issues them, for `user_id` in an open session of theirs (or of the
/// administrator, for an account that does not exist), valid at the test clock's start.
fn claims(w: &World, user_id: i64) -> Value {
    let now = T0 / 1000;
    let sid = w.sessions.get(&user_id).unwrap_or(&w.sessions[&w.admin]);
    json!({"sub": user_id.to_string(), "sid": sid, "role": "admin", "iss": "eldercare", "aud": "eldercare-api",
           "iat": now, "nbf": now, "exp": now + 900})
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes()).unwrap())
        .unwrap()
}

#[track_caller]
fn assert_refused(reply: &crate::support::Reply, what: &str) -> String {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", reply.body);
    let challenge = reply.headers.get(header::WWW_AUTHENTICATE).unwrap_or_else(|| panic!("{what}: no challenge"));
    assert!(challenge.to_str().unwrap().starts_with("Bearer"), "{what}");
    reply.problem(401).detail
}

async fn me(w: &World, token: &str) -> crate::support::Reply {
    w.get("/api/v1/me", Some(token)).await
}

#[tokio::test]
async fn a_token_signed_like_ours_is_accepted() {
    // The control for the refusals below: the same construction with the right secret works.
    let w = world().await;
    let reply = me(&w, &sign(&claims(&w, w.admin), SECRET)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["username"], "admin");
}

#[tokio::test]
async fn missing_and_malformed_tokens_are_refused() {
    let w = world().await;
    let none = w.get("/api/v1/residents", None).await;
    assert_eq!(assert_refused(&none, "no token"), "missing bearer token");
    assert_eq!(none.problem(401).type_, "urn:eldercare:problem:missing-token");

    let basic =
        Request::get("/api/v1/me").header(header::AUTHORIZATION, "Basic YWRtaW46eA==").body(Body::empty()).unwrap();
    assert_refused(&w.send(basic).await, "basic auth");
    assert_eq!(assert_refused(&me(&w, "garbage").await, "garbage"), "invalid access token");
    assert_refused(&me(&w, "a.b.c").await, "three garbage parts");
    let empty = Request::get("/api/v1/me").header(header::AUTHORIZATION, "Bearer ").body(Body::empty()).unwrap();
    assert_refused(&w.send(empty).await, "empty bearer");
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let w = world().await;
    let token = w.token("admin").await;
    w.advance(14 * MINUTE);
    assert_eq!(me(&w, &token).await.status, StatusCode::OK, "still valid after 14 minutes");
    w.advance(2 * MINUTE);
    assert_eq!(assert_refused(&me(&w, &token).await, "after 16 minutes"), "access token expired");

    let mut old = claims(&w, w.admin);
    old["exp"] = json!(T0 / 1000 - 3600);
    assert_refused(&me(&w, &sign(&old, SECRET)).await, "exp an hour ago");
    let mut future = claims(&w, w.admin);
    future["nbf"] = json!(T0 / 1000 + 3600);
    assert_refused(&me(&w, &sign(&future, SECRET)).await, "nbf in an hour");
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    let w = world().await;
    let forged = sign(&claims(&w, w.admin), "another-secret-that-is-also-long-enough!");
    assert_refused(&me(&w, &forged).await, "other secret");

    for (claim, value) in [("iss", "someone-else"), ("aud", "another-api")] {
        let mut c = claims(&w, w.admin);
        c[claim] = json!(value);
        assert_refused(&me(&w, &sign(&c, SECRET)).await, claim);
    }
    for claim in ["exp", "nbf", "iss", "aud", "sub", "sid"] {
        let mut c = claims(&w, w.admin);
        c.as_object_mut().unwrap().remove(claim);
        assert_refused(&me(&w, &sign(&c, SECRET)).await, &format!("without {claim}"));
    }
    // A well-signed token whose account does not exist (deleted) is refused.
    assert_refused(&me(&w, &sign(&claims(&w, 999_999), SECRET)).await, "no such user");
    let mut c = claims(&w, w.admin);
    c["sub"] = json!("admin");
    assert_refused(&me(&w, &sign(&c, SECRET)).await, "non-numeric sub");
    // A real session, but someone else's.
    let mut c = claims(&w, w.family1);
    c["sid"] = json!(w.sessions[&w.admin]);
    assert_refused(&me(&w, &sign(&c, SECRET)).await, "another account's session");
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_refused() {
    let w = world().await;
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = b64(&claims(&w, w.admin));
    let none = format!("{}.{payload}.", b64(&json!({"alg": "none", "typ": "JWT"})));
    assert_refused(&me(&w, &none).await, "alg none");
    // HS512 with the right secret is still not HS256.
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(&w, w.admin),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_refused(&me(&w, &hs512).await, "HS512");
    // An RS256 header over an HMAC signature (key confusion) is refused.
    let good = sign(&claims(&w, w.admin), SECRET);
    let signature = good.rsplit('.').next().unwrap();
    let rs = format!("{}.{payload}.{signature}", b64(&json!({"alg": "RS256", "typ": "JWT"})));
    assert_refused(&me(&w, &rs).await, "RS256 header");
}

#[tokio::test]
async fn the_role_comes_from_the_database_not_the_token() {
    let w = world().await;
    // family1 presenting a token that claims "admin" still sees only their relative.
    let mut c = claims(&w, w.family1);
    c["role"] = json!("admin");
    let reply = w.get("/api/v1/residents", Some(&sign(&c, SECRET))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let ids: Vec<i64> = reply.json().as_array().unwrap().iter().map(|r| r["resident_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![w.resident_a]);
    assert_eq!(me(&w, &sign(&c, SECRET)).await.json()["role"], "family");
}
