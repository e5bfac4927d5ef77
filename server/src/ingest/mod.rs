//! Ingest: MQTT → validate → one database transaction per group of batches → acknowledge.
//!
//! The MQTT task only polls the rumqttc event loop and forwards publishes over a bounded channel
//! to the dispatcher, which hands each message to one of `workers` by its gateway (so one
//! gateway's batches stay in order and, a home's residents being its own, two workers do not
//! wait on each other's row locks). A worker takes whatever messages are waiting (group commit),
//! validates them, stores them in one transaction, publishes each gateway's [`Ack`] *after* the
//! commit (on a connection of its own, [`reply_link`]), and reports the messages done; the
//! dispatcher then acknowledges the MQTT messages (manual acks) in the order they arrived —
//! MQTT 3.1.1 §4.6 asks for that order and rumqttd refuses anything else — so the broker
//! redelivers anything this process did not finish. The
//! channels cannot fill up: the broker sends at most `max_inflight` unacknowledged messages,
//! fewer than a channel holds; that window is the back-pressure from the database to the broker.
//! Several workers only help on PostgreSQL; SQLite has one writer, so it gets one.
//!
//! Whatever arrives, the worker keeps going: a payload it cannot accept is kept in the
//! dead-letter table with the reason; a database error is retried (never acknowledged) until
//! it succeeds or the server stops.

mod devices;
mod validate;

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eldercare_gateway::mqtt::MqttUrl;
use eldercare_schema::payload::PAYLOAD_VERSION;
use eldercare_schema::topic::{self, Channel};
use eldercare_schema::{Ack, GatewayStatus, ReadingsBatch};
use eldercare_store::{DeadLetter, Store, StoreError};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alerts::{self, AlertSettings};

/// Bigger than any broker's in-flight window, so the MQTT task never waits on the worker.
const CHANNEL_CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub broker: MqttUrl,
    /// The clock and time zone of the rules.
    pub alerts: AlertSettings,
    /// MQTT client id; stable across restarts so the broker keeps the session.
    pub client_id: String,
    /// With several instances: subscribe through `$share/<group>/...`.
    pub shared_group: Option<String>,
    /// Connect over TLS with this configuration (an `mqtts://` broker).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Username and password for the broker.
    pub credentials: Option<Credentials>,
    /// Transactions run at once (one on SQLite whatever is asked).
    pub workers: usize,
}

/// A username and password for the MQTT broker; the password never shows in `Debug` or logs.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"[hidden]").finish()
    }
}

/// Connects over TLS and logs in with the credentials, when given (every MQTT client of the
/// server: ingest and the binding publisher).
pub(crate) fn secure(
    opts: &mut MqttOptions,
    tls: Option<&Arc<rustls::ClientConfig>>,
    credentials: Option<&Credentials>,
) {
    if let Some(tls) = tls {
        opts.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls.clone())));
    }
    if let Some(c) = credentials {
        opts.set_credentials(c.username.clone(), c.password.clone());
    }
}

/// Starts ingest; returns when `shutdown` is cancelled and the current message is finished.
pub async fn run(cfg: IngestConfig, store: Store, connected: Arc<AtomicBool>, shutdown: CancellationToken) {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.broker.host.clone(), cfg.broker.port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_request_channel_capacity(CHANNEL_CAPACITY)
        .set_max_packet_size(
            crate::broker::BROKER_MAX_PACKET_BYTES + 1024,
            crate::broker::BROKER_MAX_PACKET_BYTES + 1024,
        );
    secure(&mut opts, cfg.tls.as_ref(), cfg.credentials.as_ref());
    let (client, eventloop) = AsyncClient::new(opts, CHANNEL_CAPACITY);
    let link = Link::new(eventloop, "ingest", Some(connected.clone()), shutdown.clone());

    let filters = [Channel::Readings, Channel::Status].map(|c| match &cfg.shared_group {
        Some(g) => topic::shared_filter_all(g, c),
        None => topic::filter_all(c),
    });
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let link = tokio::spawn(drive(link, client.clone(), filters.to_vec(), tx, connected.clone()));
    let (replies, replies_link) = reply_link(&cfg, shutdown.clone());
    let workers = match store.dialect() {
        eldercare_store::Dialect::Sqlite => 1,
        eldercare_store::Dialect::Postgres => cfg.workers.max(1),
    };
    tracing::info!(workers, "ingest started");
    dispatch(rx, client.clone(), replies.clone(), store, cfg.alerts.clone(), workers, shutdown.clone()).await;
    // Not `disconnect().await`: with the links no longer polled, a full request channel would
    // make it wait for ever.
    let _ = client.try_disconnect();
    let _ = replies.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(2), link).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), replies_link).await;
    connected.store(false, Ordering::Relaxed);
}

