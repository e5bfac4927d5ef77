//! The MQTT uplink: sends the outbox to the server in bounded batches and deletes readings only
//! when the server's acknowledgement (published after its database commit) names them.
//!
//! * A window of at most `max_in_flight` unacknowledged batches: after an outage the backlog
//!   drains oldest first at the pace the server acknowledges, without flooding it.
//! * A batch not acknowledged in time is sent again (with everything after it); so is everything
//!   in flight after a reconnect. Duplicates are harmless: the server stores each reading once
//!   and acknowledges it again. "In time" starts at `resend_after` and follows how long the
//!   server takes to acknowledge, backing off after each resend up to `resend_max`
//!   ([`ResendTimer`]), so a server past its capacity is not flooded with copies.
//! * A retained status on `.../status` (online, outbox depth, devices), and the same topic as the
//!   MQTT last will saying offline.
//! * The device binding the server pushes (retained, on `.../binding`) is subscribed to when
//!   [`UplinkConfig::bindings`] is set, and handed to [`crate::binding::Bindings`].
//! * The rumqttc event loop runs in its own task; it only forwards events over a bounded channel.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eldercare_schema::payload::{DeviceStatus, PAYLOAD_VERSION};
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{Ack, GatewayBinding, GatewayState, GatewayStatus, ReadingsBatch};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, Packet, QoS};
use thiserror::Error;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::binding::Bindings;
use crate::mqtt::{BrokerAuth, MqttUrl, TlsSetupError};
use crate::outbox::{Outbox, OutboxError};
use crate::resend::ResendTimer;

/// What the gateway knows about its devices, shared by the BLE/simulator side and the uplink.
pub type DeviceBoard = Arc<Mutex<BTreeMap<String, DeviceStatus>>>;

#[derive(Debug, Clone)]
pub struct UplinkConfig {
    pub gateway_id: String,
    pub broker: MqttUrl,
    /// Login and TLS trust for the broker.
    pub auth: BrokerAuth,
    /// Readings per batch (at most the schema's limit of 1000).
    pub batch_max: usize,
    /// Unacknowledged batches allowed at once.
    pub max_in_flight: usize,
    /// Resend a batch not acknowledged within this time, at first (then see [`ResendTimer`]).
    pub resend_after: Duration,
    /// The longest wait for an acknowledgement before a resend.
    pub resend_max: Duration,
    /// Publish the retained status this often.
    pub status_every: Duration,
    /// Where the device binding the server pushes goes (`None`: not subscribed).
    pub bindings: Option<Arc<Bindings>>,
}

impl UplinkConfig {
    pub fn new(gateway_id: impl Into<String>, broker: MqttUrl) -> Self {
        UplinkConfig {
            gateway_id: gateway_id.into(),
            broker,
            auth: BrokerAuth::default(),
            batch_max: 200,
            max_in_flight: 4,
            resend_after: Duration::from_secs(10),
            resend_max: Duration::from_secs(120),
            status_every: Duration::from_secs(30),
            bindings: None,
        }
    }
}

/// Counters a supervisor (or a test) can read.
#[derive(Debug, Default)]
pub struct UplinkStats {
    pub connected: AtomicBool,
    pub batches_sent: AtomicU64,
    pub readings_acked: AtomicU64,
    pub resends: AtomicU64,
}

