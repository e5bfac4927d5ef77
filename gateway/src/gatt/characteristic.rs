//! The characteristics we decode, their UUIDs, and parsing what a person types.

use serde::Serialize;

use super::DecodeError;

/// The Bluetooth Base UUID, `00000000-0000-1000-8000-00805f9b34fb`: a 16-bit SIG UUID `xxxx`
/// stands for `0000xxxx-0000-1000-8000-00805f9b34fb`.
pub const BLUETOOTH_BASE_UUID: u128 = 0x0000_0000_0000_1000_8000_0080_5f9b_34fb;

/// The full UUID of a 16-bit SIG-assigned UUID.
pub const fn sig_uuid(short: u16) -> u128 {
    BLUETOOTH_BASE_UUID | ((short as u128) << 96)
}

/// Our fall service (see the `fall` module for its specification).
pub const FALL_SERVICE_UUID: u128 = 0x4e0f_0001_8c3a_4b8e_9f1d_6c2e_5a7b_9d10;
/// Its Fall Event characteristic.
pub const FALL_EVENT_UUID: u128 = 0x4e0f_0002_8c3a_4b8e_9f1d_6c2e_5a7b_9d10;

/// A characteristic we understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Characteristic {
    /// 0x2A37, Heart Rate service 0x180D (notify).
    HeartRateMeasurement,
    /// 0x2A35, Blood Pressure service 0x1810 (indicate).
    BloodPressureMeasurement,
    /// 0x2A36, Blood Pressure service 0x1810 (notify): the cuff pressure while measuring.
    IntermediateCuffPressure,
    /// 0x2A1C, Health Thermometer service 0x1809 (indicate).
    TemperatureMeasurement,
    /// 0x2A5E, Pulse Oximeter service 0x1822 (indicate).
    PlxSpotCheck,
    /// 0x2A5F, Pulse Oximeter service 0x1822 (notify).
    PlxContinuous,
    /// 0x2A9D, Weight Scale service 0x181D (indicate).
    WeightMeasurement,
    /// 0x2A18, Glucose service 0x1808 (notify).
    GlucoseMeasurement,
    /// 0x2A19, Battery service 0x180F (read, notify).
    BatteryLevel,
    /// Our own Fall Event, `4e0f0002-8c3a-4b8e-9f1d-6c2e5a7b9d10` (indicate).
    FallEvent,
}

impl Characteristic {
    pub const ALL: [Characteristic; 10] = [
        Characteristic::HeartRateMeasurement,
        Characteristic::BloodPressureMeasurement,
        Characteristic::IntermediateCuffPressure,
        Characteristic::TemperatureMeasurement,
        Characteristic::PlxSpotCheck,
        Characteristic::PlxContinuous,
        Characteristic::WeightMeasurement,
        Characteristic::GlucoseMeasurement,
        Characteristic::BatteryLevel,
        Characteristic::FallEvent,
    ];

    /// The characteristic with this full 128-bit UUID, if we understand it.
    pub fn from_uuid(uuid: u128) -> Option<Self> {
        Characteristic::ALL.into_iter().find(|c| c.uuid() == uuid)
    }

    /// Its full 128-bit UUID.
    pub fn uuid(self) -> u128 {
        use Characteristic::*;
        match self {
            HeartRateMeasurement => sig_uuid(0x2A37),
            BloodPressureMeasurement => sig_uuid(0x2A35),
            IntermediateCuffPressure => sig_uuid(0x2A36),
            TemperatureMeasurement => sig_uuid(0x2A1C),
            PlxSpotCheck => sig_uuid(0x2A5E),
            PlxContinuous => sig_uuid(0x2A5F),
            WeightMeasurement => sig_uuid(0x2A9D),
            GlucoseMeasurement => sig_uuid(0x2A18),
            BatteryLevel => sig_uuid(0x2A19),
            FallEvent => FALL_EVENT_UUID,
        }
    }

    /// The full UUID of the service it belongs to.
    pub fn service_uuid(self) -> u128 {
        use Characteristic::*;
        match self {
            HeartRateMeasurement => sig_uuid(0x180D),
            BloodPressureMeasurement | IntermediateCuffPressure => sig_uuid(0x1810),
            TemperatureMeasurement => sig_uuid(0x1809),
            PlxSpotCheck | PlxContinuous => sig_uuid(0x1822),
            WeightMeasurement => sig_uuid(0x181D),
            GlucoseMeasurement => sig_uuid(0x1808),
            BatteryLevel => sig_uuid(0x180F),
            FallEvent => FALL_SERVICE_UUID,
        }
    }

    /// The `snake_case` name, as in JSON and config files.
    pub fn name(self) -> &'static str {
        use Characteristic::*;
        match self {
            HeartRateMeasurement => "heart_rate_measurement",
            BloodPressureMeasurement => "blood_pressure_measurement",
            IntermediateCuffPressure => "intermediate_cuff_pressure",
            TemperatureMeasurement => "temperature_measurement",
            PlxSpotCheck => "plx_spot_check",
            PlxContinuous => "plx_continuous",
            WeightMeasurement => "weight_measurement",
            GlucoseMeasurement => "glucose_measurement",
            BatteryLevel => "battery_level",
            FallEvent => "fall_event",
        }
    }

    /// Parses what a person types: a 16-bit UUID (`2a37`, `0x2A37`), a full UUID with dashes
    /// (`00002a37-0000-1000-8000-00805f9b34fb`), or the name (`heart_rate_measurement`; case,
    /// dashes and spaces in a name are forgiven: `Heart Rate Measurement` works).
    pub fn parse(s: &str) -> Result<Self, DecodeError> {
        let text = s.trim().to_ascii_lowercase();
        let as_name = text.replace(['-', ' '], "_");
        if let Some(c) = Characteristic::ALL.into_iter().find(|c| c.name() == as_name) {
            return Ok(c);
        }
        parse_uuid(&text)
            .and_then(Characteristic::from_uuid)
            .ok_or_else(|| DecodeError::UnknownCharacteristic(s.to_string()))
    }
}

/// `xxxx`, `0xXXXX` or `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (already lower-cased).
fn parse_uuid(text: &str) -> Option<u128> {
    let hex = |digits: &str| {
        let all_hex = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit());
        all_hex.then(|| u128::from_str_radix(digits, 16).ok()).flatten()
    };
    let short = text.strip_prefix("0x").unwrap_or(text);
    if short.len() == 4 {
        return hex(short).map(|v| BLUETOOTH_BASE_UUID | (v << 96));
    }
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lengths == [8, 4, 4, 4, 12] {
        return hex(&groups.concat());
    }
    None
}

/// The name, e.g. `heart_rate_measurement`.
impl std::fmt::Display for Characteristic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Characteristic {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Characteristic::parse(s)
    }
}

/// Formats a UUID the usual way: `00002a37-0000-1000-8000-00805f9b34fb`.
pub fn uuid_string(uuid: u128) -> String {
    let h = format!("{uuid:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
