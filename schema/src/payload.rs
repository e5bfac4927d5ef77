//! JSON payloads on the MQTT topics. Every payload carries `v`, the payload version; unknown
//! fields are ignored, so a newer gateway can add fields without breaking an older server.
//!
//! Delivery contract (see `DESIGN.md`, promise 1): a gateway keeps every reading in a durable
//! outbox until an [`Ack`] lists its `seq`; the server publishes that ack only after the database
//! commit. `seq` is unique per gateway and never reused (our gateway starts its counter at the
//! outbox's creation time in microseconds, so even a reinstalled gateway does not collide).
//! Resending is always safe: the server stores each `(gateway_id, device_id, seq)` once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::metric::Metric;

/// The payload version this crate speaks.
pub const PAYLOAD_VERSION: u32 = 1;
/// The largest payload the server accepts on any topic, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// The most readings one batch may carry.
pub const MAX_READINGS_PER_BATCH: usize = 1000;
/// The longest device id accepted.
pub const MAX_DEVICE_ID_LEN: usize = 64;

/// Where a reading's timestamp came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The device stamped the measurement itself.
    Device,
    /// The gateway stamped it on receipt (the device sent no usable time).
    #[default]
    Gateway,
}

/// One measured value or event from one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reading {
    /// Sequence number, unique per gateway, assigned by the gateway's outbox.
    pub seq: u64,
    /// The device's id as registered on the server (for BLE devices, the address, e.g. `C4:7C:8D:6A:11:02`).
    pub device_id: String,
    pub metric: Metric,
    /// The value in the metric's canonical unit (see the catalogue).
    pub value: f64,
    /// When it was measured: milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    #[serde(default)]
    pub time_source: TimeSource,
}

/// A batch of readings, published on `eldercare/v1/gw/<gateway_id>/readings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReadingsBatch {
    /// Payload version, currently 1.
    pub v: u32,
    /// Must equal the gateway id in the topic.
    pub gateway_id: String,
    /// Chosen by the gateway; echoed in the ack.
    pub batch_id: u64,
    /// When the gateway sent the batch, milliseconds since the Unix epoch.
    pub sent_ms: i64,
    /// At most 1000 readings.
    pub readings: Vec<Reading>,
}

/// A reading the server will never store, and why. It is kept in the server's dead-letter table,
/// so the gateway may forget it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rejected {
    pub seq: u64,
    pub reason: String,
}

/// The server's acknowledgement, on `eldercare/v1/gw/<gateway_id>/ack`, published after the
/// database commit. Every `seq` listed in `seqs` is durable on the server (stored, already stored,
/// or dead-lettered with a reason) and may be deleted from the gateway's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Ack {
    pub v: u32,
    pub batch_id: u64,
    /// Every sequence number of the batch that is now durable on the server.
    pub seqs: Vec<u64>,
    /// Those of `seqs` that were dead-lettered instead of stored, with the reason.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GatewayState {
    Online,
    Offline,
}

/// What the gateway knows of one of its devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceStatus {
    pub device_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery: Option<u8>,
}

/// Gateway health, published retained on `eldercare/v1/gw/<gateway_id>/status`; the gateway's
/// MQTT last will is the same message with `state: offline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GatewayStatus {
    pub v: u32,
    pub gateway_id: String,
    pub state: GatewayState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// Readings waiting in the outbox for an acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_depth: Option<u64>,
    /// Readings dropped from a full outbox since it was created (should stay 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_evicted: Option<u64>,
    /// Whether the gateway's clock is synchronised (NTP); unknown when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_synced: Option<bool>,
    #[serde(default)]
    pub devices: Vec<DeviceStatus>,
}

/// One device of a household, as the server has it registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BoundDevice {
    /// The device's id on the server; readings carry it.
    pub device_id: String,
    /// Its Bluetooth address (`C4:7C:8D:6A:11:02`) when the server knows it: a device id that
    /// is an address. Absent: the gateway finds the address in its own configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What it is, e.g. `pulse_oximeter`, `glucose_meter` (the gateway's device kinds).
    pub kind: String,
    /// The resident who wears it.
    pub resident_id: i64,
}

