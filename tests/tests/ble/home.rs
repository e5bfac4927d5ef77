//! A household on Bluetooth, end to end: the simulated BlueZ plays a scenario (several devices
//! at once, notifications and indications, a link that drops and comes back, a device that
//! vanishes, a late one, a neighbour's device not on the allowlist, a scanner that stalls);
//! the gateway's unmodified btleplug path reads it; the real broker, server and SQLite store it.

use std::time::Duration;

use eldercare_gateway::ble::BleConfig;
use eldercare_gateway::fake_bluez::{FakeBluez, FakeBluezConfig, FakeReport, is_indicated};
use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::Characteristic;
use eldercare_gateway::home::{self, BleGatewayConfig};
use eldercare_gateway::sim::Home;
use eldercare_gateway::uplink::UplinkConfig;
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{GatewayState, GatewayStatus};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

use crate::e2e_support::{World, get, login, resident_id};
use crate::support::{allowlist, on_private_bus, quick_settings, wait_for};

/// Story seconds, at real-time speed.
const SCENARIO: &str = r#"
[adapter]
scan_stalls_at_s = 6                 # discovery silently stops; the watchdog must notice

[[devices]]
device_id = "hr-wang-01"             # notifications, several a second
kind = "heart_rate_band"
every_s = 0.25
drop_link_at_s = 3                   # out of range for a second, then back
out_of_range_s = 1

[[devices]]
device_id = "ox-wang-01"             # indications
kind = "pulse_oximeter"
every_s = 0.3

[[devices]]
device_id = "bp-wang-01"             # measures now and then: connect, read, disconnect
kind = "blood_pressure_cuff"
every_s = 1.5

[[devices]]
device_id = "th-li-01"               # gone for good at 4 s
kind = "thermometer"
every_s = 0.4
drop_link_at_s = 4
never_returns = true

[[devices]]
device_id = "sc-li-01"               # switched on late
kind = "scale"
every_s = 2
appears_at_s = 2

[[devices]]
device_id = "hr-neighbour"           # next door: not on the allowlist
kind = "heart_rate_band"
every_s = 0.5
name = "Neighbour HRM"
"#;

const HOUSEHOLD: [&str; 5] = ["hr-wang-01", "ox-wang-01", "bp-wang-01", "th-li-01", "sc-li-01"];

/// The readings the gateway's decoders make of what the devices delivered.
fn expected_readings<'a>(report: &'a FakeReport, device: impl Fn(&str) -> bool + 'a) -> usize {
    report
        .delivered
        .iter()
        .filter(|d| device(&d.device_id))
        .filter_map(|d| {
            readings_from_packet(&d.device_id, d.characteristic, &d.bytes, eldercare_gateway::now_ms()).ok()
        })
        .map(|r| r.len())
        .sum()
}

fn latest_of<'a>(latest: &'a Value, metric: &str) -> Option<&'a Value> {
    latest.as_array()?.iter().find(|v| v["metric"] == metric)
}

