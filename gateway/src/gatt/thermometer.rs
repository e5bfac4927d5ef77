//! Temperature Measurement, 0x2A1C (Health Thermometer Service 1.0; GATT Specification
//! Supplement).
//!
//! | field            | size | present when | meaning                          |
//! |------------------|------|--------------|----------------------------------|
//! | flags            | 1    | always       | see below                        |
//! | temperature      | 4    | always       | FLOAT, °C or °F (flags bit 0)    |
//! | time stamp       | 7    | bit 1        | Date Time                        |
//! | temperature type | 1    | bit 2        | where on the body, see [`TYPES`] |
//!
//! Flags: bit 0 unit (0 Celsius, 1 Fahrenheit, converted to °C); bits 3–7 reserved.

use eldercare_schema::Metric;
use serde::Serialize;

use super::datetime::DateTime;
use super::fields::Coded;
use super::reader::{Reader, Writer};
use super::sfloat::Float11073;
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

const FAHRENHEIT: u8 = 0x01;
const TIME_PRESENT: u8 = 0x02;
const TYPE_PRESENT: u8 = 0x04;

/// Temperature Type codes (also characteristic 0x2A1D); 0 and 10–255 are reserved.
pub const TYPES: &[&str] =
    &["", "armpit", "body", "ear", "finger", "gastrointestinal_tract", "mouth", "rectum", "toe", "tympanum"];

/// The fields of a Temperature Measurement as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemperatureDetail {
    pub flags: u8,
    /// `"Celsius"` or `"Fahrenheit"`: the unit of `temperature` as sent.
    pub unit: &'static str,
    pub temperature: Float11073,
    pub timestamp: Option<DateTime>,
    pub temperature_type: Option<Coded>,
    pub trailing_bytes: usize,
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::TemperatureMeasurement, bytes);
    let flags = r.u8("flags")?;
    let temperature = r.float("temperature")?;
    let timestamp = r.optional(flags & TIME_PRESENT != 0, |r| r.date_time("time stamp"))?;
    let temperature_type =
        r.optional(flags & TYPE_PRESENT != 0, |r| r.u8("temperature type").map(|code| Coded::from_table(code, TYPES)))?;
    let fahrenheit = flags & FAHRENHEIT != 0;
    let samples = temperature
        .value()
        .map(|t| {
            let celsius = if fahrenheit { (t - 32.0) * 5.0 / 9.0 } else { t };
            Sample::new(Metric::BodyTemperature, celsius)
        })
        .into_iter()
        .collect();
    let detail = TemperatureDetail {
        flags,
        unit: if fahrenheit { "Fahrenheit" } else { "Celsius" },
        temperature,
        timestamp,
        temperature_type,
        trailing_bytes: r.remaining(),
    };
    Ok(Decoded {
        characteristic: Characteristic::TemperatureMeasurement,
        detail: Detail::Temperature(detail),
        samples,
        device_time_ms: timestamp.and_then(DateTime::to_unix_ms),
    })
}

/// A Temperature Measurement in °C as a FLOAT with the fewest decimals that carry the value
/// (36.7 → `367e-1`), no temperature type; time stamp only when given.
pub fn encode_celsius(celsius: f64, time: Option<DateTime>) -> Vec<u8> {
    let flags = if time.is_some() { TIME_PRESENT } else { 0 };
    let mut w = Writer::default();
    w.u8(flags).float(celsius).date_time(time);
    w.0
}
