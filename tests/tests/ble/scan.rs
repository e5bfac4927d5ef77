//! `scan` (what is on the air, to fill in the allowlist) and clear errors when BlueZ or the
//! adapter is not there.

use std::time::Duration;

use eldercare_gateway::ble::{ScanOptions, open_adapter, scan};
use eldercare_gateway::fake_bluez::{FakeBluez, FakeBluezConfig};
use eldercare_gateway::sim::Home;

use crate::support::on_private_bus;

const NEARBY: &str = r#"
[[devices]]
device_id = "hr-1"
kind = "heart_rate_band"
name = "HRM Pro"
rssi = -48

[[devices]]
device_id = "fp-1"
kind = "fall_pendant"
rssi = -75

[[devices]]
device_id = "sc-1"
kind = "scale"
address = "F4:5E:AB:03:77:19"
rssi = -62
"#;

#[test]
fn scan_lists_nearby_devices_strongest_first() {
    on_private_bus("scan::scan_lists_nearby_devices_strongest_first", |bus| async move {
        let home = Home::from_toml(NEARBY).unwrap();
        let fake = FakeBluez::start(&bus, FakeBluezConfig::new(home.clone())).await.unwrap();
        let options =
            ScanOptions { adapter: Some("hci0".into()), duration: Duration::from_secs(60), stop_after: Some(3) };
        let entries = scan(&options).await.unwrap();
        assert_eq!(entries.len(), 3, "{entries:?}");
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_deref().unwrap()).collect();
        assert_eq!(names[0], "HRM Pro", "strongest first: {entries:?}");
        assert!(names[2].starts_with("Pendant "), "{entries:?}");
        assert_eq!(entries[0].address, home.radio_of("hr-1").address());
        assert_eq!(entries[1].address.to_string(), "F4:5E:AB:03:77:19");
        assert!((-50..=-46).contains(&entries[0].rssi.unwrap()), "{entries:?}");
        assert!(entries[0].services.contains(&"180d (Heart Rate)".to_owned()), "{entries:?}");
        assert!(entries[0].services.contains(&"180f (Battery)".to_owned()));
        assert!(entries[1].services.contains(&"181d (Weight Scale)".to_owned()));
        assert!(entries[2].services.iter().any(|s| s.ends_with("(Eldercare Fall)")), "{entries:?}");
        // Scanning connects to nothing.
        assert!(fake.report().devices.iter().all(|d| d.connects == 0));

        let err = open_adapter(Some("hci1")).await.unwrap_err().to_string();
        assert!(err.contains("hci1") && err.contains("hci0"), "{err}");

        fake.stop().await;
        let err = open_adapter(None).await.unwrap_err().to_string();
        assert!(err.contains("is bluetoothd running"), "{err}");
    });
}
