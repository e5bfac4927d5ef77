//! One simulated wearable: decides when it measures and encodes what it measured as GATT bytes.

use crate::gatt::{Characteristic, DateTime, FallEventKind, encode};

use super::{DeviceKind, SimDevice, Story};

/// A notification or indication as it would arrive from the radio.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub device_id: String,
    pub characteristic: Characteristic,
    pub bytes: Vec<u8>,
}

/// Small deterministic noise source (xorshift), seeded from the device id, so runs repeat.
#[derive(Debug, Clone)]
struct Noise(u64);

impl Noise {
    fn new(seed: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        Noise(h | 1)
    }
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

#[derive(Debug, Clone)]
pub struct Wearable {
    spec: SimDevice,
    every_s: f64,
    next_at_s: f64,
    battery_next_at_s: f64,
    battery: f64,
    noise: Noise,
    glucose_seq: u16,
    fall_sent: bool,
    cancel_sent: bool,
}

impl Wearable {
    pub fn new(spec: SimDevice) -> Self {
        let every_s = spec.every_s.unwrap_or_else(|| spec.kind.default_every_s()).max(0.1);
        let mut noise = Noise::new(&spec.device_id);
        // Spread first measurements over the first few seconds so devices do not all fire at once.
        let first = (noise.next() + 1.0) * 1.5;
        Wearable {
            spec,
            every_s,
            next_at_s: first,
            battery_next_at_s: first,
            battery: 87.0,
            noise,
            glucose_seq: 1,
            fall_sent: false,
            cancel_sent: false,
        }
    }

    pub fn device_id(&self) -> &str {
        &self.spec.device_id
    }

    pub fn kind(&self) -> DeviceKind {
        self.spec.kind
    }

    /// `n` measurements taken before now (the memory a device holds when the story starts),
    /// oldest first, one period apart and stamped with their times; `now_ms` is the wall clock.
    pub fn backfill(&mut self, n: u32, now_ms: i64) -> Vec<Packet> {
        let period_ms = (self.every_s * 1000.0) as i64;
        (0..n)
            .filter_map(|k| {
                let at_ms = now_ms - i64::from(n - k) * period_ms;
                self.measure(0.0, Some(DateTime::from_unix_ms(at_ms)))
            })
            .collect()
    }

    /// Packets due at `t_s` seconds since the start, with `now_ms` the wall clock for device
    /// timestamps.
    pub fn poll(&mut self, t_s: f64, now_ms: i64) -> Vec<Packet> {
        let mut out = Vec::new();
        let time = Some(DateTime::from_unix_ms(now_ms));
        if let Story::Fall { at_s, cancelled } = self.spec.story {
            if !self.fall_sent && t_s >= at_s {
                self.fall_sent = true;
                out.push(self.packet(Characteristic::FallEvent, encode::fall(FallEventKind::FallDetected, time)));
            }
            if cancelled && self.fall_sent && !self.cancel_sent && t_s >= at_s + 10.0 {
                self.cancel_sent = true;
                out.push(self.packet(Characteristic::FallEvent, encode::fall(FallEventKind::FallCancelled, time)));
            }
        }
        if let Story::HelpButton { at_s } = self.spec.story
            && !self.fall_sent
            && t_s >= at_s
        {
            self.fall_sent = true;
            out.push(self.packet(Characteristic::FallEvent, encode::fall(FallEventKind::HelpButton, time)));
        }
        if t_s >= self.battery_next_at_s {
            self.battery_next_at_s = t_s + 600.0;
            self.battery = (self.battery - 0.5).max(5.0);
            out.push(self.packet(Characteristic::BatteryLevel, encode::battery(self.battery.round() as u8)));
        }
        if t_s >= self.next_at_s {
            // On schedule (a tick coarser than the period does not stretch it), but after a long
            // stall the missed measurements are skipped rather than sent in a burst. The device
            // stamps a measurement with the time it was due, not with when this tick came: two
            // measurements of a device are then always a period apart in its clock, also when a
            // late tick is followed by a punctual one (a stamp with whole seconds would otherwise
            // make two spot checks of equal values the same bytes).
            let (due_s, next_at_s) = if t_s - self.next_at_s > self.every_s {
                (t_s, t_s + self.every_s)
            } else {
                (self.next_at_s, self.next_at_s + self.every_s)
            };
            self.next_at_s = next_at_s;
            let due = Some(DateTime::from_unix_ms(now_ms - ((t_s - due_s) * 1000.0) as i64));
            if let Some(p) = self.measure(t_s, due) {
                out.push(p);
            }
        }
        out
    }

