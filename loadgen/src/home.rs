//! A simulated home: its gateway id, its residents and their devices, and when each device
//! measures next. Rates are in story time; `speedup` compresses story time into wall time.

use std::time::{Duration, Instant};

use eldercare_schema::Metric;
use serde::Serialize;

/// How often each kind of device measures, in story time.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rates {
    /// Heart-rate band: one heart rate.
    pub heart_rate: Duration,
    /// Pulse oximeter: one SpO2.
    pub spo2: Duration,
    /// Blood-pressure cuff: systolic and diastolic (two readings).
    pub blood_pressure: Duration,
    /// Scale: one body weight.
    pub weight: Duration,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            heart_rate: Duration::from_secs(5),
            spo2: Duration::from_secs(60),
            blood_pressure: Duration::from_secs(86_400),
            weight: Duration::from_secs(86_400),
        }
    }
}

impl Rates {
    /// Readings one resident produces per second of story time.
    pub fn per_resident_per_s(&self) -> f64 {
        1.0 / self.heart_rate.as_secs_f64()
            + 1.0 / self.spo2.as_secs_f64()
            + 2.0 / self.blood_pressure.as_secs_f64()
            + 1.0 / self.weight.as_secs_f64()
    }
}

/// The kinds of device a simulated resident wears or uses, as registered on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Band,
    Oximeter,
    Cuff,
    Scale,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 4] = [DeviceKind::Band, DeviceKind::Oximeter, DeviceKind::Cuff, DeviceKind::Scale];

    /// The kind string the server stores (the gateway simulator's names).
    pub fn registered_kind(self) -> &'static str {
        match self {
            DeviceKind::Band => "heart_rate_band",
            DeviceKind::Oximeter => "pulse_oximeter",
            DeviceKind::Cuff => "blood_pressure_cuff",
            DeviceKind::Scale => "scale",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            DeviceKind::Band => "hr",
            DeviceKind::Oximeter => "ox",
            DeviceKind::Cuff => "bp",
            DeviceKind::Scale => "sc",
        }
    }

    fn every(self, rates: &Rates) -> Duration {
        match self {
            DeviceKind::Band => rates.heart_rate,
            DeviceKind::Oximeter => rates.spo2,
            DeviceKind::Cuff => rates.blood_pressure,
            DeviceKind::Scale => rates.weight,
        }
    }
}

/// The gateway id of home `index` in a run with `prefix`.
pub fn gateway_id(prefix: &str, index: usize) -> String {
    format!("{prefix}-g{index}")
}

/// The device id of `kind` worn by resident `resident` of `gateway_id` (device ids are global).
pub fn device_id(gateway_id: &str, resident: usize, kind: DeviceKind) -> String {
    format!("{gateway_id}-r{resident}-{}", kind.suffix())
}

/// A tiny deterministic generator (SplitMix64): values and phases, no shared state.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// The SpO2 of a resident made to raise an alert, percent.
pub const LOW_SPO2: f64 = 82.0;

/// One measured value, before the gateway gives it a sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub device_id: String,
    pub metric: Metric,
    pub value: f64,
}

#[derive(Debug, Clone)]
struct Stream {
    device_id: String,
    kind: DeviceKind,
    every: Duration,
    next: Instant,
    /// The resident's usual value (heart rate, SpO2, systolic, weight), so values look real.
    usual: f64,
}

/// A simulated home.
#[derive(Debug, Clone)]
pub struct Home {
    pub gateway_id: String,
    streams: Vec<Stream>,
    rng: Rng,
}

impl Home {
    /// Home `index` with `residents` residents, each with a band, an oximeter, a cuff and a
    /// scale; each device's first measurement falls at a random point of its first interval.
    pub fn new(prefix: &str, index: usize, residents: usize, rates: &Rates, speedup: f64, start: Instant) -> Home {
        let gateway_id = gateway_id(prefix, index);
        let mut rng = Rng::new(index as u64);
        let mut streams = Vec::with_capacity(residents * DeviceKind::ALL.len());
        for r in 0..residents {
            for kind in DeviceKind::ALL {
                let every = kind.every(rates).div_f64(speedup.max(1e-9));
                let usual = match kind {
                    DeviceKind::Band => rng.range(62.0, 82.0),
                    DeviceKind::Oximeter => rng.range(95.0, 98.5),
                    DeviceKind::Cuff => rng.range(112.0, 134.0),
                    DeviceKind::Scale => rng.range(48.0, 85.0),
                };
                streams.push(Stream {
                    device_id: device_id(&gateway_id, r, kind),
                    kind,
                    every,
                    next: start + every.mul_f64(rng.unit()),
                    usual,
                });
            }
        }
        Home { gateway_id, streams, rng }
    }

