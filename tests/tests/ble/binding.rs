//! The device binding changing while the gateway runs: staff register a new oximeter for the
//! household and move the heart rate band to another gateway, through the API; the server
//! pushes the new retained binding; the running gateway (no restart) discovers and connects
//! the new device, disconnects the one taken away and forwards nothing more of it.

use std::time::Duration;

use eldercare_gateway::binding::Bindings;
use eldercare_gateway::ble::BleConfig;
use eldercare_gateway::fake_bluez::{FakeBluez, FakeBluezConfig};
use eldercare_gateway::home::{self, BleGatewayConfig};
use eldercare_gateway::sim::Home;
use eldercare_gateway::uplink::UplinkConfig;
use eldercare_schema::Metric;
use serde_json::{Value, json};

use crate::e2e_support::{World, get, login};
use crate::support::{allowlist, on_private_bus, quick_settings, wait_for};

const GATEWAY: &str = "gw-zhao";
const BAND: &str = "hr-zhao-01";
/// The new oximeter in the simulated home...
const NEW_OXIMETER: &str = "ox-zhao-02";
/// ...and as staff register it: by its Bluetooth address, which is all the gateway learns of it.
const NEW_OXIMETER_ID: &str = "C4:7C:8D:6A:11:99";

/// The band is bound to the gateway from the start; the second oximeter is in the home (and
/// advertising) but not registered yet.
const SCENARIO: &str = r#"
[[devices]]
device_id = "hr-zhao-01"
kind = "heart_rate_band"
every_s = 0.5

[[devices]]
device_id = "ox-zhao-02"
address = "C4:7C:8D:6A:11:99"
kind = "pulse_oximeter"
every_s = 0.5
"#;

const PATIENCE: Duration = Duration::from_secs(60);

