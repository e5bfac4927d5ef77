//! The fault test: under a sustained load, kill -9 one server instance (and start it again),
//! kill -9 and restart the broker, and (on PostgreSQL) crash and restart the database; then
//! every published reading is stored exactly once.

use crate::DATABASE;
use crate::support::*;
use crate::two_instances::{gateway_ids, load_config, provision};
use eldercare_loadgen::load::Load;
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_lost_or_doubled_through_server_broker_and_database_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = load_config("faults", 16);
    cfg.low_spo2_homes = 0;
    let mut broker = Mosquitto::start(dir.path(), &gateway_ids(&cfg)).await;
    cfg.link.broker = broker.url();
    let db = Database::start(DATABASE, dir.path()).await;
    let a = Server::start(dir.path(), "a", &db.url(), &broker.url()).await;
    let b = Server::start(dir.path(), "b", &db.url(), &broker.url()).await;
    provision(&db.url(), &cfg).await;

    let seq_base = cfg.link.seq_base;
    let load = Load::start(cfg.clone());
    let c = load.counters.clone();
    let step = 1_500;
    let mut target = step;
    acked_past(&c, target, "the load to get going").await;

    // 1. kill -9 one instance mid-load; the other keeps ingesting; then start it again under
    //    the same name (same MQTT client id, so its persistent session is picked up).
    a.kill9().await;
    target = c.acked.load(Ordering::Relaxed) + step;
    acked_past(&c, target, "progress with one instance").await;
    let a = Server::start(dir.path(), "a", &db.url(), &broker.url()).await;

    // 2. kill -9 the broker and start it again on the same port.
    target = c.acked.load(Ordering::Relaxed) + step;
    acked_past(&c, target, "progress before the broker crash").await;
    broker.crash_and_restart().await;
    target = c.acked.load(Ordering::Relaxed) + step;
    acked_past(&c, target, "progress after the broker restart").await;

    // 3. crash the database and start it again (PostgreSQL; a SQLite file has no server).
    if let Database::Postgres(pg) = &db {
        pg.crash_and_restart().await;
        target = c.acked.load(Ordering::Relaxed) + step;
        acked_past(&c, target, "progress after the database restart").await;
    }

    load.stop_measuring();
    let outcome = load.finish().await;
    assert!(outcome.drained, "not every batch was acknowledged; server logs:\n{}\n{}", a.log(), b.log());
    assert!(c.disconnects.load(Ordering::Relaxed) >= cfg.gateways as u64, "the broker restart was seen");
    let check_db = eldercare_loadgen::db::Db::connect(&db.url()).await.unwrap();
    let v = eldercare_loadgen::verify::verify(&check_db, &cfg.prefix, seq_base, &outcome).await.unwrap();
    assert!(v.published >= 4 * step, "{v:?}");
    assert_eq!((v.losses, v.duplicates, v.unexpected), (0, 0, 0), "{v:?}");
    assert_eq!(v.stored, v.published);
    check_db.close().await;
}
