//! Which gateway and resident each device is bound to, kept in memory for ingest.
//!
//! Ingest asked the database for every device a group's batches name: at district scale about a
//! thousand index probes a group, 7.5 % of the database's statement time, for bindings that
//! change a few times a day. Now each group reads the store's binding clock (one row), and only
//! when it moved reads the gateways stamped since ([`Store::gateway_bindings_since`]), as the
//! binding publisher does. A device not held yet is looked up and kept. So a group sees every
//! binding change that committed before it read the clock, as when it read the devices
//! themselves.
//!
//! Unknown devices are not remembered (a gateway sending made-up ids can not grow the cache),
//! and the cache is emptied if it ever holds more than [`MAX_DEVICES`].

use std::collections::HashMap;

use eldercare_store::binding::BindingRow;
use eldercare_store::{Store, StoreError};
use tokio::sync::Mutex;

/// Devices held at most (about 100 bytes each); a district has some 300,000.
pub const MAX_DEVICES: usize = 2_000_000;

#[derive(Default)]
pub struct DeviceCache {
    /// Held across the database reads of a refresh or a lookup, so two workers can not apply
    /// older rows over newer ones. Refreshes are rare, and lookups only for devices not held.
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The binding clock the held devices are current with; `None` before the first read.
    clock: Option<i64>,
    /// Device id → (gateway id, resident id).
    devices: HashMap<String, (String, i64)>,
}

/// Per gateway: the devices (of those asked for) bound to it, with their residents.
pub type Bound = HashMap<String, HashMap<String, i64>>;

impl DeviceCache {
    /// The bindings of `device_ids` (each given once); unknown devices are left out.
    pub async fn lookup(&self, store: &Store, device_ids: &[&str]) -> Result<Bound, StoreError> {
        let clock = store.binding_clock().await?;
        let mut inner = self.inner.lock().await;
        match inner.clock {
            // Another worker may have read a later clock: its rows are newer still.
            Some(held) if held >= clock => {}
            Some(held) => {
                let rows = store.gateway_bindings_since(held).await?;
                inner.apply(rows);
                inner.clock = Some(clock);
            }
            None => inner.clock = Some(clock),
        }
        let missing: Vec<&str> = device_ids.iter().copied().filter(|d| !inner.devices.contains_key(*d)).collect();
        if !missing.is_empty() {
            // Read after the clock: every change stamped up to it is in these rows, and any
            // later one is read by the next refresh.
            let rows = store.devices_by_id(&missing).await?;
            if inner.devices.len() + rows.len() > MAX_DEVICES {
                tracing::info!(held = inner.devices.len(), "device cache full; emptied");
                inner.devices.clear();
            }
            for d in rows {
                inner.devices.insert(d.device_id, (d.gateway_id, d.resident_id));
            }
        }
        let mut bound = Bound::new();
        for id in device_ids {
            if let Some((gateway_id, resident_id)) = inner.devices.get(*id) {
                bound.entry(gateway_id.clone()).or_default().insert((*id).to_owned(), *resident_id);
            }
        }
        Ok(bound)
    }
}

