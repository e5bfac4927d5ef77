//! From a characteristic's bytes to outbox readings: the one path shared by real Bluetooth and
//! the simulator.

use eldercare_schema::{Metric, TimeSource};

use crate::gatt::{self, Characteristic, DecodeError};
use crate::outbox::NewReading;
use crate::uplink::DeviceBoard;

/// Device clocks further than this from the gateway's are not trusted (a cuff that was never set
/// reports 2000-01-01); the gateway's time is used instead.
const MAX_CLOCK_SKEW_MS: i64 = 7 * 24 * 3600 * 1000;

/// Decodes one notification into readings stamped with the device's time when it sent a
/// plausible one, the gateway's time otherwise.
pub fn readings_from_packet(
    device_id: &str,
    characteristic: Characteristic,
    bytes: &[u8],
    received_ms: i64,
) -> Result<Vec<NewReading>, DecodeError> {
    let decoded = gatt::decode(characteristic, bytes)?;
    let (time_ms, time_source) = match decoded.device_time_ms {
        Some(t) if (t - received_ms).abs() <= MAX_CLOCK_SKEW_MS => (t, TimeSource::Device),
        _ => (received_ms, TimeSource::Gateway),
    };
    Ok(decoded
        .samples
        .into_iter()
        .map(|s| NewReading { device_id: device_id.to_owned(), metric: s.metric, value: s.value, time_ms, time_source })
        .collect())
}

/// The outbox mark (see [`crate::outbox::Outbox::push_with_marks`]) holding the last glucose
/// record sequence number in the outbox for a device: the gateway asks the meter for the records
/// after it (Record Access Control Point), so a reconnect does not fetch everything again.
pub fn glucose_mark(device_id: &str) -> String {
    format!("glucose_seq/{device_id}")
}

/// The prefix of the outbox marks recording which stored pulse oximeter records of a device were
/// already forwarded: one mark per distinct record, `plx_record/<device>/<record bytes in hex>`,
/// valued with how many records with exactly those bytes the device held that were forwarded
/// (see `ble::records` for why records are recognised by their bytes).
pub fn plx_record_prefix(device_id: &str) -> String {
    format!("plx_record/{device_id}/")
}

/// The mark of one pulse oximeter record (see [`plx_record_prefix`]).
pub fn plx_record_mark(device_id: &str, record: &[u8]) -> String {
    format!("{}{}", plx_record_prefix(device_id), hex::encode(record))
}

/// The record bytes a [`plx_record_mark`] key names, if it is one under `prefix`.
pub fn plx_record_of_mark(prefix: &str, key: &str) -> Option<Vec<u8>> {
    hex::decode(key.strip_prefix(prefix)?).ok()
}

/// Notes that a device was heard from (and its battery level, if this was one).
pub fn note_seen(board: &DeviceBoard, device_id: &str, readings: &[NewReading], at_ms: i64) {
    let Ok(mut board) = board.lock() else { return };
    let entry = board.entry(device_id.to_owned()).or_insert_with(|| eldercare_schema::payload::DeviceStatus {
        device_id: device_id.to_owned(),
        last_seen_ms: None,
        rssi: None,
        battery: None,
    });
    entry.last_seen_ms = Some(at_ms);
    if let Some(b) = readings.iter().find(|r| r.metric == Metric::Battery) {
        entry.battery = Some(b.value.clamp(0.0, 100.0) as u8);
    }
}

/// Notes that a device was heard on the radio (an advertisement or a connection), with its
/// signal strength when known.
pub fn note_radio(board: &DeviceBoard, device_id: &str, rssi: Option<i16>, at_ms: i64) {
    let Ok(mut board) = board.lock() else { return };
    let entry = board.entry(device_id.to_owned()).or_insert_with(|| eldercare_schema::payload::DeviceStatus {
        device_id: device_id.to_owned(),
        last_seen_ms: None,
        rssi: None,
        battery: None,
    });
    entry.last_seen_ms = Some(entry.last_seen_ms.map_or(at_ms, |t| t.max(at_ms)));
    if rssi.is_some() {
        entry.rssi = rssi;
    }
}
