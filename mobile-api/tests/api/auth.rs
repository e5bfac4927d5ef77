//! Login, refresh, `/me`, and what they leave in the audit log.

use axum::http::{StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use eldercare_schema::api::TokenResponse;

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
async fn refresh_rotates_within_the_session_until_it_expires() {
    let w = world().await;
    let first = w.login("family1").await;
    w.advance(MINUTE);

    let second = w.refresh(&first.refresh_token).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    let second: TokenResponse = serde_json::from_slice(&second.body).unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token, "issued a minute later");
    let me = w.get("/api/v1/me", Some(&second.access_token)).await;
    assert_eq!(me.json()["username"], "family1");
    assert_eq!(w.get("/api/v1/me", Some(&first.access_token)).await.status, StatusCode::OK, "same session");

    assert_eq!(w.refresh("not-a-token").await.problem(401).detail, "invalid refresh token");

    // The new one works once, until it expires after 30 days.
    let third = w.refresh(&second.refresh_token).await;
    assert_eq!(third.status, StatusCode::OK);
    let third: TokenResponse = serde_json::from_slice(&third.body).unwrap();
    w.advance(30 * 24 * 60 * MINUTE + MINUTE);
    assert_eq!(w.refresh(&third.refresh_token).await.problem(401).detail, "invalid refresh token");
}

#[tokio::test]
async fn a_reused_refresh_token_ends_its_whole_session_and_only_that_one() {
    let w = world().await;
    let phone = w.login("family1").await;
    let tablet = w.login("family1").await;
    let rotated: TokenResponse = serde_json::from_slice(&w.refresh(&phone.refresh_token).await.body).unwrap();

    // Someone presents the spent token: a thief, or the owner after the thief rotated it.
    let reuse = w.refresh(&phone.refresh_token).await.problem(401);
    assert_eq!(reuse.detail, "refresh token already used; the session has ended");
    // Everything of that session is dead: the newest refresh token and its access tokens.
    assert_eq!(w.refresh(&rotated.refresh_token).await.problem(401).detail, "invalid refresh token");
    for token in [&phone.access_token, &rotated.access_token] {
        assert_eq!(w.get("/api/v1/me", Some(token)).await.problem(401).detail, "session ended");
    }
    // The other session of the same account lives on.
    assert_eq!(w.get("/api/v1/me", Some(&tablet.access_token)).await.status, StatusCode::OK);
    assert_eq!(w.refresh(&tablet.refresh_token).await.status, StatusCode::OK);

    let audit = w.store.recent_audit(20).await.unwrap();
    assert!(audit.iter().any(|e| e.1 == Some(w.family1) && e.2 == "auth.refresh_reused"), "{audit:?}");
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
