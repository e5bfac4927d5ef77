//! The `org.bluez` D-Bus objects: Adapter1, Device1, GattService1, GattCharacteristic1, with
//! the properties and methods bluez-async (under btleplug) reads and calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use zbus::object_server::SignalEmitter;
use zbus::{ObjectServer, OwnedObjectPath, OwnedVariant, Variant, interface};

use super::state::{ADAPTER_ADDRESS, ADAPTER_PATH, Delivered, World};
use crate::gatt::racp::RACP_UUID;
use crate::gatt::{Characteristic, uuid_string};

/// Errors as BlueZ names them.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.bluez.Error")]
pub enum BluezError {
    #[zbus(error)]
    ZBus(zbus::Error),
    Failed(String),
    InProgress(String),
    NotSupported(String),
    NotPermitted(String),
    DoesNotExist(String),
}

pub struct Shared {
    pub world: Mutex<World>,
    /// Held while links change and while the driver emits values, so that a value is never
    /// sent on a link that is going down (and a gateway's Disconnect reply follows every value
    /// sent before it).
    pub gate: tokio::sync::Mutex<()>,
}

impl Shared {
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn path(p: &str) -> OwnedObjectPath {
    OwnedObjectPath::try_from(p.to_owned()).expect("valid object path")
}

fn bytes_variant(bytes: &[u8]) -> OwnedVariant {
    OwnedVariant::try_from(Variant::from(bytes.to_vec())).expect("byte arrays are plain values")
}

pub struct Adapter {
    pub shared: Arc<Shared>,
}

#[interface(name = "org.bluez.Adapter1", introspection_docs = false)]
impl Adapter {
    async fn start_discovery(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) -> Result<(), BluezError> {
        {
            let mut w = self.shared.world();
            if w.discovering {
                return Err(BluezError::InProgress("Operation already in progress".into()));
            }
            w.discovering = true;
            w.stalled = false;
            w.discovery_starts += 1;
        }
        self.discovering_changed(&emitter).await?;
        Ok(())
    }

    async fn stop_discovery(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) -> Result<(), BluezError> {
        {
            let mut w = self.shared.world();
            if !w.discovering {
                return Err(BluezError::Failed("No discovery started".into()));
            }
            w.discovering = false;
            w.stalled = false;
        }
        self.discovering_changed(&emitter).await?;
        Ok(())
    }

    async fn set_discovery_filter(&self, _filter: HashMap<String, OwnedVariant>) -> Result<(), BluezError> {
        Ok(())
    }

    async fn get_discovery_filters(&self) -> Vec<String> {
        ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData"].map(String::from).to_vec()
    }

