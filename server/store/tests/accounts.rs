//! Sessions, login throttling, care-circle invitations, the append-only audit log and vitals
//! rollups, against real databases: each test runs on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::{Backend, Db};
use eldercare_schema::Metric;
use eldercare_store::audit_trail::{AuditEntry, AuditQuery};
use eldercare_store::care_circle::{Consent, NewInvitation};
use eldercare_store::org::OrgKind;
use eldercare_store::session::{RevokeReason, Rotation, ThrottlePolicy};
use eldercare_store::{NewReading, Role, Store, Viewer};

struct World {
    store: Store,
    db: Db,
    resident: i64,
    staff: i64,
    family: i64,
}

async fn world(backend: Backend) -> World {
    let db = Db::fresh(backend).await;
    let store = db.open().await;
    let district = store.create_org_unit(None, OrgKind::District, "D").await.unwrap();
    let grid = store.create_org_unit(Some(district), OrgKind::Grid, "G").await.unwrap();
    let household = store.create_household(grid, "H").await.unwrap();
    let resident = store.create_resident(household, "R", None).await.unwrap();
    let staff = store.create_user("s", "x", Role::Caregiver, "S").await.unwrap();
    store.grant_scope(staff, grid).await.unwrap();
    let family = store.create_user("f", "x", Role::Family, "F").await.unwrap();
    store.register_gateway("gw", household).await.unwrap();
    store.register_device("dev", "gw", resident, "pulse_oximeter").await.unwrap();
    World { store, db, resident, staff, family }
}

both!(refresh_tokens_rotate_once_and_reuse_ends_the_session);
async fn refresh_tokens_rotate_once_and_reuse_ends_the_session(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let session = s.start_session(w.family, "h1", 10_000, 0, Some("198.51.100.1")).await.unwrap();
    assert!(s.user_in_session(w.family, session).await.unwrap().is_some());
    assert_eq!(
        s.rotate_refresh_token("h1", "h2", 10_000, 1).await.unwrap(),
        Rotation::Rotated { user_id: w.family, session_id: session }
    );
    assert_eq!(
        s.rotate_refresh_token("h1", "h3", 10_000, 2).await.unwrap(),
        Rotation::Reused { user_id: w.family, session_id: session }
    );
    assert_eq!(
        s.rotate_refresh_token("h2", "h4", 10_000, 3).await.unwrap(),
        Rotation::Invalid,
        "the session has ended"
    );
    assert!(s.user_in_session(w.family, session).await.unwrap().is_none());
    assert_eq!(s.rotate_refresh_token("unknown", "h5", 10_000, 3).await.unwrap(), Rotation::Invalid);
    // Expired.
    let other = s.start_session(w.family, "e1", 100, 0, None).await.unwrap();
    assert_eq!(s.rotate_refresh_token("e1", "e2", 10_000, 100).await.unwrap(), Rotation::Invalid);
    assert!(s.revoke_session(other, RevokeReason::Logout, 5).await.unwrap());
    assert!(!s.revoke_session(other, RevokeReason::Logout, 6).await.unwrap(), "already ended");
}

both!(a_password_change_ends_the_other_sessions);
async fn a_password_change_ends_the_other_sessions(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let keep = s.start_session(w.staff, "k", 10_000, 0, None).await.unwrap();
    let other = s.start_session(w.staff, "o", 10_000, 0, None).await.unwrap();
    assert_eq!(s.change_password(w.staff, "new-hash", Some(keep), 5).await.unwrap(), 1);
    assert!(s.user_in_session(w.staff, keep).await.unwrap().is_some());
    assert!(s.user_in_session(w.staff, other).await.unwrap().is_none());
    assert_eq!(s.user_by_id(w.staff).await.unwrap().unwrap().password_hash, "new-hash");
    assert_eq!(s.open_sessions(w.staff).await.unwrap().iter().map(|r| r.0).collect::<Vec<_>>(), vec![keep]);
}

both!(failed_logins_lock_a_key_for_a_while);
async fn failed_logins_lock_a_key_for_a_while(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let policy = ThrottlePolicy { window_ms: 1000, max_failures: 3, lock_ms: 5000 };
    assert_eq!(s.record_login_failure("k", policy, 0).await.unwrap(), None);
    assert_eq!(s.record_login_failure("k", policy, 10).await.unwrap(), None);
    assert_eq!(s.record_login_failure("k", policy, 20).await.unwrap(), Some(5020));
    assert_eq!(s.login_locked_until("k", 5019).await.unwrap(), Some(5020));
    assert_eq!(s.login_locked_until("k", 5020).await.unwrap(), None);
    assert_eq!(s.login_locked_until("other", 0).await.unwrap(), None);
    // Failures further apart than the window do not add up.
    for t in [10_000, 11_000, 12_000] {
        assert_eq!(s.record_login_failure("k", policy, t).await.unwrap(), None);
    }
    s.clear_login_failures("k").await.unwrap();
}

