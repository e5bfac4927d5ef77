//! Login, refresh, `/me`, and what they leave in the audit log.

use axum::http::{StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::support::{MINUTE, PASSWORD, SECRET, T0, world};

#[tokio::test]
async fn login_issues_a_bearer_token_pair_with_the_promised_claims() {
    let w = world().await;
    let tokens = w.login("caregiver").await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    assert_eq!(tokens.refresh_token.len(), 64, "32 random bytes, hex");
    assert_ne!(tokens.refresh_token, w.login("caregiver").await.refresh_token);

    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["eldercare-api"]);
    v.set_issuer(&["eldercare"]);
    v.validate_exp = false; // issued at the test clock's time
    let claims =
        jsonwebtoken::decode::<Value>(&tokens.access_token, &DecodingKey::from_secret(SECRET.as_bytes()).unwrap(), &v)
            .unwrap()
            .claims;
    assert_eq!(claims["sub"], w.caregiver.to_string());
    assert_eq!(claims["role"], "caregiver");
    assert_eq!(claims["iat"], T0 / 1000);
    assert_eq!(claims["nbf"], T0 / 1000);
    assert_eq!(claims["exp"], T0 / 1000 + 900);

    let me = w.get("/api/v1/me", Some(&tokens.access_token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.json(),
        serde_json::json!({"user_id": w.caregiver, "username": "caregiver", "role": "caregiver", "display_name": "Nurse Chen"})
    );

    let audit = w.store.recent_audit(10).await.unwrap();
    let logins: Vec<_> = audit.iter().filter(|e| e.2 == "auth.login").map(|e| e.1).collect();
    assert_eq!(logins, vec![Some(w.caregiver), Some(w.caregiver)]);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let w = world().await;
    let wrong = w.login_reply("family1", "not the password").await;
    let unknown = w.login_reply("nobody", PASSWORD).await;
    let p = wrong.problem(401);
    assert_eq!(p.type_, "urn:eldercare:problem:invalid-credentials");
    assert_eq!(p.detail, "invalid username or password");
    unknown.problem(401);
    assert_eq!(wrong.body, unknown.body, "identical bodies");
    assert_eq!(wrong.headers.get(header::WWW_AUTHENTICATE), unknown.headers.get(header::WWW_AUTHENTICATE));
    assert!(wrong.headers[header::WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer"));

    let audit = w.store.recent_audit(10).await.unwrap();
    let failed: Vec<_> = audit.iter().filter(|e| e.2 == "auth.login_failed").map(|e| (e.1, e.4.as_str())).collect();
    assert_eq!(failed, vec![(None, "unknown user"), (Some(w.family1), "wrong password")]);
    for entry in &audit {
        assert!(!entry.4.contains("not the password") && !entry.4.contains(PASSWORD), "{entry:?}");
        assert!(!entry.4.contains("nobody"), "unknown usernames are not kept: {entry:?}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_spent_refresh_token_is_refused() {
    let w = world().await;
    let first = w.login("family1").await;
    w.advance(MINUTE);
    let body = |t: &str| serde_json::json!({ "refresh_token": t }).to_string();

    let second = w.post_json("/api/v1/auth/refresh", body(&first.refresh_token)).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    let second: eldercare_schema::api::TokenResponse = serde_json::from_slice(&second.body).unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token, "issued a minute later");
    let me = w.get("/api/v1/me", Some(&second.access_token)).await;
    assert_eq!(me.json()["username"], "family1");

    let again = w.post_json("/api/v1/auth/refresh", body(&first.refresh_token)).await;
    assert_eq!(again.problem(401).detail, "invalid refresh token");
    let garbage = w.post_json("/api/v1/auth/refresh", body("not-a-token")).await;
    garbage.problem(401);

    // The new one works once, until it expires after 30 days.
    let third = w.post_json("/api/v1/auth/refresh", body(&second.refresh_token)).await;
    assert_eq!(third.status, StatusCode::OK);
    let third: eldercare_schema::api::TokenResponse = serde_json::from_slice(&third.body).unwrap();
    w.advance(30 * 24 * 60 * MINUTE + MINUTE);
    w.post_json("/api/v1/auth/refresh", body(&third.refresh_token)).await.problem(401);
}

#[tokio::test]
async fn only_a_hash_of_the_refresh_token_is_stored() {
    let w = world().await;
    let tokens = w.login("admin").await;
    // The store knows the token under its SHA-256 only: spending it by its raw value fails,
    // by its hash succeeds.
    assert_eq!(w.store.use_refresh_token(&tokens.refresh_token, T0).await.unwrap(), None);
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(tokens.refresh_token.as_bytes()));
    assert_eq!(w.store.use_refresh_token(&hash, T0).await.unwrap(), Some(w.admin));
}
