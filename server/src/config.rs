//! Command line and environment. Every option also reads an `ELDERCARE_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use eldercare_gateway::mqtt::MqttUrl;

#[derive(Debug, Parser)]
#[command(name = "eldercare-server", version, about = "The eldercare server: MQTT ingest, storage, HTTP API for apps and the console.", long_about = None)]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, env = "ELDERCARE_LOG_JSON", global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole system on embedded defaults, with a simulated community: an MQTT broker,
    /// the server, the HTTP API, and simulated home gateways whose residents' readings go wrong
    /// in the first minutes.
    Demo(DemoArgs),
    /// Run the server: ingest from MQTT, store, serve the HTTP API.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the HTTP API (port 0 picks a free port).
    #[arg(long, env = "ELDERCARE_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Address of the embedded MQTT broker (port 0 picks a free port).
    #[arg(long, env = "ELDERCARE_MQTT_ADDR", default_value = "127.0.0.1:0")]
    pub mqtt_addr: SocketAddr,
    /// Folder for the database, the gateways' outboxes and the signing key.
    #[arg(long, env = "ELDERCARE_DATA_DIR", default_value = "eldercare-demo")]
    pub data_dir: PathBuf,
    /// Password of the demo accounts (admin, caregiver, family1, family2); generated and
    /// printed when not given.
    #[arg(long, env = "ELDERCARE_DEMO_PASSWORD")]
    pub demo_password: Option<String>,
    /// Story time per wall-clock second for the simulated residents (10 = things go wrong ten
    /// times sooner).
    #[arg(long, env = "ELDERCARE_DEMO_SPEED", default_value_t = 1.0)]
    pub speed: f64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database: `sqlite:path/to/file.db` (created if missing) or `postgres://user@host:5432/db`
    /// (must exist; several server instances may share it).
    #[arg(long, env = "ELDERCARE_DATABASE_URL", default_value = "sqlite:eldercare.db")]
    pub database_url: String,
    /// Address of the HTTP API.
    #[arg(long, env = "ELDERCARE_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Use this external MQTT broker instead of the embedded one: `mqtt://host:port`, or
    /// `mqtts://host:port` for TLS (port 8883 by default; the broker's certificate is verified
    /// against --mqtt-ca-file, or the platform's root certificates without it).
    #[arg(long, env = "ELDERCARE_MQTT_URL", conflicts_with = "mqtt_addr")]
    pub mqtt_url: Option<BrokerUrl>,
    /// PEM file of the CA that signed the external broker's certificate (with an `mqtts://`
    /// --mqtt-url); only this CA is trusted then.
    #[arg(long, env = "ELDERCARE_MQTT_CA_FILE", requires = "mqtt_url")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// Username for the external broker; the password is read from the environment variable
    /// ELDERCARE_MQTT_PASSWORD only (never from the command line, never logged).
    #[arg(long, env = "ELDERCARE_MQTT_USERNAME", requires = "mqtt_url")]
    pub mqtt_username: Option<String>,
    /// Address of the embedded MQTT broker's plain listener, when no --mqtt-url is given.
    /// Keep it on localhost; remote gateways use the TLS listener.
    #[arg(long, env = "ELDERCARE_MQTT_ADDR", default_value = "127.0.0.1:1883")]
    pub mqtt_addr: SocketAddr,
    /// PEM file of the certificate (and intermediates) of the embedded broker's TLS listener;
    /// with --mqtt-tls-key it starts that listener on --mqtt-tls-addr.
    #[arg(long, env = "ELDERCARE_MQTT_TLS_CERT", requires = "mqtt_tls_key", conflicts_with = "mqtt_url")]
    pub mqtt_tls_cert: Option<PathBuf>,
    /// PEM file of the private key of --mqtt-tls-cert.
    #[arg(long, env = "ELDERCARE_MQTT_TLS_KEY", requires = "mqtt_tls_cert")]
    pub mqtt_tls_key: Option<PathBuf>,
    /// Address of the embedded broker's TLS listener (port 0 picks a free port).
    #[arg(long, env = "ELDERCARE_MQTT_TLS_ADDR", default_value = "0.0.0.0:8883")]
    pub mqtt_tls_addr: SocketAddr,
    /// Secret that signs access tokens (at least 32 bytes). Without it a random one is made at
    /// start, and tokens do not survive a restart.
    #[arg(long, env = "ELDERCARE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Name of this instance (its MQTT client id is derived from it; keep it stable).
    #[arg(long, env = "ELDERCARE_INSTANCE", default_value = "server-1")]
    pub instance: String,
    /// Offset from UTC in minutes (480 = UTC+8, China Standard Time) used only where a
    /// community's time zone is not known to the bundled tz database: the rules (nights, days)
    /// and the duty shifts of escalation use each community's own time zone, set through the API
    /// (`PATCH /api/v1/org-units/{id}`, default Asia/Shanghai).
    #[arg(long, env = "ELDERCARE_UTC_OFFSET_MINUTES", default_value_t = 480, allow_negative_numbers = true)]
    pub utc_offset_minutes: i32,
    /// With several server instances on one broker: the MQTT shared-subscription group they
    /// split ingest through (`$share/<group>/...`; Mosquitto ≥ 1.6, EMQX, HiveMQ). Every instance
    /// of one deployment uses the same group and a different `--instance`. Empty: this instance
    /// receives every gateway's messages.
    #[arg(long, env = "ELDERCARE_SHARED_GROUP")]
    pub shared_group: Option<String>,
    /// Raw readings older than this many days are deleted (hourly, in batches); the per-minute,
    /// hour and day rollups, the newest vitals and the alerts are kept. 0 keeps raw readings
    /// forever.
    #[arg(long, env = "ELDERCARE_RAW_RETENTION_DAYS", default_value_t = 0)]
    pub raw_retention_days: u32,
    /// Seconds between the rollup follower's passes, which add the readings stored since the
    /// last pass to the minute, hour and day rollups. Longer passes write fewer rows in all
    /// (a resident's readings of a pass share their buckets) but each takes longer.
    #[arg(long, env = "ELDERCARE_ROLLUP_EVERY_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub rollup_every_secs: u64,
    /// PEM file of CA certificates trusted for `https://` webhook receivers, besides the
    /// platform's root certificates (for a receiver with a private CA).
    #[arg(long, env = "ELDERCARE_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,
    /// Ingest transactions running at once on PostgreSQL; each gateway's messages always go to
    /// the same one. SQLite has a single writer and always uses one.
    #[arg(long, env = "ELDERCARE_INGEST_WORKERS", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub ingest_workers: u16,
    /// Addresses of reverse proxies whose `X-Forwarded-For` header is trusted for the client's
    /// address (audit log, login lock-out); comma-separated. Empty: the peer address is used.
    #[arg(long, env = "ELDERCARE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// An external broker's URL: `mqtt://host[:port]` (port 1883 by default) or `mqtts://host[:port]`
