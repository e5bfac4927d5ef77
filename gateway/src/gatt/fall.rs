//! # Eldercare Fall Service, version 1
//!
//! A small custom GATT service for fall detectors and help pendants. There is no Bluetooth SIG
//! profile for falls; any device maker may implement this one.
//!
//! | item                        | UUID                                   | properties |
//! |-----------------------------|----------------------------------------|------------|
//! | Fall service (primary)      | `4e0f0001-8c3a-4b8e-9f1d-6c2e5a7b9d10` |            |
//! | Fall Event characteristic   | `4e0f0002-8c3a-4b8e-9f1d-6c2e5a7b9d10` | indicate   |
//!
//! The device sends one indication per event. Indications are acknowledged by the gateway, so
//! the device knows the event arrived; until then (or while disconnected) it should keep the
//! event and send it again on reconnection, with its original time stamp.
//!
//! ## Fall Event value (little-endian)
//!
//! | offset | size | field      | present when | meaning                                   |
//! |--------|------|------------|--------------|-------------------------------------------|
//! | 0      | 1    | flags      | always       | bit 0: time stamp present; bit 1: confidence present; bits 2–7 reserved |
//! | 1      | 1    | event type | always       | 0x01 fall detected, 0x02 fall cancelled by the wearer, 0x03 help button pressed; other values reserved |
//! | 2      | 7    | time stamp | bit 0        | Bluetooth Date Time (0x2A08), UTC, when the event happened |
//! | 2 or 9 | 1    | confidence | bit 1        | uint8, the detector's confidence in a fall, percent (0–100) |
//!
//! Rules:
//!
//! - Senders set reserved flag bits to 0. Receivers ignore reserved flag bits and any bytes
//!   after the fields they know, so a later version may append fields without older gateways
//!   losing the event.
//! - Receivers reject an event type they do not know (an alarm of unknown meaning is reported
//!   as an error, not guessed at).
//! - Send the time stamp whenever the device's clock has been set (for instance through the
//!   Current Time Service); otherwise leave it out, or send year, month or day as 0 (unknown).
//!   The gateway then uses the time of receipt.
//! - "Fall cancelled" means the wearer pressed "I'm fine" after a detected fall; it refers to
//!   the most recent fall detected.
//!
//! Examples: `00 01` fall detected, no time; `03 01 e8 07 03 0f 08 1e 00 5a` fall detected on
//! 2024-03-15 at 08:30:00 UTC with 90 % confidence; `00 03` help button.
//!
//! ## Samples
//!
//! Fall detected → `Fall` = 1; fall cancelled → `Fall` = 0; help button → `HelpButton` = 1.

use eldercare_schema::Metric;
use serde::Serialize;

use super::datetime::DateTime;
use super::reader::{Reader, Writer};
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

const TIME_PRESENT: u8 = 0x01;
const CONFIDENCE_PRESENT: u8 = 0x02;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallEventKind {
    /// 0x01: the detector saw a fall.
    FallDetected,
    /// 0x02: the wearer cancelled the alarm ("I'm fine").
    FallCancelled,
    /// 0x03: the wearer pressed the help button.
    HelpButton,
}

impl FallEventKind {
    /// The event type byte.
    pub fn code(self) -> u8 {
        match self {
            FallEventKind::FallDetected => 0x01,
            FallEventKind::FallCancelled => 0x02,
            FallEventKind::HelpButton => 0x03,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0x01 => Some(FallEventKind::FallDetected),
            0x02 => Some(FallEventKind::FallCancelled),
            0x03 => Some(FallEventKind::HelpButton),
            _ => None,
        }
    }

    /// The canonical sample this event becomes.
    pub fn sample(self) -> Sample {
        match self {
            FallEventKind::FallDetected => Sample::new(Metric::Fall, 1.0),
            FallEventKind::FallCancelled => Sample::new(Metric::Fall, 0.0),
            FallEventKind::HelpButton => Sample::new(Metric::HelpButton, 1.0),
        }
    }
}

/// The fields of a Fall Event as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FallDetail {
    pub flags: u8,
    pub event: FallEventKind,
    pub timestamp: Option<DateTime>,
    /// Percent; values above 100 are reserved and passed through as sent.
    pub confidence_percent: Option<u8>,
    pub trailing_bytes: usize,
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::FallEvent, bytes);
    let flags = r.u8("flags")?;
    let code = r.u8("event type")?;
    let event = FallEventKind::from_code(code).ok_or(DecodeError::InvalidValue {
        characteristic: Characteristic::FallEvent,
        field: "event type",
        value: u32::from(code),
        expected: "0x01 fall detected, 0x02 fall cancelled, 0x03 help button",
    })?;
    let timestamp = r.optional(flags & TIME_PRESENT != 0, |r| r.date_time("time stamp"))?;
    let confidence_percent = r.optional(flags & CONFIDENCE_PRESENT != 0, |r| r.u8("confidence"))?;
    let detail = FallDetail { flags, event, timestamp, confidence_percent, trailing_bytes: r.remaining() };
    Ok(Decoded {
        characteristic: Characteristic::FallEvent,
        detail: Detail::Fall(detail),
        samples: vec![event.sample()],
        device_time_ms: timestamp.and_then(DateTime::to_unix_ms),
    })
}

/// A Fall Event, time stamp only when given, no confidence.
pub fn encode(event: FallEventKind, time: Option<DateTime>) -> Vec<u8> {
    let flags = if time.is_some() { TIME_PRESENT } else { 0 };
    let mut w = Writer::default();
    w.u8(flags).u8(event.code()).date_time(time);
    w.0
}
