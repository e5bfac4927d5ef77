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
        /// `heart_rate_measurement` or `fall_event`.
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
    /// Read real Bluetooth wearables (needs a build with `--features ble`).
    Run {
        /// Gateway configuration (TOML).
        #[arg(long, env = "ELDERCARE_GATEWAY_CONFIG", default_value = "gateway.toml")]
        config: PathBuf,
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
                _ = tokio::signal::ctrl_c() => {
                    let stats = handle.stop().await?;
                    eprintln!("stopped: {} packets, {} readings, {} undecodable", stats.packets, stats.readings, stats.undecodable);
                    Ok(())
                }
            }
        }
        Command::Run { config } => anyhow::bail!(
            "real Bluetooth is not in this build (config {}): rebuild with `cargo build -p eldercare-gateway --features ble`; \
             until BLE support lands, `eldercare-gateway simulate` runs a simulated home",
            config.display()
        ),
    }
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
}
