//! The eldercare server: embedded MQTT broker (or an external one), ingest with acknowledgement
//! after commit, storage, the HTTP API, and the demo.

pub mod alerts;
pub mod app;
pub mod binding;
pub mod broker;
pub mod config;
pub mod console;
pub mod demo;
pub mod ingest;
pub mod rules;
pub mod telemetry;

pub use app::{Mqtt, RunningServer, ServerConfig, start};

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
    let mqtt = match args.mqtt_url {
        Some(url) => Mqtt::External(url),
        None => Mqtt::Embedded(args.mqtt_addr),
    };
    let server = start(ServerConfig {
        database_url: args.database_url,
        http_addr: args.http_addr,
        mqtt,
        jwt_secret,
        instance: args.instance,
        clock: None,
        utc_offset_minutes: args.utc_offset_minutes,
        trusted_proxies: args.trusted_proxies,
    })
    .await?;
    println!("eldercare-server listening: HTTP http://{}  MQTT {}", server.http_addr, server.mqtt_url);
    app::shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
