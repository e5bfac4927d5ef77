//! The storage layer against real databases: each test runs on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::{Backend, Db};
use eldercare_schema::Metric;
use eldercare_store::org::OrgKind;
use eldercare_store::{DeadLetter, NewReading, Role, Store, Viewer};

struct World {
    store: Store,
    _db: Db,
    resident_a: i64,
    resident_b: i64,
    staff_grid1: i64,
    staff_grid2: i64,
    admin: i64,
    family_a: i64,
}

async fn world(backend: Backend) -> World {
    let db = Db::fresh(backend).await;
    let store = db.open().await;
    let district = store.create_org_unit(None, OrgKind::District, "D").await.unwrap();
    let community = store.create_org_unit(Some(district), OrgKind::Community, "C").await.unwrap();
    let grid1 = store.create_org_unit(Some(community), OrgKind::Grid, "G1").await.unwrap();
    let grid2 = store.create_org_unit(Some(community), OrgKind::Grid, "G2").await.unwrap();
    let h1 = store.create_household(grid1, "H1").await.unwrap();
    let h2 = store.create_household(grid2, "H2").await.unwrap();
    let resident_a = store.create_resident(h1, "A", Some(1940)).await.unwrap();
    let resident_b = store.create_resident(h2, "B", None).await.unwrap();
    let staff_grid1 = store.create_user("s1", "x", Role::Caregiver, "S1").await.unwrap();
    store.grant_scope(staff_grid1, grid1).await.unwrap();
    let staff_grid2 = store.create_user("s2", "x", Role::Caregiver, "S2").await.unwrap();
    store.grant_scope(staff_grid2, grid2).await.unwrap();
    let admin = store.create_user("adm", "x", Role::Admin, "Adm").await.unwrap();
    store.grant_scope(admin, district).await.unwrap();
    let family_a = store.create_user("fa", "x", Role::Family, "FA").await.unwrap();
    store.add_to_care_circle(family_a, resident_a, "daughter").await.unwrap();
    store.register_gateway("gw-1", h1).await.unwrap();
    store.register_device("dev-a", "gw-1", resident_a, "pulse_oximeter").await.unwrap();
    World { store, _db: db, resident_a, resident_b, staff_grid1, staff_grid2, admin, family_a }
}

fn reading(seq: i64, value: f64, measured_ms: i64, resident_id: i64) -> NewReading {
    NewReading {
        device_id: "dev-a".into(),
        seq,
        resident_id,
        metric: Metric::Spo2,
        value,
        measured_ms,
        time_source: "device",
    }
}

both!(scope_follows_the_tree_and_the_care_circle);
async fn scope_follows_the_tree_and_the_care_circle(backend: Backend) {
    let w = world(backend).await;
    let ids = |rows: Vec<eldercare_store::ResidentRow>| rows.into_iter().map(|r| r.resident_id).collect::<Vec<_>>();
    let v = |user_id, role| Viewer { user_id, role };
    let s = &w.store;
    assert_eq!(ids(s.visible_residents(&v(w.admin, Role::Admin)).await.unwrap()), vec![w.resident_a, w.resident_b]);
    assert_eq!(ids(s.visible_residents(&v(w.staff_grid1, Role::Caregiver)).await.unwrap()), vec![w.resident_a]);
    assert_eq!(ids(s.visible_residents(&v(w.staff_grid2, Role::Caregiver)).await.unwrap()), vec![w.resident_b]);
    assert_eq!(ids(s.visible_residents(&v(w.family_a, Role::Family)).await.unwrap()), vec![w.resident_a]);
    assert!(s.visible_resident(&v(w.family_a, Role::Family), w.resident_b).await.unwrap().is_none());
    assert!(s.visible_resident(&v(w.staff_grid2, Role::Caregiver), w.resident_a).await.unwrap().is_none());
    let a = s.visible_resident(&v(w.family_a, Role::Family), w.resident_a).await.unwrap().unwrap();
    assert_eq!((a.full_name.as_str(), a.grid_name.as_str()), ("A", "G1"));
}

