//! Battery Level, 0x2A19 (Battery Service 1.0): one uint8, the charge in percent (0–100; the
//! specification prohibits 101–255, which we still pass on for the server to refuse).

use eldercare_schema::Metric;
use serde::Serialize;

use super::reader::Reader;
use super::{Characteristic, DecodeError, Decoded, Detail, Sample};

/// The field of a Battery Level as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatteryDetail {
    pub level_percent: u8,
    pub trailing_bytes: usize,
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut r = Reader::new(Characteristic::BatteryLevel, bytes);
    let level_percent = r.u8("battery level")?;
    Ok(Decoded {
        characteristic: Characteristic::BatteryLevel,
        detail: Detail::Battery(BatteryDetail { level_percent, trailing_bytes: r.remaining() }),
        samples: vec![Sample::new(Metric::Battery, f64::from(level_percent))],
        device_time_ms: None,
    })
}

/// A Battery Level; values above 100 are sent as 100, as a real device cannot report more.
pub fn encode(percent: u8) -> Vec<u8> {
    vec![percent.min(100)]
}