    async fn remove_device(
        &self,
        device: OwnedObjectPath,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> Result<(), BluezError> {
        let found = {
            let mut w = self.shared.world();
            match w.radios.iter_mut().find(|r| r.path == device.as_str() && r.exported) {
                Some(r) if r.connected => return Err(BluezError::Failed("device is connected".into())),
                Some(r) => {
                    r.exported = false;
                    true
                }
                None => false,
            }
        };
        if !found {
            return Err(BluezError::DoesNotExist("Does Not Exist".into()));
        }
        server.remove::<Device, _>(device.as_str()).await?;
        Ok(())
    }

    #[zbus(property)]
    fn address(&self) -> String {
        ADAPTER_ADDRESS.into()
    }

    #[zbus(property)]
    fn address_type(&self) -> String {
        "public".into()
    }

    #[zbus(property)]
    fn name(&self) -> String {
        "eldercare-sim".into()
    }

    #[zbus(property)]
    fn alias(&self) -> String {
        "eldercare-sim".into()
    }

    #[zbus(property)]
    fn modalias(&self) -> String {
        "usb:v1D6Bp0246d0548".into()
    }

    #[zbus(property)]
    fn class(&self) -> u32 {
        0
    }

    #[zbus(property)]
    fn powered(&self) -> bool {
        self.shared.world().powered
    }

    #[zbus(property)]
    fn set_powered(&mut self, value: bool) {
        self.shared.world().powered = value;
    }

    #[zbus(property)]
    fn discoverable(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn pairable(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn discovering(&self) -> bool {
        self.shared.world().discovering
    }

    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        Vec::new()
    }
}

pub struct Device {
    pub shared: Arc<Shared>,
    pub idx: usize,
}

impl Device {
    fn get<T>(&self, f: impl FnOnce(&super::state::Radio) -> T) -> T {
        f(&self.shared.world().radios[self.idx])
    }
}

#[interface(name = "org.bluez.Device1", introspection_docs = false)]
impl Device {
    async fn connect(
        &self,
        #[zbus(object_server)] server: &ObjectServer,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<(), BluezError> {
        let _gate = self.shared.gate.lock().await;
        {
            let mut w = self.shared.world();
            let t_s = w.t_s();
            let r = &mut w.radios[self.idx];
            if r.connected {
                return Ok(());
            }
            if !r.in_range(t_s) {
                r.report.connect_failures += 1;
                return Err(BluezError::Failed("le-connection-abort-by-local".into()));
            }
            r.connected = true;
            r.ever_connected = true;
            r.report.connects += 1;
            let n = w.connected_count();
            w.max_connected = w.max_connected.max(n);
        }
        self.connected_changed(&emitter).await?;
        export_gatt(&self.shared, server, self.idx).await?;
        self.shared.world().radios[self.idx].resolved = true;
        self.services_resolved_changed(&emitter).await?;
        Ok(())
    }

    async fn disconnect(
        &self,
        #[zbus(object_server)] server: &ObjectServer,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<(), BluezError> {
        let _gate = self.shared.gate.lock().await;
        {
            let mut w = self.shared.world();
            let r = &mut w.radios[self.idx];
            if !r.connected {
                return Ok(());
            }
            r.report.gateway_disconnects += 1;
            link_down_state(r);
        }
        self.services_resolved_changed(&emitter).await?;
        self.connected_changed(&emitter).await?;
        unexport_gatt(&self.shared, server, self.idx).await?;
        Ok(())
    }

    async fn pair(&self) -> Result<(), BluezError> {
        Err(BluezError::NotSupported("pairing is not simulated".into()))
    }

    async fn cancel_pairing(&self) -> Result<(), BluezError> {
        Err(BluezError::DoesNotExist("no pairing in progress".into()))
    }

    #[zbus(property)]
    fn address(&self) -> String {
        self.get(|r| r.address.to_string())
    }

    #[zbus(property)]
    fn address_type(&self) -> String {
        // Derived addresses are static random ones (top bits 11); given ones may be public.
        self.get(|r| if r.plan.address.is_none() { "random" } else { "public" }.to_owned())
    }

    #[zbus(property)]
    fn name(&self) -> String {
        self.get(|r| r.name.clone())
    }

    #[zbus(property)]
    fn alias(&self) -> String {
        self.get(|r| r.name.clone())
    }

    #[zbus(property)]
    fn paired(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn bonded(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn trusted(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn blocked(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn legacy_pairing(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn connected(&self) -> bool {
        self.get(|r| r.connected)
    }

    #[zbus(property)]
    fn services_resolved(&self) -> bool {
        self.get(|r| r.resolved)
    }

    #[zbus(property, name = "RSSI")]
    fn rssi(&self) -> i16 {
        self.get(|r| r.rssi)
    }

    #[zbus(property, name = "UUIDs")]
    fn uuids(&self) -> Vec<String> {
        self.get(|r| super::layout::advertised(r.kind).into_iter().map(uuid_string).collect())
    }

    #[zbus(property)]
    fn service_data(&self) -> HashMap<String, OwnedVariant> {
        HashMap::new()
    }

    #[zbus(property)]
    fn manufacturer_data(&self) -> HashMap<u16, OwnedVariant> {
        // 0xFFFF: the company id reserved for tests; the payload names the simulator.
        HashMap::from([(0xFFFF, bytes_variant(b"eldercare-sim"))])
    }

    #[zbus(property)]
    fn adapter(&self) -> OwnedObjectPath {
        path(ADAPTER_PATH)
    }
}

/// Marks a link down in the state (the caller emits the property changes).
pub fn link_down_state(r: &mut super::state::Radio) {
    r.connected = false;
    r.racp_jobs.clear();
    r.resolved = false;
    r.notifying.clear();
}

pub struct GattService {
    pub uuid: u128,
    pub device: String,
}

#[interface(name = "org.bluez.GattService1", introspection_docs = false)]
impl GattService {
    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        uuid_string(self.uuid)
    }

    #[zbus(property)]
    fn primary(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn device(&self) -> OwnedObjectPath {
        path(&self.device)
    }

    #[zbus(property)]
    fn includes(&self) -> Vec<OwnedObjectPath> {
        Vec::new()
    }
}

pub struct GattCharacteristic {
    pub shared: Arc<Shared>,
    pub idx: usize,
    pub uuid: u128,
    pub service: String,
    pub flags: &'static [&'static str],
}

#[interface(name = "org.bluez.GattCharacteristic1", introspection_docs = false)]
impl GattCharacteristic {
    async fn read_value(&self, _options: HashMap<String, OwnedVariant>) -> Result<Vec<u8>, BluezError> {
        if !self.flags.contains(&"read") {
            return Err(BluezError::NotPermitted("Read not permitted".into()));
        }
        let mut w = self.shared.world();
        let t_s = w.t_s();
        let r = &mut w.radios[self.idx];
        if !r.connected {
            return Err(BluezError::Failed("Not connected".into()));
        }
        let value = r.values.get(&self.uuid).cloned().unwrap_or_default();
        let session = r.report.connects;
        let device_id = r.device_id.clone();
        if let Some(c) = Characteristic::from_uuid(self.uuid) {
            w.delivered.push(Delivered {
                device_id,
                characteristic: c,
                bytes: value.clone(),
                at_s: t_s,
                session,
                read: true,
            });
        }
        Ok(value)
    }

    async fn write_value(&self, value: Vec<u8>, _options: HashMap<String, OwnedVariant>) -> Result<(), BluezError> {
        if !self.flags.contains(&"write") {
            return Err(BluezError::NotPermitted("Write not permitted".into()));
        }
        let mut w = self.shared.world();
        let r = &mut w.radios[self.idx];
        if !r.connected {
            return Err(BluezError::Failed("Not connected".into()));
        }
        if self.uuid == RACP_UUID {
            // As the profiles ask: the control point and the measurement must be subscribed to
            // (ATT error 0xFD, Client Characteristic Configuration Descriptor Improperly Configured).
            let measurement = r.memory.as_ref().map(|m| m.characteristic.uuid());
            if !r.notifying.contains(&RACP_UUID) || measurement.is_none_or(|m| !r.notifying.contains(&m)) {
                return Err(BluezError::Failed("CCC descriptor improperly configured (0xfd)".into()));
            }
            // The driver serves it on its next step, as a device answers after the write.
            r.racp_jobs.push_back(value);
        }
        Ok(())
    }

    async fn start_notify(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) -> Result<(), BluezError> {
        if !self.flags.iter().any(|f| *f == "notify" || *f == "indicate") {
            return Err(BluezError::NotSupported("Operation is not supported".into()));
        }
        {
            let mut w = self.shared.world();
            let r = &mut w.radios[self.idx];
            if !r.connected {
                return Err(BluezError::Failed("Not connected".into()));
            }
            r.notifying.insert(self.uuid);
            r.report.subscriptions += 1;
        }
        self.notifying_changed(&emitter).await?;
        Ok(())
    }

    async fn stop_notify(&self, #[zbus(signal_emitter)] emitter: SignalEmitter<'_>) -> Result<(), BluezError> {
        let was = self.shared.world().radios[self.idx].notifying.remove(&self.uuid);
        if !was {
            return Err(BluezError::Failed("No notify session started".into()));
        }
        self.notifying_changed(&emitter).await?;
        Ok(())
    }

    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> String {
        uuid_string(self.uuid)
    }

    #[zbus(property)]
    fn service(&self) -> OwnedObjectPath {
        path(&self.service)
    }

    #[zbus(property)]
    fn value(&self) -> Vec<u8> {
        self.shared.world().radios[self.idx].values.get(&self.uuid).cloned().unwrap_or_default()
    }

    #[zbus(property)]
    fn notifying(&self) -> bool {
        self.shared.world().radios[self.idx].notifying.contains(&self.uuid)
    }

    #[zbus(property)]
    fn flags(&self) -> Vec<String> {
        self.flags.iter().map(|f| f.to_string()).collect()
    }

    #[zbus(property, name = "MTU")]
    fn mtu(&self) -> u16 {
        247
    }
}

/// Adds the device's GATT services and characteristics (as BlueZ does after connecting).
pub async fn export_gatt(shared: &Arc<Shared>, server: &ObjectServer, idx: usize) -> zbus::Result<()> {
    let (paths, device_path) = {
        let mut w = shared.world();
        let r = &mut w.radios[idx];
        if r.gatt_exported {
            return Ok(());
        }
        r.gatt_exported = true;
        (r.gatt_paths(), r.path.clone())
    };
    for (spath, suuid, chars) in paths {
        server.at(spath.as_str(), GattService { uuid: suuid, device: device_path.clone() }).await?;
        for (cpath, cuuid, flags) in chars {
            let ch = GattCharacteristic { shared: shared.clone(), idx, uuid: cuuid, service: spath.clone(), flags };
            server.at(cpath.as_str(), ch).await?;
        }
    }
    Ok(())
}

/// Removes them again (a link that went down).
pub async fn unexport_gatt(shared: &Arc<Shared>, server: &ObjectServer, idx: usize) -> zbus::Result<()> {
    let paths = {
        let mut w = shared.world();
        let r = &mut w.radios[idx];
        if !r.gatt_exported {
            return Ok(());
        }
        r.gatt_exported = false;
        r.gatt_paths()
    };
    for (spath, _, chars) in paths {
        for (cpath, _, _) in chars {
            server.remove::<GattCharacteristic, _>(cpath.as_str()).await?;
        }
        server.remove::<GattService, _>(spath.as_str()).await?;
    }
    Ok(())
}
