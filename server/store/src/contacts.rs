//! The devices' last contact as this process last stored it, so that ingest asks the database
//! only about devices whose stored contact may move.
//!
//! A device's `last_reading_ms` moves only by [`LAST_CONTACT_STEP_MS`] or more (`tx.rs`), so a
//! band measuring every few seconds has its row written about once a minute; yet every group
//! still probed the row of every device it named, to find out. At district scale that was 5 %
//! of the database's statement time, for updates that mostly did nothing.
//!
//! Here is, per device, a contact the database held when a transaction of this process
//! committed it. The stored contact never goes back (the update keeps the later one), so it is
//! at least that: a reading less than a step newer can not move it, and ingest leaves the
//! device out of its update. Values are taken from the rows the update returns and kept only
//! once that transaction commits; one that rolls back teaches nothing. A device with a battery
//! reading is always sent (its level may change). Another instance's writes only make the
//! stored contact later than what is held here, which keeps the rule true.
//!
//! [`LAST_CONTACT_STEP_MS`]: crate::LAST_CONTACT_STEP_MS

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Devices held at most (a district has some 400,000); past it the map is emptied.
const MAX_DEVICES: usize = 2_000_000;

/// Device id → a last contact the database held (ms).
#[derive(Clone, Default)]
pub(crate) struct Contacts(Arc<Mutex<HashMap<String, i64>>>);

impl std::fmt::Debug for Contacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Contacts({} devices)", self.0.lock().expect("contacts").len())
    }
}

impl Contacts {
    /// Whether a reading measured at `measured_ms` can not move the device's stored contact.
    pub(crate) fn keeps(&self, device_id: &str, measured_ms: i64) -> bool {
        let held = self.0.lock().expect("contacts").get(device_id).copied();
        held.is_some_and(|held| held > measured_ms - crate::LAST_CONTACT_STEP_MS)
    }

    /// Notes contacts the database holds (committed).
    pub(crate) fn learn(&self, stored: Vec<(String, i64)>) {
        if stored.is_empty() {
            return;
        }
        let mut map = self.0.lock().expect("contacts");
        if map.len() + stored.len() > MAX_DEVICES {
            map.clear();
        }
        for (device_id, last_ms) in stored {
            let e = map.entry(device_id).or_insert(last_ms);
            *e = (*e).max(last_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LAST_CONTACT_STEP_MS as STEP;

    #[test]
    fn a_device_is_left_out_only_while_its_held_contact_is_less_than_a_step_old() {
        let c = Contacts::default();
        assert!(!c.keeps("band", 1_000), "nothing held: ask the database");
        c.learn(vec![("band".into(), 1_000)]);
        assert!(c.keeps("band", 1_000));
        assert!(c.keeps("band", 1_000 + STEP - 1));
        assert!(!c.keeps("band", 1_000 + STEP), "a step newer moves it");
        assert!(!c.keeps("scale", 1_000));
        // An older value learnt later does not lower what is held.
        c.learn(vec![("band".into(), 500)]);
        assert!(c.keeps("band", 1_000 + STEP - 1));
    }
}
