//! Weight Measurement, 0x2A9D (Weight Scale Service 1.0; GATT Specification Supplement).
//!
//! | field      | size | present when | SI (flags bit 0 = 0)  | imperial (bit 0 = 1) |
//! |------------|------|--------------|-----------------------|----------------------|
//! | flags      | 1    | always       |                       |                      |
//! | weight     | 2    | always       | uint16 × 0.005 kg     | uint16 × 0.01 lb     |
//! | time stamp | 7    | bit 1        | Date Time             | Date Time            |
//! | user id    | 1    | bit 2        | 255 = unknown user    | 255 = unknown user   |
//! | BMI        | 2    | bit 3        | uint16 × 0.1 kg/m²    | uint16 × 0.1 kg/m²   |
//! | height     | 2    | bit 3        | uint16 × 0.001 m      | uint16 × 0.1 in      |
//!
//! Bits 4–7 are reserved. Weight 0xFFFF means "measurement unsuccessful": no sample. Pounds are
//! converted at 0.45359237 kg/lb. BMI and height have no metric and stay in `detail`.

use eldercare_schema::Metric;
use serde::Serialize;

use super::datetime::DateTime;
use super::reader::{Reader, Writer};
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

const IMPERIAL: u8 = 0x01;
const TIME_PRESENT: u8 = 0x02;
const USER_PRESENT: u8 = 0x04;
const BMI_HEIGHT_PRESENT: u8 = 0x08;

const UNSUCCESSFUL: u16 = 0xFFFF;
const KG_PER_LB: f64 = 0.453_592_37;

/// The fields of a Weight Measurement as sent, scaled to the units in `unit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightDetail {
    pub flags: u8,
    /// `"SI"` (weight in kg, height in m) or `"imperial"` (lb, in).
    pub unit: &'static str,
    /// `None` when the scale reported "measurement unsuccessful" (0xFFFF).
    pub weight: Option<f64>,
    pub timestamp: Option<DateTime>,
    /// 255 means "unknown user".
    pub user_id: Option<u8>,
    /// kg/m².
    pub bmi: Option<f64>,
    pub height: Option<f64>,
    pub trailing_bytes: usize,
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::WeightMeasurement, bytes);
    let flags = r.u8("flags")?;
    let imperial = flags & IMPERIAL != 0;
    let raw_weight = r.u16("weight")?;
    let timestamp = r.optional(flags & TIME_PRESENT != 0, |r| r.date_time("time stamp"))?;
    let user_id = r.optional(flags & USER_PRESENT != 0, |r| r.u8("user id"))?;
    let bmi_height = r.optional(flags & BMI_HEIGHT_PRESENT != 0, |r| Ok((r.u16("BMI")?, r.u16("height")?)))?;

    // Divisions, not multiplications by 0.005 or 0.01, so 70.0 kg comes out as exactly 70.0.
    let weight = (raw_weight != UNSUCCESSFUL).then(|| {
        let steps_per_unit = if imperial { 100.0 } else { 200.0 };
        f64::from(raw_weight) / steps_per_unit
    });
    let kg = weight.map(|w| if imperial { w * KG_PER_LB } else { w });
    let height_steps_per_unit = if imperial { 10.0 } else { 1000.0 };
    let detail = WeightDetail {
        flags,
        unit: if imperial { "imperial" } else { "SI" },
        weight,
        timestamp,
        user_id,
        bmi: bmi_height.map(|(bmi, _)| f64::from(bmi) / 10.0),
        height: bmi_height.map(|(_, h)| f64::from(h) / height_steps_per_unit),
        trailing_bytes: r.remaining(),
    };
    Ok(Decoded {
        characteristic: Characteristic::WeightMeasurement,
        detail: Detail::Weight(detail),
        samples: kg.map(|kg| Sample::new(Metric::BodyWeight, kg)).into_iter().collect(),
        device_time_ms: timestamp.and_then(DateTime::to_unix_ms),
    })
}

/// A Weight Measurement in SI units, rounded to the 5 g resolution; time stamp only when
/// given. A weight the field cannot carry (negative, NaN, above 327.67 kg) is sent as 0xFFFF,
/// "measurement unsuccessful", as a scale does on overload.
pub fn encode_kg(kg: f64, time: Option<DateTime>) -> Vec<u8> {
    let steps = (kg * 200.0).round();
    let raw = if (0.0..f64::from(UNSUCCESSFUL)).contains(&steps) { steps as u16 } else { UNSUCCESSFUL };
    let flags = if time.is_some() { TIME_PRESENT } else { 0 };
    let mut w = Writer::default();
    w.u8(flags).u16(raw).date_time(time);
    w.0
}
