//! From received bytes to the outbox: decodes with the real decoders (the same path as the
//! simulator), notes the device as seen, and pushes whatever has queued up as one durable
//! batch, so a burst of notifications costs one commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{Notify, mpsc};

use super::BleStats;
use crate::forward::{note_seen, readings_from_packet};
use crate::gatt::Characteristic;
use crate::outbox::{Outbox, OutboxError};
use crate::uplink::DeviceBoard;

/// Most packets decoded into one outbox commit.
const MAX_BATCH: usize = 500;

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
        let mut readings = Vec::new();
        for p in batch.drain(..) {
            stats.packets.fetch_add(1, Ordering::Relaxed);
            match readings_from_packet(&p.device_id, p.characteristic, &p.bytes, p.received_ms) {
                Ok(r) => {
                    note_seen(&board, &p.device_id, &r, p.received_ms);
                    readings.extend(r);
                }
                Err(e) => {
                    stats.undecodable.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(device = %p.device_id, error = %e, "undecodable packet refused at the gateway");
                }
            }
        }
        if readings.is_empty() {
            continue;
        }
        let n = readings.len() as u64;
        let ob = outbox.clone();
        tokio::task::spawn_blocking(move || ob.push(&readings)).await.expect("outbox task")?;
        stats.readings.fetch_add(n, Ordering::Relaxed);
        wake.notify_one();
    }
    Ok(())
}