/// The household's devices, published retained by the server on
/// `eldercare/v1/gw/<gateway_id>/binding` at start-up and whenever they change. The gateway
/// connects exactly these (its allowlist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GatewayBinding {
    pub v: u32,
    pub gateway_id: String,
    /// When the server built it, milliseconds since the Unix epoch.
    pub updated_ms: i64,
    pub devices: Vec<BoundDevice>,
}

impl GatewayBinding {
    /// Decodes and checks a binding received on the binding topic of `topic_gateway_id`.
    pub fn parse(bytes: &[u8], topic_gateway_id: &str) -> Result<Self, PayloadError> {
        let binding: GatewayBinding = decode(bytes)?;
        if binding.gateway_id != topic_gateway_id {
            return Err(PayloadError::GatewayMismatch {
                in_topic: topic_gateway_id.to_owned(),
                in_payload: binding.gateway_id,
            });
        }
        Ok(binding)
    }
}

/// Why a payload was refused as a whole.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("payload of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("payload is not valid JSON for this message: {0}")]
    Malformed(String),
    #[error("payload version {found} is not supported (this server speaks version {supported})")]
    UnsupportedVersion { found: u64, supported: u32 },
    #[error("payload is missing the version field `v`")]
    MissingVersion,
    #[error("gateway id {in_payload:?} in the payload does not match {in_topic:?} in the topic")]
    GatewayMismatch { in_topic: String, in_payload: String },
    #[error("batch carries {count} readings, more than the limit of {limit}")]
    TooManyReadings { count: usize, limit: usize },
}

/// Checks size and version before decoding the body, so that a wrong version gets a clear reason
/// rather than a confusing field error.
fn check_envelope(bytes: &[u8]) -> Result<(), PayloadError> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge { size: bytes.len(), limit: MAX_PAYLOAD_BYTES });
    }
    #[derive(Deserialize)]
    struct Envelope {
        v: Option<serde_json::Value>,
    }
    let env: Envelope = serde_json::from_slice(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    match env.v {
        None => Err(PayloadError::MissingVersion),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(PAYLOAD_VERSION as u64) => Ok(()),
        Some(serde_json::Value::Number(n)) => {
            Err(PayloadError::UnsupportedVersion { found: n.as_u64().unwrap_or(u64::MAX), supported: PAYLOAD_VERSION })
        }
        Some(_) => Err(PayloadError::Malformed("`v` must be a number".into())),
    }
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, PayloadError> {
    check_envelope(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| PayloadError::Malformed(e.to_string()))
}

impl ReadingsBatch {
    /// Decodes and checks a batch received on the readings topic of `topic_gateway_id`.
    /// Per-reading checks (known device, plausible value) are the server's job.
    pub fn parse(bytes: &[u8], topic_gateway_id: &str) -> Result<Self, PayloadError> {
        let batch: ReadingsBatch = decode(bytes)?;
        if batch.gateway_id != topic_gateway_id {
            return Err(PayloadError::GatewayMismatch {
                in_topic: topic_gateway_id.to_owned(),
                in_payload: batch.gateway_id,
            });
        }
        if batch.readings.len() > MAX_READINGS_PER_BATCH {
            return Err(PayloadError::TooManyReadings { count: batch.readings.len(), limit: MAX_READINGS_PER_BATCH });
        }
        Ok(batch)
    }
}

impl Ack {
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        decode(bytes)
    }
}

impl GatewayStatus {
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        decode(bytes)
    }

    /// The last-will message: offline, nothing else known.
    pub fn offline(gateway_id: &str) -> Self {
        GatewayStatus {
            v: PAYLOAD_VERSION,
            gateway_id: gateway_id.to_owned(),
            state: GatewayState::Offline,
            version: None,
            started_ms: None,
            outbox_depth: None,
            outbox_evicted: None,
            clock_synced: None,
            devices: Vec::new(),
        }
    }
}

