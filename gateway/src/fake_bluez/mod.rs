//! A simulated BlueZ: `org.bluez` served with zbus on a D-Bus bus, driven by a scenario (the
//! same file format as the built-in simulator, see [`crate::sim::radio`]), so that the real,
//! unmodified btleplug path of the gateway can be exercised on a machine with no Bluetooth.
//!
//! What it serves, as BlueZ does:
//!
//! - `org.freedesktop.DBus.ObjectManager` at `/` (InterfacesAdded/Removed for what appears);
//! - `org.bluez.Adapter1` at `/org/bluez/hci0`: StartDiscovery, StopDiscovery,
//!   SetDiscoveryFilter, RemoveDevice; Address, Name, Alias, Modalias, Powered, Discovering;
//! - `org.bluez.Device1` for each device in range once discovery runs: Connect, Disconnect;
//!   Address, AddressType, Name, Alias, Connected, ServicesResolved, RSSI (changed on every
//!   advertisement), UUIDs, ManufacturerData, Paired, Trusted, Blocked...;
//! - on Connect, `org.bluez.GattService1` and `org.bluez.GattCharacteristic1` objects for the
//!   device's GATT database ([`layout`]), then ServicesResolved = true; a notification or
//!   indication is a `PropertiesChanged` of the characteristic's `Value`; ReadValue answers
//!   battery level and Device Information.
//!
//! Behaviour, per device: packets come from [`crate::sim::Wearable`]; while nobody is
//! subscribed, indicated packets are kept (up to 1000) and notified ones dropped, as real
//! devices do. Cuffs, scales and glucose meters advertise only while they hold data. Glucose
//! meters (and oximeters given `stored_records`) serve their record memory through the Record
//! Access Control Point: a request written there is answered by the records as notifications
//! (indications for oximeters) of the measurement, then the answer indicated on the control
//! point; every exchange is in [`DeviceReport::racp`]. A scenario
//! can drop links (`drop_link_at_s`), make a device vanish (`never_returns`), bring one late
//! (`appears_at_s`) and stall the scanner (`[adapter] scan_stalls_at_s`).
//!
//! What it cannot show: radio timing, BlueZ's GATT cache, pairing and security, MTU
//! negotiation, the adapter's own connection limit (the [`FakeReport::max_connected`] counter
//! lets tests check the gateway's limit instead).

mod bus;
mod driver;
mod layout;
mod objects;
mod state;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use bus::{BusError, PrivateBus};
pub use layout::is_indicated;
pub use state::{ADAPTER_PATH, Delivered, DeviceReport, FakeReport, RacpExchange};

use crate::sim::{Home, Wearable};
use objects::{Adapter, Shared};
use state::{Radio, World};

#[derive(Debug, Clone)]
pub struct FakeBluezConfig {
    pub home: Home,
    /// Story time per wall-clock second.
    pub speed: f64,
    /// How often the simulation advances.
    pub tick: Duration,
    /// How often a disconnected device advertises (wall clock).
    pub advert_every: Duration,
}

impl FakeBluezConfig {
    pub fn new(home: Home) -> Self {
        FakeBluezConfig { home, speed: 1.0, tick: Duration::from_millis(20), advert_every: Duration::from_millis(200) }
    }
}

/// A running simulated BlueZ. It owns the name `org.bluez` on its bus until stopped.
pub struct FakeBluez {
    conn: zbus::Connection,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    driver: JoinHandle<()>,
}

impl FakeBluez {
    /// Connects to the bus at `bus_address`, takes the name `org.bluez` and starts the story.
    /// Must be called within a Tokio runtime.
    pub async fn start(bus_address: &str, cfg: FakeBluezConfig) -> zbus::Result<FakeBluez> {
        let mut radios: Vec<Radio> = cfg
            .home
            .scenario
            .devices
            .iter()
            .map(|d| Radio::new(&d.device_id, d.kind, cfg.home.radio_of(&d.device_id)))
            .collect();
        let mut wearables: Vec<Wearable> = cfg.home.scenario.devices.iter().cloned().map(Wearable::new).collect();
        // Records taken before the story starts.
        let now_ms = crate::now_ms();
        for (r, w) in radios.iter_mut().zip(&mut wearables) {
            if let (Some(n), Some(memory)) = (r.plan.stored_records, r.memory.as_mut()) {
                for p in w.backfill(n, now_ms) {
                    memory.store(p.bytes);
                }
            }
        }
        let mut stalls: Vec<f64> = cfg.home.radio.adapter.scan_stalls_at_s.clone();
        stalls.sort_by(f64::total_cmp);
        let world = World {
            started: Instant::now(),
            speed: cfg.speed,
            paused: false,
            powered: true,
            discovering: false,
            stalled: false,
            stalls: VecDeque::from(stalls),
            discovery_starts: 0,
            max_connected: 0,
            radios,
            delivered: Vec::new(),
        };
        let shared = Arc::new(Shared { world: Mutex::new(world), gate: tokio::sync::Mutex::new(()) });
        let conn = zbus::connection::Builder::address(bus_address)
            .serve_at("/", zbus::fdo::ObjectManager)
            .serve_at(ADAPTER_PATH, Adapter { shared: shared.clone() })
            .name("org.bluez")
            .build()
            .await?;
        let shutdown = CancellationToken::new();
        let driver = tokio::spawn(driver::drive(
            shared.clone(),
            conn.clone(),
            wearables,
            cfg.tick,
            cfg.advert_every,
            shutdown.clone(),
        ));
        Ok(FakeBluez { conn, shared, shutdown, driver })
    }

    /// Everything that happened so far.
    pub fn report(&self) -> FakeReport {
        self.shared.world().report()
    }

    /// Story time now, seconds.
    pub fn story_time_s(&self) -> f64 {
        self.shared.world().t_s()
    }

    /// Wearables stop measuring (kept indications are still delivered), so that what was
    /// delivered stops growing and a test can compare it with what arrived.
    pub fn pause(&self) {
        self.shared.world().paused = true;
    }

    pub fn resume(&self) {
        self.shared.world().paused = false;
    }

    /// Stops the story and gives the name `org.bluez` up.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.driver.await;
        let _ = self.conn.release_name("org.bluez").await;
        drop(self.conn);
    }
}
