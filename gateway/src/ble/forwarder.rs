//! From received bytes to the outbox: decodes with the real decoders (the same path as the
//! simulator), notes the device as seen, and pushes what arrived within [`LINGER`] as one
//! durable batch, so twenty devices notifying once a second cost a few commits, not twenty.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::BleStats;
use crate::forward::{glucose_mark, note_seen, readings_from_packet};
use crate::gatt::{Characteristic, glucose_sequence_number};
use crate::outbox::{Outbox, OutboxError};
use crate::uplink::DeviceBoard;

/// Most packets decoded into one outbox commit.
const MAX_BATCH: usize = 500;
/// How long a received packet may wait for others to share its commit. BlueZ has already
/// acknowledged an indication when we see it, so this adds no new window of loss beyond the
/// one that exists anyway (a power cut between BlueZ and the disk), and keeps it short.
const LINGER: Duration = Duration::from_millis(100);

/// Bytes received from a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub device_id: String,
    pub characteristic: Characteristic,
    pub bytes: Vec<u8>,
    pub received_ms: i64,
}

/// Runs until every sender is gone and the channel is empty.
pub async fn run(
    mut rx: mpsc::Receiver<Received>,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    board: DeviceBoard,
    stats: Arc<BleStats>,
) -> Result<(), OutboxError> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Devices notify independently; waiting a moment for the others turns many small
        // commits into one (an fsync each: on a Pi's SD card that is what costs).
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let room = MAX_BATCH - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let mut readings = Vec::new();
        // The newest glucose record of each meter, committed with the readings (see
        // `device::stored_records_request`).
        let mut marks: HashMap<String, u64> = HashMap::new();
        for p in batch.drain(..) {
            stats.packets.fetch_add(1, Ordering::Relaxed);
            match readings_from_packet(&p.device_id, p.characteristic, &p.bytes, p.received_ms) {
                Ok(r) => {
                    if p.characteristic == Characteristic::GlucoseMeasurement
                        && let Some(n) = glucose_sequence_number(&p.bytes)
                    {
                        let mark = marks.entry(glucose_mark(&p.device_id)).or_default();
                        *mark = (*mark).max(u64::from(n));
                    }
                    note_seen(&board, &p.device_id, &r, p.received_ms);
                    readings.extend(r);
                }
                Err(e) => {
                    stats.undecodable.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(device = %p.device_id, error = %e, "undecodable packet refused at the gateway");
                }
            }
        }
        if readings.is_empty() && marks.is_empty() {
            continue;
        }
        let n = readings.len() as u64;
        let ob = outbox.clone();
        let marks: Vec<(String, u64)> = marks.into_iter().collect();
        tokio::task::spawn_blocking(move || ob.push_with_marks(&readings, &marks)).await.expect("outbox task")?;
        stats.readings.fetch_add(n, Ordering::Relaxed);
        wake.notify_one();
    }
    Ok(())
}
