//! Stored records through the Record Access Control Point (RACP, 0x2A52): glucose meters keep
//! their measurements and send them only when asked; pulse oximeters may keep spot checks
//! taken while nobody was connected.
//!
//! On each connection to a device whose health service has a RACP (writable, indicating), after
//! the measurement subscriptions: subscribe to the RACP's indications, write "report stored
//! records", and forward the records as they arrive (they come as ordinary measurement
//! notifications, through the same path as live ones) until the RACP indicates its answer.
//!
//! Each stored record is forwarded once per device, across link drops (also in the middle of a
//! transfer) and gateway restarts:
//!
//! - Glucose: "records with sequence number ≥ N + 1", N the newest record already forwarded:
//!   the outbox's mark ([`crate::forward::glucose_mark`], committed with the readings, so it
//!   survives restarts and power cuts) or, within this process, the newest handed to the
//!   forwarder. Nothing forwarded yet: all records.
//! - Pulse oximeter: the Pulse Oximeter Service's RACP knows only the operator "all records"
//!   (PLX records carry no sequence number, and no filter is defined), so the device sends its
//!   whole memory on every connection and the gateway recognises the records it already
//!   forwarded by their bytes ([`TakenRecords`]). A record's bytes are its identity: SpO2, pulse
//!   rate, the time stamp to the second and the status fields. For each distinct record the
//!   outbox keeps a mark ([`crate::forward::plx_record_mark`]) counting how many records with
//!   exactly those bytes the device holds that were forwarded; it is committed in the same
//!   transaction as the record's readings, so after a crash both are there or neither. When a
//!   transfer ends with the device's answer (its whole memory was reported), the marks of the
//!   device are replaced by exactly what it reported, so records it has since deleted or
//!   overwritten are forgotten and the marks stay as small as its memory.
//!
//!   Why not the alternatives: a high-water mark of the records' time stamps loses readings
//!   (the time stamp is optional, may come with "device clock is not set", has one-second
//!   resolution, and a clock set back makes new records look old), and the gateway never loses
//!   a reading to avoid a duplicate. Deleting the records after each transfer ("delete stored
//!   records", all) destroys the history the wearer or a nurse may look at on the device,
//!   deletes unseen any record taken between the report and the deletion, and does not help
//!   after a link drop in the middle of a transfer, when the records come again anyway.
//!
//!   The one case this cannot tell apart: two records with identical bytes (no time stamp, same
//!   values) of which the older was forwarded and then overwritten in a full memory just as the
//!   newer was taken, between two connections: the newer is taken for the older and not
//!   forwarded. Devices that stamp their records (as the simulator's do) are not affected.
//!   Spot checks that arrive while a transfer runs are counted as records; live ones outside
//!   a transfer are forwarded as they come and not marked (if a device also stores them, they
//!   come once more with its next transfer: a duplicate rather than a loss).
//! - The answer is awaited for `connect_timeout_s` after the request or the last record; no
//!   answer, or an error code, is logged (WARN) and counted in [`super::BleStats::racp_failures`],
//!   and the connection carries on. An on-demand device is not let go while a transfer runs.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use btleplug::api::{CharPropFlags, Characteristic as GattChar, Peripheral as _, WriteType};
use btleplug::platform::Peripheral;
use tokio::time::Instant;

use super::{Allowed, Ctx};
use crate::forward::{glucose_mark, plx_record_mark, plx_record_of_mark, plx_record_prefix};
use crate::gatt::racp::{RACP_UUID, Records, Request, Response, ResponseCode};
use crate::gatt::{Characteristic, sig_uuid};
use crate::outbox::MarkUpdate;

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
    profile: Profile,
    /// When to give up waiting for the answer.
    pub deadline: Instant,
    /// Measurements received since the request.
    records: u64,
    /// The pulse oximeter records received in this transfer.
    pass: Pass,
}

/// Which stored records of a pulse oximeter were already forwarded: for the bytes of each
/// record, how many records with exactly those bytes the device holds that were forwarded.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct TakenRecords(HashMap<Vec<u8>, u64>);

/// The records one transfer brought so far: for the bytes of each, how many came.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Pass(HashMap<Vec<u8>, u64>);