/// The JSON Schema documents published in `schema/json/`, by file name.
pub fn json_schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn doc<T: JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).expect("schema serialises")
    }
    vec![
        ("readings-batch.v1.schema.json", doc::<ReadingsBatch>()),
        ("ack.v1.schema.json", doc::<Ack>()),
        ("gateway-status.v1.schema.json", doc::<GatewayStatus>()),
        ("gateway-binding.v1.schema.json", doc::<GatewayBinding>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ReadingsBatch {
        ReadingsBatch {
            v: 1,
            gateway_id: "gw-1".into(),
            batch_id: 7,
            sent_ms: 1_780_000_000_000,
            readings: vec![Reading {
                seq: 42,
                device_id: "C4:7C:8D:6A:11:02".into(),
                metric: Metric::Spo2,
                value: 96.0,
                time_ms: 1_780_000_000_000,
                time_source: TimeSource::Device,
            }],
        }
    }

    #[test]
    fn round_trip() {
        let b = sample();
        let bytes = serde_json::to_vec(&b).unwrap();
        assert_eq!(ReadingsBatch::parse(&bytes, "gw-1").unwrap(), b);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v["firmware"] = "x".into();
        v["readings"][0]["quality"] = 3.into();
        let parsed = ReadingsBatch::parse(&serde_json::to_vec(&v).unwrap(), "gw-1").unwrap();
        assert_eq!(parsed.readings[0].seq, 42);
    }

    #[test]
    fn refusals_name_the_reason() {
        assert!(matches!(ReadingsBatch::parse(b"{not json", "gw-1"), Err(PayloadError::Malformed(_))));
        assert_eq!(ReadingsBatch::parse(b"{}", "gw-1"), Err(PayloadError::MissingVersion));
        let mut v = serde_json::to_value(sample()).unwrap();
        v["v"] = 2.into();
        assert_eq!(
            ReadingsBatch::parse(&serde_json::to_vec(&v).unwrap(), "gw-1"),
            Err(PayloadError::UnsupportedVersion { found: 2, supported: 1 })
        );
        let bytes = serde_json::to_vec(&sample()).unwrap();
        assert!(matches!(ReadingsBatch::parse(&bytes, "gw-2"), Err(PayloadError::GatewayMismatch { .. })));
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert!(matches!(ReadingsBatch::parse(&big, "gw-1"), Err(PayloadError::TooLarge { .. })));
        let mut v = serde_json::to_value(sample()).unwrap();
        v["readings"][0]["metric"] = "pulse".into();
        let err = ReadingsBatch::parse(&serde_json::to_vec(&v).unwrap(), "gw-1").unwrap_err();
        assert!(err.to_string().contains("pulse"), "{err}");
    }

    #[test]
    fn binding_round_trip_and_checks() {
        let b = GatewayBinding {
            v: 1,
            gateway_id: "gw-1".into(),
            updated_ms: 1_780_000_000_000,
            devices: vec![BoundDevice {
                device_id: "C4:7C:8D:6A:11:02".into(),
                address: Some("C4:7C:8D:6A:11:02".into()),
                kind: "pulse_oximeter".into(),
                resident_id: 7,
            }],
        };
        let bytes = serde_json::to_vec(&b).unwrap();
        assert_eq!(GatewayBinding::parse(&bytes, "gw-1").unwrap(), b);
        assert!(matches!(GatewayBinding::parse(&bytes, "gw-2"), Err(PayloadError::GatewayMismatch { .. })));
        let no_address = br#"{"v":1,"gateway_id":"gw-1","updated_ms":1,"devices":[{"device_id":"ox-1","kind":"x","resident_id":1}]}"#;
        assert_eq!(GatewayBinding::parse(no_address, "gw-1").unwrap().devices[0].address, None);
    }

    #[test]
    fn too_many_readings() {
        let mut b = sample();
        b.readings = (0..=MAX_READINGS_PER_BATCH as u64).map(|seq| Reading { seq, ..b.readings[0].clone() }).collect();
        let bytes = serde_json::to_vec(&b).unwrap();
        assert!(bytes.len() < MAX_PAYLOAD_BYTES);
        assert!(matches!(ReadingsBatch::parse(&bytes, "gw-1"), Err(PayloadError::TooManyReadings { .. })));
    }

    /// The committed JSON Schema files are generated from these types; regenerate with
    /// `UPDATE_SCHEMAS=1 cargo test -p eldercare-schema`.
    #[test]
    fn committed_json_schemas_match_the_types() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("json");
        for (name, doc) in json_schemas() {
            let path = dir.join(name);
            let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
            if std::env::var_os("UPDATE_SCHEMAS").is_some() {
                std::fs::write(&path, &text).unwrap();
            }
            let committed = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_SCHEMAS=1", path.display()));
            assert_eq!(committed, text, "{name} is stale; run with UPDATE_SCHEMAS=1");
        }
    }
}