#[derive(Debug, Error)]
pub enum UplinkError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("outbox task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("broker link: {0}")]
    Tls(#[from] TlsSetupError),
}

enum LinkEvent {
    Connected,
    Disconnected,
    Ack(Ack),
    Binding(GatewayBinding),
}

struct InFlight {
    batch_id: u64,
    sent: Instant,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Runs until `shutdown` is cancelled; then publishes an offline status and disconnects.
pub async fn run(
    cfg: UplinkConfig,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    devices: DeviceBoard,
    stats: Arc<UplinkStats>,
    shutdown: CancellationToken,
) -> Result<(), UplinkError> {
    let status_topic = topic(&cfg.gateway_id, Channel::Status);
    let ack_topic = topic(&cfg.gateway_id, Channel::Ack);
    let readings_topic = topic(&cfg.gateway_id, Channel::Readings);
    let binding_topic = cfg.bindings.as_ref().map(|_| topic(&cfg.gateway_id, Channel::Binding));
    let started_ms = now_ms();

    let mut opts = crate::mqtt::options(format!("eldercare-gw-{}", cfg.gateway_id), &cfg.broker, &cfg.auth)?;
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(
            eldercare_schema::payload::MAX_PAYLOAD_BYTES + 1024,
            eldercare_schema::payload::MAX_PAYLOAD_BYTES + 1024,
        )
        .set_last_will(LastWill::new(
            &status_topic,
            serde_json::to_vec(&GatewayStatus::offline(&cfg.gateway_id)).expect("status serialises"),
            QoS::AtLeastOnce,
            true,
        ));
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    eventloop.set_network_options(net);

    let (ev_tx, mut ev_rx) = mpsc::channel(64);
    let link = tokio::spawn(drive_link(eventloop, ev_tx, ack_topic.clone(), binding_topic.clone(), cfg.broker.clone()));

    let mut connected = false;
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut resend = ResendTimer::new(cfg.resend_after, cfg.resend_max);
    let mut cursor: Option<u64> = None;
    let mut next_batch_id = now_ms() as u64;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last_status = Instant::now() - cfg.status_every;

    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            ev = ev_rx.recv() => match ev {
                Some(LinkEvent::Connected) => {
                    tracing::info!(broker = %cfg.broker, "uplink connected");
                    connected = true;
                    stats.connected.store(true, Ordering::Relaxed);
                    // Subscribe before sending, so the acknowledgements have somewhere to go.
                    let _ = client.subscribe(&ack_topic, QoS::AtLeastOnce).await;
                    if let Some(t) = &binding_topic {
                        let _ = client.subscribe(t, QoS::AtLeastOnce).await;
                    }
                    in_flight.clear();
                    cursor = None;
                    last_status = Instant::now() - cfg.status_every;
                }
                Some(LinkEvent::Disconnected) => {
                    connected = false;
                    stats.connected.store(false, Ordering::Relaxed);
                }
                Some(LinkEvent::Ack(ack)) => {
                    let ob = outbox.clone();
                    let seqs = ack.seqs.clone();
                    let removed = tokio::task::spawn_blocking(move || ob.remove(&seqs)).await??;
                    stats.readings_acked.fetch_add(removed as u64, Ordering::Relaxed);
                    if !ack.rejected.is_empty() {
                        tracing::warn!(rejected = ack.rejected.len(), first_reason = %ack.rejected[0].reason, "server refused readings (kept in its dead letters)");
                    }
                    if let Some(i) = in_flight.iter().position(|b| b.batch_id == ack.batch_id) {
                        // Every batch id is sent once (a resend re-reads the outbox into new ones).
                        resend.acknowledged(in_flight[i].sent.elapsed());
                        in_flight.remove(i);
                    }
                }
                Some(LinkEvent::Binding(binding)) => {
                    if let Some(bindings) = cfg.bindings.clone() {
                        match tokio::task::spawn_blocking(move || bindings.accept(binding)).await? {
                            Ok(_) => {}
                            // Kept in memory only if it cannot be written; the next retained copy retries.
                            Err(e) => tracing::error!(error = %e, "cannot keep the device binding on disk"),
                        }
                    }
                }
                None => break,
            },
            _ = wake.notified() => {}
            _ = tick.tick() => {
                if in_flight.front().is_some_and(|b| b.sent.elapsed() > resend.timeout()) {
                    tracing::warn!(batches = in_flight.len(), waited_ms = resend.timeout().as_millis() as u64, "no acknowledgement in time; resending");
                    resend.resent();
                    stats.resends.fetch_add(1, Ordering::Relaxed);
                    in_flight.clear();
                    cursor = None;
                }
            }
        }
        if !connected {
            continue;
        }
        while in_flight.len() < cfg.max_in_flight {
            let ob = outbox.clone();
            let max = cfg.batch_max.clamp(1, eldercare_schema::payload::MAX_READINGS_PER_BATCH);
            let readings = tokio::task::spawn_blocking(move || ob.peek(cursor, max)).await??;
            let Some(last) = readings.last() else { break };
            cursor = Some(last.seq);
            let batch = ReadingsBatch {
                v: PAYLOAD_VERSION,
                gateway_id: cfg.gateway_id.clone(),
                batch_id: next_batch_id,
                sent_ms: now_ms(),
                readings,
            };
            let bytes = serde_json::to_vec(&batch).expect("batch serialises");
            if client.publish(&readings_topic, QoS::AtLeastOnce, false, bytes).await.is_err() {
                break;
            }
            in_flight.push_back(InFlight { batch_id: next_batch_id, sent: Instant::now() });
            next_batch_id += 1;
            stats.batches_sent.fetch_add(1, Ordering::Relaxed);
        }
        if last_status.elapsed() >= cfg.status_every {
            last_status = Instant::now();
            let status = online_status(&cfg.gateway_id, started_ms, &outbox, &devices);
            let _ = client.try_publish(
                &status_topic,
                QoS::AtLeastOnce,
                true,
                serde_json::to_vec(&status).expect("status serialises"),
            );
        }
    }

    if connected {
        let offline = serde_json::to_vec(&GatewayStatus::offline(&cfg.gateway_id)).expect("status serialises");
        let _ = client.publish(&status_topic, QoS::AtLeastOnce, true, offline).await;
        let _ = client.disconnect().await;
        // Give the event loop a moment to flush the offline status and the disconnect.
        let _ = tokio::time::timeout(Duration::from_secs(2), link).await;
    } else {
        link.abort();
    }
    stats.connected.store(false, Ordering::Relaxed);
    Ok(())
}