both!(ingest_is_idempotent_and_keeps_the_newest_vital);
async fn ingest_is_idempotent_and_keeps_the_newest_vital(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let batch = vec![
        reading(1, 97.0, 1000, w.resident_a),
        reading(2, 93.0, 3000, w.resident_a),
        reading(3, 95.0, 2000, w.resident_a),
    ];
    let dead = vec![DeadLetter {
        topic: "t".into(),
        gateway_id: Some("gw-1".into()),
        device_id: Some("ghost".into()),
        seq: Some(4),
        reason: "unknown device".into(),
        payload: b"{}".to_vec(),
    }];
    let first = s.ingest("gw-1", &batch, &dead, 5000).await.unwrap();
    assert_eq!((first.inserted, first.duplicates, first.dead_lettered), (3, 0, 1));
    let again = s.ingest("gw-1", &batch, &dead, 6000).await.unwrap();
    assert_eq!((again.inserted, again.duplicates, again.dead_lettered), (0, 3, 0));
    assert_eq!(s.count_readings().await.unwrap(), 3);
    assert_eq!(s.recent_dead_letters(10).await.unwrap().len(), 1);

    let latest = s.latest_vitals(w.resident_a).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].value, latest[0].measured_ms), (93.0, 3000));
    // An older reading arriving late does not replace the newest.
    s.ingest("gw-1", &[reading(5, 80.0, 500, w.resident_a)], &[], 7000).await.unwrap();
    assert_eq!(s.latest_vitals(w.resident_a).await.unwrap()[0].value, 93.0);

    let hist = s.vitals_history(w.resident_a, Metric::Spo2, 1000, 3000, 100).await.unwrap();
    assert_eq!(hist.iter().map(|r| r.value).collect::<Vec<_>>(), vec![97.0, 95.0]);
    assert!(s.vitals_history(w.resident_a, Metric::HeartRate, 0, 10_000, 100).await.unwrap().is_empty());
}

both!(values_and_identities_are_stored_exactly);
/// Ingest hands its rows to the database as one JSON parameter: awkward floats, large integers
/// and ids that need escaping come back exactly as they went in.
async fn values_and_identities_are_stored_exactly(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let odd_device = "dev \"quoted\" \\ back-slashed, ü";
    s.register_device(odd_device, "gw-1", w.resident_a, "pulse_oximeter").await.unwrap();
    let values = [97.123_456_789_012_34, 0.1 + 0.2, 1e-7, 36.6, 123_456.789, 1.0 / 3.0];
    let big_seq = (1_i64 << 53) + 1;
    let batch: Vec<NewReading> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| NewReading {
            device_id: odd_device.into(),
            seq: big_seq + i as i64,
            measured_ms: 1_800_000_000_001 + i as i64,
            ..reading(0, v, 0, w.resident_a)
        })
        .collect();
    let out = s.ingest("gw-1", &batch, &[], 5000).await.unwrap();
    assert_eq!(out.inserted, values.len() as u64);
    let hist = s.vitals_history(w.resident_a, Metric::Spo2, 0, i64::MAX, 100).await.unwrap();
    let got: Vec<(f64, i64)> = hist.iter().map(|r| (r.value, r.measured_ms)).collect();
    let want: Vec<(f64, i64)> = values.iter().enumerate().map(|(i, &v)| (v, 1_800_000_000_001 + i as i64)).collect();
    assert_eq!(got, want);
    // The same readings again, keyed by the big seqs and the escaped id: all duplicates.
    let again = s.ingest("gw-1", &batch, &[], 6000).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, values.len() as u64));
    let latest = s.latest_vitals(w.resident_a).await.unwrap();
    assert_eq!((latest[0].value, latest[0].device_id.as_str()), (1.0 / 3.0, odd_device));
}

both!(duplicates_and_bad_references_are_refused);
async fn duplicates_and_bad_references_are_refused(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    assert!(matches!(
        s.create_user("s1", "x", Role::Family, "again").await,
        Err(eldercare_store::StoreError::Conflict(_))
    ));
    assert!(s.register_gateway("bad id", 1).await.is_err());
    assert!(matches!(
        s.register_device("dev-a", "gw-1", w.resident_a, "x").await,
        Err(eldercare_store::StoreError::Conflict(_))
    ));
    let refresh = s.save_refresh_token("h", w.family_a, 10_000).await;
    assert!(refresh.is_ok());
    assert_eq!(s.use_refresh_token("h", 5_000).await.unwrap(), Some(w.family_a));
    assert_eq!(s.use_refresh_token("h", 5_000).await.unwrap(), None, "a refresh token is used once");
    s.save_refresh_token("old", w.family_a, 10_000).await.unwrap();
    assert_eq!(s.use_refresh_token("old", 20_000).await.unwrap(), None, "expired");
}
