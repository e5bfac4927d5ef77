//! The GATT database each kind of simulated device exposes: its health service (the
//! characteristics with the properties the specifications give them), Battery and Device
//! Information. Some characteristics are ones the gateway does not decode (Body Sensor
//! Location, PLX Features, Glucose Feature...): a real device has them too, and the gateway must
//! leave them alone. Glucose meters (and pulse oximeters with a record memory) have a Record
//! Access Control Point, which the gateway writes to (see `state::Memory`).

use crate::gatt::{Characteristic, FALL_EVENT_UUID, FALL_SERVICE_UUID, encode, sig_uuid};
use crate::sim::DeviceKind;

#[derive(Debug, Clone)]
pub struct CharLayout {
    pub uuid: u128,
    pub flags: &'static [&'static str],
    /// Initial value (what a read returns before anything was measured).
    pub value: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct ServiceLayout {
    pub uuid: u128,
    pub chars: Vec<CharLayout>,
}

const READ: &[&str] = &["read"];
const NOTIFY: &[&str] = &["notify"];
const INDICATE: &[&str] = &["indicate"];
const READ_NOTIFY: &[&str] = &["read", "notify"];
const WRITE_INDICATE: &[&str] = &["write", "indicate"];

fn ch(short: u16, flags: &'static [&'static str]) -> CharLayout {
    CharLayout { uuid: sig_uuid(short), flags, value: Vec::new() }
}

fn text(short: u16, value: &str) -> CharLayout {
    CharLayout { uuid: sig_uuid(short), flags: READ, value: value.as_bytes().to_vec() }
}

/// The health service of a kind of device; `racp`: a pulse oximeter with a record memory (a
/// glucose meter always has its Record Access Control Point).
fn health_service(kind: DeviceKind, racp: bool) -> ServiceLayout {
    use DeviceKind::*;
    let (uuid, chars) = match kind {
        HeartRateBand => (0x180D, vec![ch(0x2A37, NOTIFY), CharLayout { value: vec![0x01], ..ch(0x2A38, READ) }]),
        PulseOximeter if racp => {
            (0x1822, vec![ch(0x2A5E, INDICATE), ch(0x2A5F, NOTIFY), ch(0x2A60, READ), ch(0x2A52, WRITE_INDICATE)])
        }
        PulseOximeter => (0x1822, vec![ch(0x2A5E, INDICATE), ch(0x2A5F, NOTIFY), ch(0x2A60, READ)]),
        Thermometer => (0x1809, vec![ch(0x2A1C, INDICATE), ch(0x2A1D, READ)]),
        BloodPressureCuff => (0x1810, vec![ch(0x2A35, INDICATE), ch(0x2A36, NOTIFY), ch(0x2A49, READ)]),
        Scale => (0x181D, vec![ch(0x2A9D, INDICATE), ch(0x2A9E, READ)]),
        GlucoseMeter => (0x1808, vec![ch(0x2A18, NOTIFY), ch(0x2A51, READ), ch(0x2A52, WRITE_INDICATE)]),
        FallPendant => {
            return ServiceLayout {
                uuid: FALL_SERVICE_UUID,
                chars: vec![CharLayout { uuid: FALL_EVENT_UUID, flags: INDICATE, value: Vec::new() }],
            };
        }
    };
    ServiceLayout { uuid: sig_uuid(uuid), chars }
}

/// Every service of a device of this kind, health service first.
pub fn services(kind: DeviceKind, serial: &str, racp: bool) -> Vec<ServiceLayout> {
    vec![
        health_service(kind, racp),
        ServiceLayout {
            uuid: sig_uuid(0x180F),
            chars: vec![CharLayout { value: encode::battery(87), ..ch(0x2A19, READ_NOTIFY) }],
        },
        ServiceLayout {
            uuid: sig_uuid(0x180A),
            chars: vec![
                text(0x2A29, "Eldercare Simulated Devices"),
                text(0x2A24, kind.as_str()),
                text(0x2A25, serial),
                text(0x2A26, "1.0.0-sim"),
            ],
        },
    ]
}

/// The service UUIDs a device of this kind advertises.
pub fn advertised(kind: DeviceKind) -> Vec<u128> {
    vec![health_service(kind, false).uuid, sig_uuid(0x180F)]
}

/// Whether bytes on this characteristic are indicated (acknowledged, so a device keeps them
/// until it can deliver them) rather than notified (lost while disconnected).
pub fn is_indicated(c: Characteristic) -> bool {
    use DeviceKind::*;
    [PulseOximeter, Thermometer, BloodPressureCuff, Scale, GlucoseMeter, FallPendant, HeartRateBand]
        .into_iter()
        .flat_map(|k| health_service(k, false).chars)
        .any(|l| l.uuid == c.uuid() && l.flags.contains(&"indicate"))
}

/// The characteristic whose values a device's record memory keeps.
pub fn record_characteristic(kind: DeviceKind) -> Option<Characteristic> {
    match kind {
        DeviceKind::GlucoseMeter => Some(Characteristic::GlucoseMeasurement),
        DeviceKind::PulseOximeter => Some(Characteristic::PlxSpotCheck),
        _ => None,
    }
}

/// Kinds that measure now and then and advertise only when they have something to send.
pub fn advertises_only_with_data(kind: DeviceKind) -> bool {
    matches!(kind, DeviceKind::BloodPressureCuff | DeviceKind::Scale | DeviceKind::GlucoseMeter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_characteristic_a_wearable_sends_is_in_its_layout() {
        for kind in [
            DeviceKind::HeartRateBand,
            DeviceKind::PulseOximeter,
            DeviceKind::Thermometer,
            DeviceKind::BloodPressureCuff,
            DeviceKind::Scale,
            DeviceKind::GlucoseMeter,
            DeviceKind::FallPendant,
        ] {
            let layout = services(kind, "x", true);
            let has = |c: Characteristic| layout.iter().flat_map(|s| &s.chars).any(|l| l.uuid == c.uuid());
            assert!(has(Characteristic::BatteryLevel), "{kind:?}");
            let main = layout[0].chars[0].uuid;
            assert!(Characteristic::from_uuid(main).is_some(), "{kind:?}");
        }
        assert!(is_indicated(Characteristic::BloodPressureMeasurement));
        assert!(is_indicated(Characteristic::FallEvent));
        assert!(!is_indicated(Characteristic::HeartRateMeasurement));
        assert!(!is_indicated(Characteristic::BatteryLevel));
    }
}
