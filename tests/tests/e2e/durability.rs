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

/// A server past its capacity acknowledges late. The gateway's uplink must learn that and wait,
/// not send its whole window again every `resend_after` (2 s here): in a district those copies
/// were most of what the server had to handle. The server here is a stand-in that acknowledges
/// each batch 4 s after it arrives, the only way to make a server slow on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_waits_for_a_slow_server_instead_of_flooding_it_with_resends() {
    use eldercare_schema::payload::PAYLOAD_VERSION;
    use eldercare_schema::topic::{Channel, topic};
    use eldercare_schema::{Ack, ReadingsBatch};
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    use std::collections::HashSet;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let w = World::without_server().await;
    let mut opts = MqttOptions::new("slow-server", w.broker.host.clone(), w.broker.port);
    opts.set_max_packet_size(1024 * 1024, 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    let received: Arc<Mutex<(usize, HashSet<u64>)>> = Default::default();
    let (connected_tx, connected) = tokio::sync::oneshot::channel();
    tokio::spawn({
        let (client, received) = (client.clone(), received.clone());
        async move {
            let mut connected_tx = Some(connected_tx);
            while let Ok(ev) = eventloop.poll().await {
                match ev {
                    Event::Incoming(Packet::SubAck(_)) => {
                        if let Some(tx) = connected_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        let batch = ReadingsBatch::parse(&p.payload, "gw-wang").unwrap();
                        let seqs: Vec<u64> = batch.readings.iter().map(|r| r.seq).collect();
                        {
                            let mut r = received.lock().unwrap();
                            r.0 += 1;
                            r.1.extend(&seqs);
                        }
                        let client = client.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_secs(4)).await;
                            let ack = Ack { v: PAYLOAD_VERSION, batch_id: batch.batch_id, seqs, rejected: Vec::new() };
                            let bytes = serde_json::to_vec(&ack).unwrap();
                            client
                                .publish(topic("gw-wang", Channel::Ack), QoS::AtLeastOnce, false, bytes)
                                .await
                                .unwrap();
                        });
                    }
                    _ => {}
                }
            }
        }
    });
    client.subscribe(topic("gw-wang", Channel::Readings), QoS::AtLeastOnce).await.unwrap();
    connected.await.unwrap();

    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    // 20 s of heart rates, two packets a second.
    let mut produced = HashSet::new();
    for _ in 0..40 {
        produced.extend(gw.feed(
            "hr-wang-01",
            Characteristic::HeartRateMeasurement,
            &encode::heart_rate(72, &[], Some(true), None),
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    gw.drained().await;
    let resends = gw.stats.resends.load(Ordering::Relaxed);
    let (batches, seqs) = received.lock().unwrap().clone();
    assert!(produced.is_subset(&seqs), "every reading reached the server");
    // With a fixed 2 s timeout the window went again every 2 s (about ten times in 20 s). The
    // first acknowledgement teaches the uplink the 4 s round trip; only the resend before it stays.
    assert!(resends <= 2, "{resends} resends of the window ({batches} batches for {} readings)", produced.len());
    gw.stop().await;
}