impl TakenRecords {
    /// A record arrived in the transfer `pass`. Returns `Some(n)` when it is new (the `n`-th
    /// record with these bytes in the device's memory, the value of its mark), `None` when it
    /// was forwarded before.
    pub fn arrived(&mut self, pass: &mut Pass, record: &[u8]) -> Option<u64> {
        let nth = pass.0.entry(record.to_vec()).or_default();
        *nth += 1;
        let taken = self.0.entry(record.to_vec()).or_default();
        if *nth > *taken {
            *taken = *nth;
            Some(*nth)
        } else {
            None
        }
    }

    /// The device reported its whole memory in `pass`: what it no longer holds is forgotten.
    pub fn complete(&mut self, pass: &Pass) {
        self.0 = pass.0.clone();
    }

    fn from_marks(prefix: &str, marks: Vec<(String, u64)>) -> Self {
        TakenRecords(marks.into_iter().filter_map(|(k, n)| Some((plx_record_of_mark(prefix, &k)?, n))).collect())
    }
}

impl Pass {
    /// The marks that say exactly this (see [`TakenRecords::complete`]).
    fn marks(&self, device_id: &str) -> MarkUpdate {
        MarkUpdate::Replace {
            prefix: plx_record_prefix(device_id),
            marks: self.0.iter().map(|(record, n)| (plx_record_mark(device_id, record), *n)).collect(),
        }
    }
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

/// Loads the pulse oximeter records already forwarded from the outbox, once per run (then the
/// device task keeps them up to date, ahead of the outbox by what the forwarder has not
/// committed yet).
fn load_taken(ctx: &Ctx, dev: &Allowed) {
    let Ok(mut taken) = dev.plx_taken.lock() else { return };
    if taken.is_some() {
        return;
    }
    let device_id = &dev.entry.device_id;
    let prefix = plx_record_prefix(device_id);
    *taken = Some(match ctx.outbox.marks_with_prefix(&prefix) {
        Ok(marks) => TakenRecords::from_marks(&prefix, marks),
        Err(e) => {
            tracing::warn!(device = %device_id, error = %e, "cannot read which stored records were forwarded; they may be forwarded again");
            TakenRecords::default()
        }
    });
}

/// What to ask the device for.
pub(super) fn request_for(ctx: &Ctx, dev: &Allowed, profile: Profile) -> Request {
    if profile == Profile::PulseOximeter {
        load_taken(ctx, dev);
    }
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
    profile: Profile,
    request: Request,
) -> Option<Transfer> {
    let device_id = dev.entry.device_id.as_str();
    let limit = ctx.settings.connect_timeout();
    ctx.stats.racp_requests.fetch_add(1, Ordering::Relaxed);
    let written = tokio::time::timeout(limit, peripheral.write(cp, &request.encode(), WriteType::WithResponse)).await;
    let error = match written {
        Ok(Ok(())) => {
            tracing::debug!(device = %device_id, ?request, "asked for stored records");
            let deadline = Instant::now() + limit;
            return Some(Transfer { request, profile, deadline, records: 0, pass: Pass::default() });
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

/// A measurement arrived. Returns the marks to commit with its readings, or `None` when it is a
/// stored record already forwarded (then it is dropped).
pub(super) fn measurement(
    ctx: &Ctx,
    dev: &Allowed,
    transfer: &mut Option<Transfer>,
    characteristic: Characteristic,
    bytes: &[u8],
) -> Option<Vec<(String, u64)>> {
    let Some(t) = transfer else { return Some(Vec::new()) };
    // While a transfer runs, measurements are its records.
    t.records += 1;
    t.deadline = Instant::now() + ctx.settings.connect_timeout();
    if t.profile != Profile::PulseOximeter || characteristic != Characteristic::PlxSpotCheck {
        return Some(Vec::new());
    }
    let device_id = dev.entry.device_id.as_str();
    let mut taken = dev.plx_taken.lock().unwrap_or_else(|p| p.into_inner());
    match taken.get_or_insert_default().arrived(&mut t.pass, bytes) {
        Some(n) => Some(vec![(plx_record_mark(device_id, bytes), n)]),
        None => {
            ctx.stats.racp_records_skipped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(device = %device_id, "stored record forwarded before; not again");
            None
        }
    }
}

/// An indication of the RACP: the answer to the request. Returns the marks to commit when the
/// answer closes a transfer of pulse oximeter records (see [`TakenRecords::complete`]).
pub(super) fn answer(ctx: &Ctx, dev: &Allowed, transfer: &mut Option<Transfer>, bytes: &[u8]) -> Option<MarkUpdate> {
    let device_id = dev.entry.device_id.as_str();
    let response = match Response::decode(bytes) {
        Ok(r) => r,
        Err(e) => {
            let hex = hex::encode(bytes);
            failed(ctx, device_id, format!("undecodable answer on the record access control point ({hex}): {e}"));
            *transfer = None;
            return None;
        }
    };
    let Some(t) = transfer.take() else {
        tracing::debug!(device = %device_id, ?response, "record access control point answer without a request; ignored");
        return None;
    };
    let whole_memory =
        t.profile == Profile::PulseOximeter && t.request == Request::ReportStoredRecords { records: Records::All };
    match response {
        Response::ResponseCode { request_op_code, code } if request_op_code == t.request.op_code() => match code {
            ResponseCode::Success | ResponseCode::NoRecordsFound => {
                ctx.stats.racp_completed.fetch_add(1, Ordering::Relaxed);
                if code == ResponseCode::Success {
                    tracing::info!(device = %device_id, records = t.records, "stored records received");
                } else {
                    tracing::debug!(device = %device_id, "no new stored records");
                }
                if whole_memory {
                    let mut taken = dev.plx_taken.lock().unwrap_or_else(|p| p.into_inner());
                    taken.get_or_insert_default().complete(&t.pass);
                    return Some(t.pass.marks(device_id));
                }
            }
            code => {
                failed(ctx, device_id, format!("the device refused the stored-records request {:?}: {code}", t.request))
            }
        },
        other => {
            failed(ctx, device_id, format!("unexpected answer {other:?} to the stored-records request {:?}", t.request))
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::{Pass, TakenRecords};

    /// Runs one transfer of `memory`; returns the records forwarded (with their mark values).
    fn transfer(taken: &mut TakenRecords, memory: &[&[u8]], complete: bool) -> Vec<(Vec<u8>, u64)> {
        let mut pass = Pass::default();
        let new = memory.iter().filter_map(|r| Some((r.to_vec(), taken.arrived(&mut pass, r)?))).collect();
        if complete {
            taken.complete(&pass);
        }
        new
    }

    const A: &[u8] = b"a";
    const B: &[u8] = b"b";
    const C: &[u8] = b"c";

    #[test]
    fn records_already_forwarded_are_not_forwarded_again() {
        let mut taken = TakenRecords::default();
        assert_eq!(transfer(&mut taken, &[A, B], true), vec![(A.to_vec(), 1), (B.to_vec(), 1)]);
        assert_eq!(transfer(&mut taken, &[A, B, C], true), vec![(C.to_vec(), 1)]);
        assert_eq!(transfer(&mut taken, &[A, B, C], true), vec![]);
    }

    #[test]
    fn a_transfer_cut_short_keeps_what_it_brought() {
        let mut taken = TakenRecords::default();
        assert_eq!(transfer(&mut taken, &[A], false), vec![(A.to_vec(), 1)]);
        assert_eq!(transfer(&mut taken, &[A, B], false), vec![(B.to_vec(), 1)]);
        assert_eq!(transfer(&mut taken, &[A, B, C], true), vec![(C.to_vec(), 1)]);
    }

    #[test]
    fn identical_records_are_counted() {
        let mut taken = TakenRecords::default();
        assert_eq!(transfer(&mut taken, &[A, A], true), vec![(A.to_vec(), 1), (A.to_vec(), 2)]);
        assert_eq!(transfer(&mut taken, &[A, A, B, A], true), vec![(B.to_vec(), 1), (A.to_vec(), 3)]);
    }

    #[test]
    fn records_the_device_deleted_are_forgotten() {
        let mut taken = TakenRecords::default();
        transfer(&mut taken, &[A, B], true);
        // The device cleared its memory (or overwrote it) and took the same values again.
        assert_eq!(transfer(&mut taken, &[], true), vec![]);
        assert_eq!(transfer(&mut taken, &[A], true), vec![(A.to_vec(), 1)]);
        // Overwritten oldest first: B is gone, A stays, C is new.
        transfer(&mut taken, &[A, B], true);
        assert_eq!(transfer(&mut taken, &[B, C], true), vec![(C.to_vec(), 1)]);
        assert_eq!(transfer(&mut taken, &[A, B, C], true), vec![(A.to_vec(), 1)]);
    }
}
