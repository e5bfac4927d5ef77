//! Bad input gets a clear reason and changes nothing else; good data keeps flowing.

use std::time::Duration;

use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::{Characteristic, encode};
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{Ack, Metric};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_payloads_are_dead_lettered_and_good_data_flows() {
    let w = World::new().await;
    let store = w.server().store.clone();
    let mut opts = MqttOptions::new("intruder", w.broker.host.clone(), w.broker.port);
    opts.set_max_packet_size(2 * 1024 * 1024, 2 * 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(opts, 32);
    let (acks_tx, mut acks) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok(ev) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let _ = acks_tx.send(Ack::parse(&p.payload).unwrap()).await;
            }
        }
    });
    client.subscribe(topic("gw-wang", Channel::Ack), QoS::AtLeastOnce).await.unwrap();
    let readings = topic("gw-wang", Channel::Readings);
    let now = eldercare_gateway::now_ms();
    let reading = |seq: u64, device: &str| json!({"seq": seq, "device_id": device, "metric": "spo2", "value": 95.0, "time_ms": now});

    let bad: Vec<(String, Vec<u8>, &str)> = vec![
        (readings.clone(), b"{not json".to_vec(), "not valid JSON"),
        (
            readings.clone(),
            json!({"v": 2, "gateway_id": "gw-wang"}).to_string().into_bytes(),
            "version 2 is not supported",
        ),
        (readings.clone(), vec![b' '; 300 * 1024], "larger than the limit"),
        (
            readings.clone(),
            json!({"v": 1, "gateway_id": "gw-chen", "batch_id": 1, "sent_ms": now, "readings": []})
                .to_string()
                .into_bytes(),
            "does not match",
        ),
        (
            readings.clone(),
            json!({"v": 1, "gateway_id": "gw-wang", "batch_id": 2, "sent_ms": now, "readings": [{"seq": 1}]})
                .to_string()
                .into_bytes(),
            "missing field",
        ),
        (topic("gw-wang", Channel::Status), b"\xff\xfe garbage".to_vec(), "not valid JSON"),
    ];
    for (t, payload, _) in &bad {
        client.publish(t, QoS::AtLeastOnce, false, payload.clone()).await.unwrap();
    }
    // A batch mixing a good reading, an unknown device, an implausible value and a device of
    // another household (bound to gw-chen, named by gw-wang).
    let mixed = json!({"v": 1, "gateway_id": "gw-wang", "batch_id": 77, "sent_ms": now, "readings": [
        reading(100, "ox-wang-01"), reading(101, "ghost-01"),
        {"seq": 102, "device_id": "ox-wang-01", "metric": "spo2", "value": 250.0, "time_ms": now},
        {"seq": 103, "device_id": "hr-chen-01", "metric": "heart_rate", "value": 70.0, "time_ms": now}]});
    client.publish(&readings, QoS::AtLeastOnce, false, mixed.to_string().into_bytes()).await.unwrap();

    let ack = tokio::time::timeout(PATIENCE, acks.recv()).await.expect("an acknowledgement").unwrap();
    assert_eq!(ack.batch_id, 77);
    assert_eq!(ack.seqs, vec![100, 101, 102, 103], "all four are durable on the server");
    let rejected: Vec<u64> = ack.rejected.iter().map(|r| r.seq).collect();
    assert_eq!(rejected, vec![101, 102, 103]);
    assert!(ack.rejected[0].reason.contains("not registered"), "{}", ack.rejected[0].reason);
    assert!(ack.rejected[1].reason.contains("plausible"), "{}", ack.rejected[1].reason);
    assert!(ack.rejected[2].reason.contains("not registered"), "{}", ack.rejected[2].reason);

    let expected = bad.len() + 3;
    let dead = eventually("every bad payload to be dead-lettered", || {
        let store = store.clone();
        async move {
            let d = store.recent_dead_letters(50).await.unwrap();
            (d.len() >= expected).then_some(d)
        }
    })
    .await;
    for (_, _, expected) in &bad {
        assert!(
            dead.iter().any(|(reason, ..)| reason.contains(expected)),
            "no dead letter says {expected:?}: {dead:?}"
        );
    }
    assert_eq!(store.count_readings().await.unwrap(), 1, "only the good reading was stored");

    // The server goes on ingesting: a real gateway's readings arrive.
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    gw.feed("ox-wang-01", Characteristic::PlxSpotCheck, &encode::plx_spot_check(96.0, 70.0, None));
    gw.drained().await;
    assert_eq!(store.count_readings().await.unwrap(), 3);
    gw.stop().await;
    let _ = client.disconnect().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[test]
fn garbage_bytes_from_a_device_get_a_clear_error() {
    for (ch, bytes) in [
        (Characteristic::HeartRateMeasurement, vec![]),
        (Characteristic::HeartRateMeasurement, vec![0x01, 0x48]),
        (Characteristic::BloodPressureMeasurement, vec![0x00, 0x01]),
        (Characteristic::TemperatureMeasurement, vec![0xFF]),
        (Characteristic::FallEvent, vec![0x00, 0x09]),
    ] {
        let err = readings_from_packet("d", ch, &bytes, 0).expect_err("garbage must not decode");
        assert!(!err.to_string().is_empty());
    }
    // Special values (NaN) are never a measurement.
    let nan_temp = [0x00, 0xFF, 0xFF, 0x7F, 0x00];
    assert!(readings_from_packet("d", Characteristic::TemperatureMeasurement, &nan_temp, 0).unwrap().is_empty());
    let _ = Metric::Spo2;
}