/// The connection that publishes the gateways' [`Ack`]s, apart from the one that receives
/// their batches.
///
/// On one connection the two wait on each other: the acks are QoS 1 publishes, so once the
/// client has its window of them unconfirmed it stops sending anything, the acknowledgements of
/// received batches too, and a broker whose window of deliveries to us is full of those sends
/// nothing more (rumqttd then stopped answering pings as well, and ingest stalled until the
/// link was dropped). Here, a full window of acks only delays acks; gateways resend what was
/// not acknowledged, and storing it again changes nothing.
fn reply_link(cfg: &IngestConfig, shutdown: CancellationToken) -> (AsyncClient, tokio::task::JoinHandle<()>) {
    let mut opts = MqttOptions::new(format!("{}-acks", cfg.client_id), cfg.broker.host.clone(), cfg.broker.port);
    opts.set_keep_alive(Duration::from_secs(30)).set_clean_session(true).set_request_channel_capacity(CHANNEL_CAPACITY);
    secure(&mut opts, cfg.tls.as_ref(), cfg.credentials.as_ref());
    let (client, eventloop) = AsyncClient::new(opts, CHANNEL_CAPACITY);
    let mut link = Link::new(eventloop, "ingest's ack link", None, shutdown);
    let task = tokio::spawn(async move { while !matches!(link.next().await, Polled::Stopped) {} });
    (client, task)
}

/// What [`Link::next`] got.
enum Polled {
    Event(Event),
    /// The link was lost; the backoff before the next try has passed.
    Lost,
    /// `shutdown` was cancelled.
    Stopped,
}

/// An MQTT event loop polled until shutdown: TCP_NODELAY, a lost link logged and retried with a
/// growing backoff, and a last short poll at shutdown so the disconnect goes out.
struct Link {
    eventloop: EventLoop,
    name: &'static str,
    /// Set false when the link is lost (the caller sets it true once it is ready).
    connected: Option<Arc<AtomicBool>>,
    shutdown: CancellationToken,
    backoff: Duration,
}

impl Link {
    fn new(
        mut eventloop: EventLoop,
        name: &'static str,
        connected: Option<Arc<AtomicBool>>,
        shutdown: CancellationToken,
    ) -> Link {
        let mut net = rumqttc::NetworkOptions::new();
        net.set_tcp_nodelay(true);
        net.set_connection_timeout(5);
        eventloop.set_network_options(net);
        Link { eventloop, name, connected, shutdown, backoff: Duration::from_millis(100) }
    }

    async fn next(&mut self) -> Polled {
        let event = tokio::select! {
            _ = self.shutdown.cancelled() => {
                // Keep polling briefly so the disconnect goes out.
                let eventloop = &mut self.eventloop;
                let _ = tokio::time::timeout(Duration::from_millis(500), async { while eventloop.poll().await.is_ok() {} }).await;
                return Polled::Stopped;
            }
            e = self.eventloop.poll() => e,
        };
        match event {
            Ok(event) => {
                if matches!(event, Event::Incoming(Packet::ConnAck(_))) {
                    self.backoff = Duration::from_millis(100);
                }
                Polled::Event(event)
            }
            Err(e) => {
                if let Some(c) = &self.connected {
                    c.store(false, Ordering::Relaxed);
                }
                let retry_in_ms = self.backoff.as_millis() as u64;
                tracing::warn!(link = self.name, error = %e, retry_in_ms, "MQTT link to the broker lost");
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Polled::Stopped,
                    _ = tokio::time::sleep(self.backoff) => {}
                }
                self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
                Polled::Lost
            }
        }
    }
}

