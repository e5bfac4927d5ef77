//! PLX Spot-check Measurement, 0x2A5E, and PLX Continuous Measurement, 0x2A5F (Pulse Oximeter
//! Service 1.0; GATT Specification Supplement). All numbers are SFLOAT: SpO2 in percent, pulse
//! rate in beats/min, pulse amplitude index in percent.
//!
//! Spot-check: flags (1); SpO2, PR (2 + 2); time stamp (7, flags bit 0); measurement status
//! (2, bit 1); device and sensor status (3, bit 2); pulse amplitude index (2, bit 3). Flags
//! bit 4 "device clock is not set": the time stamp is then not a real time.
//!
//! Continuous: flags (1); SpO2PR-Normal (4); SpO2PR-Fast (4, bit 0); SpO2PR-Slow (4, bit 1);
//! measurement status (2, bit 2); device and sensor status (3, bit 3); pulse amplitude index
//! (2, bit 4). Samples come from the Normal pair only; Fast and Slow are other averagings of
//! the same signal and stay in `detail`.
//!
//! In both, flag bits above those are reserved. Samples are withheld when the measurement
//! status says the data are not a measurement of the wearer (see [`WITHHOLD`]).

use eldercare_schema::Metric;
use serde::Serialize;

use super::datetime::DateTime;
use super::fields::StatusBits;
use super::reader::{Reader, Writer};
use super::sfloat::Float11073;
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

// Spot-check flags.
const SPOT_TIME: u8 = 0x01;
const SPOT_STATUS: u8 = 0x02;
const SPOT_DEVICE_STATUS: u8 = 0x04;
const SPOT_PULSE_AMPLITUDE: u8 = 0x08;
const SPOT_CLOCK_NOT_SET: u8 = 0x10;
// Continuous flags.
const CONT_FAST: u8 = 0x01;
const CONT_SLOW: u8 = 0x02;
const CONT_STATUS: u8 = 0x04;
const CONT_DEVICE_STATUS: u8 = 0x08;
const CONT_PULSE_AMPLITUDE: u8 = 0x10;

/// Measurement Status bits (bits 0–4 reserved).
pub const MEASUREMENT_STATUS_BITS: &[(u32, &str)] = &[
    (5, "measurement_ongoing"),
    (6, "early_estimated_data"),
    (7, "validated_data"),
    (8, "fully_qualified_data"),
    (9, "data_from_measurement_storage"),
    (10, "data_for_demonstration"),
    (11, "data_for_testing"),
    (12, "calibration_ongoing"),
    (13, "measurement_unavailable"),
    (14, "questionable_measurement_detected"),
    (15, "invalid_measurement_detected"),
];

/// Device and Sensor Status bits (bits 16–23 reserved).
pub const DEVICE_SENSOR_STATUS_BITS: &[(u32, &str)] = &[
    (0, "extended_display_update_ongoing"),
    (1, "equipment_malfunction_detected"),
    (2, "signal_processing_irregularity_detected"),
    (3, "inadequate_signal_detected"),
    (4, "poor_signal_detected"),
    (5, "low_perfusion_detected"),
    (6, "erratic_signal_detected"),
    (7, "nonpulsatile_signal_detected"),
    (8, "questionable_pulse_detected"),
    (9, "signal_analysis_ongoing"),
    (10, "sensor_interference_detected"),
    (11, "sensor_unconnected_to_user"),
    (12, "unknown_sensor_connected"),
    (13, "sensor_displaced"),
    (14, "sensor_malfunctioning"),
    (15, "sensor_disconnected"),
];

/// Measurement statuses under which no samples are produced: the device says the numbers are
/// missing, invalid, or not the wearer's.
pub const WITHHOLD: &[&str] =
    &["measurement_unavailable", "invalid_measurement_detected", "data_for_demonstration", "data_for_testing"];

/// One SpO2 and pulse rate pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpO2Pr {
    pub spo2: Float11073,
    pub pulse_rate: Float11073,
}

/// The fields of a PLX Spot-check Measurement as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlxSpotCheckDetail {
    pub flags: u8,
    pub spo2: Float11073,
    pub pulse_rate: Float11073,
    pub timestamp: Option<DateTime>,
    pub device_clock_not_set: bool,
    pub measurement_status: Option<StatusBits>,
    pub device_and_sensor_status: Option<StatusBits>,
    pub pulse_amplitude_index: Option<Float11073>,
    /// The measurement status that made us withhold the samples, if any.
    pub samples_withheld: Option<&'static str>,
    pub trailing_bytes: usize,
}

/// The fields of a PLX Continuous Measurement as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlxContinuousDetail {
    pub flags: u8,
    pub normal: SpO2Pr,
    pub fast: Option<SpO2Pr>,
    pub slow: Option<SpO2Pr>,
    pub measurement_status: Option<StatusBits>,
    pub device_and_sensor_status: Option<StatusBits>,
    pub pulse_amplitude_index: Option<Float11073>,
    pub samples_withheld: Option<&'static str>,
    pub trailing_bytes: usize,
}

