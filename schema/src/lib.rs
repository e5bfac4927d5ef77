//! The contract between eldercare's parts.
//!
//! * [`metric`]: the metric catalogue (units in UCUM, LOINC codes, plausible ranges).
//! * [`topic`]: the MQTT topic tree `eldercare/v1/...`, keyed by gateway id.
//! * [`payload`]: the JSON payloads carried on those topics, versioned, with a size limit.
//!   JSON Schema files generated from these types live in `schema/json/`.
//! * [`api`]: request and response types of the HTTP API shared by server and clients.
//!
//! This crate is deliberately light: the gateway, which runs on a small ARM box, depends on it.

pub mod api;
pub mod metric;
pub mod payload;
pub mod topic;

pub use metric::{Metric, MetricKind};
pub use payload::{
    Ack, BoundDevice, GatewayBinding, GatewayState, GatewayStatus, PayloadError, Reading, ReadingsBatch, Rejected,
    TimeSource,
};
