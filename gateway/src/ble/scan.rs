//! `eldercare-gateway scan`: what is on the air nearby, to help put devices on the allowlist.

use std::collections::BTreeSet;
use std::time::Duration;

use btleplug::api::{Central, CentralEvent, Peripheral as _};
use btleplug::platform::Adapter;
use futures::StreamExt;
use serde::Serialize;

use super::BleError;
use super::central::{open_adapter, start_discovery};
use crate::config::BleAddress;
use crate::gatt::{BLUETOOTH_BASE_UUID, uuid_string};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub adapter: Option<String>,
    /// How long to listen at most.
    pub duration: Duration,
    /// Stop as soon as this many devices were heard.
    pub stop_after: Option<usize>,
}

/// A device heard during a scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanEntry {
    pub address: BleAddress,
    pub name: Option<String>,
    pub rssi: Option<i16>,
    /// Advertised services, as `180d (Heart Rate)` or a full UUID.
    pub services: Vec<String>,
}

/// Listens for advertisements and lists the devices heard, strongest signal first.
pub async fn scan(options: &ScanOptions) -> Result<Vec<ScanEntry>, BleError> {
    let adapter = open_adapter(options.adapter.as_deref()).await?;
    scan_with(&adapter, options).await
}

pub async fn scan_with(adapter: &Adapter, options: &ScanOptions) -> Result<Vec<ScanEntry>, BleError> {
    let mut events = adapter.events().await?;
    start_discovery(adapter).await?;
    let mut heard = BTreeSet::new();
    let listen = async {
        while let Some(event) = events.next().await {
            if let CentralEvent::DeviceDiscovered(id) | CentralEvent::RssiUpdate { id, .. } = event {
                heard.insert(id);
                if options.stop_after.is_some_and(|n| heard.len() >= n) {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(options.duration, listen).await;
    let _ = adapter.stop_scan().await;
    let mut entries = Vec::new();
    for id in heard {
        let Ok(p) = adapter.peripheral(&id).await else { continue };
        let props = p.properties().await.ok().flatten();
        entries.push(ScanEntry {
            address: BleAddress(p.address().into_inner()),
            name: props.as_ref().and_then(|p| p.local_name.clone()),
            rssi: props.as_ref().and_then(|p| p.rssi),
            services: props
                .map(|p| p.services.iter().map(|u| service_label(u.as_u128())).collect())
                .unwrap_or_default(),
        });
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.rssi.unwrap_or(i16::MIN)));
    Ok(entries)
}

/// `180d (Heart Rate)` for SIG services we know, the 16-bit form for other SIG ones, the full
/// UUID otherwise.
pub fn service_label(uuid: u128) -> String {
    if uuid == crate::gatt::FALL_SERVICE_UUID {
        return format!("{} (Eldercare Fall)", uuid_string(uuid));
    }
    if uuid & !(0xFFFF_u128 << 96) != BLUETOOTH_BASE_UUID {
        return uuid_string(uuid);
    }
    let short = (uuid >> 96) as u16;
    let name = match short {
        0x180D => "Heart Rate",
        0x1810 => "Blood Pressure",
        0x1809 => "Health Thermometer",
        0x1822 => "Pulse Oximeter",
        0x181D => "Weight Scale",
        0x1808 => "Glucose",
        0x180F => "Battery",
        0x180A => "Device Information",
        _ => return format!("{short:04x}"),
    };
    format!("{short:04x} ({name})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gatt::sig_uuid;

    #[test]
    fn labels() {
        assert_eq!(service_label(sig_uuid(0x180D)), "180d (Heart Rate)");
        assert_eq!(service_label(sig_uuid(0xFE95)), "fe95");
        assert!(service_label(crate::gatt::FALL_SERVICE_UUID).ends_with("(Eldercare Fall)"));
        assert_eq!(service_label(0x1234), uuid_string(0x1234));
    }
}
