//! What differs between the backends underneath and must not show: connection settings,
//! rollups and newest values kept by ingest and the follower, retention, and concurrent
//! writers (several server instances on one PostgreSQL). Each test runs on SQLite and on
//! PostgreSQL.

#[macro_use]
mod common;

use std::sync::Arc;

use common::{Backend, Db};
use eldercare_schema::Metric;
use eldercare_store::org::OrgKind;
use eldercare_store::{Dialect, NewReading, Role, Store, Subject};
use tokio::sync::Barrier;

struct World {
    store: Store,
    db: Db,
    resident: i64,
}

async fn world(backend: Backend) -> World {
    let db = Db::fresh(backend).await;
    let store = db.open().await;
    let district = store.create_org_unit(None, OrgKind::District, "D").await.unwrap();
    let grid = store.create_org_unit(Some(district), OrgKind::Grid, "G").await.unwrap();
    let household = store.create_household(grid, "H").await.unwrap();
    let resident = store.create_resident(household, "R", None).await.unwrap();
    store.create_user("s", "x", Role::Caregiver, "S").await.unwrap();
    store.register_gateway("gw", household).await.unwrap();
    store.register_device("dev", "gw", resident, "watch").await.unwrap();
    World { store, db, resident }
}

fn hr(resident_id: i64, seq: i64, value: f64, t: i64) -> NewReading {
    NewReading {
        device_id: "dev".into(),
        seq,
        resident_id,
        metric: Metric::HeartRate,
        value,
        measured_ms: t,
        time_source: "device",
    }
}

both!(the_connection_settings_hold);
async fn the_connection_settings_hold(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    match backend {
        Backend::Sqlite => {
            assert_eq!(s.dialect(), Dialect::Sqlite);
            // Several connections, so several reads: every pooled connection has them.
            for _ in 0..4 {
                assert_eq!(s.setting("synchronous").await.unwrap(), "2", "synchronous=FULL");
                assert_eq!(s.setting("journal_mode").await.unwrap(), "wal");
                assert_eq!(s.setting("foreign_keys").await.unwrap(), "1");
                assert_eq!(s.setting("busy_timeout").await.unwrap(), "10000");
                assert_eq!(s.setting("wal_autocheckpoint").await.unwrap(), "10000");
                assert_eq!(s.setting("cache_size").await.unwrap(), "-16384");
            }
            // A checkpoint beside the writer empties the log of what was committed.
            s.ingest("gw", &[hr(w.resident, 77, 70.0, 1_000)], &[], 0).await.unwrap();
            assert!(s.checkpoint().await.unwrap() > 0, "the log held the commit");
        }
        Backend::Postgres => {
            assert_eq!(s.dialect(), Dialect::Postgres);
            assert_eq!(s.setting("synchronous_commit").await.unwrap(), "on");
            assert_eq!(s.setting("transaction_isolation").await.unwrap(), "read committed");
            assert_eq!(s.checkpoint().await.unwrap(), 0, "PostgreSQL checkpoints by itself");
        }
    }
    assert!(s.setting("x; drop table readings").await.is_err());
    // Foreign keys are enforced on both.
    assert!(s.register_device("ghost", "no-such-gateway", w.resident, "watch").await.is_err());
}

/// Readings spread over three days at irregular times, integer values (sums are exact).
fn spread(resident_id: i64) -> Vec<NewReading> {
    (0..600).map(|i| hr(resident_id, i, (50 + (i * 37) % 60) as f64, 1_700_000_000_000 + i * 431_113)).collect()
}

/// (bucket, count, min, max, mean) computed here from the readings themselves.
fn expected(rs: &[NewReading], from: i64, to: i64, bucket: i64) -> Vec<(i64, i64, f64, f64, f64)> {
    let mut m: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    for r in rs.iter().filter(|r| r.measured_ms >= from && r.measured_ms < to) {
        m.entry(r.measured_ms - r.measured_ms.rem_euclid(bucket)).or_default().push(r.value);
    }
    m.into_iter()
        .map(|(b, v)| {
            let n = v.len() as i64;
            let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (b, n, min, max, v.iter().sum::<f64>() / n as f64)
        })
        .collect()
}

/// Every reading in [`spread`] is measured before this, more than the follower's lag earlier.
const AFTER_SPREAD: i64 = 1_700_000_000_000 + 600 * 431_113 + 86_400_000;

const DAY: i64 = 86_400_000;

/// The whole days holding [`spread`]'s readings.
const SPREAD_DAYS: (i64, i64) = (1_700_000_000_000 - 1_700_000_000_000 % DAY, AFTER_SPREAD - AFTER_SPREAD % DAY);

/// (day, count, min, max) of [`spread`]'s days as the store answers, and as `rs` says.
async fn days(s: &Store, resident: i64, rs: &[NewReading]) -> (Vec<(i64, i64, f64, f64)>, Vec<(i64, i64, f64, f64)>) {
    let got = s.vitals_rollup(resident, Metric::HeartRate, SPREAD_DAYS.0, SPREAD_DAYS.1, DAY).await.unwrap();
    let got = got.iter().map(|b| (b.bucket_ms, b.count, b.min, b.max)).collect();
    let want = expected(rs, SPREAD_DAYS.0, SPREAD_DAYS.1, DAY).iter().map(|b| (b.0, b.1, b.2, b.3)).collect();
    (got, want)
}

