//! Real Bluetooth LE through btleplug (on Linux: BlueZ over the D-Bus system bus).
//!
//! Tasks, each supervised ([`crate::supervise`]) so one device's failure never stops the others:
//!
//! ```text
//!  adapter events ──> event pump ──(advert / disconnected, per device)──> device task × N
//!                     (allowlist:                                        connect, discover,
//!                      others ignored)                                   subscribe, read,
//!  scanner + watchdog (restarts discovery when nothing is heard)         notifications
//!                                                                            │ bounded channel
//!                                                      outbox <── forwarder <┘ (decode, batch)
//! ```
//!
//! - **Allowlist**: only devices in `gateway.toml` are connected; the rest are counted in
//!   [`BleStats::ignored_devices`] and left alone.
//! - **Link lifecycle**: btleplug's notification stream does not end on disconnect; disconnects
//!   arrive as `DeviceDisconnected` on the adapter's event stream, which the event pump routes to
//!   the device's task. After a link loss the task waits for the device to advertise again (or,
//!   for persistent devices, retries blind with backoff), then connects, discovers services and
//!   subscribes again. Notifications already received when the link went down are drained
//!   first, so none is lost on our side.
//! - **Connection slots**: at most `max_connections` links at once; connection attempts are made
//!   one at a time (controllers handle parallel LE connection setup badly). When some devices are
//!   on-demand, persistent ones may use all slots but one, so the on-demand ones can take turns.
//! - **On-demand devices** (cuffs, scales, glucose meters) are connected when they advertise
//!   (they do after a measurement), and disconnected after `idle_disconnect_s` without data.
//! - **Scanner watchdog**: BlueZ discovery stops silently after hours in the field; when no
//!   advertisement at all was heard for `scan_watchdog_s` while some device is not connected,
//!   discovery is stopped and started again.
//! - **Subscriptions**: every characteristic [`Characteristic::from_uuid`] knows that has NOTIFY
//!   or INDICATE. Battery Level and Device Information are read on each connection.
//! - **Stored records**: glucose meters and pulse oximeters with a Record Access Control Point
//!   are asked for their stored records on each connection; each record is forwarded once per
//!   device, across link drops and restarts (see `records`).
//! - **Failure of the whole**: if the adapter's event stream ends (D-Bus gone), [`run`] returns
//!   an error and the process exits; systemd restarts it, and the outbox kept everything.

mod central;
mod device;
mod forwarder;
mod records;
mod scan;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use btleplug::platform::{Adapter, PeripheralId};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{BleAddress, BleSettings, ConnectionMode, DeviceEntry, GatewayConfig};
use crate::gatt::Characteristic;
use crate::outbox::{Outbox, OutboxError};
use crate::supervise::{AbortOnDrop, Backoff, supervise};
use crate::uplink::DeviceBoard;

pub use central::open_adapter;
pub use forwarder::Received;
pub use scan::{ScanEntry, ScanOptions, scan, scan_with};

/// What the BLE side needs: tuning and the allowlist.
#[derive(Debug, Clone, PartialEq)]
pub struct BleConfig {
    pub settings: BleSettings,
    pub devices: Vec<DeviceEntry>,
}

impl From<&GatewayConfig> for BleConfig {
    fn from(cfg: &GatewayConfig) -> Self {
        BleConfig { settings: cfg.ble.clone(), devices: cfg.devices.clone() }
    }
}

