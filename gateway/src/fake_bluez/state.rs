//! The simulated radio's state, shared by the D-Bus objects and the driver.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use serde::Serialize;

use super::layout::{self, ServiceLayout};
use crate::config::BleAddress;
use crate::gatt::racp::{Records, Request, Response, ResponseCode};
use crate::gatt::{Characteristic, glucose_sequence_number, uuid_string};
use crate::sim::{DeviceKind, RadioDevice};

pub const ADAPTER_PATH: &str = "/org/bluez/hci0";
pub const ADAPTER_ADDRESS: &str = "00:1A:7D:DA:71:13";

/// Bytes the gateway received from a simulated device: by notification/indication or read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivered {
    pub device_id: String,
    pub characteristic: Characteristic,
    pub bytes: Vec<u8>,
    /// Story time of delivery, seconds.
    pub at_s: f64,
    /// Which connection of the device (1 = the first) carried it.
    pub session: u64,
    /// `true` for a read answered, `false` for a notification or indication.
    pub read: bool,
}

/// Counters of one simulated device.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceReport {
    pub device_id: String,
    pub address: String,
    pub connected: bool,
    /// Successful Connect calls.
    pub connects: u64,
    /// Connect calls refused because the device was out of range.
    pub connect_failures: u64,
    /// Disconnect calls from the gateway.
    pub gateway_disconnects: u64,
    /// Links the simulation dropped (out of range).
    pub link_drops: u64,
    /// StartNotify calls.
    pub subscriptions: u64,
    /// Characteristics with notifications on right now (UUIDs).
    pub notifying: Vec<String>,
    /// Notified packets lost because nobody was subscribed (a real band forgets them too).
    pub dropped: u64,
    /// Indications waiting for a connection.
    pub queued: usize,
    pub advertisements: u64,
    /// Records in its RACP memory now.
    pub stored: usize,
    /// Record Access Control Point requests served, in order.
    pub racp: Vec<RacpExchange>,
}

/// One request on the Record Access Control Point and how the device answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RacpExchange {
    /// The bytes written.
    pub request: Vec<u8>,
    /// Records sent in reply, before the answer.
    pub records: usize,
    /// The bytes indicated on the control point.
    pub response: Vec<u8>,
}

/// Records a memory keeps at most (the oldest are overwritten, as meters do).
const MEMORY_SIZE: usize = 1000;

/// A device's record memory, read through the Record Access Control Point.
#[derive(Debug, Clone)]
pub struct Memory {
    pub characteristic: Characteristic,
    /// (sequence number, value): glucose records carry theirs; oximeter records are numbered
    /// by arrival.
    pub records: VecDeque<(u16, Vec<u8>)>,
    next_index: u16,
    /// Holds records not reported since they were taken (then the device advertises).
    pub unreported: bool,
}

impl Memory {
    pub fn new(characteristic: Characteristic) -> Self {
        Memory { characteristic, records: VecDeque::new(), next_index: 1, unreported: false }
    }

    pub fn store(&mut self, bytes: Vec<u8>) {
        let seq = match self.characteristic {
            Characteristic::GlucoseMeasurement => glucose_sequence_number(&bytes).unwrap_or(self.next_index),
            _ => self.next_index,
        };
        self.next_index = self.next_index.wrapping_add(1);
        if self.records.len() >= MEMORY_SIZE {
            self.records.pop_front();
        }
        self.records.push_back((seq, bytes));
        self.unreported = true;
    }