/// Readings counted by a rollup query.
async fn counted(s: &Store, resident: i64, from: i64, to: i64, bucket: i64) -> i64 {
    s.vitals_rollup(resident, Metric::HeartRate, from, to, bucket).await.unwrap().iter().map(|b| b.count).sum()
}

both!(rollups_from_the_table_equal_raw_aggregation);
async fn rollups_from_the_table_equal_raw_aggregation(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let rs = spread(w.resident);
    // In several batches, with a resend in between: a resend must not count twice. Every
    // other batch arrives a day late (ingest adds those to the rollups itself), the others on
    // time (the follower adds them); some late ones after the follower's first pass.
    for (i, chunk) in rs.chunks(70).enumerate() {
        let received = if i % 2 == 1 { chunk[0].measured_ms + 86_400_000 } else { 0 };
        s.ingest("gw", chunk, &[], received).await.unwrap();
        s.ingest("gw", chunk, &[], received).await.unwrap();
        if i == 4 {
            check_rollups(s, w.resident, &rs[..70 * 5]).await;
            assert_eq!(s.rollup_safe_ms().await.unwrap(), eldercare_store::rollup::NEVER_MS);
            let pass = s.roll_up(AFTER_SPREAD).await.unwrap().expect("nothing else running");
            assert_eq!(pass.added, 70 * 3, "the three batches on time");
            assert!(pass.safe_ms < AFTER_SPREAD - eldercare_store::rollup::LATE_MS);
            assert!(pass.safe_ms > rs[rs.len() - 1].measured_ms, "every reading counts as measured before it");
            check_rollups(s, w.resident, &rs[..70 * 5]).await;
        }
    }
    // After the first pass, readings received "at 0" are stored as received at the announced
    // time, so all are late now: ingest added them, and the second pass adds none.
    check_rollups(s, w.resident, &rs).await;
    let pass = s.roll_up(AFTER_SPREAD).await.unwrap().unwrap();
    assert_eq!(pass.added, 0);
    check_rollups(s, w.resident, &rs).await;
    // From the table alone: with the raw readings gone the answers are the same.
    assert_eq!(s.purge_raw_readings(AFTER_SPREAD, 1000).await.unwrap(), 599, "all but the newest position");
    let (got, want) = days(s, w.resident, &rs).await;
    assert_eq!(got, want);
}

/// Every rollup query over [`spread`]'s days equals aggregating `rs` here.
async fn check_rollups(s: &Store, resident: i64, rs: &[NewReading]) {
    let start: i64 = 1_700_000_000_000;
    let end = start + 600 * 431_113;
    let ranges = [
        (start, end + 1),                                         // everything
        (start + 1_234_567, end - 7_654_321),                     // unaligned edges
        (start - start.rem_euclid(86_400_000), end + 86_400_000), // whole days
        (start + 3_600_000, start + 3_600_000 + 1),               // less than a span
    ];
    let buckets = [60_000, 420_000, 3_600_000, 7_200_000, 86_400_000, 45_000, 1_000];
    for (from, to) in ranges {
        for bucket in buckets {
            let got: Vec<(i64, i64, f64, f64, f64)> = s
                .vitals_rollup(resident, Metric::HeartRate, from, to, bucket)
                .await
                .unwrap()
                .into_iter()
                .map(|b| (b.bucket_ms, b.count, b.min, b.max, b.mean))
                .collect();
            assert_eq!(got, expected(rs, from, to, bucket), "range {from}..{to}, bucket {bucket}");
        }
    }
}