async fn drive(
    mut link: Link,
    client: AsyncClient,
    filters: Vec<String>,
    tx: mpsc::Sender<Publish>,
    connected: Arc<AtomicBool>,
) {
    loop {
        match link.next().await {
            Polled::Stopped => return,
            Polled::Lost => {}
            Polled::Event(Event::Incoming(Packet::ConnAck(ack))) => {
                tracing::info!(session_present = ack.session_present, "ingest connected to the broker");
                for f in &filters {
                    let _ = client.subscribe(f, QoS::AtLeastOnce).await;
                }
                connected.store(true, Ordering::Relaxed);
            }
            Polled::Event(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(p).await.is_err() {
                    return;
                }
            }
            Polled::Event(_) => {}
        }
    }
}

/// MQTT messages handed to workers, acknowledged to the broker in the order they arrived.
#[derive(Default)]
struct AckQueue {
    /// Position of the front entry.
    front: u64,
    /// Each message and whether its worker is done with it.
    entries: VecDeque<(Publish, bool)>,
}

impl AckQueue {
    fn push(&mut self, p: Publish) -> u64 {
        self.entries.push_back((p, false));
        self.front + self.entries.len() as u64 - 1
    }

    fn done(&mut self, position: u64) {
        if let Some(e) = position.checked_sub(self.front).and_then(|i| self.entries.get_mut(i as usize)) {
            e.1 = true;
        }
    }

    /// The messages at the front that are done, in order.
    fn take_ready(&mut self) -> Vec<Publish> {
        let mut ready = Vec::new();
        while self.entries.front().is_some_and(|e| e.1) {
            ready.push(self.entries.pop_front().expect("front exists").0);
            self.front += 1;
        }
        ready
    }
}

/// Which worker handles a gateway's messages.
fn shard_of(topic_name: &str, workers: usize) -> usize {
    let gateway = topic::parse(topic_name).map(|(g, _)| g).unwrap_or("");
    let mut h = std::hash::DefaultHasher::new();
    gateway.hash(&mut h);
    (h.finish() % workers as u64) as usize
}

async fn dispatch(
    mut rx: mpsc::Receiver<Publish>,
    client: AsyncClient,
    replies: AsyncClient,
    store: Store,
    settings: AlertSettings,
    workers: usize,
    shutdown: CancellationToken,
) {
    let queue = Arc::new(Mutex::new(AckQueue::default()));
    let ready = Arc::new(tokio::sync::Notify::new());
    let devices = Arc::new(devices::DeviceCache::default());
    let mut shards = Vec::with_capacity(workers);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        shards.push(tx);
        let w = Worker {
            replies: replies.clone(),
            store: store.clone(),
            settings: settings.clone(),
            queue: queue.clone(),
            ready: ready.clone(),
            devices: devices.clone(),
        };
        tasks.spawn(w.run(rx, shutdown.clone()));
    }
    // Acknowledgements to the broker never wait for room in the client's request channel. Only
    // `drive` empties that channel (by polling the event loop), and `drive` waits for room in
    // ours: waiting here too stalled ingest for good once more than the channel's capacity of
    // acknowledgements were due at once (seen under overload through Mosquitto: 3,542 due, the
    // server, broker and database idle). What does not fit waits in `unsent`, in order, and is
    // tried again at the next event, or after `ACK_RETRY`; meanwhile messages keep flowing.
    let mut unsent: VecDeque<Publish> = VecDeque::new();
    let send_acks = |unsent: &mut VecDeque<Publish>| {
        unsent.extend(queue.lock().expect("ack queue").take_ready());
        while let Some(publish) = unsent.front() {
            if client.try_ack(publish).is_err() {
                break;
            }
            unsent.pop_front();
        }
    };
    loop {
        let retry = async {
            if unsent.is_empty() {
                std::future::pending::<()>().await
            }
            tokio::time::sleep(ACK_RETRY).await
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ready.notified() => send_acks(&mut unsent),
            _ = retry => send_acks(&mut unsent),
            p = rx.recv() => {
                let Some(p) = p else { break };
                let shard = shard_of(&p.topic, workers);
                let position = queue.lock().expect("ack queue").push(p.clone());
                if shards[shard].send((position, p)).await.is_err() {
                    break;
                }
                if !unsent.is_empty() {
                    send_acks(&mut unsent);
                }
            }
        }
    }
    // Workers finish the group they are storing; what they finished is acknowledged if the
    // channel has room, the rest is redelivered by the broker (the session is persistent).
    drop(shards);
    while tasks.join_next().await.is_some() {}
    send_acks(&mut unsent);
    if !unsent.is_empty() {
        tracing::info!(
            messages = unsent.len(),
            "stopped with messages stored but not acknowledged to the broker; it redelivers them, and storing them again changes nothing"
        );
    }
}