    /// Serves one request: the records to send, then the answer to indicate.
    pub fn serve(&mut self, written: &[u8]) -> (Vec<Vec<u8>>, Response) {
        let answer = |op: u8, code| Response::ResponseCode { request_op_code: op, code };
        let request = match Request::decode(written) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), answer(written.first().copied().unwrap_or(0), e.response_code())),
        };
        let op = request.op_code();
        let records = match request {
            Request::Abort => return (Vec::new(), answer(op, ResponseCode::Success)),
            Request::ReportStoredRecords { records }
            | Request::DeleteStoredRecords { records }
            | Request::ReportNumberOfStoredRecords { records } => records,
        };
        // The pulse oximeter profile filters on nothing but "all", "first" and "last".
        let filtered = !matches!(records, Records::All | Records::First | Records::Last);
        if filtered && self.characteristic != Characteristic::GlucoseMeasurement {
            return (Vec::new(), answer(op, ResponseCode::OperatorNotSupported));
        }
        let selected: Vec<usize> = match records {
            Records::First => (0..self.records.len().min(1)).collect(),
            Records::Last => self.records.len().checked_sub(1).into_iter().collect(),
            r => (0..self.records.len()).filter(|&i| r.selects(self.records[i].0)).collect(),
        };
        match request {
            Request::ReportNumberOfStoredRecords { .. } => {
                (Vec::new(), Response::NumberOfStoredRecords { count: selected.len().min(65535) as u16 })
            }
            Request::DeleteStoredRecords { .. } => {
                let code = if selected.is_empty() { ResponseCode::NoRecordsFound } else { ResponseCode::Success };
                for i in selected.into_iter().rev() {
                    self.records.remove(i);
                }
                (Vec::new(), answer(op, code))
            }
            _ => {
                self.unreported = false;
                if selected.is_empty() {
                    return (Vec::new(), answer(op, ResponseCode::NoRecordsFound));
                }
                let sent = selected.into_iter().map(|i| self.records[i].1.clone()).collect();
                (sent, answer(op, ResponseCode::Success))
            }
        }
    }
}

/// A snapshot of the whole simulated radio.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FakeReport {
    pub discovering: bool,
    /// StartDiscovery calls that started a discovery.
    pub discovery_starts: u64,
    /// Most devices connected at the same time.
    pub max_connected: usize,
    pub devices: Vec<DeviceReport>,
    pub delivered: Vec<Delivered>,
}

impl FakeReport {
    pub fn device(&self, device_id: &str) -> &DeviceReport {
        self.devices.iter().find(|d| d.device_id == device_id).unwrap_or_else(|| panic!("no device {device_id}"))
    }

    pub fn delivered_by<'a>(&'a self, device_id: &'a str) -> impl Iterator<Item = &'a Delivered> + 'a {
        self.delivered.iter().filter(move |d| d.device_id == device_id)
    }
}

/// A service's object path and UUID, and its characteristics' paths, UUIDs and flags.
pub type GattPaths = (String, u128, Vec<(String, u128, &'static [&'static str])>);

pub struct Radio {
    pub device_id: String,
    pub kind: DeviceKind,
    pub plan: RadioDevice,
    pub address: BleAddress,
    pub name: String,
    pub path: String,
    pub services: Vec<ServiceLayout>,
    pub exported: bool,
    pub gatt_exported: bool,
    pub connected: bool,
    pub resolved: bool,
    pub ever_connected: bool,
    /// Out of range until this story time (infinite: never returns).
    pub out_until_s: Option<f64>,
    pub drops: VecDeque<f64>,
    pub rssi: i16,
    pub last_advert: Option<Instant>,
    pub notifying: HashSet<u128>,
    pub values: HashMap<u128, Vec<u8>>,
    pub queue: VecDeque<(Characteristic, Vec<u8>)>,
    /// The record memory (`stored_records` in the scenario), if any.
    pub memory: Option<Memory>,
    /// Measurements go into the memory (`stored_records` given) rather than straight out.
    pub keeps_records: bool,
    /// The transfer cut short by `racp_drop_after_records` has happened.
    pub racp_cut: bool,
    /// Requests written to the Record Access Control Point, served by the driver.
    pub racp_jobs: VecDeque<Vec<u8>>,
    pub report: DeviceReport,
}

