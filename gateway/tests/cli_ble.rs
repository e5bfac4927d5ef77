//! `eldercare-gateway run --config gateway.toml`, the binary itself, against the simulated
//! BlueZ on a private bus (needs the `ble` and `fake-bluez` features; the workspace test run
//! enables them). No broker: everything received must be in the outbox after a graceful stop.
#![cfg(all(feature = "ble", feature = "fake-bluez"))]

use std::process::{Command, Stdio};
use std::time::Duration;

use eldercare_gateway::fake_bluez::{FakeBluez, FakeBluezConfig, PrivateBus};
use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::Characteristic;
use eldercare_gateway::outbox::Outbox;
use eldercare_gateway::sim::Home;

const HOME: &str = r#"
[[devices]]
device_id = "hr-cli-01"
kind = "heart_rate_band"
every_s = 0.2

[[devices]]
device_id = "ox-cli-01"
kind = "pulse_oximeter"
every_s = 0.3

[[devices]]
device_id = "hr-next-door"
kind = "heart_rate_band"
every_s = 0.2
"#;

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(v) = check() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reads_the_allowlisted_devices_into_the_outbox() {
    let bus = PrivateBus::start().expect("a private D-Bus (Debian package dbus)");
    let home = Home::from_toml(HOME).unwrap();
    let fake = FakeBluez::start(bus.address(), FakeBluezConfig::new(home.clone())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"
gateway_id = "gw-cli"
mqtt_url = "mqtt://127.0.0.1:9"      # nothing listens: the outbox keeps everything
outbox_dir = "outbox"

[ble]
backoff_min_s = 0.2
backoff_max_s = 1

[[devices]]
device_id = "hr-cli-01"
address = "{}"
kind = "heart_rate_band"

[[devices]]
device_id = "ox-cli-01"
address = "{}"
"#,
            home.radio_of("hr-cli-01").address(),
            home.radio_of("ox-cli-01").address()
        ),
    )
    .unwrap();
    let gateway = Command::new(env!("CARGO_BIN_EXE_eldercare-gateway"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    wait_for("notifications from both devices", || {
        let r = fake.report();
        let hr =
            r.delivered_by("hr-cli-01").filter(|d| d.characteristic == Characteristic::HeartRateMeasurement).count();
        let ox = r.delivered_by("ox-cli-01").filter(|d| d.characteristic == Characteristic::PlxSpotCheck).count();
        (hr >= 10 && ox >= 3).then_some(())
    })
    .await;
    fake.pause();

    // SIGTERM, as systemd stops it: a graceful stop that keeps every reading received.
    let stopped = Command::new("kill").args(["-TERM", &gateway.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let out = tokio::task::spawn_blocking(move || gateway.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopped:"), "{stderr}");

    let report = fake.report();
    assert_eq!(report.device("hr-next-door").connects, 0, "not on the allowlist");
    let expected: usize = report
        .delivered
        .iter()
        .map(|d| readings_from_packet(&d.device_id, d.characteristic, &d.bytes, 0).map_or(0, |r| r.len()))
        .sum();
    let outbox = Outbox::open(&dir.path().join("outbox"), 1_000_000).unwrap();
    assert_eq!(outbox.len().unwrap() as usize, expected, "every reading received is in the outbox");
    fake.stop().await;
}
