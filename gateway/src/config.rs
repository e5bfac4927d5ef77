//! `gateway.toml`: who this gateway is, where it sends, and which Bluetooth devices are the
//! household's (an allowlist: everything else on the radio is ignored). See
//! `gateway/examples/gateway.toml` for a commented sample.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::mqtt::{BrokerAuth, MqttUrl, Secret};
use crate::sim::DeviceKind;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

/// A Bluetooth device address, `C4:7C:8D:6A:11:02` (BlueZ's spelling: upper case, colons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BleAddress(pub [u8; 6]);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0:?} is not a Bluetooth address (expected six hex bytes like C4:7C:8D:6A:11:02)")]
pub struct BleAddressError(String);

impl FromStr for BleAddress {
    type Err = BleAddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || BleAddressError(s.to_owned());
        let parts: Vec<&str> = s.trim().split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(err());
        }
        let mut bytes = [0u8; 6];
        for (b, p) in bytes.iter_mut().zip(parts) {
            if p.len() != 2 {
                return Err(err());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| err())?;
        }
        Ok(BleAddress(bytes))
    }
}

impl TryFrom<String> for BleAddress {
    type Error = BleAddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BleAddress> for String {
    fn from(a: BleAddress) -> String {
        a.to_string()
    }
}

impl fmt::Display for BleAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// How the gateway keeps a device's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    /// Stay connected; reconnect whenever the link drops (heart-rate bands, oximeters, pendants).
    Persistent,
    /// Connect when the device advertises, take what it sends, disconnect once it has been
    /// quiet for `idle_disconnect_s` (cuffs, scales, glucose meters: a few readings a day, and
    /// a connection slot is precious).
    OnDemand,
}

impl ConnectionMode {
    /// The sensible mode for a kind of device.
    pub fn for_kind(kind: Option<DeviceKind>) -> Self {
        match kind {
            Some(DeviceKind::BloodPressureCuff | DeviceKind::Scale | DeviceKind::GlucoseMeter) => {
                ConnectionMode::OnDemand
            }
            _ => ConnectionMode::Persistent,
        }
    }
}

/// One device of the household.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEntry {
    /// The id the server knows the device by.
    pub device_id: String,
    /// Its Bluetooth address (`eldercare-gateway scan` lists what is nearby).
    pub address: BleAddress,
    /// What it is; sets the default connection mode.
    #[serde(default)]
    pub kind: Option<DeviceKind>,
    /// Overrides the connection mode implied by `kind`.
    #[serde(default)]
    pub connection: Option<ConnectionMode>,
}

impl DeviceEntry {
    pub fn mode(&self) -> ConnectionMode {
        self.connection.unwrap_or_else(|| ConnectionMode::for_kind(self.kind))
    }
}

/// Bluetooth tuning. Every field has a default suited to a Raspberry Pi with its built-in
/// adapter or a cheap USB dongle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BleSettings {
    /// The adapter to use, e.g. `hci0`; the first one found when absent.
    pub adapter: Option<String>,
    /// Simultaneous connections. Cheap USB adapters hold 5 to 7; when some devices are
    /// on-demand, one slot is kept free for them.
    pub max_connections: usize,
    /// Give up a connection attempt (connect and service discovery) after this long.
    pub connect_timeout_s: f64,
    /// Retry delays after a failure grow from the first to the second, doubling.
    pub backoff_min_s: f64,
    pub backoff_max_s: f64,
    /// Restart discovery when no advertisement at all was heard for this long while some
    /// device is not connected (BlueZ scans stop silently after hours in the field).
    pub scan_watchdog_s: f64,
    /// On-demand devices are disconnected after this long without a notification.
    pub idle_disconnect_s: f64,
    /// A persistent device silent for this long is disconnected and connected again (a stale
    /// link that BlueZ still believes is up). 0 turns the check off.
    pub stale_after_s: f64,
}

impl Default for BleSettings {
    fn default() -> Self {
        BleSettings {
            adapter: None,
            max_connections: 5,
            connect_timeout_s: 30.0,
            backoff_min_s: 1.0,
            backoff_max_s: 60.0,
            scan_watchdog_s: 120.0,
            idle_disconnect_s: 20.0,
            stale_after_s: 1800.0,
        }
    }
}

