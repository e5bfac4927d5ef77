//! The command line of `eldercare-gateway`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::gatt::{self, Characteristic};
use crate::home::{self, SimulatedGatewayConfig};
use crate::mqtt::MqttUrl;
use crate::sim::{Scenario, SimulatorConfig};
use crate::uplink::UplinkConfig;

#[derive(Debug, Parser)]
#[command(
    name = "eldercare-gateway",
    version,
    about = "The eldercare home gateway: reads health wearables, keeps every reading until the server has stored it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode the bytes of a GATT characteristic and print the reading as JSON.
    ///
    /// Example: eldercare-gateway decode 2a37 16480301
    Decode {
        /// The characteristic: a 16-bit UUID such as `2a37`, a full UUID, or a name such as
        /// `heart_rate_measurement` or `fall_event`; `2a52` (or `racp`) decodes a Record Access
        /// Control Point request or answer.
        characteristic: String,
        /// The value as hex (spaces, colons and a 0x prefix are allowed).
        hex: String,
    },
    /// Run a simulated home: wearables from a scenario file, through the real decoders,
    /// outbox and MQTT uplink.
    Simulate {
        /// This gateway's id, as registered on the server.
        #[arg(long, env = "ELDERCARE_GATEWAY_ID")]
        gateway_id: String,
        /// The broker, `mqtt://host:port`.
        #[arg(long, env = "ELDERCARE_MQTT_URL", default_value = "mqtt://127.0.0.1:1883")]
        mqtt_url: MqttUrl,
        /// Folder of the durable outbox.
        #[arg(long, env = "ELDERCARE_OUTBOX_DIR", default_value = "gateway-outbox")]
        outbox_dir: PathBuf,
        /// Scenario (TOML): the devices and their stories. See gateway/examples/home.toml.
        #[arg(long, env = "ELDERCARE_SCENARIO")]
        scenario: PathBuf,
        /// Story time per wall-clock second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Read real Bluetooth wearables (needs a build with `--features ble`): the devices listed
    /// in the configuration, through the durable outbox and the MQTT uplink.
    Run {
        /// Gateway configuration (TOML). See gateway/examples/gateway.toml.
        #[arg(long, env = "ELDERCARE_GATEWAY_CONFIG", default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Serve a simulated BlueZ on a private D-Bus, driven by a scenario, for trying `run` and
    /// `scan` without a radio (a build with `--features fake-bluez`). Prints the bus address and
    /// an allowlist for the scenario's devices.
    #[cfg(feature = "fake-bluez")]
    FakeBluez {
        /// Scenario (TOML), with optional radio fields (address, drop_link_at_s...).
        #[arg(long)]
        scenario: PathBuf,
        /// Story time per wall-clock second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// List nearby Bluetooth devices (address, name, signal, services) to help fill in the
    /// allowlist (needs a build with `--features ble`).
    Scan {
        /// Seconds to listen.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// The adapter, e.g. `hci0` (the first one when absent).
        #[arg(long, env = "ELDERCARE_BLE_ADAPTER")]
        adapter: Option<String>,
        /// A gateway configuration: devices on its allowlist are marked.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Parses hex as people paste it: `0x16 48`, `16:48`, `1648`.
pub fn parse_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    let cleaned: String =
        text.trim().trim_start_matches("0x").chars().filter(|c| !matches!(c, ' ' | ':' | '-' | '_')).collect();
    hex::decode(&cleaned).with_context(|| format!("{text:?} is not hex bytes"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Decode { characteristic, hex } if is_racp(&characteristic) => {
            println!("{}", serde_json::to_string_pretty(&decode_racp(&parse_hex(&hex)?)?)?);
            Ok(())
        }
        Command::Decode { characteristic, hex } => {
            let ch = Characteristic::parse(&characteristic)?;
            let bytes = parse_hex(&hex)?;
            let decoded = gatt::decode(ch, &bytes).with_context(|| format!("cannot decode {hex:?}"))?;
            println!("{}", serde_json::to_string_pretty(&decoded)?);
            Ok(())
        }
        Command::Simulate { gateway_id, mqtt_url, outbox_dir, scenario, speed } => {
            eldercare_schema::topic::validate_gateway_id(&gateway_id)?;
            let text = std::fs::read_to_string(&scenario).with_context(|| format!("reading {}", scenario.display()))?;
            let scenario = Scenario::from_toml(&text).with_context(|| format!("parsing {}", scenario.display()))?;
            let mut simulator = SimulatorConfig::new(scenario);
            simulator.speed = speed;
            let mut handle = home::start_simulated(SimulatedGatewayConfig {
                uplink: UplinkConfig::new(&gateway_id, mqtt_url.clone()),
                outbox_dir,
                outbox_capacity: crate::outbox::DEFAULT_CAPACITY,
                simulator,
            })?;
            eprintln!("simulated gateway {gateway_id} sending to {mqtt_url}; Ctrl-C to stop");
            tokio::select! {
                r = handle.failed() => r,
                _ = stop_requested() => {
                    let stats = handle.stop().await?;
                    eprintln!("stopped: {} packets, {} readings, {} undecodable", stats.packets, stats.readings, stats.undecodable);
                    Ok(())
                }
            }
        }
        Command::Run { config } => run_ble(config).await,
        Command::Scan { seconds, adapter, config, json } => scan(seconds, adapter, config, json).await,
        #[cfg(feature = "fake-bluez")]
        Command::FakeBluez { scenario, speed } => fake_bluez(scenario, speed).await,
    }
}

#[cfg(feature = "fake-bluez")]
async fn fake_bluez(scenario: PathBuf, speed: f64) -> anyhow::Result<()> {
    use crate::fake_bluez::{FakeBluez, FakeBluezConfig, PrivateBus};
    let text = std::fs::read_to_string(&scenario).with_context(|| format!("reading {}", scenario.display()))?;
    let home = crate::sim::Home::from_toml(&text).with_context(|| format!("parsing {}", scenario.display()))?;
    anyhow::ensure!(speed.is_finite() && speed > 0.0, "--speed must be above 0");
    let bus = PrivateBus::start()?;
    let mut cfg = FakeBluezConfig::new(home.clone());
    cfg.speed = speed;
    let fake = FakeBluez::start(bus.address(), cfg).await?;
    println!("# allowlist for gateway.toml");
    for d in &home.scenario.devices {
        println!(
            "[[devices]]\ndevice_id = {:?}\naddress = \"{}\"\nkind = {:?}\n",
            d.device_id,
            home.radio_of(&d.device_id).address(),
            d.kind.as_str()
        );
    }
    eprintln!(
        "simulated BlueZ serving {} devices; in another shell:\n  DBUS_SYSTEM_BUS_ADDRESS='{}' eldercare-gateway run --config gateway.toml\nCtrl-C to stop",
        home.scenario.devices.len(),
        bus.address()
    );
    stop_requested().await;
    fake.stop().await;
    Ok(())
}

#[cfg(not(feature = "ble"))]
const NO_BLE: &str = "real Bluetooth is not in this build: rebuild with `cargo build --release -p eldercare-gateway --features ble` \
     (needs pkg-config and libdbus-1-dev); `eldercare-gateway simulate` runs a simulated home without it";

#[cfg(not(feature = "ble"))]
async fn run_ble(config: PathBuf) -> anyhow::Result<()> {
    anyhow::bail!("{NO_BLE} (config {})", config.display())
}

#[cfg(not(feature = "ble"))]
async fn scan(_seconds: f64, _adapter: Option<String>, _config: Option<PathBuf>, _json: bool) -> anyhow::Result<()> {
    anyhow::bail!("{NO_BLE}")
}

fn is_racp(characteristic: &str) -> bool {
    let c = characteristic.trim().to_ascii_lowercase();
    ["2a52", "0x2a52", "racp", "record_access_control_point", "00002a52-0000-1000-8000-00805f9b34fb"]
        .contains(&c.as_str())
}

/// A control point value: an answer (op codes 5 and 6) or a request.
fn decode_racp(bytes: &[u8]) -> anyhow::Result<serde_json::Value> {
    use gatt::racp::{Request, Response};
    let value = match bytes.first() {
        Some(0x05 | 0x06) => serde_json::json!({ "response": Response::decode(bytes)? }),
        _ => serde_json::json!({ "request": Request::decode(bytes)? }),
    };
    Ok(serde_json::json!({ "characteristic": "record_access_control_point", "detail": value }))
}

/// Resolves on Ctrl-C or SIGTERM (what systemd sends).
async fn stop_requested() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(feature = "ble")]
async fn run_ble(config: PathBuf) -> anyhow::Result<()> {
    let cfg =
        crate::config::GatewayConfig::load(&config).with_context(|| format!("configuration {}", config.display()))?;
    if cfg.devices.is_empty() {
        tracing::warn!(
            "no devices in the configuration: nothing will be connected (`eldercare-gateway scan` lists what is nearby)"
        );
    }
    let gateway_id = cfg.gateway_id.clone();
    let mqtt_url = cfg.mqtt_url.clone();
    let mut gateway: home::BleGatewayConfig = (&cfg).into();
    gateway.uplink.auth = cfg.broker_auth()?;
    // Fail now, clearly, when the TLS trust cannot be set up (an unreadable or invalid CA file).
    crate::mqtt::options("check", &cfg.mqtt_url, &gateway.uplink.auth)
        .with_context(|| format!("the broker link to {}", cfg.mqtt_url))?;
    // The server's device binding, kept next to the outbox.
    gateway.uplink.bindings = Some(
        crate::binding::Bindings::open(&cfg.outbox_dir)
            .with_context(|| format!("the device binding in {}", cfg.outbox_dir.display()))?,
    );
    let mut handle = home::start_ble(gateway).await?;
    eprintln!("gateway {gateway_id}: {} Bluetooth devices, sending to {mqtt_url}; Ctrl-C to stop", cfg.devices.len());
    tokio::select! {
        r = handle.failed() => r,
        _ = stop_requested() => {
            let stats = handle.stop().await?;
            eprintln!("stopped: {} packets, {} readings, {} undecodable", stats.packets, stats.readings, stats.undecodable);
            Ok(())
        }
    }
}

#[cfg(feature = "ble")]
async fn scan(seconds: f64, adapter: Option<String>, config: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let cfg = match &config {
        Some(path) => Some(
            crate::config::GatewayConfig::load(path).with_context(|| format!("configuration {}", path.display()))?,
        ),
        None => None,
    };
    let adapter = adapter.or_else(|| cfg.as_ref().and_then(|c| c.ble.adapter.clone()));
    anyhow::ensure!(seconds.is_finite() && seconds > 0.0, "--seconds must be above 0");
    let options =
        crate::ble::ScanOptions { adapter, duration: std::time::Duration::from_secs_f64(seconds), stop_after: None };
    eprintln!("listening for {seconds} s...");
    let entries = crate::ble::scan(&options).await?;
    let allowed = |e: &crate::ble::ScanEntry| {
        cfg.as_ref().and_then(|c| c.device_by_address(e.address)).map(|d| d.device_id.clone())
    };
    if json {
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).expect("scan entries serialise");
                v["device_id"] = serde_json::json!(allowed(e));
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("{:<17}  {:>5}  {:<24}  {:<14}  services", "address", "rssi", "name", "allowlisted as");
    for e in &entries {
        let rssi = e.rssi.map_or("-".to_owned(), |r| r.to_string());
        println!(
            "{:<17}  {:>5}  {:<24}  {:<14}  {}",
            e.address.to_string(),
            rssi,
            e.name.as_deref().unwrap_or("-"),
            allowed(e).unwrap_or_else(|| "-".into()),
            e.services.join(", ")
        );
    }
    eprintln!("{} devices", entries.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_as_people_paste_it() {
        assert_eq!(parse_hex("0x16 48").unwrap(), vec![0x16, 0x48]);
        assert_eq!(parse_hex("16:48:03").unwrap(), vec![0x16, 0x48, 0x03]);
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("123").is_err());
    }

    #[test]
    fn decodes_the_record_access_control_point() {
        assert!(is_racp("2A52") && is_racp("racp") && !is_racp("2a18"));
        let answer = decode_racp(&parse_hex("06 00 01 06").unwrap()).unwrap();
        assert_eq!(answer["detail"]["response"]["code"], "no_records_found");
        let request = decode_racp(&parse_hex("01 03 01 05 00").unwrap()).unwrap();
        assert_eq!(request["detail"]["request"]["records"]["sequence_number"], 5);
        assert!(decode_racp(&parse_hex("06 00").unwrap()).unwrap_err().to_string().contains("too short"));
    }
}
