//! One simulated gateway: its own MQTT client (rumqttc, TCP_NODELAY, QoS 1), a window of
//! unacknowledged batches, and a resend after a timeout or a reconnect, like the real uplink
//! (`eldercare-gateway`'s `uplink.rs`). Readings stay in memory until the server's ack names them.
//!
//! Latency is measured per batch from its first publish to the server's ack, which the server
//! sends after its commit: publish-to-commit, including any resend.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eldercare_gateway::mqtt::MqttUrl;
use eldercare_gateway::resend::ResendTimer;
use eldercare_schema::payload::{MAX_PAYLOAD_BYTES, MAX_READINGS_PER_BATCH, PAYLOAD_VERSION};
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{Ack, Reading, ReadingsBatch, TimeSource};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::histogram::Histogram;
use crate::home::{Home, Measured};

/// How every simulated gateway talks to the broker.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub broker: MqttUrl,
    /// MQTT password of every simulated gateway (the username is the gateway id), for a broker
    /// with per-gateway credentials (`deploy/mosquitto/`).
    pub password: Option<String>,
    /// Readings per batch at most.
    pub batch_max: usize,
    /// Unacknowledged batches per gateway at most.
    pub max_in_flight: usize,
    /// Resend the unacknowledged batches after this long without an ack, at first; then the
    /// wait follows the acks and backs off after each resend, as the real uplink's does
    /// (`eldercare_gateway::resend::ResendTimer`).
    pub resend_after: Duration,
    /// The longest wait for an ack before a resend.
    pub resend_max: Duration,
    /// How often each gateway collects what its devices measured and publishes it.
    pub flush_every: Duration,
    /// First sequence number of every gateway (readings of this run have `seq >= seq_base`).
    pub seq_base: u64,
}

/// Counters all gateways add to; the progress bar and the tests read them while the load runs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Readings measured by the simulated devices.
    pub generated: AtomicU64,
    /// Readings published at least once.
    pub published: AtomicU64,
    /// Readings whose batch the server acknowledged.
    pub acked: AtomicU64,
    /// Batches published, resends included.
    pub publishes: AtomicU64,
    /// Batches published again (no ack in time, or a reconnect).
    pub resent: AtomicU64,
    /// Acknowledgements for a batch no longer in flight (a second server's, or a late one).
    pub extra_acks: AtomicU64,
    /// Readings listed as rejected in an acknowledgement (the batch is then kept and resent).
    pub rejected: AtomicU64,
    /// Gateways connected now.
    pub connected: AtomicU64,
    /// Connections lost.
    pub disconnects: AtomicU64,
    pub first_rejection: Mutex<Option<String>>,
}

/// What one gateway did, for the report and the check against the database.
#[derive(Debug, Clone)]
pub struct GatewayOutcome {
    pub gateway_id: String,
    /// Readings published at least once; their seqs are `seq_base .. seq_base + published`.
    pub published: u64,
    pub acked: u64,
    /// Readings measured but never published (the gateway was behind when it had to stop).
    pub never_published: u64,
    pub latency_us: Histogram,
}

enum LinkEvent {
    Connected,
    Disconnected,
    Ack(Vec<u8>),
}