fn secs(name: &str, v: f64) -> Result<Duration, ConfigError> {
    if v.is_finite() && (0.0..1e9).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(ConfigError::Invalid(format!("ble.{name} must be a number of seconds >= 0, not {v}")))
    }
}

impl BleSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout_s)
    }
    pub fn backoff_min(&self) -> Duration {
        Duration::from_secs_f64(self.backoff_min_s)
    }
    pub fn backoff_max(&self) -> Duration {
        Duration::from_secs_f64(self.backoff_max_s.max(self.backoff_min_s))
    }
    pub fn scan_watchdog(&self) -> Duration {
        Duration::from_secs_f64(self.scan_watchdog_s)
    }
    pub fn idle_disconnect(&self) -> Duration {
        Duration::from_secs_f64(self.idle_disconnect_s)
    }
    /// `None` when the check is off.
    pub fn stale_after(&self) -> Option<Duration> {
        (self.stale_after_s > 0.0).then(|| Duration::from_secs_f64(self.stale_after_s))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid("ble.max_connections must be at least 1".into()));
        }
        secs("connect_timeout_s", self.connect_timeout_s)?;
        secs("backoff_min_s", self.backoff_min_s)?;
        secs("backoff_max_s", self.backoff_max_s)?;
        secs("scan_watchdog_s", self.scan_watchdog_s)?;
        secs("idle_disconnect_s", self.idle_disconnect_s)?;
        secs("stale_after_s", self.stale_after_s)?;
        if self.connect_timeout_s == 0.0 || self.scan_watchdog_s == 0.0 {
            return Err(ConfigError::Invalid("ble.connect_timeout_s and ble.scan_watchdog_s must be above 0".into()));
        }
        Ok(())
    }
}

/// The whole of `gateway.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// This gateway's id, as registered on the server.
    pub gateway_id: String,
    /// The broker, `mqtt://host:port`, or `mqtts://host:port` for TLS (port 8883 by default).
    #[serde(with = "mqtt_url_text")]
    pub mqtt_url: MqttUrl,
    /// Broker login (optional).
    #[serde(default)]
    pub mqtt_username: Option<String>,
    /// Its password, inline...
    #[serde(default)]
    pub mqtt_password: Option<Secret>,
    /// ...or in a file (first line; relative paths are relative to the config file), so the
    /// configuration itself can stay world-readable.
    #[serde(default)]
    pub mqtt_password_file: Option<PathBuf>,
    /// PEM file of the CA that signs the broker's certificate (`mqtts://`; default: the
    /// system's roots). Relative paths are relative to the config file.
    #[serde(default)]
    pub mqtt_ca_file: Option<PathBuf>,
    /// Folder of the durable outbox (relative paths are relative to the config file).
    pub outbox_dir: PathBuf,
    /// Readings the outbox holds before it evicts the oldest.
    #[serde(default = "default_capacity")]
    pub outbox_capacity: u64,
    #[serde(default)]
    pub ble: BleSettings,
    /// The household's devices: the allowlist.
    #[serde(default)]
    pub devices: Vec<DeviceEntry>,
}

fn default_capacity() -> u64 {
    crate::outbox::DEFAULT_CAPACITY
}

