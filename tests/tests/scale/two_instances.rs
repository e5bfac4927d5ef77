//! Two server instances on one database and one broker, simulated gateways publishing:
//! every reading stored exactly once, and the alert raised once.

use std::time::Duration;

use eldercare_loadgen::home::{DeviceKind, Rates, device_id, gateway_id};
use eldercare_loadgen::load::{Load, LoadConfig};

use crate::support::*;

/// The tests' load; its broker (`link.broker`) is set once the test's own Mosquitto is up.
pub fn load_config(prefix: &str, gateways: usize) -> LoadConfig {
    let unset = eldercare_gateway::mqtt::MqttUrl { host: String::new(), port: 0, tls: false };
    let mut link = eldercare_loadgen::link_config(unset, Some(GATEWAY_PASSWORD.into()));
    // Small batches often, and a quick resend, so faults are recovered from quickly.
    link.flush_every = Duration::from_millis(250);
    link.resend_after = Duration::from_secs(2);
    LoadConfig {
        link,
        prefix: prefix.into(),
        gateways,
        residents_per_gateway: 2,
        rates: Rates::default(),
        // Heart rate every 1/6 s, SpO2 every 2 s: ~13 readings/s per resident.
        speedup: 30.0,
        // Measuring is stopped by the test once it has seen what it needs, not by the clock.
        duration: Duration::from_secs(3600),
        drain: PATIENCE,
        low_spo2_homes: 1,
    }
}

pub async fn provision(url: &str, cfg: &LoadConfig) {
    let store = eldercare_store::Store::open(url).await.unwrap();
    eldercare_loadgen::provision::provision(&store, &cfg.prefix, cfg.gateways, cfg.residents_per_gateway, |_| {})
        .await
        .unwrap();
    store.close().await;
}

pub fn gateway_ids(cfg: &LoadConfig) -> Vec<String> {
    (0..cfg.gateways).map(|i| gateway_id(&cfg.prefix, i)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_store_every_reading_once_and_raise_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = load_config("two", 16);
    let broker = Mosquitto::start(dir.path(), &gateway_ids(&cfg)).await;
    cfg.link.broker = broker.url();
    let db = Database::start(crate::DATABASE, dir.path()).await;
    // One after the other: the first brings the schema up to date.
    let a = Server::start(dir.path(), "a", &db.url(), &broker.url()).await;
    let b = Server::start(dir.path(), "b", &db.url(), &broker.url()).await;
    provision(&db.url(), &cfg).await;

    let seq_base = cfg.link.seq_base;
    let load = Load::start(cfg.clone());
    let counters = load.counters.clone();
    // Enough for several critical SpO2 readings of the first home, in different batches.
    acked_past(&counters, 3_000, "3,000 readings committed").await;
    load.stop_measuring();
    let outcome = load.finish().await;
    assert!(outcome.drained, "not every batch was acknowledged; server logs:\n{}\n{}", a.log(), b.log());
    assert_eq!(outcome.never_published(), 0);

    let check_db = eldercare_loadgen::db::Db::connect(&db.url()).await.unwrap();
    let v = eldercare_loadgen::verify::verify(&check_db, &cfg.prefix, seq_base, &outcome).await.unwrap();
    assert!(v.published >= 3_000, "{v:?}");
    assert_eq!((v.losses, v.duplicates, v.unexpected), (0, 0, 0), "{v:?}");
    assert_eq!(v.stored, v.published);

    // The low-SpO2 resident: several critical readings, one alert (and no condition twice).
    let oximeter = device_id(&gateway_id(&cfg.prefix, 0), 0, DeviceKind::Oximeter);
    let resident = check_db.resident_of_device(&oximeter).await.unwrap().expect("provisioned");
    let alerts = check_db.alerts_of(resident).await.unwrap();
    let spo2_low = alerts.iter().filter(|(c, _)| c == "spo2_low").count();
    assert_eq!(spo2_low, 1, "alerts of the low-SpO2 resident: {alerts:?}");
    let mut conditions: Vec<&str> = alerts.iter().map(|(c, _)| c.as_str()).collect();
    conditions.sort();
    conditions.dedup();
    assert_eq!(conditions.len(), alerts.len(), "a condition raised twice: {alerts:?}");
    // Nobody else got one: the other residents' values are normal.
    let other = device_id(&gateway_id(&cfg.prefix, 1), 0, DeviceKind::Oximeter);
    let other = check_db.resident_of_device(&other).await.unwrap().unwrap();
    assert!(!check_db.alerts_of(other).await.unwrap().iter().any(|(c, _)| c == "spo2_low"));

    // Each instance stored batches. With a shared subscription they split them: together they
    // handled no more messages than were published; without one, each handles every message.
    let batches = outcome.latency_us.len() as f64;
    let (na, nb) = eventually("both instances to report their batches", || async {
        let (na, nb) =
            (a.counter("eldercare_ingest_batches_total").await, b.counter("eldercare_ingest_batches_total").await);
        let settled = if crate::SHARED_GROUP.is_some() { na + nb >= batches } else { na.min(nb) >= batches };
        settled.then_some((na, nb))
    })
    .await;
    assert!(na > 0.0 && nb > 0.0, "batches per instance: {na} and {nb}");
    let publishes = counters.publishes.load(std::sync::atomic::Ordering::Relaxed) as f64;
    if crate::SHARED_GROUP.is_some() {
        assert!(na + nb <= publishes, "instances handled {na} + {nb} batches of {publishes} published");
    }
    check_db.close().await;
}