struct InFlight {
    batch_id: u64,
    readings: u64,
    payload: Vec<u8>,
    first_sent: Instant,
    /// Later than `first_sent` once the batch was sent again.
    last_sent: Instant,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Runs one gateway: measures until `stop_measuring`, then keeps going until everything it
/// published is acknowledged or `give_up` is cancelled.
pub async fn run(
    mut home: Home,
    cfg: Arc<LinkConfig>,
    counters: Arc<Counters>,
    stop_measuring: CancellationToken,
    give_up: CancellationToken,
) -> GatewayOutcome {
    let gw = home.gateway_id.clone();
    let readings_topic = topic(&gw, Channel::Readings);
    let ack_topic = topic(&gw, Channel::Ack);
    let mut opts = MqttOptions::new(format!("eldercare-gw-{gw}"), cfg.broker.host.clone(), cfg.broker.port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PAYLOAD_BYTES + 1024, MAX_PAYLOAD_BYTES + 1024);
    if let Some(p) = &cfg.password {
        opts.set_credentials(gw.clone(), p.clone());
    }
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(5);
    eventloop.set_network_options(net);
    let (tx, mut rx) = mpsc::channel(64);
    let link = tokio::spawn(drive(eventloop, tx, ack_topic.clone()));

    let mut out = GatewayOutcome {
        gateway_id: gw.clone(),
        published: 0,
        acked: 0,
        never_published: 0,
        latency_us: Histogram::default(),
    };
    let mut pending: VecDeque<Reading> = VecDeque::new();
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut resend = ResendTimer::new(cfg.resend_after, cfg.resend_max);
    let mut next_seq = cfg.seq_base;
    let mut next_batch_id = cfg.seq_base;
    let mut connected = false;
    let mut measuring = true;
    let mut measured = Vec::new();
    // Spread the gateways' flushes over the interval instead of all at once.
    let phase = cfg.flush_every.mul_f64(crate::home::Rng::new(next_seq ^ gw.len() as u64 ^ hash(&gw)).unit());
    let mut flush = tokio::time::interval_at(tokio::time::Instant::now() + phase, cfg.flush_every);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let batch_max = cfg.batch_max.clamp(1, MAX_READINGS_PER_BATCH);

    loop {
        tokio::select! {
            _ = give_up.cancelled() => break,
            _ = stop_measuring.cancelled(), if measuring => {
                measuring = false;
            }
            ev = rx.recv() => match ev {
                Some(LinkEvent::Connected) => {
                    connected = true;
                    counters.connected.fetch_add(1, Ordering::Relaxed);
                    let _ = client.subscribe(&ack_topic, QoS::AtLeastOnce).await;
                    // Everything unacknowledged goes again: the old session and its acks are gone.
                    if !in_flight.is_empty() {
                        counters.resent.fetch_add(in_flight.len() as u64, Ordering::Relaxed);
                    }
                    for b in &mut in_flight {
                        b.last_sent = Instant::now();
                        counters.publishes.fetch_add(1, Ordering::Relaxed);
                        let _ = client.publish(&readings_topic, QoS::AtLeastOnce, false, b.payload.clone()).await;
                    }
                }
                Some(LinkEvent::Disconnected) => {
                    if connected {
                        counters.connected.fetch_sub(1, Ordering::Relaxed);
                        counters.disconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    connected = false;
                }
                Some(LinkEvent::Ack(bytes)) => on_ack(&bytes, &mut in_flight, &mut resend, &mut out, &counters),
                None => break,
            },
            _ = flush.tick() => {
                if measuring {
                    measured.clear();
                    home.due(Instant::now(), &mut measured);
                    let t = now_ms();
                    counters.generated.fetch_add(measured.len() as u64, Ordering::Relaxed);
                    for Measured { device_id, metric, value } in measured.drain(..) {
                        pending.push_back(Reading { seq: next_seq, device_id, metric, value, time_ms: t, time_source: TimeSource::Device });
                        next_seq += 1;
                    }
                }
                if connected && in_flight.front().is_some_and(|b| b.last_sent.elapsed() >= resend.timeout()) {
                    counters.resent.fetch_add(in_flight.len() as u64, Ordering::Relaxed);
                    resend.resent();
                    for b in &mut in_flight {
                        b.last_sent = Instant::now();
                        counters.publishes.fetch_add(1, Ordering::Relaxed);
                        let _ = client.publish(&readings_topic, QoS::AtLeastOnce, false, b.payload.clone()).await;
                    }
                }
            }
        }
        if !measuring && pending.is_empty() && in_flight.is_empty() {
            break;
        }
        // Fill the window.
        while connected && in_flight.len() < cfg.max_in_flight && !pending.is_empty() {
            let n = pending.len().min(batch_max);
            let readings: Vec<Reading> = pending.drain(..n).collect();
            let batch = ReadingsBatch {
                v: PAYLOAD_VERSION,
                gateway_id: gw.clone(),
                batch_id: next_batch_id,
                sent_ms: now_ms(),
                readings,
            };
            let payload = serde_json::to_vec(&batch).expect("batch serialises");
            let now = Instant::now();
            in_flight.push_back(InFlight {
                batch_id: next_batch_id,
                readings: n as u64,
                payload: payload.clone(),
                first_sent: now,
                last_sent: now,
            });
            next_batch_id += 1;
            out.published += n as u64;
            counters.published.fetch_add(n as u64, Ordering::Relaxed);
            counters.publishes.fetch_add(1, Ordering::Relaxed);
            if client.publish(&readings_topic, QoS::AtLeastOnce, false, payload).await.is_err() {
                break;
            }
        }
    }
    out.never_published = pending.len() as u64;
    if connected {
        counters.connected.fetch_sub(1, Ordering::Relaxed);
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), link).await;
    } else {
        link.abort();
    }
    out
}

fn on_ack(
    bytes: &[u8],
    in_flight: &mut VecDeque<InFlight>,
    resend: &mut ResendTimer,
    out: &mut GatewayOutcome,
    counters: &Counters,
) {
    let ack = match Ack::parse(bytes) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(gateway = %out.gateway_id, error = %e, "an acknowledgement that does not parse");
            return;
        }
    };
    let Some(i) = in_flight.iter().position(|b| b.batch_id == ack.batch_id) else {
        counters.extra_acks.fetch_add(1, Ordering::Relaxed);
        return;
    };
    if !ack.rejected.is_empty() {
        // Our readings are all valid: a rejection means a misconfigured server (devices not
        // provisioned) or a foreign server on a shared broker. Keep the batch; it is resent.
        counters.rejected.fetch_add(ack.rejected.len() as u64, Ordering::Relaxed);
        let mut first = counters.first_rejection.lock().unwrap();
        first.get_or_insert_with(|| ack.rejected[0].reason.clone());
        return;
    }
    let b = in_flight.remove(i).expect("index from position");
    // A batch sent more than once: its ack says nothing about the round trip.
    if b.last_sent == b.first_sent {
        resend.acknowledged(b.first_sent.elapsed());
    }
    out.acked += b.readings;
    counters.acked.fetch_add(b.readings, Ordering::Relaxed);
    out.latency_us.record(b.first_sent.elapsed().as_micros() as u64);
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Polls the event loop, reconnecting with backoff, and forwards what the gateway needs.
async fn drive(mut eventloop: EventLoop, tx: mpsc::Sender<LinkEvent>, ack_topic: String) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(100);
                if tx.send(LinkEvent::Connected).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == ack_topic => {
                if tx.send(LinkEvent::Ack(p.payload.to_vec())).await.is_err() {
                    return;
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "gateway link lost");
                if tx.send(LinkEvent::Disconnected).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}