mod mqtt_url_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::mqtt::MqttUrl;

    pub fn serialize<S: Serializer>(url: &MqttUrl, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(url)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MqttUrl, D::Error> {
        let text = String::deserialize(d)?;
        MqttUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl GatewayConfig {
    /// Parses and checks a configuration; relative paths stay as written.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let cfg: GatewayConfig = toml::from_str(text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a configuration file; a relative `outbox_dir` is taken relative to the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        let mut cfg = GatewayConfig::from_toml(&text)?;
        if let Some(parent) = path.parent() {
            for p in [Some(&mut cfg.outbox_dir), cfg.mqtt_password_file.as_mut(), cfg.mqtt_ca_file.as_mut()]
                .into_iter()
                .flatten()
            {
                if p.is_relative() {
                    *p = parent.join(&*p);
                }
            }
        }
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        eldercare_schema::topic::validate_gateway_id(&self.gateway_id)
            .map_err(|e| ConfigError::Invalid(format!("gateway_id: {e}")))?;
        self.ble.validate()?;
        if self.mqtt_password.is_some() && self.mqtt_password_file.is_some() {
            return Err(ConfigError::Invalid("give mqtt_password or mqtt_password_file, not both".into()));
        }
        if (self.mqtt_password.is_some() || self.mqtt_password_file.is_some()) && self.mqtt_username.is_none() {
            return Err(ConfigError::Invalid("a broker password needs mqtt_username".into()));
        }
        if self.mqtt_ca_file.is_some() && !self.mqtt_url.tls {
            return Err(ConfigError::Invalid(format!(
                "mqtt_ca_file is set but mqtt_url {} is not mqtts:// (the CA would not be used)",
                self.mqtt_url
            )));
        }
        let mut ids = HashSet::new();
        let mut addresses = HashSet::new();
        for d in &self.devices {
            if d.device_id.is_empty() || d.device_id.len() > eldercare_schema::payload::MAX_DEVICE_ID_LEN {
                return Err(ConfigError::Invalid(format!(
                    "device_id {:?} must be 1 to {} characters",
                    d.device_id,
                    eldercare_schema::payload::MAX_DEVICE_ID_LEN
                )));
            }
            if !ids.insert(d.device_id.as_str()) {
                return Err(ConfigError::Invalid(format!("device_id {:?} is listed twice", d.device_id)));
            }
            if !addresses.insert(d.address) {
                return Err(ConfigError::Invalid(format!("address {} is listed twice", d.address)));
            }
        }
        Ok(())
    }

    /// Login and trust for the broker; reads the password file.
    pub fn broker_auth(&self) -> Result<BrokerAuth, ConfigError> {
        let password = match (&self.mqtt_password, &self.mqtt_password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
                let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
                if first.is_empty() {
                    return Err(ConfigError::Invalid(format!("mqtt_password_file {} is empty", path.display())));
                }
                Some(Secret::new(first))
            }
            (None, None) => None,
        };
        Ok(BrokerAuth { username: self.mqtt_username.clone(), password, ca_file: self.mqtt_ca_file.clone() })
    }

    /// The device with this address, if it is on the allowlist.
    pub fn device_by_address(&self, address: BleAddress) -> Option<&DeviceEntry> {
        self.devices.iter().find(|d| d.address == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
        gateway_id = "gw-wang"
        mqtt_url = "mqtt://192.168.1.10:1883"
        outbox_dir = "outbox"

        [ble]
        max_connections = 4
        idle_disconnect_s = 5

        [[devices]]
        device_id = "hr-wang-01"
        address = "c4:7c:8d:6a:11:02"
        kind = "heart_rate_band"

        [[devices]]
        device_id = "bp-wang-01"
        address = "C4:7C:8D:6A:11:03"
        kind = "blood_pressure_cuff"

        [[devices]]
        device_id = "x-1"
        address = "C4:7C:8D:6A:11:04"
        connection = "on_demand"
    "#;

    #[test]
    fn parses_the_sample_shape() {
        let cfg = GatewayConfig::from_toml(SAMPLE).unwrap();
        assert_eq!(cfg.gateway_id, "gw-wang");
        assert_eq!(cfg.mqtt_url.port, 1883);
        assert_eq!(cfg.ble.max_connections, 4);
        assert_eq!(cfg.ble.idle_disconnect(), Duration::from_secs(5));
        assert_eq!(cfg.ble.scan_watchdog_s, BleSettings::default().scan_watchdog_s);
        assert_eq!(cfg.outbox_capacity, crate::outbox::DEFAULT_CAPACITY);
        assert_eq!(cfg.devices[0].address.to_string(), "C4:7C:8D:6A:11:02");
        assert_eq!(cfg.devices[0].mode(), ConnectionMode::Persistent);
        assert_eq!(cfg.devices[1].mode(), ConnectionMode::OnDemand);
        assert_eq!(cfg.devices[2].mode(), ConnectionMode::OnDemand);
        let found = cfg.device_by_address("C4:7C:8D:6A:11:03".parse().unwrap()).unwrap();
        assert_eq!(found.device_id, "bp-wang-01");
    }

    #[test]
    fn the_shipped_sample_config_parses() {
        let text = include_str!("../examples/gateway.toml");
        let cfg = GatewayConfig::from_toml(text).unwrap();
        assert!(!cfg.devices.is_empty());
    }

    #[test]
    fn refuses_what_cannot_work() {
        let dup = SAMPLE.replace("C4:7C:8D:6A:11:03", "C4:7C:8D:6A:11:02");
        assert!(GatewayConfig::from_toml(&dup).unwrap_err().to_string().contains("listed twice"));
        let bad_addr = SAMPLE.replace("C4:7C:8D:6A:11:03", "C4:7C:8D:6A:11");
        assert!(GatewayConfig::from_toml(&bad_addr).unwrap_err().to_string().contains("not a Bluetooth address"));
        let zero = SAMPLE.replace("max_connections = 4", "max_connections = 0");
        assert!(GatewayConfig::from_toml(&zero).is_err());
        let typo = SAMPLE.replace("idle_disconnect_s", "idle_disconect_s");
        assert!(GatewayConfig::from_toml(&typo).unwrap_err().to_string().contains("idle_disconect_s"));
        let bad_url = SAMPLE.replace("mqtt://192.168.1.10:1883", "http://x");
        assert!(GatewayConfig::from_toml(&bad_url).is_err());
        let bad_id = SAMPLE.replace("gw-wang", "gw/wang");
        assert!(GatewayConfig::from_toml(&bad_id).is_err());
    }

    #[test]
    fn broker_login_and_tls() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mqtt-password"), "s3cret\n").unwrap();
        let text = SAMPLE.replace(
            r#"mqtt_url = "mqtt://192.168.1.10:1883""#,
            r#"mqtt_url = "mqtts://broker.example"
            mqtt_username = "gw-wang"
            mqtt_password_file = "mqtt-password"
            mqtt_ca_file = "ca.pem""#,
        );
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, &text).unwrap();
        let cfg = GatewayConfig::load(&path).unwrap();
        assert!(cfg.mqtt_url.tls);
        assert_eq!(cfg.mqtt_url.port, 8883);
        let auth = cfg.broker_auth().unwrap();
        assert_eq!(auth.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(auth.ca_file, Some(dir.path().join("ca.pem")));
        assert!(!format!("{cfg:?}{auth:?}").contains("s3cret"));
        // Only the CA file is missing: a clear error when the uplink is built.
        let err = crate::mqtt::options("gw", &cfg.mqtt_url, &auth).unwrap_err();
        assert!(err.to_string().contains("cannot read the broker CA file"), "{err}");

        let both = text.replace("mqtt_password_file", "mqtt_password = \"x\"\nmqtt_password_file");
        assert!(GatewayConfig::from_toml(&both).unwrap_err().to_string().contains("not both"));
        let no_user = text.replace(r#"mqtt_username = "gw-wang""#, "");
        assert!(GatewayConfig::from_toml(&no_user).unwrap_err().to_string().contains("mqtt_username"));
        let plain_with_ca = text.replace("mqtts://broker.example", "mqtt://broker.example");
        assert!(GatewayConfig::from_toml(&plain_with_ca).unwrap_err().to_string().contains("not mqtts://"));
    }

    #[test]
    fn addresses_print_as_bluez_spells_them() {
        let a: BleAddress = "0a-1b-2c-3d-4e-5f".parse().unwrap();
        assert_eq!(a.to_string(), "0A:1B:2C:3D:4E:5F");
        assert!("0a:1b:2c:3d:4e".parse::<BleAddress>().is_err());
        assert!("0a:1b:2c:3d:4e:5g".parse::<BleAddress>().is_err());
        assert!("0a:1b:2c:3d:4e:5".parse::<BleAddress>().is_err());
    }
}