async fn send(method: reqwest::Method, url: String, token: &str, body: Value) -> Value {
    let res = reqwest::Client::new().request(method, url).bearer_auth(token).json(&body).send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// The device's readings of `metric` the server stored.
async fn stored(w: &World, resident_id: i64, device_id: &str, metric: Metric) -> usize {
    let rows = w.server().store.vitals_history(resident_id, metric, 0, i64::MAX, 100_000).await.unwrap();
    rows.iter().filter(|r| r.device_id == device_id).count()
}

#[test]
fn a_binding_changed_on_the_server_changes_the_connected_devices_without_a_restart() {
    on_private_bus(
        "binding::a_binding_changed_on_the_server_changes_the_connected_devices_without_a_restart",
        |bus| async move {
            let w = World::new().await;
            let http = w.http();
            let admin = login(http, "admin").await;
            let (status, band) = get(http, &admin, &format!("/api/v1/devices/{BAND}")).await;
            assert_eq!(status, 200, "{band}");
            let resident_id = band["resident_id"].as_i64().unwrap();
            let household_id = band["household_id"].as_i64().unwrap();

            let home = Home::from_toml(SCENARIO).unwrap();
            let fake = FakeBluez::start(&bus, FakeBluezConfig::new(home.clone())).await.unwrap();
            // gateway.toml lists both devices' addresses (an address book): which of them are
            // connected is the binding's to say.
            let outbox_dir = w.outbox_dir(GATEWAY);
            let mut uplink = UplinkConfig::new(GATEWAY, w.broker.clone());
            let bindings = Bindings::open(&outbox_dir).unwrap();
            uplink.bindings = Some(bindings.clone());
            let gw = home::start_ble(BleGatewayConfig {
                uplink,
                outbox_dir,
                outbox_capacity: 100_000,
                ble: BleConfig { settings: quick_settings(), devices: allowlist(&home, &[BAND]) },
            })
            .await
            .unwrap();
            let ble = gw.ble.clone().unwrap();

            // The binding as seeded: the band's readings flow; the unregistered oximeter is left alone.
            wait_for("the band's readings under the seeded binding", PATIENCE, || async {
                let bound = bindings.current().is_some_and(|b| b.devices.iter().any(|d| d.device_id == BAND));
                (bound && stored(&w, resident_id, BAND, Metric::HeartRate).await >= 3).then_some(())
            })
            .await;
            let r = fake.report();
            assert_eq!(r.device(NEW_OXIMETER).connects, 0, "not bound yet: {:?}", r.device(NEW_OXIMETER));
            assert!(r.device(NEW_OXIMETER).advertisements > 0, "it is there to be found");
            assert_eq!(stored(&w, resident_id, NEW_OXIMETER_ID, Metric::Spo2).await, 0);

            // Staff register the new oximeter for the same resident, through the gateway.
            let body = json!({"device_id": NEW_OXIMETER_ID, "kind": "pulse_oximeter", "gateway_id": GATEWAY, "resident_id": resident_id});
            send(reqwest::Method::POST, format!("http://{http}/api/v1/devices"), &admin, body).await;
            wait_for("the new oximeter connected and its readings stored", PATIENCE, || async {
                let connected = fake.report().device(NEW_OXIMETER).connected;
                (connected && stored(&w, resident_id, NEW_OXIMETER_ID, Metric::Spo2).await >= 3).then_some(())
            })
            .await;

            // Staff move the band to another gateway of the household: it is no longer this one's.
            send(
                reqwest::Method::POST,
                format!("http://{http}/api/v1/gateways"),
                &admin,
                json!({"gateway_id": "gw-zhao-upstairs", "household_id": household_id}),
            )
            .await;
            send(
                reqwest::Method::PUT,
                format!("http://{http}/api/v1/devices/{BAND}/binding"),
                &admin,
                json!({"gateway_id": "gw-zhao-upstairs", "resident_id": resident_id}),
            )
            .await;
            wait_for("the band let go", PATIENCE, || async {
                let unbound = bindings.current().is_some_and(|b| b.devices.iter().all(|d| d.device_id != BAND));
                let r = fake.report();
                (unbound && !r.device(BAND).connected).then_some(r.device(BAND).connects)
            })
            .await;
            let band_connects = fake.report().device(BAND).connects;
            // The band's readings taken between the move on the server and the new binding reaching
            // the gateway (the server publishes within its poll, 2 s) are no longer this gateway's:
            // the server dead-letters them, with the reason. Once those are through (the oximeter's
            // later readings are stored, the outbox is empty), nothing more of the band comes.
            let dead_letters = || async { w.server().store.recent_dead_letters(1000).await.unwrap() };
            let more_oximeter_readings = |what: &'static str| {
                let (w, fake, gw) = (&w, &fake, &gw);
                async move {
                    let readings = stored(w, resident_id, NEW_OXIMETER_ID, Metric::Spo2).await;
                    let adverts = fake.report().device(BAND).advertisements;
                    wait_for(what, PATIENCE, || async {
                        let more = stored(w, resident_id, NEW_OXIMETER_ID, Metric::Spo2).await >= readings + 5;
                        let advertising = fake.report().device(BAND).advertisements > adverts + 2;
                        (more && advertising && gw.outbox.is_empty().unwrap()).then_some(())
                    })
                    .await
                }
            };
            more_oximeter_readings("the band's last readings through").await;
            let band_readings = stored(&w, resident_id, BAND, Metric::HeartRate).await;
            let dead_at_let_go = dead_letters().await.len();
            // The gateway goes on: more oximeter readings, while the band keeps advertising.
            more_oximeter_readings("more oximeter readings while the band advertises").await;
            let r = fake.report();
            println!("band: {:?}\noximeter: {:?}\n{ble:?}", r.device(BAND), r.device(NEW_OXIMETER));
            assert_eq!(r.device(BAND).connects, band_connects, "the band is not connected again");
            assert!(!r.device(BAND).connected);
            assert!(r.device(NEW_OXIMETER).connected, "the oximeter stays connected");
            assert_eq!(
                stored(&w, resident_id, BAND, Metric::HeartRate).await,
                band_readings,
                "nothing more of the band"
            );
            let pending_band =
                gw.outbox.peek(None, 10_000).unwrap().into_iter().filter(|r| r.device_id == BAND).count();
            assert_eq!(pending_band, 0, "nothing of the band waits in the outbox either");
            let dead = dead_letters().await;
            assert_eq!(dead.len(), dead_at_let_go, "{dead:?}");
            assert!(
                dead.iter().all(|d| d.2.as_deref() == Some(BAND) && d.0.contains("is not registered to gateway")),
                "only the band's last readings, refused for the move: {dead:?}"
            );

            gw.stop().await.unwrap();
            fake.stop().await;
        },
    );
}
