//! Glucose Measurement, 0x2A18 (Glucose Service 1.0; GATT Specification Supplement).
//!
//! | field                   | size | present when | meaning                                |
//! |-------------------------|------|--------------|----------------------------------------|
//! | flags                   | 1    | always       | see below                              |
//! | sequence number         | 2    | always       | uint16, the record's number            |
//! | base time               | 7    | always       | Date Time                              |
//! | time offset             | 2    | bit 0        | sint16 minutes, added to base time     |
//! | concentration           | 2    | bit 1        | SFLOAT, kg/L or mol/L (bit 2)          |
//! | type and location       | 1    | bit 1        | low nibble type, high nibble location  |
//! | sensor status           | 2    | bit 3        | see [`SENSOR_STATUS_BITS`]             |
//!
//! Flags: bit 2 unit (0 kg/L, 1 mol/L); bit 4 "context information follows" (a Glucose
//! Measurement Context 0x2A34 with the same sequence number comes next); bits 5–7 reserved.
//!
//! Conversion to mmol/L: kg/L × 100 000 = mg/dL, ÷ 18.0182; mol/L × 1000. A control-solution
//! test (type 10 or location 4) is a check of the meter, not of the wearer: no sample.

use eldercare_schema::Metric;
use serde::Serialize;

use super::datetime::DateTime;
use super::fields::{Coded, StatusBits};
use super::reader::{Reader, Writer};
use super::sfloat::Float11073;
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

const TIME_OFFSET_PRESENT: u8 = 0x01;
const CONCENTRATION_PRESENT: u8 = 0x02;
const UNIT_MOL_PER_L: u8 = 0x04;
const STATUS_PRESENT: u8 = 0x08;
const CONTEXT_FOLLOWS: u8 = 0x10;

const MG_PER_DL_PER_MMOL_PER_L: f64 = 18.0182;

/// Type codes (low nibble); 0 and 11–15 reserved.
pub const TYPES: &[&str] = &[
    "",
    "capillary_whole_blood",
    "capillary_plasma",
    "venous_whole_blood",
    "venous_plasma",
    "arterial_whole_blood",
    "arterial_plasma",
    "undetermined_whole_blood",
    "undetermined_plasma",
    "interstitial_fluid",
    "control_solution",
];
const TYPE_CONTROL_SOLUTION: u8 = 10;

/// Sample location codes (high nibble); 0 and 5–14 reserved.
pub const LOCATIONS: &[&str] = &[
    "",
    "finger",
    "alternate_site_test",
    "earlobe",
    "control_solution",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
    "not_available",
];
const LOCATION_CONTROL_SOLUTION: u8 = 4;

/// Sensor Status Annunciation bits (12–15 reserved).
pub const SENSOR_STATUS_BITS: &[(u32, &str)] = &[
    (0, "device_battery_low"),
    (1, "sensor_malfunction"),
    (2, "sample_size_insufficient"),
    (3, "strip_insertion_error"),
    (4, "strip_type_incorrect"),
    (5, "result_higher_than_device_can_process"),
    (6, "result_lower_than_device_can_process"),
    (7, "sensor_temperature_too_high"),
    (8, "sensor_temperature_too_low"),
    (9, "sensor_read_interrupted"),
    (10, "general_device_fault"),
    (11, "time_fault"),
];

/// The fields of a Glucose Measurement as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlucoseDetail {
    pub flags: u8,
    pub sequence_number: u16,
    pub base_time: DateTime,
    pub time_offset_minutes: Option<i16>,
    pub concentration: Option<Float11073>,
    /// `"kg/L"` or `"mol/L"`, when a concentration is present.
    pub unit: Option<&'static str>,
    #[serde(rename = "type")]
    pub fluid_type: Option<Coded>,
    pub sample_location: Option<Coded>,
    pub sensor_status: Option<StatusBits>,
    pub context_information_follows: bool,
    /// Why no sample was produced from a valid concentration, if so.
    pub samples_withheld: Option<&'static str>,
    pub trailing_bytes: usize,
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::GlucoseMeasurement, bytes);
    let flags = r.u8("flags")?;
    let sequence_number = r.u16("sequence number")?;
    let base_time = r.date_time("base time")?;
    let time_offset_minutes = r.optional(flags & TIME_OFFSET_PRESENT != 0, |r| r.i16("time offset"))?;
    let measured = r.optional(flags & CONCENTRATION_PRESENT != 0, |r| {
        Ok((r.sfloat("glucose concentration")?, r.u8("type and sample location")?))
    })?;
    let sensor_status = r.optional(flags & STATUS_PRESENT != 0, |r| {
        let raw = r.u16("sensor status annunciation")?;
        Ok(StatusBits::new(u32::from(raw), SENSOR_STATUS_BITS))
    })?;

    let mol = flags & UNIT_MOL_PER_L != 0;
    let (fluid_type, location) = match measured {
        Some((_, type_location)) => (Some(type_location & 0x0F), Some(type_location >> 4)),
        None => (None, None),
    };
    let control_solution = fluid_type == Some(TYPE_CONTROL_SOLUTION) || location == Some(LOCATION_CONTROL_SOLUTION);
    let concentration = measured.map(|(c, _)| c);
    let mmol = concentration
        .and_then(Float11073::value)
        .map(|v| if mol { v * 1000.0 } else { v * 100_000.0 / MG_PER_DL_PER_MMOL_PER_L });
    let samples_withheld = (mmol.is_some() && control_solution).then_some("control_solution");
    let samples = match (mmol, samples_withheld) {
        (Some(v), None) => vec![Sample::new(Metric::Glucose, v)],
        _ => Vec::new(),
    };
    let device_time_ms = base_time.to_unix_ms().map(|t| t + i64::from(time_offset_minutes.unwrap_or(0)) * 60_000);
    let detail = GlucoseDetail {
        flags,
        sequence_number,
        base_time,
        time_offset_minutes,
        concentration,
        unit: concentration.map(|_| if mol { "mol/L" } else { "kg/L" }),
        fluid_type: fluid_type.map(|code| Coded::from_table(code, TYPES)),
        sample_location: location.map(|code| Coded::from_table(code, LOCATIONS)),
        sensor_status,
        context_information_follows: flags & CONTEXT_FOLLOWS != 0,
        samples_withheld,
        trailing_bytes: r.remaining(),
    };
    Ok(Decoded {
        characteristic: Characteristic::GlucoseMeasurement,
        detail: Detail::Glucose(detail),
        samples,
        device_time_ms,
    })
}

/// The sequence number of a Glucose Measurement, if the bytes decode as one.
pub fn glucose_sequence_number(bytes: &[u8]) -> Option<u16> {
    match decode(bytes).ok()?.detail {
        Detail::Glucose(g) => Some(g.sequence_number),
        _ => None,
    }
}

/// A Glucose Measurement of a capillary plasma sample from a finger (type-location 0x12), in
/// mol/L as meters set to mmol/L send it (5.5 mmol/L → `55e-4` mol/L); no time offset, no
/// sensor status, no context.
pub fn encode_mmol(sequence: u16, base_time: DateTime, mmol_per_l: f64) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(CONCENTRATION_PRESENT | UNIT_MOL_PER_L)
        .u16(sequence)
        .date_time(Some(base_time))
        .sfloat(mmol_per_l / 1000.0)
        .u8(0x12);
    w.0
}
