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
    /// Use this external MQTT broker (`mqtt://host:port`) instead of the embedded one.
    #[arg(long, env = "ELDERCARE_MQTT_URL", conflicts_with = "mqtt_addr")]
    pub mqtt_url: Option<MqttUrl>,
    /// Address of the embedded MQTT broker, when no --mqtt-url is given.
    #[arg(long, env = "ELDERCARE_MQTT_ADDR", default_value = "127.0.0.1:1883")]
    pub mqtt_addr: SocketAddr,
    /// Secret that signs access tokens (at least 32 bytes). Without it a random one is made at
    /// start, and tokens do not survive a restart.
    #[arg(long, env = "ELDERCARE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Name of this instance (its MQTT client id is derived from it; keep it stable).
    #[arg(long, env = "ELDERCARE_INSTANCE", default_value = "server-1")]
    pub instance: String,
    /// The community's offset from UTC in minutes, for night-time rules and duty shifts
    /// (480 = UTC+8, China Standard Time).
    #[arg(long, env = "ELDERCARE_UTC_OFFSET_MINUTES", default_value_t = 480, allow_negative_numbers = true)]
    pub utc_offset_minutes: i32,
    /// Addresses of reverse proxies whose `X-Forwarded-For` header is trusted for the client's
    /// address (audit log, login lock-out); comma-separated. Empty: the peer address is used.
    #[arg(long, env = "ELDERCARE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}
