//! Stored records through the Record Access Control Point (RACP, 0x2A52): glucose meters keep
//! their measurements and send them only when asked; pulse oximeters may keep spot checks
//! taken while nobody was connected.
//!
//! On each connection to a device whose health service has a RACP (writable, indicating), after
//! the measurement subscriptions: subscribe to the RACP's indications, write "report stored
//! records", and forward the records as they arrive (they come as ordinary measurement
//! notifications, through the same path as live ones) until the RACP indicates its answer.
//!
//! - Glucose: "records with sequence number ≥ N + 1", N the newest record already forwarded:
//!   the outbox's mark ([`crate::forward::glucose_mark`], committed with the readings, so it
//!   survives restarts and power cuts) or, within this process, the newest handed to the
//!   forwarder. Nothing forwarded yet: all records.
//! - Pulse oximeter: "all records" (PLX records carry no sequence number to filter on).
//! - The answer is awaited for `connect_timeout_s` after the request or the last record; no
//!   answer, or an error code, is logged (WARN) and counted in [`super::BleStats::racp_failures`],
//!   and the connection carries on. An on-demand device is not let go while a transfer runs.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use btleplug::api::{CharPropFlags, Characteristic as GattChar, Peripheral as _, WriteType};
use btleplug::platform::Peripheral;
use tokio::time::Instant;

use super::{Allowed, Ctx};
use crate::forward::glucose_mark;
use crate::gatt::racp::{RACP_UUID, Records, Request, Response, ResponseCode};
use crate::gatt::sig_uuid;

/// Which profile's records a device keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Profile {
    Glucose,
    PulseOximeter,
}

/// A request written and not answered yet.
#[derive(Debug)]
pub(super) struct Transfer {
    request: Request,
    /// When to give up waiting for the answer.
    pub deadline: Instant,
    /// Measurements received since the request.
    records: u64,
}

/// The device's RACP and the profile it serves, if it has one we can use.
pub(super) fn control_point(chars: &BTreeSet<GattChar>) -> Option<(GattChar, Profile)> {
    let has = |short: u16| chars.iter().any(|c| c.uuid.as_u128() == sig_uuid(short));
    let profile = if has(0x2A18) {
        Profile::Glucose
    } else if has(0x2A5E) {
        Profile::PulseOximeter
    } else {
        return None;
    };
    let cp = chars.iter().find(|c| c.uuid.as_u128() == RACP_UUID)?;
    let usable = cp.properties.contains(CharPropFlags::WRITE) && cp.properties.contains(CharPropFlags::INDICATE);
    usable.then(|| (cp.clone(), profile))
}

/// The newest glucose record already forwarded for this device, if any.
fn newest_forwarded(ctx: &Ctx, dev: &Allowed) -> Option<u16> {
    let in_process = dev.glucose_forwarded.lock().ok().and_then(|g| *g);
    let committed = match ctx.outbox.mark(&glucose_mark(&dev.entry.device_id)) {
        Ok(m) => m.and_then(|m| u16::try_from(m).ok()),
        Err(e) => {
            tracing::warn!(device = %dev.entry.device_id, error = %e, "cannot read the glucose record mark; asking for all records");
            None
        }
    };
    in_process.max(committed)
}

/// What to ask the device for.
pub(super) fn request_for(ctx: &Ctx, dev: &Allowed, profile: Profile) -> Request {
    let records = match (profile, newest_forwarded(ctx, dev)) {
        // At the top of the range, ask for the last one again rather than wrap to everything.
        (Profile::Glucose, Some(n)) => Records::AtLeast { sequence_number: n.saturating_add(1) },
        _ => Records::All,
    };
    Request::ReportStoredRecords { records }
}

/// Notes a glucose record handed to the forwarder.
pub(super) fn note_glucose_record(dev: &Allowed, bytes: &[u8]) {
    if let Some(n) = crate::gatt::glucose_sequence_number(bytes)
        && let Ok(mut newest) = dev.glucose_forwarded.lock()
    {
        *newest = Some(newest.map_or(n, |old| old.max(n)));
    }
}

/// Writes the request. `None` (logged and counted) when the device refused the write.
pub(super) async fn start(
    ctx: &Ctx,
    dev: &Allowed,
    peripheral: &Peripheral,
    cp: &GattChar,
    request: Request,
) -> Option<Transfer> {
    let device_id = dev.entry.device_id.as_str();
    let limit = ctx.settings.connect_timeout();
    ctx.stats.racp_requests.fetch_add(1, Ordering::Relaxed);
    let written = tokio::time::timeout(limit, peripheral.write(cp, &request.encode(), WriteType::WithResponse)).await;
    let error = match written {
        Ok(Ok(())) => {
            tracing::debug!(device = %device_id, ?request, "asked for stored records");
            return Some(Transfer { request, deadline: Instant::now() + limit, records: 0 });
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no write response within {:.1} s", limit.as_secs_f64()),
    };
    failed(
        ctx,
        device_id,
        format!("stored records not requested: writing the record access control point failed: {error}"),
    );
    None
}

/// A measurement arrived while a transfer runs: it is one of the records.
pub(super) fn record_arrived(ctx: &Ctx, transfer: &mut Option<Transfer>) {
    if let Some(t) = transfer {
        t.records += 1;
        t.deadline = Instant::now() + ctx.settings.connect_timeout();
    }
}

/// An indication of the RACP: the answer to the request.
pub(super) fn answer(ctx: &Ctx, device_id: &str, transfer: &mut Option<Transfer>, bytes: &[u8]) {
    let response = match Response::decode(bytes) {
        Ok(r) => r,
        Err(e) => {
            let hex = hex::encode(bytes);
            failed(ctx, device_id, format!("undecodable answer on the record access control point ({hex}): {e}"));
            *transfer = None;
            return;
        }
    };
    let Some(t) = transfer.take() else {
        tracing::debug!(device = %device_id, ?response, "record access control point answer without a request; ignored");
        return;
    };
    match response {
        Response::ResponseCode { request_op_code, code } if request_op_code == t.request.op_code() => match code {
            ResponseCode::Success => {
                ctx.stats.racp_completed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(device = %device_id, records = t.records, "stored records received");
            }
            ResponseCode::NoRecordsFound => {
                ctx.stats.racp_completed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(device = %device_id, "no new stored records");
            }
            code => {
                failed(ctx, device_id, format!("the device refused the stored-records request {:?}: {code}", t.request))
            }
        },
        other => {
            failed(ctx, device_id, format!("unexpected answer {other:?} to the stored-records request {:?}", t.request))
        }
    }
}

/// No answer in time.
pub(super) fn timed_out(ctx: &Ctx, device_id: &str, t: Transfer) {
    let secs = ctx.settings.connect_timeout().as_secs_f64();
    failed(
        ctx,
        device_id,
        format!(
            "no answer on the record access control point within {secs:.1} s after {} records ({:?})",
            t.records, t.request
        ),
    );
}

fn failed(ctx: &Ctx, device_id: &str, why: String) {
    ctx.stats.racp_failures.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(device = %device_id, "{why}");
    ctx.stats.update(device_id, |d| d.last_error = Some(why));
}
