//! GATT decoders for the wearables we support, and matching encoders for the simulator.
//!
//! [`decode`] turns one notification or indication into a [`Decoded`]: the measurement's own
//! fields as sent ([`Detail`], for people debugging a device) and canonical [`Sample`]s in the
//! units of the metric catalogue ([`eldercare_schema::Metric`]). [`encode`] produces the bytes a
//! real device sends, so the simulator exercises the same decoders.
//!
//! Rules every decoder follows:
//!
//! - Any input gives `Ok` or a [`DecodeError`], never a panic (property-tested).
//! - A packet shorter than its flags announce is an error ([`DecodeError::TooShort`]) that names
//!   the missing field.
//! - Flag bits the specifications reserve ("RFU") are ignored, as the Bluetooth convention asks
//!   of receivers, and so are extra bytes after the last field (later versions of a
//!   specification append fields). Both stay visible: every detail has the raw `flags`, and
//!   `trailing_bytes` counts what was ignored.
//! - IEEE 11073 special values (NaN, NRes, ±INF, reserved) never become samples; `detail` shows
//!   them as strings. See [`Float11073`] for how they are recognised.
//! - Implausible values (a heart rate of 0) are still samples: the server judges plausibility.
//!   We withhold samples only when the device itself says the value is not a measurement of the
//!   wearer: PLX "measurement unavailable", "invalid measurement", "data for demonstration" or
//!   "data for testing", and glucose control-solution tests. `detail` then says why.
//! - Intermediate Cuff Pressure is a progress report while the cuff inflates, not a blood
//!   pressure: it yields no samples.
//! - [`Decoded::device_time_ms`] is the device's own time stamp read as UTC (see [`DateTime`]),
//!   or `None` when the device sent none, left year, month or day unknown, sent an impossible
//!   date, or (PLX) flagged its clock as not set.

mod battery;
mod blood_pressure;
mod characteristic;
mod datetime;
mod fall;
mod fields;
mod glucose;
mod heart_rate;
mod plx;
pub mod racp;
mod reader;
mod sfloat;
mod thermometer;
mod weight;

#[cfg(test)]
mod tests;

use eldercare_schema::Metric;
use serde::Serialize;

pub use battery::BatteryDetail;
pub use blood_pressure::{BloodPressureDetail, CuffPressureDetail};
pub use characteristic::{
    BLUETOOTH_BASE_UUID, Characteristic, FALL_EVENT_UUID, FALL_SERVICE_UUID, sig_uuid, uuid_string,
};
pub use datetime::DateTime;
pub use fall::{FallDetail, FallEventKind};
pub use fields::{Coded, StatusBits};
pub use glucose::{GlucoseDetail, glucose_sequence_number};
pub use heart_rate::{HeartRateDetail, SensorContact};
pub use plx::{PlxContinuousDetail, PlxSpotCheckDetail, SpO2Pr};
pub use sfloat::Float11073;
pub use thermometer::TemperatureDetail;
pub use weight::WeightDetail;

/// Encoders producing the bytes real devices send, for the simulator. Each builds the smallest
/// valid packet carrying its arguments (optional fields only when given).
pub mod encode {
    pub use super::battery::encode as battery;
    pub use super::blood_pressure::encode_mmhg as blood_pressure_mmhg;
    pub use super::fall::encode as fall;
    pub use super::glucose::encode_mmol as glucose_mmol;
    pub use super::heart_rate::encode as heart_rate;
    pub use super::plx::{encode_continuous as plx_continuous, encode_spot_check as plx_spot_check};
    pub use super::thermometer::encode_celsius as temperature_celsius;
    pub use super::weight::encode_kg as weight_kg;
}

/// One value in canonical units, ready to become a schema `Reading`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub metric: Metric,
    pub value: f64,
}

impl Sample {
    pub fn new(metric: Metric, value: f64) -> Self {
        Sample { metric, value }
    }
}

/// Everything decoded from one notification or indication.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    pub characteristic: Characteristic,
    /// The measurement's own fields as decoded (flags, units as sent, status bits...).
    pub detail: Detail,
    /// Canonical samples; empty if the device sent only special values such as NaN or NRes.
    pub samples: Vec<Sample>,
    /// The device's own time stamp, if it sent one with known year, month and day, as Unix
    /// milliseconds. Bluetooth Date Time has no zone: we read it as UTC.
    pub device_time_ms: Option<i64>,
}

/// The fields of one measurement as sent. Serialises as the inner struct (no tag: the
/// characteristic is already in [`Decoded`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Detail {
    HeartRate(HeartRateDetail),
    BloodPressure(BloodPressureDetail),
    IntermediateCuffPressure(CuffPressureDetail),
    Temperature(TemperatureDetail),
    PlxSpotCheck(PlxSpotCheckDetail),
    PlxContinuous(PlxContinuousDetail),
    Weight(WeightDetail),
    Glucose(GlucoseDetail),
    Battery(BatteryDetail),
    Fall(FallDetail),
}

/// Why bytes could not be decoded, or a characteristic name not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet ends before a field its flags announce.
    #[error("{characteristic}: packet too short: the {field} field needs {needed} bytes, got {got}")]
    TooShort { characteristic: Characteristic, field: &'static str, needed: usize, got: usize },
    /// A field holds a value the specification does not define, and nothing sensible can be
    /// made of the packet without it.
    #[error("{characteristic}: {field} {value:#04x} is not defined ({expected})")]
    InvalidValue { characteristic: Characteristic, field: &'static str, value: u32, expected: &'static str },
    /// Not a characteristic we decode.
    #[error(
        "unknown characteristic {0:?}: expected a 16-bit UUID such as 2a37, a full UUID, or a \
         name such as heart_rate_measurement"
    )]
    UnknownCharacteristic(String),
}

/// Decodes one notification or indication of `ch`.
pub fn decode(ch: Characteristic, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    use Characteristic::*;
    match ch {
        HeartRateMeasurement => heart_rate::decode(bytes),
        BloodPressureMeasurement => blood_pressure::decode(bytes),
        IntermediateCuffPressure => blood_pressure::decode_intermediate(bytes),
        TemperatureMeasurement => thermometer::decode(bytes),
        PlxSpotCheck => plx::decode_spot_check(bytes),
        PlxContinuous => plx::decode_continuous(bytes),
        WeightMeasurement => weight::decode(bytes),
        GlucoseMeasurement => glucose::decode(bytes),
        BatteryLevel => battery::decode(bytes),
        FallEvent => fall::decode(bytes),
    }
}

/// Decodes a notification from the characteristic with this UUID.
pub fn decode_uuid(uuid: u128, bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let ch = Characteristic::from_uuid(uuid).ok_or_else(|| DecodeError::UnknownCharacteristic(uuid_string(uuid)))?;
    decode(ch, bytes)
}
