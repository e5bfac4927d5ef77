//! Care circles: invitation, consent on the resident's behalf, acceptance, and revocation that
//! takes effect at once.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, World, world};

async fn new_family_account(w: &World, username: &str) -> i64 {
    let admin = w.token("admin").await;
    let body = json!({"username": username, "display_name": "Wang Lei", "role": "family", "password": PASSWORD});
    let reply = w.call(Method::POST, "/api/v1/accounts", Some(&admin), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.json()["user_id"].as_i64().unwrap()
}

async fn invite(w: &World, token: &str, resident: i64, body: Value) -> crate::support::Reply {
    w.call(Method::POST, &format!("/api/v1/residents/{resident}/care-circle/invitations"), Some(token), Some(body))
        .await
}

#[tokio::test]
async fn an_invited_relative_sees_the_resident_only_after_consent_and_acceptance() {
    let w = world().await;
    let a = w.resident_a;
    let grandson = new_family_account(&w, "grandson").await;
    let nurse = w.token("caregiver").await;
    let me = w.token("grandson").await;
    assert!(w.visible_ids("grandson").await.is_empty(), "a new family account sees nobody");

    let inv = invite(&w, &nurse, a, json!({"username": "grandson", "relationship": "grandson"})).await;
    assert_eq!(inv.status, StatusCode::CREATED, "{:?}", inv.body);
    let inv = inv.json();
    assert_eq!((inv["status"].as_str(), inv["invitee_id"].as_i64()), (Some("pending"), Some(grandson)));
    let id = inv["invitation_id"].as_i64().unwrap();

    // The invitee sees the invitation (and whom it is about), but not yet the resident.
    let mine = w.get("/api/v1/care-circle/invitations", Some(&me)).await.json();
    assert_eq!(mine[0]["resident_name"], "Wang Fang");
    let accepted = w.call(Method::POST, &format!("/api/v1/care-circle/invitations/{id}/accept"), Some(&me), None).await;
    assert_eq!(accepted.json()["status"], "accepted");
    w.get(&format!("/api/v1/residents/{a}"), Some(&me)).await.problem(404);

    // Staff record the consent the resident gave on paper: now the membership exists.
    let consent = json!({"method": "resident_written", "note": "signed form, 1 May, filed in the household folder"});
    let path = format!("/api/v1/care-circle/invitations/{id}/consent");
    let done = w.call(Method::POST, &path, Some(&nurse), Some(consent.clone())).await.json();
    assert_eq!(done["status"], "active");
    assert_eq!(done["consent"]["method"], "resident_written");
    assert_eq!(done["consent"]["by"], w.caregiver);
    assert_eq!(w.visible_ids("grandson").await, vec![a]);
    let members = w.get(&format!("/api/v1/residents/{a}/care-circle"), Some(&me)).await.json();
    let names: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["relationship"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["son", "grandson"]);

    // Consent twice is a conflict; the invitation is no longer open.
    w.call(Method::POST, &path, Some(&nurse), Some(consent)).await.problem(409);
    let audit = w.store.audit_for_resident(a).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.2.as_str()).collect();
    for action in ["care_circle.invite", "care_circle.accept", "care_circle.consent"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
}

#[tokio::test]
async fn revocation_ends_access_at_once() {
    let w = world().await;
    let a = w.resident_a;
    let son = w.token("family1").await; // already in A's circle, with a live access token
    assert_eq!(w.get(&format!("/api/v1/residents/{a}/vitals/latest"), Some(&son)).await.status, StatusCode::OK);

    let nurse = w.token("caregiver").await;
    let path = format!("/api/v1/residents/{a}/care-circle/{}", w.family1);
    assert_eq!(w.call(Method::DELETE, &path, Some(&nurse), None).await.status, StatusCode::NO_CONTENT);
    // The same token, the very next request: gone.
    for p in [format!("/api/v1/residents/{a}"), format!("/api/v1/residents/{a}/vitals/latest")] {
        w.get(&p, Some(&son)).await.problem(404);
    }
    assert!(w.visible_ids("family1").await.is_empty());
    let fhir = w.get(&format!("/fhir/r4/Observation?patient={a}"), Some(&son)).await.json();
    assert!(fhir["entry"].as_array().unwrap().is_empty());
    w.call(Method::DELETE, &path, Some(&nurse), None).await.problem(404);
    let audit = w.store.audit_for_resident(a).await.unwrap();
    assert!(audit.iter().any(|e| e.1 == Some(w.caregiver) && e.2 == "care_circle.remove"));
}

#[tokio::test]
async fn a_member_may_leave_and_a_guardian_may_remove_but_others_may_not() {
    let w = world().await;
    let a = w.resident_a;
    new_family_account(&w, "niece").await;
    let nurse = w.token("caregiver").await;
    // The son becomes A's guardian: staff invite him as one, and record the legal authority.
    let inv = invite(&w, &nurse, a, json!({"username": "family1", "relationship": "son", "guardian": true})).await;
    inv.problem(409); // already a member: staff make him guardian instead
    let son = w.token("family1").await;
    let member = format!("/api/v1/residents/{a}/care-circle/{}", w.family1);
    w.call(Method::PUT, &member, Some(&son), Some(json!({"guardian": true}))).await.problem(404);
    let made = w.call(Method::PUT, &member, Some(&nurse), Some(json!({"guardian": true}))).await.json();
    assert_eq!((made["user_id"].as_i64(), made["guardian"].as_bool()), (Some(w.family1), Some(true)));

    // The guardian invites the niece, and consents for A himself.
    let inv = invite(&w, &son, a, json!({"username": "niece", "relationship": "niece"})).await.json();
    let id = inv["invitation_id"].as_i64().unwrap();
    let consent = format!("/api/v1/care-circle/invitations/{id}/consent");
    let staff_method = json!({"method": "resident_in_person", "note": "x"});
    w.call(Method::POST, &consent, Some(&son), Some(staff_method)).await.problem(422);
    let ok = w.call(Method::POST, &consent, Some(&son), Some(json!({"method": "guardian"}))).await;
    assert_eq!(ok.json()["status"], "consented");
    // Staff must say how consent was obtained.
    let niece = w.token("niece").await;
    w.call(Method::POST, &format!("/api/v1/care-circle/invitations/{id}/accept"), Some(&niece), None).await;
    assert_eq!(w.visible_ids("niece").await, vec![a]);
    let niece_id = w.store.user_by_username("niece").await.unwrap().unwrap().user_id;

    // A guardian may not invite another guardian; a plain member may not invite at all.
    invite(&w, &son, a, json!({"username": "family2", "relationship": "friend", "guardian": true})).await.problem(422);
    invite(&w, &niece, a, json!({"username": "family2", "relationship": "friend"})).await.problem(404);
    // A plain member may not remove another; the family of another resident may not either.
    let remove_son = format!("/api/v1/residents/{a}/care-circle/{}", w.family1);
    w.call(Method::DELETE, &remove_son, Some(&niece), None).await.problem(404);
    w.call(Method::DELETE, &remove_son, Some(&w.token("family2").await), None).await.problem(404);
    // The guardian removes the niece; then the son leaves by himself.
    let remove_niece = format!("/api/v1/residents/{a}/care-circle/{niece_id}");
    assert_eq!(w.call(Method::DELETE, &remove_niece, Some(&son), None).await.status, StatusCode::NO_CONTENT);
    assert!(w.visible_ids("niece").await.is_empty());
    assert_eq!(w.call(Method::DELETE, &remove_son, Some(&son), None).await.status, StatusCode::NO_CONTENT);
    assert!(w.visible_ids("family1").await.is_empty());
    // The invitation of a removed member shows it.
    let invs = w.get(&format!("/api/v1/residents/{a}/care-circle/invitations"), Some(&nurse)).await.json();
    assert_eq!(invs[0]["status"], "revoked");
}

#[tokio::test]
async fn invitations_can_be_declined_or_cancelled_and_are_checked() {
    let w = world().await;
    let a = w.resident_a;
    new_family_account(&w, "cousin").await;
    let nurse = w.token("caregiver").await;
    let cousin = w.token("cousin").await;
    invite(&w, &nurse, a, json!({"username": "nobody", "relationship": "x"})).await.problem(404);
    invite(&w, &nurse, a, json!({"username": "caregiver", "relationship": "x"})).await.problem(404);
    invite(&w, &nurse, a, json!({"username": "cousin", "relationship": " "})).await.problem(422);
    invite(&w, &nurse, w.resident_b, json!({"username": "cousin", "relationship": "x"})).await.problem(404);

    let id =
        invite(&w, &nurse, a, json!({"username": "cousin", "relationship": "cousin"})).await.json()["invitation_id"]
            .as_i64()
            .unwrap();
    invite(&w, &nurse, a, json!({"username": "cousin", "relationship": "cousin"})).await.problem(409);
    // Only the invitee declines; only the inviting side cancels.
    let decline = format!("/api/v1/care-circle/invitations/{id}/decline");
    w.call(Method::POST, &decline, Some(&nurse), None).await.problem(404);
    let declined = w.call(Method::POST, &decline, Some(&cousin), None).await.json();
    assert_eq!(declined["status"], "declined");
    w.call(Method::POST, &format!("/api/v1/care-circle/invitations/{id}/accept"), Some(&cousin), None)
        .await
        .problem(409);

    let id2 =
        invite(&w, &nurse, a, json!({"username": "cousin", "relationship": "cousin"})).await.json()["invitation_id"]
            .as_i64()
            .unwrap();
    let cancel = format!("/api/v1/care-circle/invitations/{id2}/cancel");
    w.call(Method::POST, &cancel, Some(&cousin), None).await.problem(404);
    assert_eq!(w.call(Method::POST, &cancel, Some(&nurse), None).await.json()["status"], "cancelled");
    let consent = json!({"method": "resident_in_person", "note": "asked her"});
    let p = format!("/api/v1/care-circle/invitations/{id2}/consent");
    w.call(Method::POST, &p, Some(&nurse), Some(consent)).await.problem(409);
    assert!(w.get("/api/v1/care-circle/invitations", Some(&cousin)).await.json().as_array().unwrap().is_empty());
    assert!(w.visible_ids("cousin").await.is_empty());
}
