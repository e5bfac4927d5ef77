//! Heart Rate Measurement, 0x2A37 (Heart Rate Service 1.0; GATT Specification Supplement).
//!
//! | field            | size    | present when | meaning                                  |
//! |------------------|---------|--------------|------------------------------------------|
//! | flags            | 1       | always       | see below                                |
//! | heart rate       | 1 or 2  | always       | uint8 or uint16 (flags bit 0), beats/min |
//! | energy expended  | 2       | bit 3        | uint16, kJ since last reset              |
//! | RR intervals     | 2 each  | bit 4        | uint16, 1/1024 s, as many as fit         |
//!
//! Flags: bit 0 value format (0 uint8, 1 uint16); bits 1–2 sensor contact (0b0x not supported,
//! 0b10 supported but not detected, 0b11 detected); bit 3 energy expended; bit 4 RR intervals;
//! bits 5–7 reserved.
//!
//! Samples: the heart rate (even 0, which many straps send without skin contact), then one
//! RR interval sample in milliseconds per interval, oldest first.

use eldercare_schema::Metric;
use serde::Serialize;

use super::reader::{Reader, Writer};
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

const VALUE_U16: u8 = 0x01;
const CONTACT_DETECTED: u8 = 0x02;
const CONTACT_SUPPORTED: u8 = 0x04;
const ENERGY_PRESENT: u8 = 0x08;
const RR_PRESENT: u8 = 0x10;

/// The fields of a Heart Rate Measurement as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeartRateDetail {
    pub flags: u8,
    /// `"uint8"` or `"uint16"`.
    pub value_format: &'static str,
    pub heart_rate_bpm: u16,
    pub sensor_contact: SensorContact,
    pub energy_expended_kj: Option<u16>,
    /// RR intervals as sent, in units of 1/1024 s.
    pub rr_intervals_1024ths: Vec<u16>,
    pub trailing_bytes: usize,
}

/// Flags bits 1–2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorContact {
    NotSupported,
    NotDetected,
    Detected,
}

/// One RR interval in 1/1024 s as milliseconds.
fn rr_to_ms(units: u16) -> f64 {
    f64::from(units) * 1000.0 / 1024.0
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::HeartRateMeasurement, bytes);
    let flags = r.u8("flags")?;
    let wide = flags & VALUE_U16 != 0;
    let heart_rate_bpm = if wide { r.u16("heart rate")? } else { u16::from(r.u8("heart rate")?) };
    let energy_expended_kj = r.optional(flags & ENERGY_PRESENT != 0, |r| r.u16("energy expended"))?;
    let mut rr_intervals_1024ths = Vec::new();
    if flags & RR_PRESENT != 0 {
        while r.remaining() > 0 {
            rr_intervals_1024ths.push(r.u16("RR interval")?);
        }
    }
    let sensor_contact = match (flags & CONTACT_SUPPORTED != 0, flags & CONTACT_DETECTED != 0) {
        (false, _) => SensorContact::NotSupported,
        (true, false) => SensorContact::NotDetected,
        (true, true) => SensorContact::Detected,
    };

    let mut samples = vec![Sample::new(Metric::HeartRate, f64::from(heart_rate_bpm))];
    samples.extend(rr_intervals_1024ths.iter().map(|&rr| Sample::new(Metric::RrInterval, rr_to_ms(rr))));
    let detail = HeartRateDetail {
        flags,
        value_format: if wide { "uint16" } else { "uint8" },
        heart_rate_bpm,
        sensor_contact,
        energy_expended_kj,
        rr_intervals_1024ths,
        trailing_bytes: r.remaining(),
    };
    Ok(Decoded {
        characteristic: Characteristic::HeartRateMeasurement,
        detail: Detail::HeartRate(detail),
        samples,
        device_time_ms: None,
    })
}

/// A Heart Rate Measurement: `bpm` as uint8 when it fits, else uint16; `contact` `None` for a
/// sensor without contact detection; `energy_kj` if given; then `rr_ms` in order, each rounded
/// to 1/1024 s and clamped to 0..=65535 units (64 s).
///
/// Nothing is dropped to fit: with the default ATT MTU a notification holds 20 bytes, i.e. at
/// most 9 RR intervals (8 with a uint16 value, 7 with energy too); pass no more than that to
/// imitate a device on a default-MTU link.
pub fn encode(bpm: u16, rr_ms: &[f64], contact: Option<bool>, energy_kj: Option<u16>) -> Vec<u8> {
    let mut flags = 0;
    if bpm > u16::from(u8::MAX) {
        flags |= VALUE_U16;
    }
    match contact {
        None => {}
        Some(false) => flags |= CONTACT_SUPPORTED,
        Some(true) => flags |= CONTACT_SUPPORTED | CONTACT_DETECTED,
    }
    if energy_kj.is_some() {
        flags |= ENERGY_PRESENT;
    }
    if !rr_ms.is_empty() {
        flags |= RR_PRESENT;
    }
    let mut w = Writer::default();
    w.u8(flags);
    match u8::try_from(bpm) {
        Ok(narrow) => w.u8(narrow),
        Err(_) => w.u16(bpm),
    };
    if let Some(kj) = energy_kj {
        w.u16(kj);
    }
    for &ms in rr_ms {
        // `as` saturates (and maps NaN to 0): the documented clamp.
        w.u16((ms * 1024.0 / 1000.0).round() as u16);
    }
    w.0
}