impl Inner {
    /// Applies the rows of the gateways whose devices changed: every device of theirs now, and
    /// none held for them that is not among the rows (removed, or bound elsewhere).
    fn apply(&mut self, rows: Vec<BindingRow>) {
        let changed: std::collections::HashSet<&str> = rows.iter().map(|r| r.gateway_id.as_str()).collect();
        self.devices.retain(|_, (gateway_id, _)| !changed.contains(gateway_id.as_str()));
        for r in rows {
            if let (Some(device_id), Some(resident_id)) = (r.device_id, r.resident_id) {
                self.devices.insert(device_id, (r.gateway_id, resident_id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use eldercare_store::org::OrgKind;

    use super::*;

    fn of(bound: &Bound) -> Vec<(String, String, i64)> {
        let mut v: Vec<_> =
            bound.iter().flat_map(|(g, ds)| ds.iter().map(move |(d, r)| (d.clone(), g.clone(), *r))).collect();
        v.sort();
        v
    }

    fn row(device: &str, gateway: &str, resident: i64) -> (String, String, i64) {
        (device.to_owned(), gateway.to_owned(), resident)
    }

    #[tokio::test]
    async fn every_binding_change_is_seen_by_the_next_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.path().join("t.db").display())).await.unwrap();
        let district = store.create_org_unit(None, OrgKind::District, "D").await.unwrap();
        let grid = store.create_org_unit(Some(district), OrgKind::Grid, "G").await.unwrap();
        let home = store.create_household(grid, "H").await.unwrap();
        let (wang, li) = (
            store.create_resident(home, "Wang", None).await.unwrap(),
            store.create_resident(home, "Li", None).await.unwrap(),
        );
        store.register_gateway("gw-a", home).await.unwrap();
        store.register_gateway("gw-b", home).await.unwrap();
        store.register_device("hr-1", "gw-a", wang, "heart_rate_band").await.unwrap();
        store.register_device("ox-1", "gw-a", wang, "pulse_oximeter").await.unwrap();

        let cache = DeviceCache::default();
        let got = cache.lookup(&store, &["hr-1", "ox-1", "made-up"]).await.unwrap();
        assert_eq!(of(&got), [row("hr-1", "gw-a", wang), row("ox-1", "gw-a", wang)]);

        // A device held is rebound to another wearer, another held one to another gateway.
        assert!(store.rebind_device("hr-1", "gw-a", li).await.unwrap());
        assert!(store.rebind_device("ox-1", "gw-b", li).await.unwrap());
        let got = cache.lookup(&store, &["hr-1", "ox-1"]).await.unwrap();
        assert_eq!(of(&got), [row("hr-1", "gw-a", li), row("ox-1", "gw-b", li)]);

        // A device that was unknown is registered: found at once (unknown ones are not kept).
        store.register_device("made-up", "gw-b", wang, "thermometer").await.unwrap();
        let got = cache.lookup(&store, &["made-up"]).await.unwrap();
        assert_eq!(of(&got), [row("made-up", "gw-b", wang)]);

        // Changes made while nothing was looked up are all applied, also to devices not asked
        // for this time; a device held by a gateway that changed but not named by its rows is
        // dropped (here: moved back to gw-a, which is then read with all its devices).
        assert!(store.rebind_device("ox-1", "gw-a", wang).await.unwrap());
        assert!(store.rebind_device("made-up", "gw-a", li).await.unwrap());
        let got = cache.lookup(&store, &["hr-1"]).await.unwrap();
        assert_eq!(of(&got), [row("hr-1", "gw-a", li)]);
        let held: HashMap<String, (String, i64)> = cache.inner.lock().await.devices.clone();
        assert_eq!(held.get("ox-1"), Some(&("gw-a".to_owned(), wang)));
        assert_eq!(held.get("made-up"), Some(&("gw-a".to_owned(), li)));
        let got = cache.lookup(&store, &["hr-1", "ox-1", "made-up"]).await.unwrap();
        assert_eq!(of(&got), [row("hr-1", "gw-a", li), row("made-up", "gw-a", li), row("ox-1", "gw-a", wang)]);
    }

    #[test]
    fn applying_a_changed_gateway_drops_its_devices_that_left() {
        let mut inner = Inner::default();
        inner.devices.insert("d1".into(), ("gw-a".into(), 1));
        inner.devices.insert("d2".into(), ("gw-a".into(), 1));
        inner.devices.insert("d3".into(), ("gw-b".into(), 2));
        // gw-a changed: only d1 is still bound to it; gw-c has no devices at all.
        inner.apply(vec![
            BindingRow { gateway_id: "gw-a".into(), device_id: Some("d1".into()), kind: None, resident_id: Some(5) },
            BindingRow { gateway_id: "gw-c".into(), device_id: None, kind: None, resident_id: None },
        ]);
        let mut held: Vec<_> = inner.devices.into_iter().collect();
        held.sort();
        assert_eq!(held, [("d1".to_owned(), ("gw-a".to_owned(), 5)), ("d3".to_owned(), ("gw-b".to_owned(), 2))]);
    }
}