/// (TLS, port 8883 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub url: MqttUrl,
    pub tls: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} (or mqtts://host:port for TLS)")]
pub struct BrokerUrlError(eldercare_gateway::mqtt::MqttUrlError);

impl std::str::FromStr for BrokerUrl {
    type Err = BrokerUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The gateway's parser knows both schemes (and 8883 as the default port of mqtts).
        let url = MqttUrl::parse(s).map_err(BrokerUrlError)?;
        Ok(BrokerUrl { tls: url.tls, url })
    }
}

impl std::fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The inner URL knows its scheme.
        write!(f, "{}", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_with_and_without_tls() {
        let tls: BrokerUrl = "mqtts://broker.example".parse().unwrap();
        assert!(tls.tls);
        assert_eq!((tls.url.host.as_str(), tls.url.port), ("broker.example", 8883));
        assert_eq!(tls.to_string(), "mqtts://broker.example:8883");
        let tls: BrokerUrl = "mqtts://10.0.0.2:9883".parse().unwrap();
        assert_eq!(tls.url.port, 9883);
        let v6: BrokerUrl = "mqtts://[::1]".parse().unwrap();
        assert_eq!((v6.url.host.as_str(), v6.url.port), ("::1", 8883));
        let plain: BrokerUrl = "mqtt://127.0.0.1:1884".parse().unwrap();
        assert!(!plain.tls);
        assert_eq!(plain.url.port, 1884);
        assert!("mqtts://:1883".parse::<BrokerUrl>().is_err());
        assert!("https://x".parse::<BrokerUrl>().is_err());
    }
}
