//! The harness's own PostgreSQL works before the store does: a cluster of our own on a free port,
//! reachable, written to with COPY (the load generator's baseline), and crashed and restarted.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_postgres_starts_takes_copy_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(dir.path()).await;
    assert!(pg.url().contains(&format!(":{}/", pg.port)));
    let db = eldercare_loadgen::db::Db::connect(&pg.url()).await.unwrap();
    assert!(db.is_postgres());
    let rows_per_s = db.raw_write_baseline(20_000).await.unwrap();
    assert!(rows_per_s > 0.0);
    db.close().await;

    pg.crash_and_restart().await;
    let db = eldercare_loadgen::db::Db::connect(&pg.url()).await.unwrap();
    // The scratch table was dropped before the crash, and the cluster answers after recovery.
    assert!(db.raw_write_baseline(1_000).await.unwrap() > 0.0);
    db.close().await;
}
