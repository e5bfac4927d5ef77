//! Per-reading checks of a parsed batch: each reading is accepted or refused with a reason.

use std::collections::HashMap;

use eldercare_schema::payload::MAX_DEVICE_ID_LEN;
use eldercare_schema::{ReadingsBatch, Rejected};
use eldercare_store::{DeadLetter, NewReading};

/// Readings stamped before this (2000-01-01) come from a device whose clock was never set.
const EARLIEST_MS: i64 = 946_684_800_000;
/// Readings more than this far in the future are refused.
const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;

pub struct Split {
    pub accepted: Vec<NewReading>,
    pub dead: Vec<DeadLetter>,
    pub rejected: Vec<Rejected>,
}

/// Splits a batch into storable readings and refusals. `devices` maps the device ids bound to
/// this gateway to their resident.
pub fn split(topic: &str, batch: &ReadingsBatch, devices: &HashMap<String, i64>, now_ms: i64) -> Split {
    let mut out = Split { accepted: Vec::with_capacity(batch.readings.len()), dead: Vec::new(), rejected: Vec::new() };
    for r in &batch.readings {
        let refuse = |reason: String| {
            let payload = serde_json::to_vec(r).unwrap_or_default();
            let seq = i64::try_from(r.seq).ok();
            (
                DeadLetter {
                    topic: topic.to_owned(),
                    gateway_id: Some(batch.gateway_id.clone()),
                    device_id: Some(r.device_id.chars().take(MAX_DEVICE_ID_LEN).collect()),
                    seq,
                    reason: reason.clone(),
                    payload,
                },
                Rejected { seq: r.seq, reason },
            )
        };
        let problem = if i64::try_from(r.seq).is_err() {
            Some(format!("seq {} is larger than {}", r.seq, i64::MAX))
        } else if r.device_id.is_empty() || r.device_id.len() > MAX_DEVICE_ID_LEN {
            Some(format!("device id must be 1 to {MAX_DEVICE_ID_LEN} characters"))
        } else if !devices.contains_key(&r.device_id) {
            Some(format!("device {:?} is not registered to gateway {:?}", r.device_id, batch.gateway_id))
        } else if !r.metric.is_plausible(r.value) {
            let info = r.metric.info();
            Some(format!("{} value outside the plausible range {}..={} {}", r.metric, info.min, info.max, info.ucum))
        } else if r.time_ms < EARLIEST_MS || r.time_ms > now_ms + MAX_FUTURE_MS {
            Some(format!("time {} ms is not between 2000-01-01 and one day from now", r.time_ms))
        } else {
            None
        };
        match problem {
            Some(reason) => {
                let (d, rej) = refuse(reason);
                out.dead.push(d);
                out.rejected.push(rej);
            }
            None => out.accepted.push(NewReading {
                device_id: r.device_id.clone(),
                seq: r.seq as i64,
                resident_id: devices[&r.device_id],
                metric: r.metric,
                value: r.value,
                measured_ms: r.time_ms,
                time_source: match r.time_source {
                    eldercare_schema::TimeSource::Device => "device",
                    eldercare_schema::TimeSource::Gateway => "gateway",
                },
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use eldercare_schema::{Metric, Reading, TimeSource};

    #[test]
    fn each_refusal_has_its_reason() {
        let now = 1_800_000_000_000;
        let ok = Reading {
            seq: 1,
            device_id: "d1".into(),
            metric: Metric::HeartRate,
            value: 70.0,
            time_ms: now,
            time_source: TimeSource::Device,
        };
        let batch = ReadingsBatch {
            v: 1,
            gateway_id: "gw".into(),
            batch_id: 1,
            sent_ms: now,
            readings: vec![
                ok.clone(),
                Reading { seq: 2, device_id: "ghost".into(), ..ok.clone() },
                Reading { seq: 3, value: 900.0, ..ok.clone() },
                Reading { seq: 4, time_ms: 5, ..ok.clone() },
                Reading { seq: u64::MAX, ..ok.clone() },
                Reading { seq: 6, value: f64::NAN, ..ok.clone() },
            ],
        };
        let devices = HashMap::from([("d1".to_owned(), 42)]);
        let s = split("t", &batch, &devices, now);
        assert_eq!(s.accepted.len(), 1);
        assert_eq!(s.accepted[0].resident_id, 42);
        let reasons: Vec<&str> = s.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].contains("not registered"), "{reasons:?}");
        assert!(reasons[1].contains("plausible range"));
        assert!(reasons[2].contains("2000-01-01"));
        assert!(reasons[3].contains("larger than"));
        assert!(reasons[4].contains("plausible range"));
        assert_eq!(s.dead.len(), 5);
        assert_eq!(s.dead[3].seq, None);
    }
}
