//! How a scenario's devices look on the radio: addresses, advertised names, signal strength,
//! link drops, devices that never come back or turn up late, a scanner that silently stalls.
//!
//! These are optional fields of the same scenario file (`[[devices]]` entries and an
//! `[adapter]` table) that the built-in simulator ignores, so one file describes a home for the
//! demo, the simulator and the simulated BlueZ alike:
//!
//! ```toml
//! [adapter]
//! scan_stalls_at_s = 30          # discovery silently stops delivering adverts
//!
//! [[devices]]
//! device_id = "hr-wang-01"
//! kind = "heart_rate_band"
//! address = "C4:7C:8D:6A:11:02" # default: derived from the device id
//! name = "HRM Pro"               # advertised local name; default from the kind
//! rssi = -58                     # dBm; default -60
//! drop_link_at_s = [20, 90]      # out of range at these times (a number or a list)
//! out_of_range_s = 5             # ...for this long each time (default 3)
//! never_returns = false          # true: gone for good after the first drop
//! appears_at_s = 0               # not in range before this time
//! stored_records = 5             # keeps a record memory, read through RACP (see below)
//! racp_drop_after_records = 2    # the first transfer of records is cut short by a link drop
//! ```
//!
//! `stored_records` (glucose meters and pulse oximeters) gives the device a memory of
//! measurements read through the Record Access Control Point (0x2A52), holding that many past
//! records at the start. A glucose meter with a memory stores every measurement and sends it
//! only when asked ("report stored records"), advertising while it holds records it has not
//! reported yet; a pulse oximeter with a memory stores the spot checks it takes while nobody
//! is subscribed, and gets a RACP in its GATT database. Without the field, glucose meters answer
//! RACP requests with "no records found" and behave as before. `racp_drop_after_records = n`:
//! the first time the device answers "report stored records" with more than `n` records, the
//! link drops after the `n`-th, before the answer (out of range for `out_of_range_s`).

use serde::{Deserialize, Deserializer, Serialize};

use super::{DeviceKind, Scenario};
use crate::config::BleAddress;

/// A whole scenario file: what the simulator reads plus the radio's view of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Home {
    pub scenario: Scenario,
    pub radio: RadioPlan,
}

impl Home {
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        Ok(Home { scenario: Scenario::from_toml(text)?, radio: toml::from_str(text)? })
    }

    /// The radio view of device `device_id` (defaults when the file says nothing about it).
    pub fn radio_of(&self, device_id: &str) -> RadioDevice {
        self.radio
            .devices
            .iter()
            .find(|r| r.device_id == device_id)
            .cloned()
            .unwrap_or_else(|| RadioDevice { device_id: device_id.to_owned(), ..RadioDevice::default() })
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RadioPlan {
    #[serde(default)]
    pub devices: Vec<RadioDevice>,
    #[serde(default)]
    pub adapter: AdapterPlan,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AdapterPlan {
    /// Times at which discovery silently stops reporting advertisements until it is restarted.
    #[serde(default, deserialize_with = "one_or_many")]
    pub scan_stalls_at_s: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RadioDevice {
    pub device_id: String,
    #[serde(default)]
    pub address: Option<BleAddress>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_rssi")]
    pub rssi: i16,
    #[serde(default, deserialize_with = "one_or_many")]
    pub drop_link_at_s: Vec<f64>,
    #[serde(default = "default_out_of_range_s")]
    pub out_of_range_s: f64,
    #[serde(default)]
    pub never_returns: bool,
    #[serde(default)]
    pub appears_at_s: f64,
    /// A record memory read through RACP, with this many records at the start.
    #[serde(default)]
    pub stored_records: Option<u32>,
    /// The first transfer of stored records is cut short by a link drop after this many.
    #[serde(default)]
    pub racp_drop_after_records: Option<u32>,
}

impl Default for RadioDevice {
    fn default() -> Self {
        RadioDevice {
            device_id: String::new(),
            address: None,
            name: None,
            rssi: default_rssi(),
            drop_link_at_s: Vec::new(),
            out_of_range_s: default_out_of_range_s(),
            never_returns: false,
            appears_at_s: 0.0,
            stored_records: None,
            racp_drop_after_records: None,
        }
    }
}

fn default_rssi() -> i16 {
    -60
}

fn default_out_of_range_s() -> f64 {
    3.0
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(f64),
        Many(Vec<f64>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(v) => vec![v],
        OneOrMany::Many(v) => v,
    })
}

impl RadioDevice {
    /// The address: as given, or derived from the device id (a static random address, stable
    /// across runs).
    pub fn address(&self) -> BleAddress {
        self.address.unwrap_or_else(|| default_address(&self.device_id))
    }

    /// The advertised local name.
    pub fn name(&self, kind: DeviceKind) -> String {
        self.name.clone().unwrap_or_else(|| {
            let a = self.address().0;
            let model = match kind {
                DeviceKind::HeartRateBand => "HR Band",
                DeviceKind::PulseOximeter => "Oximeter",
                DeviceKind::Thermometer => "Thermometer",
                DeviceKind::BloodPressureCuff => "BP Monitor",
                DeviceKind::Scale => "Scale",
                DeviceKind::GlucoseMeter => "Glucose",
                DeviceKind::FallPendant => "Pendant",
            };
            format!("{model} {:02X}{:02X}", a[4], a[5])
        })
    }
}

/// A static random address (top two bits set) derived from the device id.
pub fn default_address(device_id: &str) -> BleAddress {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in device_id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let b = h.to_be_bytes();
    BleAddress([b[0] | 0xC0, b[1], b[2], b[3], b[4], b[5]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_feeds_simulator_and_radio() {
        let text = r#"
            [adapter]
            scan_stalls_at_s = 30

            [[devices]]
            device_id = "hr-1"
            kind = "heart_rate_band"
            address = "C4:7C:8D:6A:11:02"
            drop_link_at_s = [20, 90]
            never_returns = true

            [[devices]]
            device_id = "ox-1"
            kind = "pulse_oximeter"
            drop_link_at_s = 12.5
            stored_records = 4
        "#;
        let home = Home::from_toml(text).unwrap();
        assert_eq!(home.scenario.devices.len(), 2);
        assert_eq!(home.radio.adapter.scan_stalls_at_s, vec![30.0]);
        let hr = home.radio_of("hr-1");
        assert_eq!(hr.address().to_string(), "C4:7C:8D:6A:11:02");
        assert_eq!(hr.drop_link_at_s, vec![20.0, 90.0]);
        assert!(hr.never_returns);
        let ox = home.radio_of("ox-1");
        assert_eq!(ox.drop_link_at_s, vec![12.5]);
        assert_eq!(ox.rssi, -60);
        assert_eq!(ox.stored_records, Some(4));
        assert_eq!(hr.stored_records, None);
        assert_eq!(ox.address(), default_address("ox-1"));
        assert_eq!(ox.address().0[0] & 0xC0, 0xC0);
        assert_ne!(default_address("ox-1"), default_address("ox-2"));
        // A device the file says nothing about gets the defaults.
        assert_eq!(home.radio_of("zz").out_of_range_s, 3.0);
    }

    #[test]
    fn existing_scenarios_still_parse() {
        let home = Home::from_toml(include_str!("../../examples/home.toml")).unwrap();
        assert_eq!(home.scenario.devices.len(), home.radio.devices.len());
        assert!(home.radio.devices.iter().all(|d| d.drop_link_at_s.is_empty()));
    }
}