impl Radio {
    pub fn new(device_id: &str, kind: DeviceKind, plan: RadioDevice) -> Radio {
        let address = plan.address();
        let path = format!("{ADAPTER_PATH}/dev_{}", address.to_string().replace(':', "_"));
        let keeps_records = plan.stored_records.is_some() && layout::record_characteristic(kind).is_some();
        // A glucose meter always has its control point; without a memory it has no records.
        let memory = (keeps_records || kind == DeviceKind::GlucoseMeter)
            .then(|| layout::record_characteristic(kind).map(Memory::new))
            .flatten();
        let services = layout::services(kind, &format!("SIM-{}", address.to_string().replace(':', "")), keeps_records);
        let values = services.iter().flat_map(|s| &s.chars).map(|c| (c.uuid, c.value.clone())).collect();
        let mut drops: Vec<f64> = plan.drop_link_at_s.clone();
        drops.sort_by(f64::total_cmp);
        Radio {
            device_id: device_id.to_owned(),
            kind,
            name: plan.name(kind),
            address,
            path,
            services,
            exported: false,
            gatt_exported: false,
            connected: false,
            resolved: false,
            ever_connected: false,
            out_until_s: None,
            drops: drops.into(),
            rssi: plan.rssi,
            last_advert: None,
            notifying: HashSet::new(),
            values,
            queue: VecDeque::new(),
            memory,
            keeps_records,
            racp_cut: false,
            racp_jobs: VecDeque::new(),
            report: DeviceReport {
                device_id: device_id.to_owned(),
                address: address.to_string(),
                ..Default::default()
            },
            plan,
        }
    }

    pub fn in_range(&self, t_s: f64) -> bool {
        t_s >= self.plan.appears_at_s && self.out_until_s.is_none_or(|until| t_s >= until)
    }

    /// `(service path, service uuid, [(char path, char uuid, flags)])` of its GATT objects.
    pub fn gatt_paths(&self) -> Vec<GattPaths> {
        let mut handle = 0x000a_u16;
        self.services
            .iter()
            .map(|s| {
                let spath = format!("{}/service{handle:04x}", self.path);
                handle += 1;
                let chars = s
                    .chars
                    .iter()
                    .map(|c| {
                        let cpath = format!("{spath}/char{handle:04x}");
                        handle += 2;
                        (cpath, c.uuid, c.flags)
                    })
                    .collect();
                handle += 1;
                (spath, s.uuid, chars)
            })
            .collect()
    }

    pub fn char_path(&self, uuid: u128) -> Option<String> {
        self.gatt_paths().into_iter().flat_map(|(_, _, c)| c).find(|(_, u, _)| *u == uuid).map(|(p, _, _)| p)
    }

    pub fn snapshot(&self) -> DeviceReport {
        let mut r = self.report.clone();
        r.connected = self.connected;
        r.queued = self.queue.len();
        r.stored = self.memory.as_ref().map_or(0, |m| m.records.len());
        r.notifying = self.notifying.iter().map(|u| uuid_string(*u)).collect();
        r.notifying.sort();
        r
    }
}

pub struct World {
    pub started: Instant,
    pub speed: f64,
    pub paused: bool,
    pub powered: bool,
    pub discovering: bool,
    pub stalled: bool,
    pub stalls: VecDeque<f64>,
    pub discovery_starts: u64,
    pub max_connected: usize,
    pub radios: Vec<Radio>,
    pub delivered: Vec<Delivered>,
}

impl World {
    pub fn t_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * self.speed
    }

    pub fn connected_count(&self) -> usize {
        self.radios.iter().filter(|r| r.connected).count()
    }

    pub fn report(&self) -> FakeReport {
        FakeReport {
            discovering: self.discovering,
            discovery_starts: self.discovery_starts,
            max_connected: self.max_connected,
            devices: self.radios.iter().map(Radio::snapshot).collect(),
            delivered: self.delivered.clone(),
        }
    }
}