/// How soon acknowledgements that found the client's request channel full are tried again.
const ACK_RETRY: Duration = Duration::from_millis(5);

struct Worker {
    /// Publishes the gateways' acks ([`reply_link`]).
    replies: AsyncClient,
    store: Store,
    settings: AlertSettings,
    queue: Arc<Mutex<AckQueue>>,
    ready: Arc<tokio::sync::Notify>,
    /// The devices' bindings, shared by the workers.
    devices: Arc<devices::DeviceCache>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<(u64, Publish)>, shutdown: CancellationToken) {
        loop {
            let first = tokio::select! {
                // After shutdown, no new group: what waits in the channel is redelivered.
                biased;
                _ = shutdown.cancelled() => return,
                p = rx.recv() => match p { Some(p) => p, None => return },
            };
            // Group commit: whatever else is already waiting joins this transaction, so a busy
            // server pays one commit (and a handful of statements) for many messages.
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(p) => group.push(p),
                    Err(_) => break,
                }
            }
            let messages: Vec<&Publish> = group.iter().map(|(_, p)| p).collect();
            let mut backoff = Duration::from_millis(50);
            loop {
                match handle_group(&messages, &self.replies, &self.store, &self.devices, &self.settings, &shutdown)
                    .await
                {
                    Ok(()) => break,
                    Err(e) => {
                        metrics::counter!("eldercare_ingest_store_errors_total").increment(1);
                        tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "storing failed; will retry, not acknowledged");
                        tokio::select! {
                            // Not acknowledged: the broker or the gateway sends it again.
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            let mut queue = self.queue.lock().expect("ack queue");
            for (position, _) in &group {
                queue.done(*position);
            }
            drop(queue);
            self.ready.notify_one();
        }
    }
}

/// Messages stored in one transaction at most.
const MAX_GROUP: usize = 64;

