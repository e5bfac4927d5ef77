//! From received bytes to the outbox: decodes with the real decoders (the same path as the
//! simulator), notes the device as seen, and pushes what arrived within [`LINGER`] as one
//! durable batch, so twenty devices notifying once a second cost a few commits, not twenty.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::BleStats;
use crate::forward::{glucose_mark, note_seen, readings_from_packet};
use crate::gatt::{Characteristic, glucose_sequence_number};
use crate::outbox::{MarkUpdate, Outbox, OutboxError};
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
    /// Marks to raise with its readings (see [`crate::outbox::Outbox::push_with_updates`]).
    pub marks: Vec<(String, u64)>,
}

/// What the device tasks hand the forwarder, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    Packet(Received),
    /// Marks to change, after the packets sent before.
    Marks(MarkUpdate),
}

/// Runs until every sender is gone and the channel is empty.
pub async fn run(
    mut rx: mpsc::Receiver<Job>,
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
        // Marks committed with the readings, in order: the newest glucose record of each meter
        // (see `records`), the pulse oximeter records taken.
        let mut marks: Vec<MarkUpdate> = Vec::new();
        for job in batch.drain(..) {
            let p = match job {
                Job::Packet(p) => p,
                Job::Marks(update) => {
                    marks.push(update);
                    continue;
                }
            };
            stats.packets.fetch_add(1, Ordering::Relaxed);
            marks.extend(p.marks.into_iter().map(|(k, v)| MarkUpdate::Raise(k, v)));
            match readings_from_packet(&p.device_id, p.characteristic, &p.bytes, p.received_ms) {
                Ok(r) => {
                    if p.characteristic == Characteristic::GlucoseMeasurement
                        && let Some(n) = glucose_sequence_number(&p.bytes)
                    {
                        marks.push(MarkUpdate::Raise(glucose_mark(&p.device_id), u64::from(n)));
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
        tokio::task::spawn_blocking(move || ob.push_with_updates(&readings, &marks)).await.expect("outbox task")?;
        stats.readings.fetch_add(n, Ordering::Relaxed);
        wake.notify_one();
    }
    Ok(())
}
