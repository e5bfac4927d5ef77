//! Starting and stopping the server: database, broker (embedded or external), ingest, HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use axum::routing::get;
use axum::serve::ListenerExt;
use eldercare_gateway::mqtt::MqttUrl;
use eldercare_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alerts::{self, AlertSettings, Clock};
use crate::{broker, ingest, telemetry, tls};

/// Which MQTT broker to use.
#[derive(Debug, Clone)]
pub enum Mqtt {
    /// Start the embedded broker on this address (port 0 picks one).
    Embedded(SocketAddr),
    /// Connect to an external broker.
    External(MqttUrl),
}

/// TLS and credentials of the server's links. The default: the embedded broker's plain listener
/// only.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// A TLS listener of the embedded broker, besides its plain one.
    pub mqtt_tls_listener: Option<broker::TlsListener>,
    /// Reach the external broker over TLS.
    pub mqtt_client_tls: Option<MqttClientTls>,
    /// Username and password for the external broker.
    pub mqtt_credentials: Option<ingest::Credentials>,
    /// PEM file of CA certificates trusted for `https://` webhook receivers, besides the
    /// platform's roots (a receiver with a private CA).
    pub webhook_ca_file: Option<PathBuf>,
}

/// TLS to the external broker.
#[derive(Debug, Clone, Default)]
pub struct MqttClientTls {
    /// PEM file of the CA that signed the broker's certificate; without it the platform's roots.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone)]
pub struct ServerConfig {
    pub database_url: String,
    pub http_addr: SocketAddr,
    pub mqtt: Mqtt,
    pub jwt_secret: String,
    /// Stable name of this instance; its MQTT client id derives from it.
    pub instance: String,
    /// The clock of the rules and escalation (`None`: the system clock). Tests inject one.
    pub clock: Option<Clock>,
    /// The community's offset from UTC in minutes (night-time rules, duty shifts).
    pub utc_offset_minutes: i32,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// TLS and credentials of the MQTT link and the webhooks.
    pub security: Security,
    /// The MQTT shared-subscription group of several instances (`None`: one instance).
    pub shared_group: Option<String>,
    /// Raw readings older than this many days are purged; 0 keeps them.
    pub raw_retention_days: u32,
    /// How often the rollup follower runs a pass.
    pub rollup_every: std::time::Duration,
    /// Ingest transactions at once on PostgreSQL (SQLite has one writer: always 1).
    pub ingest_workers: usize,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("database_url", &self.database_url)
            .field("http_addr", &self.http_addr)
            .field("mqtt", &self.mqtt)
            .field("jwt_secret", &"[hidden]")
            .field("instance", &self.instance)
            .field("utc_offset_minutes", &self.utc_offset_minutes)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

/// A started server. Dropping it does not stop it: call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub mqtt_url: MqttUrl,
    /// The embedded broker's TLS listener, when it has one.
    pub mqtt_tls_addr: Option<SocketAddr>,
    pub store: Store,
    shutdown: CancellationToken,
    ingest: JoinHandle<()>,
    http: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
}

/// Opens the database, starts the broker if embedded, ingest and the HTTP API. Returns once all
/// are listening.
pub async fn start(cfg: ServerConfig) -> anyhow::Result<RunningServer> {
    let store =
        Store::open(&cfg.database_url).await.with_context(|| format!("opening the database {}", cfg.database_url))?;
    let security = &cfg.security;
    let (mqtt_url, mqtt_tls_addr) = match &cfg.mqtt {
        Mqtt::Embedded(addr) => {
            if security.mqtt_client_tls.is_some() || security.mqtt_credentials.is_some() {
                anyhow::bail!("TLS or credentials for the MQTT client need an external broker (--mqtt-url)");
            }
            let b = broker::start_with_tls(*addr, security.mqtt_tls_listener.as_ref())?;
            // Ingest stays on the plain listener: it is in this process, on localhost.
            (MqttUrl { host: b.addr.ip().to_string(), port: b.addr.port(), tls: false }, b.tls_addr)
        }
        Mqtt::External(url) => {
            if security.mqtt_tls_listener.is_some() {
                anyhow::bail!("a TLS listener needs the embedded broker, not an external one");
            }
            (url.clone(), None)
        }
    };
    let mqtt_tls = match &security.mqtt_client_tls {
        Some(MqttClientTls { ca_file: Some(ca) }) => {
            Some(Arc::new(tls::private_client(tls::read_certs(ca, "the MQTT CA file")?)?))
        }
        Some(MqttClientTls { ca_file: None }) => Some(Arc::new(tls::platform_client(Vec::new())?)),
        None => None,
    };
    let shutdown = CancellationToken::new();
    let connected = Arc::new(AtomicBool::new(false));

    let mut alert_settings = AlertSettings::new(cfg.clock.clone().unwrap_or_else(alerts::system_clock));
    alert_settings.utc_offset_minutes = cfg.utc_offset_minutes;
    if let Some(ca) = &security.webhook_ca_file {
        alert_settings.webhook_client = alerts::webhook::Client::new(Some(ca))?;
    }
    let alert_settings_live = alert_settings.alerts_changed.clone();
    let mut workers = alerts::spawn_workers(store.clone(), alert_settings.clone(), shutdown.child_token());
    // Each gateway's device binding, pushed retained over MQTT.
    let binding_cfg = crate::binding::BindingConfig {
        broker: mqtt_url.clone(),
        client_id: format!("eldercare-{}-binding", cfg.instance),
        poll_every: std::time::Duration::from_secs(2),
        tls: mqtt_tls.clone(),
        credentials: security.mqtt_credentials.clone(),
    };
    workers.push(tokio::spawn(crate::binding::run(binding_cfg, store.clone(), shutdown.child_token())));
    workers.push(tokio::spawn(crate::checkpoint::run(store.clone(), shutdown.child_token())));
    workers.push(tokio::spawn(crate::rollups::run(
        store.clone(),
        cfg.rollup_every,
        cfg.clock.clone().unwrap_or_else(alerts::system_clock),
        shutdown.child_token(),
    )));
    if cfg.raw_retention_days > 0 {
        workers.push(tokio::spawn(crate::retention::run(
            store.clone(),
            cfg.raw_retention_days,
            cfg.clock.clone().unwrap_or_else(alerts::system_clock),
            shutdown.child_token(),
        )));
    }
    let ingest_cfg = ingest::IngestConfig {
        broker: mqtt_url.clone(),
        alerts: alert_settings,
        client_id: format!("eldercare-{}", cfg.instance),
        shared_group: cfg.shared_group.clone(),
        tls: mqtt_tls,
        credentials: security.mqtt_credentials.clone(),
        workers: cfg.ingest_workers,
    };
    let ingest = tokio::spawn(ingest::run(ingest_cfg, store.clone(), connected.clone(), shutdown.child_token()));

    let secret =
        eldercare_mobile_api::JwtSecret::new(&cfg.jwt_secret).map_err(|e| anyhow::anyhow!("JWT secret: {e}"))?;
    let auth = eldercare_mobile_api::AuthConfig::new(secret);
    let link = connected.clone();
    let live = eldercare_mobile_api::LiveHub::spawn_with_wake(
        store.clone(),
        shutdown.child_token(),
        alert_settings_live.clone(),
    );
    let state = eldercare_mobile_api::ApiState::new(store.clone(), auth)
        .with_live(live)
        .with_readiness(move || {
            if link.load(Ordering::Relaxed) { Ok(()) } else { Err("not connected to the MQTT broker".to_owned()) }
        })
        // Overrides the rules engine would not apply are refused at the API, not stored and ignored.
        .with_trusted_proxies(cfg.trusted_proxies.clone())
        .with_threshold_check(|overrides| {
            crate::rules::Thresholds::default().with_overrides(overrides).and_then(|t| t.validate())
        })
        // Personal baselines, read by the rules engine from its stored state.
        .with_baselines(crate::alerts::baselines::read);
    let metrics = telemetry::metrics();
    let router = eldercare_mobile_api::app(state)
        .route("/metrics", get(move || std::future::ready(metrics.render())))
        .merge(crate::console::router());
    let listener = tokio::net::TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("binding the HTTP API to {}", cfg.http_addr))?;
    let http_addr = listener.local_addr()?;
    let stop = shutdown.child_token();
    let http = tokio::spawn(async move {
        // With the peer's address, for the audit log and the per-address login lock.
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        // No Nagle: small writes (live-stream events above all) go out at once instead of
        // waiting up to a delayed ACK (~40 ms) of a client that only reads.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let served = axum::serve(listener, service).with_graceful_shutdown(async move { stop.cancelled().await }).await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tracing::info!(%http_addr, mqtt = %mqtt_url, "server started");
    Ok(RunningServer { http_addr, mqtt_url, mqtt_tls_addr, store, shutdown, ingest, http, workers })
}

impl RunningServer {
    /// Stops taking new work, finishes the message being stored, closes the database.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.ingest.await;
        let _ = self.http.await;
        for w in self.workers {
            let _ = w.await;
        }
        self.store.close().await;
    }

    /// A token that stops the server when cancelled (e.g. on Ctrl-C).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// A random secret for signing tokens, as hex.
pub fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