#[test]
fn a_home_on_bluetooth_reaches_the_server() {
    on_private_bus("home::a_home_on_bluetooth_reaches_the_server", |bus| async move {
        let w = World::new().await;
        let home = Home::from_toml(SCENARIO).unwrap();
        let fake = FakeBluez::start(&bus, FakeBluezConfig::new(home.clone())).await.unwrap();
        let status = watch_status(&w.broker, "gw-wang").await;

        let mut uplink = UplinkConfig::new("gw-wang", w.broker.clone());
        uplink.status_every = Duration::from_millis(300);
        let gw = home::start_ble(BleGatewayConfig {
            uplink,
            outbox_dir: w.outbox_dir("gw-wang"),
            outbox_capacity: 100_000,
            ble: BleConfig { settings: quick_settings(), devices: allowlist(&home, &HOUSEHOLD) },
        })
        .await
        .unwrap();
        let ble = gw.ble.clone().unwrap();

        // Let the story play out: the dropped link came back and carried data again, the
        // stalled scan was restarted, the cuff and the scale were visited more than once.
        let report = wait_for("the scenario to play out", Duration::from_secs(90), || async {
            let r = fake.report();
            let hr = r.device("hr-wang-01");
            let back = r.delivered_by("hr-wang-01").any(|d| d.session >= 2 && !d.read);
            let cuff_visits_ended = r.device("bp-wang-01").gateway_disconnects;
            let scale_data = r.delivered_by("sc-li-01").any(|d| d.characteristic == Characteristic::WeightMeasurement);
            let done = fake.story_time_s() > 9.0
                && hr.link_drops == 1
                && back
                && ble.get(&ble.link_losses) >= 2
                && r.discovery_starts >= 2
                && cuff_visits_ended >= 2
                && scale_data;
            done.then_some(r)
        })
        .await;

        // Several devices were connected at once, and never more than allowed.
        assert!(report.max_connected >= 3, "devices connected at once: {}", report.max_connected);
        assert!(report.max_connected <= quick_settings().max_connections, "{}", report.max_connected);

        // Link drop and recovery: reconnected and subscribed again.
        let hr = report.device("hr-wang-01");
        assert!(hr.connects >= 2, "{hr:?}");
        assert!(hr.subscriptions >= 4, "heart rate and battery, twice: {hr:?}");

        // The thermometer vanished for good: it is retried (with backoff) but never reconnects,
        // and nothing else suffered from it.
        let th = report.device("th-li-01");
        assert_eq!((th.link_drops, th.connects), (1, 1), "{th:?}");
        assert!(report.delivered_by("ox-wang-01").any(|d| d.at_s > 5.0), "the others carried on");

        // Connect-read-disconnect: the cuff was connected for its readings and let go.
        let bp = report.device("bp-wang-01");
        assert!(bp.connects >= 2, "{bp:?}");
        assert!(ble.get(&ble.idle_disconnects) >= 2);

        // The scanner watchdog restarted the stalled discovery.
        assert!(ble.get(&ble.scan_restarts) >= 1);

        // The neighbour's device was heard but never touched.
        let neighbour = report.device("hr-neighbour");
        assert!(neighbour.advertisements > 0);
        assert_eq!((neighbour.connects, neighbour.connect_failures), (0, 0), "{neighbour:?}");
        assert!(ble.get(&ble.ignored_devices) >= 1);

        // Notifications and indications both arrived.
        let kinds: Vec<Characteristic> =
            report.delivered.iter().filter(|d| !d.read).map(|d| d.characteristic).collect();
        assert!(kinds.contains(&Characteristic::HeartRateMeasurement));
        assert!(kinds.iter().any(|c| is_indicated(*c)), "indications: {kinds:?}");
        for c in [
            Characteristic::PlxSpotCheck,
            Characteristic::BloodPressureMeasurement,
            Characteristic::TemperatureMeasurement,
        ] {
            assert!(kinds.contains(&c), "{c} delivered");
        }

        // Device information and battery were read on connection.
        let link = ble.device("ox-wang-01").unwrap();
        assert_eq!(link.model.as_deref(), Some("pulse_oximeter"));
        assert!(link.serial.as_deref().is_some_and(|s| s.starts_with("SIM-")));
        assert!(link.subscribed.contains(&Characteristic::PlxSpotCheck));
        assert!(link.subscribed.contains(&Characteristic::PlxContinuous));
        assert!(report.delivered_by("ox-wang-01").any(|d| d.read && d.characteristic == Characteristic::BatteryLevel));

        // The retained status carries each device's last seen, RSSI and battery.
        let seen = wait_for("a status with radio details", Duration::from_secs(30), || async {
            let s = status.latest()?;
            let hr = s.devices.iter().find(|d| d.device_id == "hr-wang-01")?.clone();
            (s.state == GatewayState::Online && hr.rssi.is_some() && hr.battery.is_some()).then_some(hr)
        })
        .await;
        assert!(seen.last_seen_ms.is_some());
        assert!((-70..=-50).contains(&seen.rssi.unwrap()), "{seen:?}");

        // Every reading delivered arrives exactly once.
        fake.pause();
        let store = &w.server().store;
        let (report, stored) = wait_for("everything delivered to be stored", Duration::from_secs(60), || async {
            let r = fake.report();
            let waiting: usize = ["bp-wang-01", "sc-li-01"].iter().map(|d| r.device(d).queued).sum();
            let stored = store.count_readings().await.unwrap() as usize;
            let expected = expected_readings(&r, |d| HOUSEHOLD.contains(&d));
            (waiting == 0 && gw.outbox.is_empty().unwrap() && stored >= expected).then_some((r, stored))
        })
        .await;
        let expected = expected_readings(&report, |d| HOUSEHOLD.contains(&d));
        for d in &report.devices {
            println!("{d:?}");
        }
        println!("delivered {} packets, {expected} readings; stored {stored}; {ble:?}", report.delivered.len());
        assert_eq!(stored, expected, "every delivered reading stored exactly once");
        assert_eq!(expected_readings(&report, |d| d == "hr-neighbour"), 0, "nothing from next door");
        assert!(store.recent_dead_letters(10).await.unwrap().is_empty());

        // And the family app sees it.
        let http = w.http();
        let caregiver = login(http, "caregiver").await;
        let wang = resident_id(http, &caregiver, "Wang Jianguo").await.unwrap();
        let (_, latest) = get(http, &caregiver, &format!("/api/v1/residents/{wang}/vitals/latest")).await;
        for metric in ["heart_rate", "rr_interval", "spo2", "bp_systolic", "battery"] {
            assert!(latest_of(&latest, metric).is_some(), "{metric} in {latest}");
        }
        let li = resident_id(http, &caregiver, "Li Xiuying").await.unwrap();
        let (_, latest) = get(http, &caregiver, &format!("/api/v1/residents/{li}/vitals/latest")).await;
        for metric in ["body_temperature", "body_weight"] {
            assert!(latest_of(&latest, metric).is_some(), "{metric} in {latest}");
        }

        let produced = gw.stop().await.unwrap();
        assert_eq!(produced.readings as usize, expected);
        assert_eq!(produced.undecodable, 0);
        fake.stop().await;
    });
}

/// The gateway's retained status, as a subscriber sees it.
struct StatusWatch(tokio::sync::watch::Receiver<Option<GatewayStatus>>);

impl StatusWatch {
    fn latest(&self) -> Option<GatewayStatus> {
        self.0.borrow().clone()
    }
}

async fn watch_status(broker: &eldercare_gateway::mqtt::MqttUrl, gateway_id: &str) -> StatusWatch {
    let mut opts = MqttOptions::new(format!("status-watch-{gateway_id}"), broker.host.clone(), broker.port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(opts, 16);
    let status_topic = topic(gateway_id, Channel::Status);
    client.subscribe(&status_topic, QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::watch::channel(None);
    tokio::spawn(async move {
        let _client = client;
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event
                && p.topic == status_topic
                && let Ok(s) = GatewayStatus::parse(&p.payload)
            {
                let _ = tx.send(Some(s));
            }
        }
    });
    StatusWatch(rx)
}