    fn packet(&self, characteristic: Characteristic, bytes: Vec<u8>) -> Packet {
        Packet { device_id: self.spec.device_id.clone(), characteristic, bytes }
    }

    fn measure(&mut self, t_s: f64, time: Option<DateTime>) -> Option<Packet> {
        let n = self.noise.next();
        let (ch, bytes) = match self.spec.kind {
            _ if self.spec.story == Story::Garbage => {
                let len = 1 + (self.noise.next().abs() * 3.0) as usize;
                (self.main_characteristic(), vec![0xFF; len])
            }
            DeviceKind::HeartRateBand => {
                let bpm = (72.0 + 6.0 * n).round() as u16;
                let rr = 60_000.0 / bpm as f64;
                (Characteristic::HeartRateMeasurement, encode::heart_rate(bpm, &[rr, rr + 8.0 * n], Some(true), None))
            }
            DeviceKind::PulseOximeter => {
                let mut spo2 = 97.0 + n;
                if let Story::Spo2Decline { start_s, per_min, floor } = self.spec.story
                    && t_s > start_s
                {
                    spo2 = (spo2 - per_min * (t_s - start_s) / 60.0).max(floor);
                }
                (Characteristic::PlxSpotCheck, encode::plx_spot_check(spo2.round(), (74.0 + 5.0 * n).round(), time))
            }
            DeviceKind::Thermometer => {
                let mut c = 36.5 + 0.2 * n;
                if let Story::Fever { start_s, per_min, peak_c } = self.spec.story
                    && t_s > start_s
                {
                    c = (c + per_min * (t_s - start_s) / 60.0).min(peak_c);
                }
                (Characteristic::TemperatureMeasurement, encode::temperature_celsius((c * 10.0).round() / 10.0, time))
            }
            DeviceKind::BloodPressureCuff => {
                let sys = (128.0 + 8.0 * n).round();
                let dia = (78.0 + 5.0 * n).round();
                let map = ((sys + 2.0 * dia) / 3.0).round();
                (
                    Characteristic::BloodPressureMeasurement,
                    encode::blood_pressure_mmhg(sys, dia, map, Some((70.0 + 4.0 * n).round()), time),
                )
            }
            DeviceKind::Scale => {
                (Characteristic::WeightMeasurement, encode::weight_kg(((62.0 + 0.3 * n) * 10.0).round() / 10.0, time))
            }
            DeviceKind::GlucoseMeter => {
                self.glucose_seq = self.glucose_seq.wrapping_add(1);
                let base = time.unwrap_or_else(|| DateTime::from_unix_ms(0));
                (
                    Characteristic::GlucoseMeasurement,
                    encode::glucose_mmol(self.glucose_seq, base, ((6.2 + 0.8 * n) * 10.0).round() / 10.0),
                )
            }
            DeviceKind::FallPendant => return None,
        };
        Some(self.packet(ch, bytes))
    }

    fn main_characteristic(&self) -> Characteristic {
        match self.spec.kind {
            DeviceKind::HeartRateBand => Characteristic::HeartRateMeasurement,
            DeviceKind::PulseOximeter => Characteristic::PlxSpotCheck,
            DeviceKind::Thermometer => Characteristic::TemperatureMeasurement,
            DeviceKind::BloodPressureCuff => Characteristic::BloodPressureMeasurement,
            DeviceKind::Scale => Characteristic::WeightMeasurement,
            DeviceKind::GlucoseMeter => Characteristic::GlucoseMeasurement,
            DeviceKind::FallPendant => Characteristic::FallEvent,
        }
    }
}
