//! Stopping and starting a server around its broker: a server that gets SIGTERM under load, just
//! after its broker died, ends (it does not wait for a link that is not coming back), and what it
//! had not acknowledged is stored once after the broker and a new server are back; and a backlog
//! the broker kept for a stopped server, bigger than every channel inside it, is stored when the
//! server starts.

use std::time::Duration;

use crate::support::*;
use crate::two_instances::{gateway_ids, load_config, provision};
use eldercare_loadgen::home::{DeviceKind, device_id, gateway_id};
use eldercare_loadgen::load::Load;
use eldercare_schema::payload::PAYLOAD_VERSION;
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{Metric, Reading, ReadingsBatch, TimeSource};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_the_broker_gone_ends_the_server_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = load_config("stop", 16);
    cfg.low_spo2_homes = 0;
    let mut broker = Mosquitto::start(dir.path(), &gateway_ids(&cfg)).await;
    cfg.link.broker = broker.url();
    let db = Database::start(crate::DATABASE, dir.path()).await;
    let a = Server::start(dir.path(), "a", &db.url(), &broker.url()).await;
    provision(&db.url(), &cfg).await;

    let seq_base = cfg.link.seq_base;
    let load = Load::start(cfg.clone());
    let c = load.counters.clone();
    acked_past(&c, 2_000, "the load to get going").await;

    // The broker dies with batches in flight both ways; then the server is asked to stop.
    broker.crash().await;
    let log = a.terminate().await;
    assert!(log.contains("shutting down"), "the server saw SIGTERM; its log:\n{log}");

    // Back: the broker, and a server under the same name (its persistent session). Nothing the
    // stopped server had not acknowledged is lost, nothing it had is stored again.
    let before = c.acked.load(Ordering::Relaxed);
    broker.restart().await;
    let a = Server::start(dir.path(), "a", &db.url(), &broker.url()).await;
    acked_past(&c, before + 1_000, "progress after the restart").await;
    load.stop_measuring();
    let outcome = load.finish().await;
    assert!(outcome.drained, "not every batch was acknowledged; server log:\n{}", a.log());
    let check_db = eldercare_loadgen::db::Db::connect(&db.url()).await.unwrap();
    let v = eldercare_loadgen::verify::verify(&check_db, &cfg.prefix, seq_base, &outcome).await.unwrap();
    assert_eq!((v.losses, v.duplicates, v.unexpected), (0, 0, 0), "{v:?}");
    assert_eq!(v.stored, v.published);
}

/// Batches the broker keeps for the stopped server: more than its channels to the workers and
/// to the broker hold (1,024 messages each).
const BACKLOG: u64 = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_bigger_than_the_servers_channels_is_stored_when_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load_config("backlog", 1);
    // No limit on messages in flight to one client: the server gets the whole backlog at once.
    let broker = Mosquitto::start_with(dir.path(), &gateway_ids(&cfg), "max_inflight_messages 0\n").await;
    let db = Database::start(crate::DATABASE, dir.path()).await;
    // The first start makes the server's persistent session; the broker keeps what comes for it.
    let a = Server::start(dir.path(), "a", &db.url(), &broker.url()).await;
    provision(&db.url(), &cfg).await;
    a.terminate().await;

    let gateway = gateway_id(&cfg.prefix, 0);
    let device = device_id(&gateway, 0, DeviceKind::Band);
    let mut opts = MqttOptions::new("backlog-publisher", "127.0.0.1", broker.port);
    opts.set_credentials(gateway.clone(), GATEWAY_PASSWORD).set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let now = eldercare_store::now_ms();
    let publisher = tokio::spawn({
        let (client, gateway, device) = (client.clone(), gateway.clone(), device.clone());
        async move {
            for b in 0..BACKLOG {
                let readings = (0..2)
                    .map(|k| Reading {
                        seq: 2 * b + k,
                        device_id: device.clone(),
                        metric: Metric::HeartRate,
                        value: 70.0 + k as f64,
                        time_ms: now - 10_000_000 + (2 * b + k) as i64,
                        time_source: TimeSource::Device,
                    })
                    .collect();
                let batch = ReadingsBatch {
                    v: PAYLOAD_VERSION,
                    gateway_id: gateway.clone(),
                    batch_id: b,
                    sent_ms: now,
                    readings,
                };
                let bytes = serde_json::to_vec(&batch).unwrap();
                client.publish(topic(&gateway, Channel::Readings), QoS::AtLeastOnce, false, bytes).await.unwrap();
            }
        }
    });
    let mut confirmed = 0;
    while confirmed < BACKLOG {
        match tokio::time::timeout(PATIENCE, eventloop.poll()).await.expect("the broker answers") {
            Ok(Event::Incoming(Packet::PubAck(_))) => confirmed += 1,
            Ok(_) => {}
            Err(e) => panic!("publishing the backlog: {e}"),
        }
    }
    publisher.await.unwrap();

    let a = Server::start(dir.path(), "a", &db.url(), &broker.url()).await;
    let store = eldercare_store::Store::open(&db.url()).await.unwrap();
    let expected = 2 * BACKLOG as i64;
    let all_stored = tokio::time::timeout(PATIENCE, async {
        while store.count_readings().await.unwrap() < expected {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let stored = store.count_readings().await.unwrap();
    assert!(all_stored.is_ok(), "{stored} of {expected} readings of the backlog stored; server log:\n{}", a.log());
    assert_eq!(stored, expected, "more readings stored than were published");
    store.close().await;
}
