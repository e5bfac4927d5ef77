//! The eldercare server: embedded MQTT broker (or an external one), ingest with acknowledgement
//! after commit, storage, the HTTP API, and the demo.

pub mod alerts;
pub mod app;
pub mod binding;
pub mod broker;
pub mod checkpoint;
pub mod config;
pub mod console;
pub mod demo;
pub mod ingest;
pub mod retention;
pub mod rollups;
pub mod rules;
pub mod telemetry;
pub mod tls;

pub use app::{Mqtt, MqttClientTls, RunningServer, Security, ServerConfig, start};

use config::{Cli, Command, ServeArgs};

/// Runs what the command line asks for, until Ctrl-C or SIGTERM.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let jwt_secret = match args.jwt_secret {
        Some(s) if s.len() >= 32 => s,
        Some(_) => anyhow::bail!("--jwt-secret must be at least 32 bytes long"),
        None => {
            tracing::warn!("no --jwt-secret given: using a random one; tokens will not survive a restart");
            app::random_secret()
        }
    };
    let password = std::env::var("ELDERCARE_MQTT_PASSWORD").ok();
    let mqtt_credentials = match (args.mqtt_username, password) {
        (Some(username), Some(password)) => Some(ingest::Credentials { username, password }),
        (Some(_), None) => anyhow::bail!("--mqtt-username needs the password in ELDERCARE_MQTT_PASSWORD"),
        (None, Some(_)) => anyhow::bail!("ELDERCARE_MQTT_PASSWORD is set but --mqtt-username is not"),
        (None, None) => None,
    };
    let (mqtt, mqtt_client_tls) = match args.mqtt_url {
        Some(url) => {
            if !url.tls && args.mqtt_ca_file.is_some() {
                anyhow::bail!("--mqtt-ca-file needs an mqtts:// --mqtt-url");
            }
            let tls = url.tls.then(|| MqttClientTls { ca_file: args.mqtt_ca_file.clone() });
            (Mqtt::External(url.url), tls)
        }
        None => (Mqtt::Embedded(args.mqtt_addr), None),
    };
    let mqtt_tls_listener = match (args.mqtt_tls_cert, args.mqtt_tls_key) {
        (Some(cert_file), Some(key_file)) => {
            Some(broker::TlsListener { addr: args.mqtt_tls_addr, cert_file, key_file })
        }
        _ => None,
    };
    let security =
        Security { mqtt_tls_listener, mqtt_client_tls, mqtt_credentials, webhook_ca_file: args.webhook_ca_file };
    let server = start(ServerConfig {
        database_url: args.database_url,
        http_addr: args.http_addr,
        mqtt,
        jwt_secret,
        instance: args.instance,
        clock: None,
        utc_offset_minutes: args.utc_offset_minutes,
        trusted_proxies: args.trusted_proxies,
        security,
        shared_group: args.shared_group.filter(|g| !g.is_empty()),
        raw_retention_days: args.raw_retention_days,
        rollup_every: std::time::Duration::from_secs(args.rollup_every_secs),
        ingest_workers: usize::from(args.ingest_workers),
    })
    .await?;
    match server.mqtt_tls_addr {
        Some(tls) => println!(
            "eldercare-server listening: HTTP http://{}  MQTT {}  MQTT over TLS {tls}",
            server.http_addr, server.mqtt_url
        ),
        None => println!("eldercare-server listening: HTTP http://{}  MQTT {}", server.http_addr, server.mqtt_url),
    }
    app::shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
