//! Wearable bytes → decoders → outbox → MQTT → ingest → SQLite → API, values intact.

use std::time::Duration;

use eldercare_gateway::gatt::{Characteristic, encode};
use eldercare_gateway::home::{self, SimulatedGatewayConfig};
use eldercare_gateway::sim::{DeviceKind, Scenario, SimDevice, SimulatorConfig, Story};
use eldercare_gateway::uplink::UplinkConfig;
use serde_json::Value;

use crate::support::*;

fn latest_of<'a>(latest: &'a Value, metric: &str) -> Option<&'a Value> {
    latest.as_array().unwrap().iter().find(|v| v["metric"] == metric)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gatt_bytes_reach_the_family_app_intact() {
    let w = World::new().await;
    let gw = TestGateway::start("gw-wang", &w.broker, &w.outbox_dir("gw-wang"));
    gw.feed("ox-wang-01", Characteristic::PlxSpotCheck, &encode::plx_spot_check(93.0, 71.0, None));
    gw.feed(
        "bp-wang-01",
        Characteristic::BloodPressureMeasurement,
        &encode::blood_pressure_mmhg(152.0, 91.0, 111.0, None, None),
    );
    gw.feed("hr-wang-01", Characteristic::HeartRateMeasurement, &encode::heart_rate(77, &[779.2], Some(true), None));
    gw.feed("th-li-01", Characteristic::TemperatureMeasurement, &encode::temperature_celsius(38.2, None));
    gw.drained().await;
    assert_eq!(w.server().store.count_readings().await.unwrap(), 8, "spo2+pulse, sys+dia+map, hr+rr, temperature");

    let http = w.http();
    let family1 = login(http, "family1").await;
    let wang = resident_id(http, &family1, "Wang Jianguo").await.expect("family1 sees Wang Jianguo");
    assert_eq!(resident_id(http, &family1, "Li Xiuying").await, None, "not in family1's care circle");

    let (status, latest) = get(http, &family1, &format!("/api/v1/residents/{wang}/vitals/latest")).await;
    assert_eq!(status, 200);
    let spo2 = latest_of(&latest, "spo2").expect("spo2");
    assert_eq!((spo2["value"].as_f64(), spo2["unit"].as_str()), (Some(93.0), Some("%")));
    assert_eq!(spo2["device_id"], "ox-wang-01");
    assert_eq!(latest_of(&latest, "bp_systolic").unwrap()["value"].as_f64(), Some(152.0));
    assert_eq!(latest_of(&latest, "bp_diastolic").unwrap()["value"].as_f64(), Some(91.0));
    assert_eq!(latest_of(&latest, "bp_mean").unwrap()["unit"], "mm[Hg]");
    let rr = latest_of(&latest, "rr_interval").unwrap()["value"].as_f64().unwrap();
    assert!((rr - 779.2).abs() < 1.0, "RR interval survives 1/1024 s encoding: {rr}");
    assert!(latest_of(&latest, "body_temperature").is_none(), "Li's thermometer is not Wang's");

    let (status, history) = get(http, &family1, &format!("/api/v1/residents/{wang}/vitals?metric=spo2")).await;
    assert_eq!(status, 200);
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0]["value"].as_f64(), Some(93.0));

    // The caregiver of the community sees Li's fever reading, in Celsius.
    let caregiver = login(http, "caregiver").await;
    let li = resident_id(http, &caregiver, "Li Xiuying").await.unwrap();
    let (_, latest) = get(http, &caregiver, &format!("/api/v1/residents/{li}/vitals/latest")).await;
    let t = latest_of(&latest, "body_temperature").unwrap();
    assert_eq!((t["value"].as_f64(), t["unit"].as_str()), (Some(38.2), Some("Cel")));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_family_reads_only_its_own_resident() {
    let w = World::new().await;
    let http = w.http();
    let admin = login(http, "admin").await;
    let (_, all) = get(http, &admin, "/api/v1/residents").await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let caregiver = login(http, "caregiver").await;
    let (_, seen) = get(http, &caregiver, "/api/v1/residents").await;
    assert_eq!(seen.as_array().unwrap().len(), 4);

    let wang = resident_id(http, &admin, "Wang Jianguo").await.unwrap();
    let chen = resident_id(http, &admin, "Chen Mei").await.unwrap();
    let family2 = login(http, "family2").await;
    let (_, list) = get(http, &family2, "/api/v1/residents").await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["full_name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Chen Mei"]);
    assert_eq!(get(http, &family2, &format!("/api/v1/residents/{chen}")).await.0, 200);
    for path in [
        format!("/api/v1/residents/{wang}"),
        format!("/api/v1/residents/{wang}/vitals/latest"),
        format!("/api/v1/residents/{wang}/vitals?metric=spo2"),
    ] {
        let (status, body) = get(http, &family2, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.to_string().contains("Wang"), "nothing leaks: {body}");
    }
    // An unknown id answers exactly like an out-of-scope one.
    let (status, _) = get(http, &family2, "/api/v1/residents/999999").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_home_runs_through_the_whole_system() {
    let w = World::new().await;
    let scenario = Scenario {
        devices: vec![
            SimDevice {
                device_id: "hr-chen-01".into(),
                kind: DeviceKind::HeartRateBand,
                every_s: Some(0.2),
                story: Story::Healthy,
            },
            SimDevice {
                device_id: "gl-chen-01".into(),
                kind: DeviceKind::GlucoseMeter,
                every_s: Some(0.5),
                story: Story::Healthy,
            },
            SimDevice {
                device_id: "fp-chen-01".into(),
                kind: DeviceKind::FallPendant,
                every_s: None,
                story: Story::Fall { at_s: 0.5, cancelled: false },
            },
        ],
    };
    let mut simulator = SimulatorConfig::new(scenario);
    simulator.tick = Duration::from_millis(50);
    let gateway = home::start_simulated(SimulatedGatewayConfig {
        uplink: UplinkConfig::new("gw-chen", w.broker.clone()),
        outbox_dir: w.outbox_dir("gw-chen"),
        outbox_capacity: 10_000,
        simulator,
    })
    .unwrap();

    let http = w.http();
    let family2 = login(http, "family2").await;
    let chen = resident_id(http, &family2, "Chen Mei").await.unwrap();
    let latest = eventually("heart rate, glucose, the fall and battery to reach the API", || async {
        let (_, latest) = get(http, &family2, &format!("/api/v1/residents/{chen}/vitals/latest")).await;
        ["heart_rate", "glucose", "fall", "battery"].iter().all(|m| latest_of(&latest, m).is_some()).then_some(latest)
    })
    .await;
    assert_eq!(latest_of(&latest, "fall").unwrap()["value"].as_f64(), Some(1.0), "fall detected, not cancelled");
    let glucose = latest_of(&latest, "glucose").unwrap();
    assert_eq!(glucose["unit"], "mmol/L");
    let g = glucose["value"].as_f64().unwrap();
    assert!((4.0..9.0).contains(&g), "simulated glucose around 6.2 mmol/L: {g}");
    let hr = latest_of(&latest, "heart_rate").unwrap()["value"].as_f64().unwrap();
    assert!((60.0..=85.0).contains(&hr), "simulated heart rate around 72: {hr}");
    assert!(gateway.stats.readings_acked.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let stats = gateway.stop().await.unwrap();
    assert_eq!(stats.undecodable, 0);
    assert!(stats.readings > 0);
}