fn pair(r: &mut Reader, spo2: &'static str, pr: &'static str) -> Result<SpO2Pr, DecodeError> {
    Ok(SpO2Pr { spo2: r.sfloat(spo2)?, pulse_rate: r.sfloat(pr)? })
}

fn measurement_status(r: &mut Reader) -> Result<StatusBits, DecodeError> {
    let raw = r.u16("measurement status")?;
    Ok(StatusBits::new(u32::from(raw), MEASUREMENT_STATUS_BITS))
}

fn device_status(r: &mut Reader) -> Result<StatusBits, DecodeError> {
    let raw = r.u24("device and sensor status")?;
    Ok(StatusBits::new(raw, DEVICE_SENSOR_STATUS_BITS))
}

fn withheld(status: Option<&StatusBits>) -> Option<&'static str> {
    let status = status?;
    WITHHOLD.iter().copied().find(|name| status.contains(name))
}

fn samples(values: SpO2Pr, withheld: Option<&str>) -> Vec<Sample> {
    if withheld.is_some() {
        return Vec::new();
    }
    [(Metric::Spo2, values.spo2), (Metric::HeartRate, values.pulse_rate)]
        .into_iter()
        .filter_map(|(metric, v)| v.value().map(|v| Sample::new(metric, v)))
        .collect()
}

pub(super) fn decode_spot_check(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::PlxSpotCheck, bytes);
    let flags = r.u8("flags")?;
    let values = pair(&mut r, "SpO2", "pulse rate")?;
    let timestamp = r.optional(flags & SPOT_TIME != 0, |r| r.date_time("time stamp"))?;
    let measurement_status = r.optional(flags & SPOT_STATUS != 0, measurement_status)?;
    let device_and_sensor_status = r.optional(flags & SPOT_DEVICE_STATUS != 0, device_status)?;
    let pulse_amplitude_index = r.optional(flags & SPOT_PULSE_AMPLITUDE != 0, |r| r.sfloat("pulse amplitude index"))?;
    let device_clock_not_set = flags & SPOT_CLOCK_NOT_SET != 0;
    let samples_withheld = withheld(measurement_status.as_ref());
    let device_time_ms = timestamp.filter(|_| !device_clock_not_set).and_then(DateTime::to_unix_ms);
    let detail = PlxSpotCheckDetail {
        flags,
        spo2: values.spo2,
        pulse_rate: values.pulse_rate,
        timestamp,
        device_clock_not_set,
        measurement_status,
        device_and_sensor_status,
        pulse_amplitude_index,
        samples_withheld,
        trailing_bytes: r.remaining(),
    };
    Ok(Decoded {
        characteristic: Characteristic::PlxSpotCheck,
        detail: Detail::PlxSpotCheck(detail),
        samples: samples(values, samples_withheld),
        device_time_ms,
    })
}

pub(super) fn decode_continuous(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::PlxContinuous, bytes);
    let flags = r.u8("flags")?;
    let normal = pair(&mut r, "SpO2PR-Normal SpO2", "SpO2PR-Normal pulse rate")?;
    let fast = r.optional(flags & CONT_FAST != 0, |r| pair(r, "SpO2PR-Fast SpO2", "SpO2PR-Fast pulse rate"))?;
    let slow = r.optional(flags & CONT_SLOW != 0, |r| pair(r, "SpO2PR-Slow SpO2", "SpO2PR-Slow pulse rate"))?;
    let measurement_status = r.optional(flags & CONT_STATUS != 0, measurement_status)?;
    let device_and_sensor_status = r.optional(flags & CONT_DEVICE_STATUS != 0, device_status)?;
    let pulse_amplitude_index = r.optional(flags & CONT_PULSE_AMPLITUDE != 0, |r| r.sfloat("pulse amplitude index"))?;
    let samples_withheld = withheld(measurement_status.as_ref());
    let detail = PlxContinuousDetail {
        flags,
        normal,
        fast,
        slow,
        measurement_status,
        device_and_sensor_status,
        pulse_amplitude_index,
        samples_withheld,
        trailing_bytes: r.remaining(),
    };
    Ok(Decoded {
        characteristic: Characteristic::PlxContinuous,
        detail: Detail::PlxContinuous(detail),
        samples: samples(normal, samples_withheld),
        device_time_ms: None,
    })
}

/// A PLX Spot-check Measurement: SpO2 (%) and pulse rate (/min) as SFLOATs, time stamp only
/// when given, no status fields.
pub fn encode_spot_check(spo2: f64, pulse: f64, time: Option<DateTime>) -> Vec<u8> {
    let flags = if time.is_some() { SPOT_TIME } else { 0 };
    let mut w = Writer::default();
    w.u8(flags).sfloat(spo2).sfloat(pulse).date_time(time);
    w.0
}

/// A PLX Continuous Measurement with only the SpO2PR-Normal pair.
pub fn encode_continuous(spo2: f64, pulse: f64) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(0x00).sfloat(spo2).sfloat(pulse);
    w.0
}
