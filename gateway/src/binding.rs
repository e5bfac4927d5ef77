//! The household's devices as the server pushes them: a retained [`GatewayBinding`] on
//! `eldercare/v1/gw/<id>/binding`, kept on local disk (`binding.json` next to the outbox) so a
//! gateway restarted without a network still knows its devices.
//!
//! **Policy** (see also the README): once a binding has been received, it *replaces* the
//! `[[devices]]` allowlist of `gateway.toml`; the server is the authority on which devices
//! belong to the household (a device moved to another home is dropped here too).
//! `gateway.toml` stays useful as an address book and for local tuning:
//!
//! - address: the binding's `address`, else the device id when it is a Bluetooth address, else
//!   the `address` of the `gateway.toml` entry with the same `device_id`; a bound device with
//!   none of these cannot be connected and is reported (WARN);
//! - kind: the binding's (when it is one of ours), else the `gateway.toml` entry's;
//! - connection mode: the `gateway.toml` entry's override, else the kind's default.
//!
//! Before the first binding ever arrives (a new gateway, or a server that publishes none), the
//! `gateway.toml` list is used as it is.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eldercare_schema::GatewayBinding;
use thiserror::Error;
use tokio::sync::watch;

use crate::config::{BleAddress, DeviceEntry};
use crate::sim::DeviceKind;

const FILE: &str = "binding.json";

#[derive(Debug, Error)]
pub enum BindingError {
    #[error("binding file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("binding file {path} is not a binding: {why}")]
    Corrupt { path: String, why: String },
}

/// The last binding received, on disk and in memory; the uplink hands new ones in, the
/// Bluetooth side watches.
#[derive(Debug)]
pub struct Bindings {
    dir: PathBuf,
    tx: watch::Sender<Option<GatewayBinding>>,
}

impl Bindings {
    /// Opens the binding kept in `dir` (none yet is fine; an unreadable file is an error).
    pub fn open(dir: &Path) -> Result<Arc<Self>, BindingError> {
        let current = load(dir)?;
        Ok(Arc::new(Bindings { dir: dir.to_owned(), tx: watch::Sender::new(current) }))
    }

    pub fn current(&self) -> Option<GatewayBinding> {
        self.tx.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Option<GatewayBinding>> {
        self.tx.subscribe()
    }

    /// Takes a binding received from the server: when its devices differ from the current
    /// ones, it is written to disk (fsynced) and then announced. Returns whether it changed.
    /// Blocking (file I/O).
    pub fn accept(&self, binding: GatewayBinding) -> Result<bool, BindingError> {
        let same = self.tx.borrow().as_ref().is_some_and(|b| b.devices == binding.devices);
        if same {
            return Ok(false);
        }
        save(&self.dir, &binding)?;
        tracing::info!(devices = binding.devices.len(), "new device binding from the server");
        self.tx.send_replace(Some(binding));
        Ok(true)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BindingError + '_ {
    move |source| BindingError::Io { path: path.display().to_string(), source }
}

/// The binding kept in `dir`, if any.
pub fn load(dir: &Path) -> Result<Option<GatewayBinding>, BindingError> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| BindingError::Corrupt { path: path.display().to_string(), why: e.to_string() })
}

/// Writes it durably: a temporary file, fsync, rename over the old one, fsync of the folder.
pub fn save(dir: &Path, binding: &GatewayBinding) -> Result<(), BindingError> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(binding).expect("a binding serialises");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(&bytes).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(())
}

/// The devices to connect: the binding's when there is one (completed from `configured`, see
/// the module documentation), else `configured`. Also returns why bound devices were left out.
pub fn allowlist(configured: &[DeviceEntry], binding: Option<&GatewayBinding>) -> (Vec<DeviceEntry>, Vec<String>) {
    let Some(binding) = binding else { return (configured.to_vec(), Vec::new()) };
    let mut out: Vec<DeviceEntry> = Vec::new();
    let mut problems = Vec::new();
    for d in &binding.devices {
        let local = configured.iter().find(|c| c.device_id == d.device_id);
        let address = d
            .address
            .as_deref()
            .and_then(|a| a.parse::<BleAddress>().ok())
            .or_else(|| d.device_id.parse::<BleAddress>().ok())
            .or_else(|| local.map(|c| c.address));
        let Some(address) = address else {
            problems.push(format!(
                "device {:?} is bound to this gateway but has no Bluetooth address: add it to gateway.toml",
                d.device_id
            ));
            continue;
        };
        if let Some(other) = out.iter().find(|e| e.address == address) {
            problems
                .push(format!("device {:?} has the address {address} of {:?}; left out", d.device_id, other.device_id));
            continue;
        }
        let kind = serde_json::from_value::<DeviceKind>(serde_json::Value::String(d.kind.clone()))
            .ok()
            .or_else(|| local.and_then(|c| c.kind));
        out.push(DeviceEntry {
            device_id: d.device_id.clone(),
            address,
            kind,
            connection: local.and_then(|c| c.connection),
        });
    }
    (out, problems)
}