both!(consent_and_acceptance_in_either_order_make_a_member);
async fn consent_and_acceptance_in_either_order_make_a_member(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let new = NewInvitation {
        resident_id: w.resident,
        invitee_id: w.family,
        relationship: "son",
        guardian: true,
        invited_by: w.staff,
    };
    let inv = s.create_invitation(&new, 1).await.unwrap();
    assert!(s.create_invitation(&new, 2).await.is_err(), "one open invitation per person");
    let family = Viewer { user_id: w.family, role: Role::Family };
    let accepted = s.accept_invitation(inv.invitation_id, w.family, 3).await.unwrap().unwrap();
    assert_eq!(accepted.status, "accepted");
    assert!(s.visible_resident(&family, w.resident).await.unwrap().is_none());
    assert!(s.accept_invitation(inv.invitation_id, w.family, 4).await.unwrap().is_none(), "not twice");
    let consent = Consent { by: w.staff, method: "legal_authority", note: "court order 12/2024" };
    let active = s.record_consent(inv.invitation_id, &consent, 5).await.unwrap().unwrap();
    assert_eq!(active.status, "active");
    assert!(s.visible_resident(&family, w.resident).await.unwrap().is_some());
    assert!(s.is_guardian(w.family, w.resident).await.unwrap());
    assert!(s.close_invitation(inv.invitation_id, w.staff, false, 6).await.unwrap().is_none(), "no longer open");

    assert!(s.remove_care_member(w.resident, w.family, w.staff, 7).await.unwrap());
    assert!(s.visible_resident(&family, w.resident).await.unwrap().is_none());
    assert_eq!(s.invitation(inv.invitation_id).await.unwrap().unwrap().status, "revoked");
    assert!(!s.remove_care_member(w.resident, w.family, w.staff, 8).await.unwrap());
}

both!(the_audit_log_refuses_updates_and_deletes);
async fn the_audit_log_refuses_updates_and_deletes(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let entry = |action: &str| AuditEntry {
        at_ms: 1,
        user_id: Some(w.staff),
        action: action.into(),
        resident_id: Some(w.resident),
        detail: String::new(),
        client_ip: Some("203.0.113.7".into()),
    };
    s.append_audit(&[entry("a"), entry("b")]).await.unwrap();
    s.audit(2, Some(w.staff), "c", None, "").await.unwrap();
    let q = AuditQuery { limit: 10, ..Default::default() };
    let rows = s.audit_of_resident(w.resident, &q).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), vec!["b", "a"]);
    assert_eq!(rows[0].client_ip.as_deref(), Some("203.0.113.7"));
    // Not even a direct connection may change or remove an entry.
    let raw = sqlx::AnyPool::connect(&w.db.url).await.unwrap();
    let mut statements = vec!["update audit_log set detail = 'x'", "delete from audit_log"];
    if backend == Backend::Postgres {
        statements.push("truncate audit_log");
    }
    for sql in statements {
        let err = sqlx::query(sql).execute(&raw).await.unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(s.audit_of_resident(w.resident, &q).await.unwrap().len(), 2);
}

both!(rollups_aggregate_per_bucket);
async fn rollups_aggregate_per_bucket(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let r = |seq: i64, value: f64, t: i64| NewReading {
        device_id: "dev".into(),
        seq,
        resident_id: w.resident,
        metric: Metric::HeartRate,
        value,
        measured_ms: t,
        time_source: "device",
    };
    s.ingest("gw", &[r(1, 60.0, 0), r(2, 80.0, 3_599_999), r(3, 70.0, 3_600_000)], &[], 0).await.unwrap();
    let rows = s.vitals_rollup(w.resident, Metric::HeartRate, 0, 7_200_000, 3_600_000).await.unwrap();
    let got: Vec<(i64, i64, f64, f64, f64)> =
        rows.iter().map(|b| (b.bucket_ms, b.count, b.min, b.max, b.mean)).collect();
    assert_eq!(got, vec![(0, 2, 60.0, 80.0, 70.0), (3_600_000, 1, 70.0, 70.0, 70.0)]);
    assert!(s.vitals_rollup(w.resident, Metric::HeartRate, 0, 1, 0).await.is_err());
}