both!(a_pass_waits_for_readings_being_stored_and_adds_each_once);
async fn a_pass_waits_for_readings_being_stored_and_adds_each_once(backend: Backend) {
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let rs = spread(w.resident);
    w.store.ingest("gw", &rs[..100], &[], 0).await.unwrap();
    // Another instance is storing readings when the pass starts, and commits while it runs.
    let mut tx = other.begin().await.unwrap();
    tx.insert_readings("gw", &rs[100..300], 0).await.unwrap();
    let store = w.store.clone();
    let pass = tokio::spawn(async move { store.roll_up(AFTER_SPREAD).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!pass.is_finished(), "the pass waits for the transaction begun before it");
    tx.commit().await.unwrap();
    let pass = pass.await.unwrap().unwrap().unwrap();
    assert_eq!(pass.added, 300, "the readings committed during the pass are in it");
    // Stored after the pass by the other instance, received "at 0": raised to the announced
    // time, so late, and added by ingest.
    other.ingest("gw", &rs[300..], &[], 0).await.unwrap();
    assert_eq!(w.store.roll_up(AFTER_SPREAD).await.unwrap().unwrap().added, 0);
    let purged = w.store.purge_raw_readings(AFTER_SPREAD, 1000).await.unwrap();
    assert_eq!(purged, 599);
    let total = counted(&w.store, w.resident, SPREAD_DAYS.0, SPREAD_DAYS.1, DAY).await;
    assert_eq!(total, 600, "each reading counted once, from the table alone");
}

both!(retention_purges_raw_readings_and_keeps_the_summaries);
async fn retention_purges_raw_readings_and_keeps_the_summaries(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let rs = spread(w.resident);
    s.ingest("gw", &rs, &[], 0).await.unwrap();
    // Nothing is purged that the rollups may not hold yet.
    assert_eq!(s.purge_raw_readings(i64::MAX, 100).await.unwrap(), 0, "before the follower's first pass");
    s.roll_up(AFTER_SPREAD).await.unwrap().unwrap();
    let day = 86_400_000;
    let from = 1_700_000_000_000 - 1_700_000_000_000_i64.rem_euclid(day);
    let to = from + 4 * day;
    let daily_before = s.vitals_rollup(w.resident, Metric::HeartRate, from, to, day).await.unwrap();
    let latest_before = s.latest_vitals(w.resident).await.unwrap();
    let cut = 1_700_000_000_000 + 400 * 431_113;

    let purged = s.purge_raw_readings(cut, 37).await.unwrap();
    assert_eq!(purged, 400);
    assert_eq!(s.count_readings().await.unwrap(), 200);
    assert!(s.vitals_history(w.resident, Metric::HeartRate, 0, cut, 1000).await.unwrap().is_empty());
    assert_eq!(s.vitals_history(w.resident, Metric::HeartRate, cut, i64::MAX, 1000).await.unwrap().len(), 200);
    // Whole days come from the rollups: unchanged.
    assert_eq!(s.vitals_rollup(w.resident, Metric::HeartRate, from, to, day).await.unwrap(), daily_before);
    assert_eq!(s.latest_vitals(w.resident).await.unwrap(), latest_before);
    assert_eq!(s.purge_raw_readings(cut, 37).await.unwrap(), 0, "nothing left to purge");
    assert!(s.purge_raw_readings(cut, 0).await.is_err());

    // The reading with the greatest position stays even when it is old, so positions never repeat.
    s.ingest("gw", &[hr(w.resident, 10_000, 70.0, 1)], &[], 0).await.unwrap();
    let last = s.last_reading_position().await.unwrap();
    assert_eq!(s.purge_raw_readings(i64::MAX, 1000).await.unwrap(), 200);
    assert_eq!(s.count_readings().await.unwrap(), 1);
    s.ingest("gw", &[hr(w.resident, 10_001, 71.0, 2)], &[], 0).await.unwrap();
    assert!(s.last_reading_position().await.unwrap() > last);
}

/// Two handles on one database, as two server instances would have.
async fn second_handle(w: &World) -> Store {
    w.db.open().await
}

/// On PostgreSQL both transactions are open before either acts; SQLite's write lock makes the
/// second wait at `begin`, so there they run one after the other.
fn barrier(backend: Backend) -> Option<Arc<Barrier>> {
    (backend == Backend::Postgres).then(|| Arc::new(Barrier::new(2)))
}

async fn meet(b: &Option<Arc<Barrier>>) {
    if let Some(b) = b {
        b.wait().await;
    }
}

both!(a_due_timer_is_claimed_once_by_two_instances);
async fn a_due_timer_is_claimed_once_by_two_instances(backend: Backend) {
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let mut tx = w.store.begin().await.unwrap();
    tx.start_timer(w.resident, "fall", 100).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(w.store.due_timers(100, 10).await.unwrap(), vec![(w.resident, "fall".to_owned())]);

    let b = barrier(backend);
    let claim = |store: Store, b: Option<Arc<Barrier>>, resident: i64| async move {
        let mut tx = store.begin().await.unwrap();
        meet(&b).await;
        let won = tx.claim_timer(resident, "fall", 100).await.unwrap();
        tx.commit().await.unwrap();
        won
    };
    let (a, c) = tokio::join!(
        tokio::spawn(claim(w.store.clone(), b.clone(), w.resident)),
        tokio::spawn(claim(other.clone(), b.clone(), w.resident))
    );
    let (a, c) = (a.unwrap(), c.unwrap());
    assert!(a ^ c, "exactly one claim wins: {a} {c}");
    assert!(w.store.due_timers(100, 10).await.unwrap().is_empty());
}

both!(two_instances_evaluating_one_resident_take_turns_on_its_rule_state);
async fn two_instances_evaluating_one_resident_take_turns_on_its_rule_state(backend: Backend) {
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let s = &w.store;
    let district = s.create_org_unit(None, OrgKind::District, "D2").await.unwrap();
    let grid = s.create_org_unit(Some(district), OrgKind::Grid, "G2").await.unwrap();
    let household = s.create_household(grid, "H2").await.unwrap();
    let known = s.create_resident(household, "R2", None).await.unwrap();
    let mut tx = s.begin().await.unwrap();
    tx.save_rule_state(known, r#"{"n":0}"#, 1).await.unwrap();
    tx.commit().await.unwrap();

    // One instance reads the rules' inputs of a resident with a stored state and of one
    // without (`w.resident`, never evaluated), then the other instance asks for both.
    let mut tx = s.begin().await.unwrap();
    let first = tx.rule_inputs(&[w.resident, known, 999_999]).await.unwrap();
    let states: Vec<(i64, String)> = first.into_iter().map(|r| (r.resident_id, r.state)).collect();
    let fresh = if w.resident < known { 0 } else { 1 };
    assert_eq!(states.len(), 2, "the unknown resident is left out: {states:?}");
    assert_eq!(states[fresh], (w.resident, "{}".to_owned()), "a resident never evaluated starts empty");
    assert_eq!(states[1 - fresh], (known, r#"{"n":0}"#.to_owned()));
    let second = tokio::spawn(async move {
        let mut tx = other.begin().await.unwrap();
        let rows = tx.rule_inputs(&[known, w.resident]).await.unwrap();
        tx.commit().await.unwrap();
        rows.into_iter().map(|r| (r.resident_id, r.state)).collect::<Vec<_>>()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second instance waits until the first has saved both states");
    tx.save_rule_states(&[(w.resident, r#"{"n":1}"#.into()), (known, r#"{"n":1}"#.into())], 2).await.unwrap();
    tx.commit().await.unwrap();
    let mut seen = second.await.unwrap();
    seen.sort();
    let mut want = vec![(w.resident, r#"{"n":1}"#.to_owned()), (known, r#"{"n":1}"#.to_owned())];
    want.sort();
    assert_eq!(seen, want, "the second instance reads what the first saved");
}

both!(the_same_readings_stored_at_once_by_two_instances_are_stored_once);
async fn the_same_readings_stored_at_once_by_two_instances_are_stored_once(backend: Backend) {
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let rs: Vec<NewReading> =
        (0..300).map(|i| hr(w.resident, i, 60.0 + (i % 7) as f64, 1_000_000 + i * 1000)).collect();
    let b = barrier(backend);
    let store_all = |store: Store, b: Option<Arc<Barrier>>, rs: Vec<NewReading>| async move {
        let mut tx = store.begin().await.unwrap();
        meet(&b).await;
        let (outcome, fresh) = tx.insert_readings("gw", &rs, 0).await.unwrap();
        let fresh = fresh.len() as u64;
        tx.commit().await.unwrap();
        (outcome.inserted, outcome.duplicates, fresh)
    };
    let (x, y) = tokio::join!(
        tokio::spawn(store_all(w.store.clone(), b.clone(), rs.clone())),
        tokio::spawn(store_all(other.clone(), b.clone(), rs.clone()))
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.0 + y.0, 300, "{x:?} {y:?}");
    assert_eq!(x.1 + y.1, 300, "{x:?} {y:?}");
    assert_eq!(x.2 + y.2, 300, "the rules see each reading once: {x:?} {y:?}");
    assert_eq!(w.store.count_readings().await.unwrap(), 300);
    assert_eq!(counted(&w.store, w.resident, 0, DAY, DAY).await, 300, "the rollups count each reading once");
    w.store.roll_up(2 * DAY).await.unwrap().unwrap();
    assert_eq!(counted(&w.store, w.resident, 0, DAY, DAY).await, 300, "the follower adds each reading once");
}

both!(one_alert_opens_when_two_instances_raise_it_at_once);
async fn one_alert_opens_when_two_instances_raise_it_at_once(backend: Backend) {
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let b = barrier(backend);
    let raise = |store: Store, b: Option<Arc<Barrier>>, resident: i64, level: &'static str| async move {
        let mut tx = store.begin().await.unwrap();
        meet(&b).await;
        let r = tx.raise(Subject::Resident(resident), "spo2_low", level, "Low SpO2", "{}", 5).await.unwrap();
        tx.commit().await.unwrap();
        r
    };
    let (x, y) = tokio::join!(
        tokio::spawn(raise(w.store.clone(), b.clone(), w.resident, "urgent")),
        tokio::spawn(raise(other.clone(), b.clone(), w.resident, "critical"))
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.alert_id, y.alert_id);
    assert!(x.opened ^ y.opened, "{x:?} {y:?}");
    let admin = w.store.create_user("a", "x", Role::Admin, "A").await.unwrap();
    w.store.grant_scope(admin, 1).await.unwrap();
    let viewer = eldercare_store::Viewer { user_id: admin, role: Role::Admin };
    let filter = eldercare_store::alerts::AlertFilter { limit: 10, ..Default::default() };
    let alerts = w.store.list_alerts(&viewer, &filter).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].level, "critical", "the higher level wins whichever came first");
}

both!(the_live_feed_does_not_skip_a_reading_that_commits_late);
async fn the_live_feed_does_not_skip_a_reading_that_commits_late(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let start = s.last_reading_position().await.unwrap();
    match backend {
        Backend::Sqlite => {
            // One writer at a time: positions become visible in order.
            s.ingest("gw", &[hr(w.resident, 1, 61.0, 1000)], &[], 0).await.unwrap();
            s.ingest("gw", &[hr(w.resident, 2, 62.0, 2000)], &[], 0).await.unwrap();
        }
        Backend::Postgres => {
            // The first transaction takes the smaller position but commits after the second
            // (of another resident: one resident's writers take turns on its latest vitals).
            let household = s.household_of_resident(w.resident).await.unwrap().unwrap();
            let other = s.create_resident(household, "O", None).await.unwrap();
            s.register_device("dev2", "gw", other, "watch").await.unwrap();
            let mut early = s.begin().await.unwrap();
            early.insert_readings("gw", &[hr(w.resident, 1, 61.0, 1000)], 0).await.unwrap();
            let mut late = s.begin().await.unwrap();
            let r = NewReading { device_id: "dev2".into(), ..hr(other, 2, 62.0, 2000) };
            late.insert_readings("gw", &[r], 0).await.unwrap();
            late.commit().await.unwrap();
            let seen = s.live_readings_after(start, 100).await.unwrap();
            assert!(
                seen.iter().all(|r| r.value != 62.0),
                "position 2 must wait while position 1 is in flight: {seen:?}"
            );
            early.commit().await.unwrap();
        }
    }
    // Both arrive, in position order (the feed may lag a poll or so behind other transactions).
    let mut cursor = start;
    let mut values = Vec::new();
    for _ in 0..3000 {
        for r in s.live_readings_after(cursor, 100).await.unwrap() {
            cursor = r.position;
            values.push(r.value);
        }
        if values.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(values, vec![61.0, 62.0]);
}

both!(a_refresh_token_presented_twice_at_once_rotates_once);
async fn a_refresh_token_presented_twice_at_once_rotates_once(backend: Backend) {
    use eldercare_store::session::Rotation;
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let user = w.store.create_user("f", "x", Role::Family, "F").await.unwrap();
    let session = w.store.start_session(user, "t1", 10_000, 0, None).await.unwrap();
    let (x, y) = tokio::join!(
        tokio::spawn({
            let s = w.store.clone();
            async move { s.rotate_refresh_token("t1", "t2", 10_000, 1).await.unwrap() }
        }),
        tokio::spawn(async move { other.rotate_refresh_token("t1", "t3", 10_000, 1).await.unwrap() })
    );
    let mut got = [x.unwrap(), y.unwrap()];
    got.sort_by_key(|r| matches!(r, Rotation::Reused { .. }));
    assert_eq!(
        got,
        [
            Rotation::Rotated { user_id: user, session_id: session },
            Rotation::Reused { user_id: user, session_id: session }
        ]
    );
    assert!(w.store.user_in_session(user, session).await.unwrap().is_none(), "reuse ends the session");
}

both!(a_large_batch_with_resent_readings_stores_each_once);
/// More rows than one insert statement takes (SQLite cuts them into 256, 64, 16, 4 and 1),
/// then the same rows again with new ones among them: only the new ones are fresh.
async fn a_large_batch_with_resent_readings_stores_each_once(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let first: Vec<NewReading> = (0..341).map(|i| hr(w.resident, i, 60.0 + (i % 40) as f64, 1_000 * i)).collect();
    let mut tx = s.begin().await.unwrap();
    let (outcome, fresh) = tx.insert_batches(&[("gw", &first)], 0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates, fresh.len()), (341, 0, 341));

    let mixed: Vec<NewReading> = (200..441).map(|i| hr(w.resident, i, 70.0, 1_000 * i)).collect();
    let mut tx = s.begin().await.unwrap();
    let (outcome, fresh) = tx.insert_batches(&[("gw", &mixed)], 0).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (100, 141));
    assert_eq!(fresh.iter().map(|r| r.seq).collect::<Vec<_>>(), (341..441).collect::<Vec<_>>());
    assert_eq!(s.count_readings().await.unwrap(), 441);
    // The resent readings kept their first values.
    let hist = s.vitals_history(w.resident, Metric::HeartRate, 200_000, 201_000, 10).await.unwrap();
    assert_eq!(hist.iter().map(|r| r.value).collect::<Vec<_>>(), [60.0]);
}

both!(batches_of_several_gateways_store_in_one_call);
async fn batches_of_several_gateways_store_in_one_call(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    // A second home, in a grid on Indian time, with a band and a scale.
    let district = s.create_org_unit(None, OrgKind::District, "D2").await.unwrap();
    let grid = s.create_org_unit(Some(district), OrgKind::Grid, "G2").await.unwrap();
    s.set_subtree_time_zone(grid, "Asia/Kolkata").await.unwrap();
    let household = s.create_household(grid, "H2").await.unwrap();
    let other = s.create_resident(household, "R2", None).await.unwrap();
    s.register_gateway("gw2", household).await.unwrap();
    s.register_device("band2", "gw2", other, "watch").await.unwrap();
    s.register_device("scale2", "gw2", other, "scale").await.unwrap();
    // Registered devices come back with their gateway; unknown ids are left out.
    let devices = s.devices_by_id(&["scale2", "dev", "band2", "nobody"]).await.unwrap();
    let mut found: Vec<(&str, &str, i64)> =
        devices.iter().map(|d| (d.device_id.as_str(), d.gateway_id.as_str(), d.resident_id)).collect();
    found.sort_unstable();
    assert_eq!(found, [("band2", "gw2", other), ("dev", "gw", w.resident), ("scale2", "gw2", other)]);
    assert!(s.devices_by_id(&[]).await.unwrap().is_empty());

    let reading = |device: &str, resident, seq, metric, value, t| NewReading {
        device_id: device.into(),
        seq,
        resident_id: resident,
        metric,
        value,
        measured_ms: t,
        time_source: "device",
    };
    let first = [hr(w.resident, 1, 60.0, 60_000), hr(w.resident, 2, 64.0, 61_000)];
    let second = [
        reading("band2", other, 7, Metric::HeartRate, 80.0, 120_000),
        reading("band2", other, 8, Metric::Battery, 41.0, 121_000),
        reading("scale2", other, 1, Metric::BodyWeight, 70.5, 119_000),
    ];
    let mut tx = s.begin().await.unwrap();
    let (outcome, fresh) = tx.insert_batches(&[("gw", &first), ("gw2", &second)], 200_000).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (5, 0));
    assert_eq!(fresh.len(), 5);

    // A resend of one batch with one new reading: only the new one is fresh.
    let again = [hr(w.resident, 2, 64.0, 61_000), hr(w.resident, 3, 66.0, 62_000)];
    let mut tx = s.begin().await.unwrap();
    let (outcome, fresh) = tx.insert_batches(&[("gw2", &second), ("gw", &again)], 300_000).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (1, 4));
    assert_eq!(fresh.iter().map(|r| r.seq).collect::<Vec<_>>(), [3]);
    assert_eq!(s.count_readings().await.unwrap(), 6);

    // The newest value per vital, each device's last contact and battery.
    let latest = s.latest_vitals(w.resident).await.unwrap();
    assert_eq!(latest.iter().map(|v| (v.metric, v.value)).collect::<Vec<_>>(), [(Metric::HeartRate, 66.0)]);
    let latest = s.latest_vitals(other).await.unwrap();
    let mut got: Vec<_> = latest.iter().map(|v| (v.metric.code(), v.value)).collect();
    got.sort_by(|a, b| a.0.cmp(b.0));
    let mut want =
        vec![(Metric::HeartRate.code(), 80.0), (Metric::Battery.code(), 41.0), (Metric::BodyWeight.code(), 70.5)];
    want.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(got, want);
    let seen = contacts(s).await;
    // The band's contact moved by less than a step (61 s to 62 s): its row was not rewritten.
    assert_eq!(seen["dev"], (Some(61_000), None));
    assert_eq!(seen["band2"], (Some(121_000), Some(41.0)));
    assert_eq!(seen["scale2"], (Some(119_000), None));
    // A step later it moves; a new battery level moves it at once, an older reading never.
    let step = eldercare_store::LAST_CONTACT_STEP_MS;
    s.ingest("gw", &[hr(w.resident, 4, 67.0, 61_000 + step)], &[], 0).await.unwrap();
    s.ingest(
        "gw2",
        &[
            reading("band2", other, 9, Metric::Battery, 40.0, 122_000),
            reading("scale2", other, 2, Metric::BodyWeight, 70.4, 100_000),
        ],
        &[],
        0,
    )
    .await
    .unwrap();
    let seen = contacts(s).await;
    assert_eq!(seen["dev"], (Some(61_000 + step), None));
    assert_eq!(seen["band2"], (Some(122_000), Some(40.0)));
    assert_eq!(seen["scale2"], (Some(119_000), None));

    // The rules' inputs of both residents in one call, in resident order, with their zones.
    let mut tx = s.begin().await.unwrap();
    tx.save_rule_states(&[(other, "{\"b\":2}".into()), (w.resident, "{\"a\":1}".into())], 5).await.unwrap();
    let rows = tx.rule_inputs(&[other, w.resident, other, 999_999]).await.unwrap();
    tx.commit().await.unwrap();
    let mut want = vec![
        (w.resident, "{\"a\":1}".to_owned(), "Asia/Shanghai".to_owned()),
        (other, "{\"b\":2}".to_owned(), "Asia/Kolkata".to_owned()),
    ];
    want.sort_by_key(|r| r.0);
    assert_eq!(rows.into_iter().map(|r| (r.resident_id, r.state, r.time_zone)).collect::<Vec<_>>(), want);
}

both!(a_last_contact_moves_by_steps_whoever_stored_the_one_before);
async fn a_last_contact_moves_by_steps_whoever_stored_the_one_before(backend: Backend) {
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let step = eldercare_store::LAST_CONTACT_STEP_MS;
    let t = 1_000_000;
    w.store.ingest("gw", &[hr(w.resident, 1, 70.0, t)], &[], 0).await.unwrap();
    assert_eq!(contacts(&w.store).await["dev"].0, Some(t));
    // A transaction that would have moved it a step on rolls back: nothing moved.
    let mut tx = w.store.begin().await.unwrap();
    tx.insert_readings("gw", &[hr(w.resident, 2, 70.0, t + step)], 0).await.unwrap();
    drop(tx);
    assert_eq!(contacts(&w.store).await["dev"].0, Some(t));
    // So a reading a step and a bit on moves it (this handle must not take the rolled-back
    // write for stored).
    w.store.ingest("gw", &[hr(w.resident, 3, 70.0, t + step + 10)], &[], 0).await.unwrap();
    assert_eq!(contacts(&w.store).await["dev"].0, Some(t + step + 10));
    // Another instance moves it further; a reading less than a step after what either stored
    // moves nothing, one a step after the newest moves it, through either handle.
    other.ingest("gw", &[hr(w.resident, 4, 70.0, t + 3 * step)], &[], 0).await.unwrap();
    w.store.ingest("gw", &[hr(w.resident, 5, 70.0, t + 3 * step + 20)], &[], 0).await.unwrap();
    assert_eq!(contacts(&w.store).await["dev"].0, Some(t + 3 * step));
    w.store.ingest("gw", &[hr(w.resident, 6, 70.0, t + 4 * step)], &[], 0).await.unwrap();
    assert_eq!(contacts(&w.store).await["dev"].0, Some(t + 4 * step));
    other.ingest("gw", &[hr(w.resident, 7, 70.0, t + 5 * step - 1)], &[], 0).await.unwrap();
    assert_eq!(contacts(&w.store).await["dev"].0, Some(t + 4 * step));
    // A battery level is written at once, and the contact with it.
    let battery = NewReading { metric: Metric::Battery, value: 41.0, ..hr(w.resident, 8, 0.0, t + 4 * step + 5) };
    w.store.ingest("gw", &[battery], &[], 0).await.unwrap();
    assert_eq!(contacts(&w.store).await["dev"], (Some(t + 4 * step + 5), Some(41.0)));
}

both!(devices_registered_together_are_all_or_none);
async fn devices_registered_together_are_all_or_none(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let ids = || async {
        let mut ids: Vec<String> = s.devices_of_gateway("gw").await.unwrap().into_iter().map(|d| d.device_id).collect();
        ids.sort();
        ids
    };
    let clock = s.binding_clock().await.unwrap();
    // One of them is registered already: none is.
    let clash = s.register_devices(&[("band-a", "gw", w.resident, "watch"), ("dev", "gw", w.resident, "watch")]).await;
    assert!(matches!(clash, Err(eldercare_store::StoreError::Conflict(_))), "{clash:?}");
    let too_long = "x".repeat(eldercare_schema::payload::MAX_DEVICE_ID_LEN + 1);
    let invalid =
        s.register_devices(&[("band-a", "gw", w.resident, "watch"), (&too_long, "gw", w.resident, "watch")]).await;
    assert!(matches!(invalid, Err(eldercare_store::StoreError::Invalid(_))), "{invalid:?}");
    assert_eq!(ids().await, ["dev"]);
    assert_eq!(s.binding_clock().await.unwrap(), clock, "nothing changed, nothing stamped");
    s.register_devices(&[("band-a", "gw", w.resident, "watch"), ("band-b", "gw", w.resident, "watch")]).await.unwrap();
    assert_eq!(ids().await, ["band-a", "band-b", "dev"]);
    assert!(s.binding_clock().await.unwrap() > clock, "the binding publisher and ingest see the change");
}

/// Each device's (last contact, battery) as the silence rules read them.
async fn contacts(s: &Store) -> std::collections::HashMap<String, (Option<i64>, Option<f64>)> {
    let (_, devices) = s.silence_inputs().await.unwrap();
    devices.into_iter().map(|d| (d.device_id, (d.last_reading_ms, d.battery_pct))).collect()
}

both!(the_binding_clock_moves_with_device_changes_and_not_with_readings);
async fn the_binding_clock_moves_with_device_changes_and_not_with_readings(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let gateways = |rows: Vec<eldercare_store::binding::BindingRow>| {
        let mut g: Vec<String> = rows.into_iter().map(|r| r.gateway_id).collect();
        g.dedup();
        g
    };
    let start = s.binding_clock().await.unwrap();
    assert!(start > 0, "registering the world's gateway and device moved it");
    assert_eq!(gateways(s.gateway_bindings_since(start).await.unwrap()), Vec::<String>::new());

    // Readings update the device's last contact and battery: not a binding change.
    s.ingest("gw", &[hr(w.resident, 1, 60.0, 60_000)], &[], 61_000).await.unwrap();
    assert_eq!(s.binding_clock().await.unwrap(), start);

    // A new gateway, without devices yet, is a change (its empty binding is due).
    let district = s.create_org_unit(None, OrgKind::District, "D2").await.unwrap();
    let grid = s.create_org_unit(Some(district), OrgKind::Grid, "G2").await.unwrap();
    let household = s.create_household(grid, "H2").await.unwrap();
    let other = s.create_resident(household, "R2", None).await.unwrap();
    s.register_gateway("gw2", household).await.unwrap();
    let after_gateway = s.binding_clock().await.unwrap();
    assert!(after_gateway > start);
    let rows = s.gateway_bindings_since(start).await.unwrap();
    assert_eq!(gateways(rows.clone()), ["gw2"]);
    assert_eq!(rows[0].device_id, None);

    // A device registered on it, then moved from the first gateway to it: both are stamped.
    s.register_device("band2", "gw2", other, "watch").await.unwrap();
    let after_device = s.binding_clock().await.unwrap();
    assert_eq!(gateways(s.gateway_bindings_since(after_gateway).await.unwrap()), ["gw2"]);
    assert!(s.rebind_device("dev", "gw2", other).await.unwrap());
    let rows = s.gateway_bindings_since(after_device).await.unwrap();
    assert_eq!(gateways(rows.clone()), ["gw", "gw2"]);
    let on_gw2: Vec<&str> =
        rows.iter().filter(|r| r.gateway_id == "gw2").filter_map(|r| r.device_id.as_deref()).collect();
    assert_eq!(on_gw2, ["band2", "dev"]);
    assert!(rows.iter().any(|r| r.gateway_id == "gw" && r.device_id.is_none()), "gw is left with no devices");
    // Everything since the start, and the full list, agree.
    assert_eq!(gateways(s.gateway_bindings().await.unwrap()), ["gw", "gw2"]);
}

both!(an_alert_detail_never_shows_notifications_without_the_step_that_sent_them);
async fn an_alert_detail_never_shows_notifications_without_the_step_that_sent_them(backend: Backend) {
    let w = world(backend).await;
    let admin = w.store.create_user("a", "x", Role::Admin, "A").await.unwrap();
    w.store.grant_scope(admin, 1).await.unwrap();
    let viewer = eldercare_store::Viewer { user_id: admin, role: Role::Admin };
    let mut tx = w.store.begin().await.unwrap();
    let alert = tx.raise(Subject::Resident(w.resident), "help_button", "critical", "Help", "{}", 5).await.unwrap();
    tx.commit().await.unwrap();
    let detail = |store: Store| async move { store.alert_detail(&viewer, alert.alert_id).await.unwrap().unwrap() };
    let (_, opened, _) = detail(w.store.clone()).await;
    // Another instance takes escalation steps: each moves the step and writes its event and
    // its notification in one transaction, as the escalation worker does.
    const STEPS: usize = 300;
    let writer = tokio::spawn({
        let store = second_handle(&w).await;
        let alert_id = alert.alert_id;
        async move {
            for step in 0..STEPS as i64 {
                let mut tx = store.begin().await.unwrap();
                assert!(tx.claim_escalation(alert_id, step, Some(i64::MAX)).await.unwrap());
                tx.event(alert_id, step, "escalated", None, None, "{}").await.unwrap();
                tx.add_notification(alert_id, step, "live", None, None, "{}", step).await.unwrap();
                tx.commit().await.unwrap();
            }
        }
    });
    let mut reads = 0;
    loop {
        let done = writer.is_finished();
        let (a, events, notifications) = detail(w.store.clone()).await;
        assert_eq!(events.len() - opened.len(), notifications.len(), "read {reads}: each notification with its event");
        assert_eq!(a.escalation_step as usize, notifications.len(), "read {reads}: the step with its notifications");
        reads += 1;
        if done {
            assert_eq!(notifications.len(), STEPS);
            break;
        }
    }
    writer.await.unwrap();
    let family = w.store.create_user("f", "x", Role::Family, "F").await.unwrap();
    let stranger = eldercare_store::Viewer { user_id: family, role: Role::Family };
    assert!(w.store.alert_detail(&stranger, alert.alert_id).await.unwrap().is_none(), "out of scope");
}

both!(two_instances_passing_at_once_add_each_reading_once);
async fn two_instances_passing_at_once_add_each_reading_once(backend: Backend) {
    let w = world(backend).await;
    let other = second_handle(&w).await;
    let rs = spread(w.resident);
    w.store.ingest("gw", &rs, &[], 0).await.unwrap();
    let (a, b) = tokio::join!(w.store.roll_up(AFTER_SPREAD), other.roll_up(AFTER_SPREAD));
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    assert_eq!(a.added + b.added, 600, "{a:?} {b:?}");
    assert_eq!(w.store.roll_up(AFTER_SPREAD).await.unwrap().unwrap().added, 0);
    assert_eq!(w.store.purge_raw_readings(AFTER_SPREAD, 1000).await.unwrap(), 599);
    let (got, want) = days(&w.store, w.resident, &rs).await;
    assert_eq!(got, want, "each reading counted once, from the table alone");
}

/// The newest heart rate and SpO2 of `rs` here: (metric, value, measured).
fn newest_here(rs: &[NewReading]) -> Vec<(Metric, f64, i64)> {
    let mut newest: std::collections::BTreeMap<&str, (Metric, f64, i64)> = Default::default();
    for r in rs {
        let e = newest.entry(r.metric.code()).or_insert((r.metric, r.value, r.measured_ms));
        if r.measured_ms > e.2 {
            *e = (r.metric, r.value, r.measured_ms);
        }
    }
    newest.into_values().collect()
}

/// The newest values as the store answers them, both ways.
async fn newest_stored(s: &Store, resident: i64) -> Vec<(Metric, f64, i64)> {
    let one: Vec<_> =
        s.latest_vitals(resident).await.unwrap().into_iter().map(|v| (v.metric, v.value, v.measured_ms)).collect();
    let of: Vec<_> = s
        .latest_vitals_of(&[resident])
        .await
        .unwrap()
        .into_iter()
        .map(|(_, v)| (v.metric, v.value, v.measured_ms))
        .collect();
    assert_eq!(one, of);
    one
}

both!(newest_values_are_exact_before_and_after_a_pass_and_kept_in_the_table);
async fn newest_values_are_exact_before_and_after_a_pass_and_kept_in_the_table(backend: Backend) {
    let w = world(backend).await;
    let s = &w.store;
    let mut rs = spread(w.resident);
    rs.push(NewReading { metric: Metric::Spo2, value: 96.0, seq: 10_000, ..hr(w.resident, 0, 0.0, 1_700_000_100_000) });
    // Stored newest first, on time (the follower keeps these): the newest position is then
    // the oldest reading, which retention keeps below.
    let chunks: Vec<&[NewReading]> = rs.rchunks(70).collect();
    s.ingest("gw", chunks[0], &[], 0).await.unwrap();
    assert_eq!(newest_stored(s, w.resident).await, newest_here(chunks[0]));
    for chunk in &chunks[1..] {
        s.ingest("gw", chunk, &[], 0).await.unwrap();
    }
    let want = newest_here(&rs);
    assert_eq!(want.len(), 2);
    assert_eq!(newest_stored(s, w.resident).await, want, "before any pass: from raw readings");
    s.roll_up(AFTER_SPREAD).await.unwrap().expect("nothing else running");
    assert_eq!(newest_stored(s, w.resident).await, want, "after a pass");
    assert_eq!(s.purge_raw_readings(AFTER_SPREAD, 1000).await.unwrap(), rs.len() as u64 - 1);
    assert_eq!(newest_stored(s, w.resident).await, want, "from the table: the pass wrote them");

    // A late upload (a gateway back online): its newest reading is in the table at once.
    let late = [
        hr(w.resident, 20_000, 77.0, AFTER_SPREAD - 7_200_000),
        hr(w.resident, 20_001, 55.0, AFTER_SPREAD - 9_000_000),
    ];
    s.ingest("gw", &late, &[], AFTER_SPREAD + DAY).await.unwrap();
    // An older one stored after it holds the newest position, so retention can purge the first.
    s.ingest("gw", &[hr(w.resident, 20_002, 44.0, AFTER_SPREAD - 10 * DAY)], &[], AFTER_SPREAD + DAY).await.unwrap();
    assert_eq!(
        s.purge_raw_readings(AFTER_SPREAD + 2 * DAY, 1000).await.unwrap(),
        3,
        "the late ones and the one kept before"
    );
    let want = vec![(Metric::HeartRate, 77.0, AFTER_SPREAD - 7_200_000), want[1]];
    assert_eq!(newest_stored(s, w.resident).await, want, "from the table: ingest wrote the late one");
}