#[derive(Debug, Error)]
pub enum BleError {
    #[error("Bluetooth: {0}")]
    Bluetooth(#[from] btleplug::Error),
    #[error("cannot reach BlueZ on the D-Bus system bus (is bluetoothd running?): {0}")]
    NoBluez(btleplug::Error),
    #[error("no Bluetooth adapter found: is bluetoothd running, and the adapter present and not blocked (rfkill)?")]
    NoAdapter,
    #[error("Bluetooth adapter {wanted:?} not found; present: {present}")]
    AdapterNotFound { wanted: String, present: String },
    #[error("{what} did not finish within {secs:.1} s")]
    Timeout { what: &'static str, secs: f64 },
    #[error("the Bluetooth adapter's event stream ended (the D-Bus connection is gone)")]
    EventsEnded,
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("outbox task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Counters and per-device link state, for the status, logs and tests.
#[derive(Debug, Default)]
pub struct BleStats {
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub link_losses: AtomicU64,
    pub idle_disconnects: AtomicU64,
    pub stale_disconnects: AtomicU64,
    pub subscriptions: AtomicU64,
    pub notifications: AtomicU64,
    pub reads: AtomicU64,
    pub packets: AtomicU64,
    pub readings: AtomicU64,
    pub undecodable: AtomicU64,
    pub scan_starts: AtomicU64,
    /// Record Access Control Point requests written (stored records of glucose meters and
    /// pulse oximeters), answered with success or "no records found", and failed (refused,
    /// unanswered in time, or not writable).
    pub racp_requests: AtomicU64,
    pub racp_completed: AtomicU64,
    pub racp_failures: AtomicU64,
    /// Stored records received again and not forwarded: they were forwarded before (pulse
    /// oximeters report their whole memory on every connection).
    pub racp_records_skipped: AtomicU64,
    pub scan_restarts: AtomicU64,
    /// Device and scanner tasks restarted after an error or a panic.
    pub task_restarts: Arc<AtomicU64>,
    /// Devices heard on the radio that are not on the allowlist.
    pub ignored_devices: AtomicU64,
    pub devices: Mutex<BTreeMap<String, DeviceLink>>,
}

impl BleStats {
    pub fn get(&self, counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn device(&self, device_id: &str) -> Option<DeviceLink> {
        self.devices.lock().ok()?.get(device_id).cloned()
    }

    fn update(&self, device_id: &str, f: impl FnOnce(&mut DeviceLink)) {
        if let Ok(mut d) = self.devices.lock() {
            f(d.entry(device_id.to_owned()).or_default());
        }
    }
}

/// One device's link as the gateway sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceLink {
    pub connected: bool,
    /// Connections made so far.
    pub sessions: u64,
    /// Characteristics subscribed on the current (or last) connection.
    pub subscribed: Vec<Characteristic>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
    pub last_error: Option<String>,
}

/// The last advertisement heard from a device.
#[derive(Debug, Clone)]
struct Seen {
    id: PeripheralId,
    /// Advertisements heard so far (a device task compares it with the last one it used).
    count: u64,
}

struct Allowed {
    entry: DeviceEntry,
    advert: watch::Sender<Option<Seen>>,
    /// Disconnect events seen for the device.
    disconnects: watch::Sender<u64>,
    connected: AtomicBool,
    /// The newest glucose record sequence number handed to the forwarder in this process (the
    /// outbox's mark lags it by up to one commit).
    glucose_forwarded: Mutex<Option<u16>>,
    /// The pulse oximeter records already forwarded (loaded from the outbox's marks at the first
    /// transfer of this run, see `records`).
    plx_taken: Mutex<Option<records::TakenRecords>>,
}

/// What every BLE task shares.
struct Ctx {
    adapter: Adapter,
    settings: BleSettings,
    devices: Vec<Allowed>,
    by_address: HashMap<BleAddress, usize>,
    /// All links.
    slots: Arc<Semaphore>,
    /// Links of persistent devices (one fewer when some devices are on-demand).
    persistent_slots: Arc<Semaphore>,
    /// Connection attempts are made one at a time.
    connect_lock: tokio::sync::Mutex<()>,
    packets: mpsc::Sender<forwarder::Job>,
    /// For the record marks (`crate::forward::glucose_mark`).
    outbox: Arc<Outbox>,
    stats: Arc<BleStats>,
    board: DeviceBoard,
    last_advert: Mutex<Instant>,
    shutdown: CancellationToken,
}

impl Ctx {
    fn backoff(&self) -> Backoff {
        Backoff::new(self.settings.backoff_min(), self.settings.backoff_max())
    }

    fn any_device_waiting(&self) -> bool {
        self.devices.iter().any(|d| !d.connected.load(Ordering::Relaxed))
    }

    fn heard_something(&self) {
        if let Ok(mut t) = self.last_advert.lock() {
            *t = Instant::now();
        }
    }

    fn quiet_for(&self) -> Duration {
        self.last_advert.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

/// Runs Bluetooth on `adapter` until `shutdown`: readings go into `outbox` (and `wake` wakes
/// the uplink). Returns an error only when the whole cannot go on (the outbox failed, or the
/// adapter's event stream ended).
pub async fn run(
    adapter: Adapter,
    cfg: BleConfig,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    board: DeviceBoard,
    stats: Arc<BleStats>,
    shutdown: CancellationToken,
) -> Result<(), BleError> {
    let max = cfg.settings.max_connections.max(1);
    let any_on_demand = cfg.devices.iter().any(|d| d.mode() == ConnectionMode::OnDemand);
    let persistent_max = if any_on_demand && max > 1 { max - 1 } else { max };
    let (tx, rx) = mpsc::channel(1024);
    let devices: Vec<Allowed> = cfg
        .devices
        .iter()
        .map(|entry| Allowed {
            entry: entry.clone(),
            advert: watch::Sender::new(None),
            disconnects: watch::Sender::new(0),
            connected: AtomicBool::new(false),
            glucose_forwarded: Mutex::new(None),
            plx_taken: Mutex::new(None),
        })
        .collect();
    for d in &devices {
        stats.update(&d.entry.device_id, |_| {});
    }
    // The status lists every allowlisted device from the start, so one never heard shows up.
    if let Ok(mut b) = board.lock() {
        for d in &cfg.devices {
            b.entry(d.device_id.clone()).or_insert_with(|| eldercare_schema::payload::DeviceStatus {
                device_id: d.device_id.clone(),
                last_seen_ms: None,
                rssi: None,
                battery: None,
            });
        }
    }
    let ctx = Arc::new(Ctx {
        adapter,
        by_address: cfg.devices.iter().enumerate().map(|(i, d)| (d.address, i)).collect(),
        devices,
        settings: cfg.settings.clone(),
        slots: Arc::new(Semaphore::new(max)),
        persistent_slots: Arc::new(Semaphore::new(persistent_max)),
        connect_lock: tokio::sync::Mutex::new(()),
        packets: tx,
        outbox: outbox.clone(),
        stats: stats.clone(),
        board: board.clone(),
        last_advert: Mutex::new(Instant::now()),
        shutdown: shutdown.clone(),
    });
    let mut forwarder = AbortOnDrop(tokio::spawn(forwarder::run(rx, outbox, wake, board, stats.clone())));

    let mut tasks = JoinSet::new();
    let restarts = stats.task_restarts.clone();
    tasks.spawn(supervise("ble scanner".into(), shutdown.clone(), ctx.backoff(), restarts.clone(), {
        let ctx = ctx.clone();
        move || central::scanner(ctx.clone())
    }));
    for (i, d) in ctx.devices.iter().enumerate() {
        let name = format!("ble device {}", d.entry.device_id);
        tasks.spawn(supervise(name, shutdown.clone(), ctx.backoff(), restarts.clone(), {
            let ctx = ctx.clone();
            move || device::run(ctx.clone(), i)
        }));
    }
    tracing::info!(devices = ctx.devices.len(), max_connections = max, "Bluetooth started");

    let pump = central::event_pump(ctx.clone());
    drop(ctx);
    let outcome = tokio::select! {
        r = pump => r,
        r = &mut forwarder.0 => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e.into()),
        },
    };
    // Stop the device tasks (they disconnect), then let the forwarder drain what they sent.
    shutdown.cancel();
    if tokio::time::timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!("Bluetooth tasks did not stop within 10 s; aborting them");
        tasks.shutdown().await;
    }
    drop(tasks);
    if !forwarder.0.is_finished() {
        match tokio::time::timeout(Duration::from_secs(10), &mut forwarder.0).await {
            Ok(Ok(Err(e))) => return Err(e.into()),
            Ok(Err(e)) => return Err(e.into()),
            _ => {}
        }
    }
    outcome
}
