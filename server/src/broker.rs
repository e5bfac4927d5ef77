//! The embedded MQTT broker (`rumqttd`), for the single-process default. At scale an external
//! broker (Mosquitto, EMQX...) takes its place and this is not started.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
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
}

/// A running embedded broker. It lives as long as the process (rumqttd has no stop).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
}

/// Starts rumqttd on `addr`; port 0 picks a free port, and the bound address is returned.
pub fn start(addr: SocketAddr) -> Result<EmbeddedBroker, BrokerError> {
    // rumqttd cannot report the port it bound, so resolve port 0 here first. The port is free
    // for an instant only, but it is only ours to race with.
    let addr = if addr.port() == 0 {
        let probe = TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?;
        probe.local_addr().map_err(|source| BrokerError::Bind { addr, source })?
    } else {
        // Fail now, with a clear message, if the port is taken.
        drop(TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?);
        addr
    };
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: BROKER_MAX_PACKET_BYTES,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server =
        ServerSettings { name: "v4".into(), listen: addr, tls: None, next_connection_delay_ms: 1, connections };
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
        v4: Some(HashMap::from([("v4".to_owned(), server)])),
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
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(BrokerError::NotListening(addr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::info!(%addr, "embedded MQTT broker listening");
    Ok(EmbeddedBroker { addr })
}