/// Stores the readings batches of a group in one transaction (with the alerts they raise), then
/// acknowledges each to its gateway; anything else in the group is handled on its own.
/// `Err` only for storage errors: the whole group is retried, and nothing is acknowledged.
async fn handle_group(
    group: &[&Publish],
    client: &AsyncClient,
    store: &Store,
    cache: &devices::DeviceCache,
    settings: &AlertSettings,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let received = (settings.clock)();
    let mut batches: Vec<(&str, &str, ReadingsBatch)> = Vec::new();
    for p in group {
        match topic::parse(&p.topic) {
            Ok((gateway_id, Channel::Readings)) => match ReadingsBatch::parse(&p.payload, gateway_id) {
                Ok(batch) => batches.push((gateway_id, p.topic.as_str(), batch)),
                Err(e) => {
                    refuse(payload_reason(&e));
                    tracing::warn!(gateway = gateway_id, error = %e, "readings payload dead-lettered");
                    let dead = DeadLetter {
                        topic: p.topic.clone(),
                        gateway_id: Some(gateway_id.to_owned()),
                        device_id: None,
                        seq: None,
                        reason: e.to_string(),
                        payload: p.payload.to_vec(),
                    };
                    store.dead_letter(&dead, received).await?;
                }
            },
            _ => handle(p, store, settings).await?,
        }
    }
    if batches.is_empty() {
        return Ok(());
    }
    // The devices the group's batches name, by the gateway each is bound to (held in memory,
    // current with the binding clock: `devices.rs`): a device named by a gateway it is not
    // bound to is then unknown to that gateway.
    let mut device_ids: Vec<&str> =
        batches.iter().flat_map(|(_, _, b)| b.readings.iter().map(|r| r.device_id.as_str())).collect();
    device_ids.sort_unstable();
    device_ids.dedup();
    let devices = cache.lookup(store, &device_ids).await?;
    let none = HashMap::new();
    let splits: Vec<_> = batches
        .iter()
        .map(|(gateway_id, topic, batch)| {
            validate::split(topic, batch, devices.get(*gateway_id).unwrap_or(&none), received)
        })
        .collect();
    // Readings, refusals and the alerts they raise commit together.
    let mut tx = store.begin().await?;
    let accepted: Vec<(&str, &[eldercare_store::NewReading])> =
        batches.iter().zip(&splits).map(|((g, _, _), split)| (*g, split.accepted.as_slice())).collect();
    let (outcome, fresh) = tx.insert_batches(&accepted, received).await?;
    let (stored, duplicates) = (outcome.inserted, outcome.duplicates);
    let mut refused = 0;
    for split in &splits {
        tx.dead_letters(&split.dead, received).await?;
        refused += split.rejected.len() as u64;
    }
    let applied = alerts::apply::on_readings(&mut tx, &fresh, settings.utc_offset_minutes, received).await?;
    drop(fresh);
    tx.commit().await?;
    if applied != alerts::apply::Applied::default() {
        settings.alerts_changed.notify_one();
    }
    metrics::counter!("eldercare_ingest_batches_total").increment(batches.len() as u64);
    metrics::counter!("eldercare_ingest_transactions_total").increment(1);
    metrics::histogram!("eldercare_ingest_group_batches").record(batches.len() as f64);
    metrics::counter!("eldercare_ingest_readings_total", "outcome" => "stored").increment(stored);
    metrics::counter!("eldercare_ingest_readings_total", "outcome" => "duplicate").increment(duplicates);
    metrics::counter!("eldercare_ingest_readings_total", "outcome" => "dead_letter").increment(refused);
    if refused > 0 {
        tracing::warn!(refused, "readings dead-lettered");
    }
    for ((gateway_id, _, batch), split) in batches.iter().zip(splits) {
        let ack = Ack {
            v: PAYLOAD_VERSION,
            batch_id: batch.batch_id,
            seqs: batch.readings.iter().map(|r| r.seq).collect(),
            rejected: split.rejected,
        };
        let bytes = serde_json::to_vec(&ack).expect("ack serialises");
        // A full request channel waits for room (back-pressure while the ack link is down),
        // but not past shutdown, when the link is no longer polled. `biased`: with room, the
        // publish is done at its first poll, also after shutdown.
        tokio::select! {
            biased;
            sent = client.publish(topic::topic(gateway_id, Channel::Ack), QoS::AtLeastOnce, false, bytes) => {
                if let Err(e) = sent {
                    // Stored already; the gateway resends after its timeout and is acknowledged then.
                    tracing::warn!(error = %e, "could not publish an acknowledgement");
                }
            }
            _ = shutdown.cancelled() => {
                tracing::debug!(gateway = %gateway_id, "acknowledgement not sent: stopping, and the ack link is full");
            }
        }
    }
    Ok(())
}

fn refuse(reason: &'static str) {
    metrics::counter!("eldercare_ingest_payloads_refused_total", "reason" => reason).increment(1);
}

