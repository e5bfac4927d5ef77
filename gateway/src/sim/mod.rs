//! Simulated wearables. A scenario describes a home: its devices, what kind each is, and the
//! story its readings tell (healthy, a slow SpO2 decline, a fever, a fall...). Each simulated
//! device produces the same GATT bytes a real one sends, and those bytes go through the real
//! decoders ([`crate::gatt`]) into the outbox, exactly like readings from Bluetooth.

pub mod radio;
pub mod run;
mod wearable;

use serde::{Deserialize, Serialize};

pub use radio::{Home, RadioDevice, RadioPlan};
pub use run::{SimulatorConfig, run};
pub use wearable::{Packet, Wearable};

/// A home's devices. Loadable from TOML or JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub devices: Vec<SimDevice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimDevice {
    /// The id the server knows the device by.
    pub device_id: String,
    pub kind: DeviceKind,
    /// Seconds between measurements; each kind has a sensible default.
    #[serde(default)]
    pub every_s: Option<f64>,
    #[serde(default)]
    pub story: Story,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    HeartRateBand,
    PulseOximeter,
    Thermometer,
    BloodPressureCuff,
    Scale,
    GlucoseMeter,
    FallPendant,
}

impl DeviceKind {
    /// Default seconds between measurements (a demo pace: real cuffs and scales report daily).
    pub fn default_every_s(self) -> f64 {
        match self {
            DeviceKind::HeartRateBand => 5.0,
            DeviceKind::PulseOximeter => 15.0,
            DeviceKind::Thermometer => 30.0,
            DeviceKind::BloodPressureCuff => 300.0,
            DeviceKind::Scale => 1800.0,
            DeviceKind::GlucoseMeter => 900.0,
            DeviceKind::FallPendant => 600.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::HeartRateBand => "heart_rate_band",
            DeviceKind::PulseOximeter => "pulse_oximeter",
            DeviceKind::Thermometer => "thermometer",
            DeviceKind::BloodPressureCuff => "blood_pressure_cuff",
            DeviceKind::Scale => "scale",
            DeviceKind::GlucoseMeter => "glucose_meter",
            DeviceKind::FallPendant => "fall_pendant",
        }
    }
}

/// What happens to the wearer, as the device sees it. Times are seconds since the simulation
/// started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "story")]
pub enum Story {
    #[default]
    Healthy,
    /// SpO2 falls by `per_min` points a minute from `start_s`, down to `floor` (pulse oximeter).
    Spo2Decline { start_s: f64, per_min: f64, floor: f64 },
    /// Temperature rises by `per_min` °C a minute from `start_s` up to `peak_c` (thermometer).
    Fever { start_s: f64, per_min: f64, peak_c: f64 },
    /// The pendant detects a fall at `at_s`; the wearer cancels it 10 s later when `cancelled`.
    Fall { at_s: f64, cancelled: bool },
    /// The wearer presses the help button at `at_s`.
    HelpButton { at_s: f64 },
    /// Garbage bytes on the characteristic every measurement (a broken device).
    Garbage,
}

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_from_toml() {
        let s = Scenario::from_toml(
            r#"
            [[devices]]
            device_id = "ox-1"
            kind = "pulse_oximeter"
            story = { story = "spo2_decline", start_s = 60, per_min = 1.5, floor = 82 }

            [[devices]]
            device_id = "hr-1"
            kind = "heart_rate_band"
            every_s = 2
            "#,
        )
        .unwrap();
        assert_eq!(s.devices.len(), 2);
        assert_eq!(s.devices[0].story, Story::Spo2Decline { start_s: 60.0, per_min: 1.5, floor: 82.0 });
        assert_eq!(s.devices[1].every_s, Some(2.0));
        assert_eq!(s.devices[1].story, Story::Healthy);
    }
}