    /// Resident 0's oximeter reads 82 % from now on: below every SpO2 guard-rail, so the server
    /// raises one critical alert for this resident (to check alerting under load).
    pub fn with_low_spo2(mut self) -> Home {
        if let Some(s) = self.streams.iter_mut().find(|s| s.kind == DeviceKind::Oximeter) {
            s.usual = LOW_SPO2;
        }
        self
    }

    /// The device ids and kinds of resident `r`.
    pub fn devices_of(gateway_id: &str, resident: usize) -> impl Iterator<Item = (String, DeviceKind)> + '_ {
        DeviceKind::ALL.into_iter().map(move |k| (device_id(gateway_id, resident, k), k))
    }

    /// Appends every measurement due by `now` (several per device when the gateway fell behind).
    pub fn due(&mut self, now: Instant, out: &mut Vec<Measured>) {
        for s in &mut self.streams {
            while s.next <= now {
                s.next += s.every;
                let jitter = self.rng.range(-1.0, 1.0);
                match s.kind {
                    DeviceKind::Band => out.push(m(&s.device_id, Metric::HeartRate, (s.usual + 4.0 * jitter).round())),
                    DeviceKind::Oximeter if s.usual == LOW_SPO2 => out.push(m(&s.device_id, Metric::Spo2, LOW_SPO2)),
                    DeviceKind::Oximeter => {
                        out.push(m(&s.device_id, Metric::Spo2, (s.usual + jitter).clamp(94.0, 100.0).round()))
                    }
                    DeviceKind::Cuff => {
                        let sys = (s.usual + 6.0 * jitter).round();
                        out.push(m(&s.device_id, Metric::BpSystolic, sys));
                        out.push(m(&s.device_id, Metric::BpDiastolic, (sys * 0.62).round()));
                    }
                    DeviceKind::Scale => {
                        out.push(m(&s.device_id, Metric::BodyWeight, ((s.usual + 0.3 * jitter) * 10.0).round() / 10.0))
                    }
                }
            }
        }
    }
}

fn m(device_id: &str, metric: Metric, value: f64) -> Measured {
    Measured { device_id: device_id.to_owned(), metric, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rates_per_resident() {
        let r = Rates::default().per_resident_per_s();
        assert!((r - (0.2 + 1.0 / 60.0 + 3.0 / 86_400.0)).abs() < 1e-12);
    }

    #[test]
    fn emits_at_the_configured_rate_and_plausible_values() {
        let start = Instant::now();
        let rates = Rates::default();
        let mut home = Home::new("t", 3, 2, &rates, 100.0, start);
        let mut out = Vec::new();
        // 600 story seconds = 6 wall seconds at speedup 100.
        home.due(start + Duration::from_secs(6), &mut out);
        let hr = out.iter().filter(|x| x.metric == Metric::HeartRate).count();
        let spo2 = out.iter().filter(|x| x.metric == Metric::Spo2).count();
        assert!((238..=242).contains(&hr), "{hr}"); // 2 residents x 120, first within the interval
        assert!((18..=22).contains(&spo2), "{spo2}");
        assert!(out.iter().all(|x| x.metric.is_plausible(x.value)));
        assert!(out.iter().all(|x| x.device_id.starts_with("t-g3-r")));
        assert!(out.iter().all(|x| x.device_id.len() <= eldercare_schema::payload::MAX_DEVICE_ID_LEN));
        let mut low = Home::new("t", 4, 1, &rates, 100.0, start).with_low_spo2();
        let mut lows = Vec::new();
        low.due(start + Duration::from_secs(6), &mut lows);
        assert!(lows.iter().filter(|x| x.metric == Metric::Spo2).all(|x| x.value == LOW_SPO2));
        assert!(lows.iter().any(|x| x.metric == Metric::Spo2));
        // Nothing more is due at the same instant.
        let before = out.len();
        home.due(start + Duration::from_secs(6), &mut out);
        assert_eq!(out.len(), before);
    }
}