/// Handles one message that is not a readings batch: a bad topic, a status. `Err` only for
/// storage errors (retried); everything else is handled.
async fn handle(p: &Publish, store: &Store, settings: &AlertSettings) -> Result<(), StoreError> {
    let received = (settings.clock)();
    let dead = |gateway_id: Option<&str>, reason: String| DeadLetter {
        topic: p.topic.clone(),
        gateway_id: gateway_id.map(str::to_owned),
        device_id: None,
        seq: None,
        reason,
        payload: p.payload.to_vec(),
    };
    let (gateway_id, channel) = match topic::parse(&p.topic) {
        Ok(x) => x,
        Err(e) => {
            refuse("topic");
            tracing::warn!(error = %e, "message on an unexpected topic dead-lettered");
            return store.dead_letter(&dead(None, e.to_string()), received).await;
        }
    };
    match channel {
        Channel::Status => {
            let status = match GatewayStatus::parse(&p.payload) {
                Ok(s) => s,
                Err(e) => {
                    refuse(payload_reason(&e));
                    return store.dead_letter(&dead(Some(gateway_id), e.to_string()), received).await;
                }
            };
            let state = match status.state {
                eldercare_schema::GatewayState::Online => "online",
                eldercare_schema::GatewayState::Offline => "offline",
            };
            if !store.set_gateway_status(gateway_id, state, received).await? {
                refuse("unknown_gateway");
                let reason = format!("status from unregistered gateway {gateway_id:?}");
                return store.dead_letter(&dead(Some(gateway_id), reason), received).await;
            }
            Ok(())
        }
        // Readings go through `handle_group`; our own acknowledgements are not subscribed.
        Channel::Readings | Channel::Ack | Channel::Binding => Ok(()),
    }
}

fn payload_reason(e: &eldercare_schema::PayloadError) -> &'static str {
    use eldercare_schema::PayloadError::*;
    match e {
        TooLarge { .. } => "too_large",
        Malformed(_) => "malformed",
        UnsupportedVersion { .. } | MissingVersion => "version",
        GatewayMismatch { .. } => "gateway_mismatch",
        TooManyReadings { .. } => "too_many_readings",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(n: u16) -> Publish {
        let mut p = Publish::new(format!("eldercare/v1/gw/g{n}/readings"), QoS::AtLeastOnce, vec![]);
        p.pkid = n;
        p
    }

    #[test]
    fn messages_are_acknowledged_in_arrival_order_whoever_finishes_first() {
        let mut q = AckQueue::default();
        let positions: Vec<u64> = (1..=4).map(|n| q.push(publish(n))).collect();
        assert_eq!(positions, [0, 1, 2, 3]);
        // The third and fourth finish first: nothing can go out before the first.
        q.done(2);
        q.done(3);
        assert!(q.take_ready().is_empty());
        q.done(0);
        assert_eq!(q.take_ready().iter().map(|p| p.pkid).collect::<Vec<_>>(), [1]);
        q.done(1);
        assert_eq!(q.take_ready().iter().map(|p| p.pkid).collect::<Vec<_>>(), [2, 3, 4]);
        // Positions keep counting; a stale or unknown position changes nothing.
        assert_eq!(q.push(publish(5)), 4);
        q.done(1);
        q.done(99);
        assert!(q.take_ready().is_empty());
        q.done(4);
        assert_eq!(q.take_ready().iter().map(|p| p.pkid).collect::<Vec<_>>(), [5]);
    }

    #[test]
    fn a_gateway_always_goes_to_the_same_worker() {
        let a = shard_of("eldercare/v1/gw/home-17/readings", 4);
        assert_eq!(shard_of("eldercare/v1/gw/home-17/status", 4), a);
        assert!(a < 4);
        let spread: std::collections::HashSet<usize> =
            (0..64).map(|i| shard_of(&format!("eldercare/v1/gw/home-{i}/readings"), 4)).collect();
        assert_eq!(spread.len(), 4, "64 gateways use every worker");
        assert_eq!(shard_of("not/a/topic", 1), 0);
    }
}
