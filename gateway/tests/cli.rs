//! `eldercare-gateway decode` as a person debugging a device uses it.

use std::process::Command;

fn gateway(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eldercare-gateway")).args(args).output().expect("runs")
}

#[test]
fn decode_prints_the_reading_as_json() {
    // Heart Rate Measurement: flags 0x16 (uint8 value, contact detected, RR present), 75 bpm,
    // RR 1024/1024 s and 928/1024 s.
    let out = gateway(&["decode", "2a37", "16 4b 00 04 a0 03"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let samples = json["samples"].as_array().unwrap();
    assert_eq!(samples[0]["metric"], "heart_rate");
    assert_eq!(samples[0]["value"], 75.0);
    assert_eq!(samples[1]["metric"], "rr_interval");
    assert_eq!(samples[1]["value"], 1000.0);
    assert_eq!(samples[2]["value"], 906.25);
}

#[test]
fn decode_accepts_names_and_full_uuids() {
    let by_name = gateway(&["decode", "temperature_measurement", "00 6f 01 00 ff"]);
    let by_uuid = gateway(&["decode", "00002a1c-0000-1000-8000-00805f9b34fb", "0x006f0100ff"]);
    assert!(by_name.status.success() && by_uuid.status.success());
    assert_eq!(by_name.stdout, by_uuid.stdout);
    let json: serde_json::Value = serde_json::from_slice(&by_name.stdout).unwrap();
    assert_eq!(json["samples"][0]["value"], 36.7);
}

#[test]
fn garbage_gets_a_clear_error_and_a_failing_status() {
    let short = gateway(&["decode", "2a37", "01 48"]);
    assert_eq!(short.status.code(), Some(2));
    let err = String::from_utf8_lossy(&short.stderr);
    assert!(err.contains("too short"), "{err}");
    assert!(short.stdout.is_empty());

    let not_hex = gateway(&["decode", "2a37", "zz"]);
    assert_eq!(not_hex.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_hex.stderr).contains("not hex"));

    let unknown = gateway(&["decode", "2a99", "00"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("2a99"));
}

#[cfg(not(feature = "ble"))]
#[test]
fn run_without_bluetooth_in_the_build_says_how_to_get_it() {
    let out = gateway(&["run", "--config", "examples/gateway.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features ble"), "{err}");
}

#[cfg(feature = "ble")]
#[test]
fn run_without_bluez_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_eldercare-gateway"))
        .args(["run", "--config", "examples/gateway.toml"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/eldercare-test-bus")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is bluetoothd running"), "{err}");
}

#[test]
fn run_refuses_a_broken_configuration_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, "gateway_id = \"gw-1\"\nmqtt_url = \"mqtt://127.0.0.1:1883\"\noutbox_dir = \"ob\"\n[[devices]]\ndevice_id = \"hr-1\"\naddress = \"not-an-address\"\n").unwrap();
    let out = gateway(&["run", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "ble") {
        assert!(err.contains("not a Bluetooth address"), "{err}");
    }
}
