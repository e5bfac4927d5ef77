//! The embedded MQTT broker (`rumqttd`), for the single-process default. At scale an external
//! broker (Mosquitto, EMQX...) takes its place and this is not started.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings, TlsConfig};
use thiserror::Error;

/// The largest packet the broker accepts. Larger than the payload limit of the contract
/// (`eldercare_schema::payload::MAX_PAYLOAD_BYTES`) so that an oversized payload reaches ingest
/// and is dead-lettered with a clear reason instead of vanishing at the broker.
pub const BROKER_MAX_PACKET_BYTES: usize = 1024 * 1024;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("cannot bind the embedded MQTT broker to {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("the embedded MQTT broker did not start listening on {0} within 10 s")]
    NotListening(SocketAddr),
    #[error("cannot start the embedded MQTT broker: {0}")]
    Start(String),
    #[error("the TLS listener of the embedded MQTT broker: {0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// A TLS listener of the embedded broker, besides its plain one: for gateways that reach the
/// server over a network. Server authentication only (clients are not asked for certificates).
#[derive(Debug, Clone)]
pub struct TlsListener {
    /// Address to listen on (port 0 picks a free port).
    pub addr: SocketAddr,
    /// PEM file of the server certificate, followed by its intermediates.
    pub cert_file: PathBuf,
    /// PEM file of its private key.
    pub key_file: PathBuf,
}

/// A running embedded broker. It lives as long as the process (rumqttd has no stop).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
    /// The bound address of the TLS listener, if there is one.
    pub tls_addr: Option<SocketAddr>,
}

/// rumqttd cannot report the port it bound, so resolve port 0 here first. The port is free for
/// an instant only, but it is only ours to race with.
fn resolve(addr: SocketAddr) -> Result<SocketAddr, BrokerError> {
    if addr.port() == 0 {
        let probe = TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?;
        probe.local_addr().map_err(|source| BrokerError::Bind { addr, source })
    } else {
        // Fail now, with a clear message, if the port is taken.
        drop(TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?);
        Ok(addr)
    }
}

/// Starts rumqttd on `addr`; port 0 picks a free port, and the bound address is returned.
pub fn start(addr: SocketAddr) -> Result<EmbeddedBroker, BrokerError> {
    start_with_tls(addr, None)
}

/// Like [`start`], with a TLS listener too. The certificate and key are checked before the
/// broker starts (rumqttd itself would only complain at each connection).
pub fn start_with_tls(addr: SocketAddr, tls: Option<&TlsListener>) -> Result<EmbeddedBroker, BrokerError> {
    let addr = resolve(addr)?;
    let tls = match tls {
        Some(t) => {
            crate::tls::read_certs(&t.cert_file, "the MQTT TLS certificate file")?;
            crate::tls::read_key(&t.key_file, "the MQTT TLS key file")?;
            Some((resolve(t.addr)?, t))
        }
        None => None,
    };
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: BROKER_MAX_PACKET_BYTES,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let mut servers = HashMap::new();
    if let Some((tls_addr, t)) = &tls {
        let tls = TlsConfig::Rustls {
            capath: None,
            certpath: t.cert_file.display().to_string(),
            keypath: t.key_file.display().to_string(),
        };
        let server = ServerSettings {
            name: "v4-tls".into(),
            listen: *tls_addr,
            tls: Some(tls),
            next_connection_delay_ms: 1,
            connections: connections.clone(),
        };
        servers.insert("v4-tls".to_owned(), server);
    }
    let server =
        ServerSettings { name: "v4".into(), listen: addr, tls: None, next_connection_delay_ms: 1, connections };
    servers.insert("v4".to_owned(), server);
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(servers),
        ..Default::default()
    };
    let mut broker = Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Start(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let tls_addr = tls.map(|(a, _)| a);
    for listening in std::iter::once(addr).chain(tls_addr) {
        // A bare TCP connect: the TLS listener takes it and drops it after a failed handshake.
        while TcpStream::connect_timeout(&listening, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(BrokerError::NotListening(listening));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    tracing::info!(%addr, tls = ?tls_addr, "embedded MQTT broker listening");
    Ok(EmbeddedBroker { addr, tls_addr })
}
