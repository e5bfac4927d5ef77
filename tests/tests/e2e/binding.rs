//! The device binding pushed by the server: a device registered through the API appears in its
//! gateway's retained binding, the gateway keeps it on disk and puts it on its allowlist, and
//! the device's readings then flow and are stored (not dead-lettered).

use std::sync::Arc;

use eldercare_gateway::binding::{self, Bindings};
use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::{Characteristic, encode};
use eldercare_gateway::outbox::Outbox;
use eldercare_gateway::sim::DeviceKind;
use eldercare_gateway::uplink::{self, DeviceBoard, UplinkConfig, UplinkStats};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::support::{World, eventually, login, resident_id};

const NEW_DEVICE: &str = "C4:7C:8D:6A:11:99";

#[tokio::test]
async fn a_device_registered_on_the_server_reaches_its_gateway_and_its_readings_flow() {
    let w = World::new().await;
    let dir = w.outbox_dir("gw-wang");
    let outbox = Arc::new(Outbox::open(&dir, 10_000).unwrap());
    let bindings = Bindings::open(&dir).unwrap();
    let mut cfg = UplinkConfig::new("gw-wang", w.broker.clone());
    cfg.bindings = Some(bindings.clone());
    let wake = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let uplink = tokio::spawn(uplink::run(
        cfg,
        outbox.clone(),
        wake.clone(),
        DeviceBoard::default(),
        Arc::new(UplinkStats::default()),
        shutdown.clone(),
    ));

    // The retained binding holds the household's devices as seeded.
    // (The server may publish while the demo is still being seeded; wait for all of it.)
    let first = eventually("the household's devices in the gateway's binding", || async {
        bindings.current().filter(|b| b.devices.len() >= 5)
    })
    .await;
    let mut ids: Vec<&str> = first.devices.iter().map(|d| d.device_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["bp-wang-01", "hr-wang-01", "ox-wang-01", "sc-li-01", "th-li-01"]);
    assert!(first.devices.iter().all(|d| d.address.is_none()), "demo ids are not addresses");

    // Staff register a new oximeter for Wang, by its Bluetooth address.
    let http = w.http();
    let admin = login(http, "admin").await;
    let wang = resident_id(http, &admin, "Wang Jianguo").await.unwrap();
    let res = reqwest::Client::new()
        .post(format!("http://{http}/api/v1/devices"))
        .bearer_auth(&admin)
        .json(&json!({"device_id": NEW_DEVICE, "kind": "pulse_oximeter", "gateway_id": "gw-wang", "resident_id": wang}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // It reaches the gateway, which keeps it on disk and would connect it.
    let bound = eventually("the new device in the gateway's binding", || async {
        bindings.current().filter(|b| b.devices.iter().any(|d| d.device_id == NEW_DEVICE))
    })
    .await;
    let new = bound.devices.iter().find(|d| d.device_id == NEW_DEVICE).unwrap();
    assert_eq!(
        (new.address.as_deref(), new.kind.as_str(), new.resident_id),
        (Some(NEW_DEVICE), "pulse_oximeter", wang)
    );
    assert_eq!(binding::load(&dir).unwrap().as_ref(), Some(&bound), "kept on disk for a restart without network");
    let (allowlist, problems) = binding::allowlist(&[], Some(&bound));
    let entry = allowlist.iter().find(|d| d.device_id == NEW_DEVICE).expect("on the allowlist");
    assert_eq!(entry.address.to_string(), NEW_DEVICE);
    assert_eq!(entry.kind, Some(DeviceKind::PulseOximeter));
    // The demo devices have no address anywhere (no gateway.toml here): reported, not guessed.
    assert_eq!(problems.len(), 5, "{problems:?}");

    // Its readings flow: stored for Wang, nothing dead-lettered.
    let store = &w.server().store;
    let before = store.count_readings().await.unwrap();
    let bytes = encode::plx_spot_check(95.0, 71.0, None);
    let readings =
        readings_from_packet(NEW_DEVICE, Characteristic::PlxSpotCheck, &bytes, eldercare_gateway::now_ms()).unwrap();
    assert_eq!(readings.len(), 2);
    outbox.push(&readings).unwrap();
    wake.notify_one();
    eventually("the new device's readings to be stored", || async {
        let n = store.count_readings().await.unwrap();
        (n == before + 2 && outbox.is_empty().unwrap()).then_some(())
    })
    .await;
    assert!(store.recent_dead_letters(10).await.unwrap().is_empty());

    // Moving it to the other resident of the household reaches the gateway too.
    let li = resident_id(http, &admin, "Li Xiuying").await.unwrap();
    let res = reqwest::Client::new()
        .put(format!("http://{http}/api/v1/devices/{NEW_DEVICE}/binding"))
        .bearer_auth(&admin)
        .json(&json!({"gateway_id": "gw-wang", "resident_id": li}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    eventually("the rebinding to reach the gateway", || async {
        bindings.current().filter(|b| b.devices.iter().any(|d| d.device_id == NEW_DEVICE && d.resident_id == li))
    })
    .await;

    // Ingest, which held the device as Wang's, stores its next reading as Li's.
    let spo2_from_it = |vitals: Vec<eldercare_store::VitalRow>| {
        vitals.into_iter().find(|v| v.device_id == NEW_DEVICE && v.metric == eldercare_schema::Metric::Spo2)
    };
    let bytes = encode::plx_spot_check(93.0, 70.0, None);
    outbox
        .push(
            &readings_from_packet(NEW_DEVICE, Characteristic::PlxSpotCheck, &bytes, eldercare_gateway::now_ms())
                .unwrap(),
        )
        .unwrap();
    wake.notify_one();
    let li_spo2 = eventually("the reading after the rebinding to be stored", || async {
        spo2_from_it(store.latest_vitals(li).await.unwrap())
    })
    .await;
    assert_eq!(li_spo2.value, 93.0);
    let wang_spo2 = spo2_from_it(store.latest_vitals(wang).await.unwrap()).expect("Wang's earlier reading");
    assert_eq!(wang_spo2.value, 95.0, "the reading after the rebinding is not Wang's");
    assert!(store.recent_dead_letters(10).await.unwrap().is_empty());

    // A care home's gateway: 200 devices make a binding of ~16 KB, more than an MQTT client's
    // default packet limit (10 KiB), which the publisher used to hit and reconnect for ever.
    for i in 0..200 {
        store.register_device(&format!("band-{i:03}"), "gw-wang", wang, "heart_rate_band").await.unwrap();
    }
    let big = eventually("a binding of 206 devices to reach the gateway", || async {
        bindings.current().filter(|b| b.devices.len() == 206)
    })
    .await;
    assert!(serde_json::to_vec(&big).unwrap().len() > 10 * 1024);

    shutdown.cancel();
    uplink.await.unwrap().unwrap();
}