fn online_status(gateway_id: &str, started_ms: i64, outbox: &Outbox, devices: &DeviceBoard) -> GatewayStatus {
    GatewayStatus {
        v: PAYLOAD_VERSION,
        gateway_id: gateway_id.to_owned(),
        state: GatewayState::Online,
        version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        started_ms: Some(started_ms),
        outbox_depth: outbox.len().ok(),
        outbox_evicted: outbox.evicted().ok(),
        clock_synced: crate::clock::synced(),
        devices: devices.lock().map(|d| d.values().cloned().collect()).unwrap_or_default(),
    }
}

/// Polls the MQTT event loop forever, reconnecting with backoff, and forwards what matters.
async fn drive_link(
    mut eventloop: EventLoop,
    tx: mpsc::Sender<LinkEvent>,
    ack_topic: String,
    binding_topic: Option<String>,
    broker: MqttUrl,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(200);
                if tx.send(LinkEvent::Connected).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == ack_topic => match Ack::parse(&p.payload) {
                Ok(ack) => {
                    if tx.send(LinkEvent::Ack(ack)).await.is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "ignoring an acknowledgement that does not parse"),
            },
            Ok(Event::Incoming(Packet::Publish(p))) if binding_topic.as_deref() == Some(p.topic.as_str()) => {
                let gateway_id =
                    eldercare_schema::topic::parse(&p.topic).map(|(g, _)| g.to_owned()).unwrap_or_default();
                match GatewayBinding::parse(&p.payload, &gateway_id) {
                    Ok(b) => {
                        if tx.send(LinkEvent::Binding(b)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a device binding that does not parse"),
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                let _ = tx.send(LinkEvent::Disconnected).await;
                return;
            }
            Ok(_) => {}
            // A broker whose certificate is not trusted: say so plainly, it will not fix itself.
            Err(rumqttc::ConnectionError::Tls(e)) => {
                tracing::error!(
                    error = %e,
                    %broker,
                    retry_in_ms = backoff.as_millis() as u64,
                    "TLS with the broker failed: is its certificate signed by the CA in mqtt_ca_file (or a system root), and issued for this host name?"
                );
                if tx.send(LinkEvent::Disconnected).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "uplink disconnected");
                if tx.send(LinkEvent::Disconnected).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}
