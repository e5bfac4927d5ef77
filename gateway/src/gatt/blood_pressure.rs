//! Blood Pressure Measurement, 0x2A35, and Intermediate Cuff Pressure, 0x2A36 (Blood Pressure
//! Service 1.0; GATT Specification Supplement). Both share one layout:
//!
//! | field               | size | present when | meaning                                     |
//! |---------------------|------|--------------|---------------------------------------------|
//! | flags               | 1    | always       | see below                                   |
//! | systolic            | 2    | always       | SFLOAT; 0x2A36: the current cuff pressure   |
//! | diastolic           | 2    | always       | SFLOAT; 0x2A36: unused, NaN                 |
//! | mean arterial       | 2    | always       | SFLOAT; 0x2A36: unused, NaN                 |
//! | time stamp          | 7    | bit 1        | Date Time                                   |
//! | pulse rate          | 2    | bit 2        | SFLOAT, beats/min                           |
//! | user id             | 1    | bit 3        | 0–254, 255 = unknown user                   |
//! | measurement status  | 2    | bit 4        | see [`STATUS_BITS`]                         |
//!
//! Flags: bit 0 unit (0 mmHg, 1 kPa; converted to mmHg ×7.500617); bits 5–7 reserved.
//! Pulse rate becomes a `HeartRate` sample. 0x2A36 yields no samples (see the module above).

use eldercare_schema::Metric;
use serde::Serialize;

use super::datetime::DateTime;
use super::fields::StatusBits;
use super::reader::{Reader, Writer};
use super::sfloat::Float11073;
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

const UNIT_KPA: u8 = 0x01;
const TIME_PRESENT: u8 = 0x02;
const PULSE_PRESENT: u8 = 0x04;
const USER_PRESENT: u8 = 0x08;
const STATUS_PRESENT: u8 = 0x10;

/// mmHg per kPa.
const MMHG_PER_KPA: f64 = 7.500617;

/// Named bits of the measurement status. Bits 3–4 hold the pulse rate range (0 within range,
/// 1 above the upper limit, 2 below the lower limit, 3 reserved), named separately.
pub const STATUS_BITS: &[(u32, &str)] = &[
    (0, "body_movement_detected"),
    (1, "cuff_too_loose"),
    (2, "irregular_pulse_detected"),
    (5, "improper_measurement_position"),
];

/// The fields of a Blood Pressure Measurement as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BloodPressureDetail {
    pub flags: u8,
    /// `"mmHg"` or `"kPa"`: the unit of the three pressures as sent.
    pub unit: &'static str,
    pub systolic: Float11073,
    pub diastolic: Float11073,
    pub mean_arterial_pressure: Float11073,
    pub timestamp: Option<DateTime>,
    pub pulse_rate: Option<Float11073>,
    /// 255 means "unknown user".
    pub user_id: Option<u8>,
    pub measurement_status: Option<StatusBits>,
    pub trailing_bytes: usize,
}

/// The fields of an Intermediate Cuff Pressure as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CuffPressureDetail {
    pub flags: u8,
    pub unit: &'static str,
    pub current_cuff_pressure: Float11073,
    pub timestamp: Option<DateTime>,
    pub pulse_rate: Option<Float11073>,
    pub user_id: Option<u8>,
    pub measurement_status: Option<StatusBits>,
    pub trailing_bytes: usize,
}

fn parse(ch: Characteristic, bytes: &[u8]) -> Result<BloodPressureDetail, DecodeError> {
    let mut r = Reader::new(ch, bytes);
    let flags = r.u8("flags")?;
    let systolic = r.sfloat("systolic")?;
    let diastolic = r.sfloat("diastolic")?;
    let mean_arterial_pressure = r.sfloat("mean arterial pressure")?;
    let timestamp = r.optional(flags & TIME_PRESENT != 0, |r| r.date_time("time stamp"))?;
    let pulse_rate = r.optional(flags & PULSE_PRESENT != 0, |r| r.sfloat("pulse rate"))?;
    let user_id = r.optional(flags & USER_PRESENT != 0, |r| r.u8("user id"))?;
    let measurement_status =
        r.optional(flags & STATUS_PRESENT != 0, |r| r.u16("measurement status").map(status_bits))?;
    Ok(BloodPressureDetail {
        flags,
        unit: if flags & UNIT_KPA != 0 { "kPa" } else { "mmHg" },
        systolic,
        diastolic,
        mean_arterial_pressure,
        timestamp,
        pulse_rate,
        user_id,
        measurement_status,
        trailing_bytes: r.remaining(),
    })
}

fn status_bits(raw: u16) -> StatusBits {
    let mut bits = StatusBits::new(u32::from(raw), STATUS_BITS);
    match (raw >> 3) & 0b11 {
        1 => bits.set.push("pulse_rate_exceeds_upper_limit"),
        2 => bits.set.push("pulse_rate_below_lower_limit"),
        3 => bits.set.push("pulse_rate_range_reserved"),
        _ => {}
    }
    bits
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let d = parse(Characteristic::BloodPressureMeasurement, bytes)?;
    let to_mmhg = if d.flags & UNIT_KPA != 0 { MMHG_PER_KPA } else { 1.0 };
    let pressures = [
        (Metric::BpSystolic, d.systolic),
        (Metric::BpDiastolic, d.diastolic),
        (Metric::BpMean, d.mean_arterial_pressure),
    ];
    let mut samples: Vec<Sample> =
        pressures.into_iter().filter_map(|(metric, v)| v.value().map(|v| Sample::new(metric, v * to_mmhg))).collect();
    if let Some(pulse) = d.pulse_rate.and_then(Float11073::value) {
        samples.push(Sample::new(Metric::HeartRate, pulse));
    }
    Ok(Decoded {
        characteristic: Characteristic::BloodPressureMeasurement,
        device_time_ms: d.timestamp.and_then(DateTime::to_unix_ms),
        detail: Detail::BloodPressure(d),
        samples,
    })
}

pub(super) fn decode_intermediate(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let d = parse(Characteristic::IntermediateCuffPressure, bytes)?;
    let detail = CuffPressureDetail {
        flags: d.flags,
        unit: d.unit,
        current_cuff_pressure: d.systolic,
        timestamp: d.timestamp,
        pulse_rate: d.pulse_rate,
        user_id: d.user_id,
        measurement_status: d.measurement_status,
        trailing_bytes: d.trailing_bytes,
    };
    Ok(Decoded {
        characteristic: Characteristic::IntermediateCuffPressure,
        device_time_ms: d.timestamp.and_then(DateTime::to_unix_ms),
        detail: Detail::IntermediateCuffPressure(detail),
        samples: Vec::new(),
    })
}

/// A Blood Pressure Measurement in mmHg, as SFLOATs with the fewest decimals that carry each
/// value (120 → `120e0`); pulse rate and time stamp only when given.
pub fn encode_mmhg(systolic: f64, diastolic: f64, mean: f64, pulse: Option<f64>, time: Option<DateTime>) -> Vec<u8> {
    let mut flags = 0;
    if time.is_some() {
        flags |= TIME_PRESENT;
    }
    if pulse.is_some() {
        flags |= PULSE_PRESENT;
    }
    let mut w = Writer::default();
    w.u8(flags).sfloat(systolic).sfloat(diastolic).sfloat(mean).date_time(time);
    if let Some(p) = pulse {
        w.sfloat(p);
    }
    w.0
}
