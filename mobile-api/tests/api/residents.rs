//! Scope: who sees which residents, 404 for the rest, and the audit trail of reads.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::world;

#[tokio::test]
async fn each_role_sees_its_own_residents() {
    let w = world().await;
    assert_eq!(w.visible_ids("admin").await, vec![w.resident_a, w.resident_b, w.resident_c]);
    assert_eq!(w.visible_ids("caregiver").await, vec![w.resident_a, w.resident_c], "grid 1 only");
    assert_eq!(w.visible_ids("family1").await, vec![w.resident_a]);
    assert_eq!(w.visible_ids("family2").await, vec![w.resident_b]);
}

#[tokio::test]
async fn a_resident_shows_where_they_live() {
    let w = world().await;
    let token = w.token("family1").await;
    let list = w.get("/api/v1/residents", Some(&token)).await;
    let one = w.get(&format!("/api/v1/residents/{}", w.resident_a), Some(&token)).await;
    assert_eq!(one.status, StatusCode::OK);
    let a = one.json();
    assert_eq!(a["full_name"], "Wang Fang");
    assert_eq!(a["birth_year"], 1941);
    assert_eq!(a["household_name"], "No. 1 Elm Street");
    assert_eq!(a["grid_name"], "Grid 1");
    assert!(a["household_id"].as_i64().unwrap() > 0 && a["grid_id"].as_i64().unwrap() > 0);
    assert_eq!(list.json(), json!([a]));

    let admin = w.token("admin").await;
    let b = w.get(&format!("/api/v1/residents/{}", w.resident_b), Some(&admin)).await.json();
    assert_eq!((b["full_name"].clone(), b["birth_year"].clone()), (json!("Li Wei"), json!(null)));
    assert_eq!(b["grid_name"], "Grid 2");
}

#[tokio::test]
async fn out_of_scope_looks_exactly_like_absent() {
    let w = world().await;
    let family1 = w.token("family1").await;
    let b = w.resident_b;
    for path in [
        format!("/api/v1/residents/{b}"),
        format!("/api/v1/residents/{b}/vitals/latest"),
        format!("/api/v1/residents/{b}/vitals?metric=spo2"),
    ] {
        let p = w.get(&path, Some(&family1)).await.problem(404);
        assert_eq!(p.detail, format!("resident {b} not found"), "{path}");
    }
    let absent = w.get("/api/v1/residents/424242", Some(&family1)).await.problem(404);
    assert_eq!(absent.detail, "resident 424242 not found");
    assert_eq!(absent.type_, "urn:eldercare:problem:not-found");

    let caregiver = w.token("caregiver").await;
    w.get(&format!("/api/v1/residents/{b}"), Some(&caregiver)).await.problem(404);
    assert_eq!(w.get(&format!("/api/v1/residents/{}", w.resident_c), Some(&caregiver)).await.status, StatusCode::OK);

    // Nothing of B was read, and each refused attempt is on B's audit trail.
    let trail = w.store.audit_for_resident(b).await.unwrap();
    assert!(trail.iter().all(|e| e.2 == "resident.not_visible"), "{trail:?}");
    assert_eq!(trail.len(), 4);
}

#[tokio::test]
async fn every_read_of_a_resident_is_audited() {
    let w = world().await;
    let token = w.token("caregiver").await;
    let a = w.resident_a;
    assert!(w.store.audit_for_resident(a).await.unwrap().is_empty());
    for path in [
        format!("/api/v1/residents/{a}"),
        format!("/api/v1/residents/{a}/vitals/latest"),
        format!("/api/v1/residents/{a}/vitals?metric=heart_rate"),
    ] {
        assert_eq!(w.get(&path, Some(&token)).await.status, StatusCode::OK, "{path}");
    }
    let trail = w.store.audit_for_resident(a).await.unwrap();
    let actions: Vec<_> = trail.iter().map(|e| (e.1, e.2.as_str())).collect();
    let c = Some(w.caregiver);
    assert_eq!(actions, vec![(c, "vitals.history.read"), (c, "vitals.latest.read"), (c, "resident.read")]);

    w.get("/api/v1/residents", Some(&token)).await;
    let newest = &w.store.recent_audit(1).await.unwrap()[0];
    assert_eq!((newest.1, newest.2.as_str(), newest.3, newest.4.as_str()), (c, "residents.list", None, "count=2"));
}

#[tokio::test]
async fn a_non_numeric_id_is_a_bad_request() {
    let w = world().await;
    let token = w.token("admin").await;
    let p = w.get("/api/v1/residents/abc", Some(&token)).await.problem(400);
    assert!(p.detail.contains("expected an integer") && p.detail.contains("abc"), "{}", p.detail);
}
