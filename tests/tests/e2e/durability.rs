//! No reading lost: the server stops while the gateway keeps producing; a gateway is killed
//! before anything was acknowledged and restarted from its outbox.

use eldercare_gateway::gatt::{Characteristic, encode};

use crate::support::*;

fn feed_heart_rates(gw: &TestGateway, n: u16) -> usize {
    // Each packet decodes to a heart rate and one RR interval.
    (0..n)
        .map(|i| {
            gw.feed(
                "hr-wang-01",
                Characteristic::HeartRateMeasurement,
                &encode::heart_rate(60 + i % 40, &[800.0], Some(true), None),
            )
            .len()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_loses_nothing_and_duplicates_nothing() {
    let mut w = World::new().await;
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    let mut produced = feed_heart_rates(&gw, 50);
    gw.drained().await;
    assert_eq!(w.server().store.count_readings().await.unwrap(), produced as i64);

    w.stop_server().await;
    // The gateway keeps producing and sending while nobody stores.
    produced += feed_heart_rates(&gw, 120);
    eventually("batches sent while the server is down", || async {
        (gw.stats.batches_sent.load(std::sync::atomic::Ordering::Relaxed) > 3).then_some(())
    })
    .await;
    assert!(gw.outbox.len().unwrap() > 0, "nothing is acknowledged while the server is down");

    w.start_server().await;
    produced += feed_heart_rates(&gw, 30);
    gw.drained().await;
    let store = &w.server().store;
    assert_eq!(store.count_readings().await.unwrap(), produced as i64, "every reading exactly once");
    assert!(store.recent_dead_letters(10).await.unwrap().is_empty());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_gateway_resends_what_was_never_acknowledged() {
    // No server yet: the broker has no subscriber, so whatever the gateway publishes is lost in
    // transit, and only the gateway's outbox can save it.
    let mut w = World::without_server().await;
    let dir = w.outbox_dir("gw-wang");
    let gw = TestGateway::start("gw-wang", &w.broker, &dir);
    let produced = feed_heart_rates(&gw, 40);
    eventually("the gateway to publish", || async {
        (gw.stats.batches_sent.load(std::sync::atomic::Ordering::Relaxed) >= 2).then_some(())
    })
    .await;
    gw.kill().await;

    w.start_server().await;
    eldercare_server::demo::seed(&w.server().store, PASSWORD).await.unwrap();
    assert_eq!(w.server().store.count_readings().await.unwrap(), 0, "nothing arrived before the restart");

    let restarted = TestGateway::start("gw-wang", &w.broker, &dir);
    assert_eq!(restarted.outbox.len().unwrap(), produced as u64, "the outbox kept everything across the kill");
    restarted.drained().await;
    assert_eq!(w.server().store.count_readings().await.unwrap(), produced as i64);
    restarted.stop().await;
}