#[cfg(test)]
mod tests {
    use eldercare_schema::BoundDevice;

    use super::*;
    use crate::config::ConnectionMode;

    fn entry(id: &str, address: &str, kind: Option<DeviceKind>) -> DeviceEntry {
        DeviceEntry { device_id: id.into(), address: address.parse().unwrap(), kind, connection: None }
    }

    fn bound(id: &str, address: Option<&str>, kind: &str) -> BoundDevice {
        BoundDevice { device_id: id.into(), address: address.map(Into::into), kind: kind.into(), resident_id: 1 }
    }

    fn binding(devices: Vec<BoundDevice>) -> GatewayBinding {
        GatewayBinding { v: 1, gateway_id: "gw-1".into(), updated_ms: 1, devices }
    }

    #[test]
    fn without_a_binding_the_configuration_is_the_allowlist() {
        let configured = vec![entry("hr-1", "C4:7C:8D:6A:11:02", Some(DeviceKind::HeartRateBand))];
        assert_eq!(allowlist(&configured, None), (configured.clone(), vec![]));
    }

    #[test]
    fn a_binding_replaces_the_list_and_takes_addresses_from_the_configuration() {
        let mut scale = entry("sc-1", "C4:7C:8D:6A:11:05", None);
        scale.connection = Some(ConnectionMode::Persistent);
        let configured = vec![entry("hr-1", "C4:7C:8D:6A:11:02", Some(DeviceKind::HeartRateBand)), scale];
        let b = binding(vec![
            bound("sc-1", None, "scale"),
            bound("C4:7C:8D:6A:11:09", None, "pulse_oximeter"),
            bound("ox-2", Some("c4:7c:8d:6a:11:0a"), "pulse_oximeter"),
            bound("gl-3", None, "glucose_meter"),
            bound("dup", Some("C4:7C:8D:6A:11:05"), "toaster"),
        ]);
        let (list, problems) = allowlist(&configured, Some(&b));
        let ids: Vec<&str> = list.iter().map(|d| d.device_id.as_str()).collect();
        // hr-1 is no longer the household's; gl-3 has no address anywhere; dup repeats one.
        assert_eq!(ids, ["sc-1", "C4:7C:8D:6A:11:09", "ox-2"]);
        assert_eq!(list[0].address.to_string(), "C4:7C:8D:6A:11:05");
        assert_eq!(list[0].kind, Some(DeviceKind::Scale));
        assert_eq!(list[0].mode(), ConnectionMode::Persistent, "the local override stays");
        assert_eq!(list[1].address.to_string(), "C4:7C:8D:6A:11:09");
        assert_eq!(list[2].address.to_string(), "C4:7C:8D:6A:11:0A");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("gl-3") && problems[0].contains("gateway.toml"), "{problems:?}");
    }

    #[test]
    fn kept_on_disk_and_announced_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let bindings = Bindings::open(dir.path()).unwrap();
        assert_eq!(bindings.current(), None);
        let mut rx = bindings.subscribe();
        let b = binding(vec![bound("ox-2", Some("C4:7C:8D:6A:11:0A"), "pulse_oximeter")]);
        assert!(bindings.accept(b.clone()).unwrap());
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        // The same devices again (the retained message after a reconnect): nothing happens.
        assert!(!bindings.accept(GatewayBinding { updated_ms: 99, ..b.clone() }).unwrap());
        assert!(!rx.has_changed().unwrap());
        // A restart without a network finds it.
        assert_eq!(Bindings::open(dir.path()).unwrap().current(), Some(b));
        std::fs::write(dir.path().join(FILE), b"{oops").unwrap();
        assert!(Bindings::open(dir.path()).unwrap_err().to_string().contains("is not a binding"));
    }
}
