//! Pushes each gateway its device binding: the household's devices (id, Bluetooth address when
//! the id is one, kind, resident), retained at QoS 1 on `eldercare/v1/gw/<id>/binding`, so a
//! gateway gets it whenever it connects and its allowlist follows what staff register.
//!
//! Change detection is a poll: every `poll_every` (longer when the poll itself is slow), the
//! store's binding clock ([`eldercare_store::Store::binding_clock`]) tells whether any gateway's
//! devices changed; if so, one query lists those gateways with their devices (every gateway at
//! the start and after each new connection); a gateway whose devices hash differently from what
//! was last published gets a new binding. Nothing else needs to know about it (devices are
//! registered and rebound through the API, by other instances, or by hand in the database:
//! triggers stamp every such change). After the MQTT link is re-established, every binding is published again.
//! Several server instances publish the same retained messages, which is harmless.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use eldercare_gateway::config::BleAddress;
use eldercare_gateway::mqtt::MqttUrl;
use eldercare_schema::payload::PAYLOAD_VERSION;
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{BoundDevice, GatewayBinding};
use eldercare_store::Store;
use eldercare_store::binding::BindingRow;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct BindingConfig {
    pub broker: MqttUrl,
    pub client_id: String,
    /// How often the store is asked whether devices changed.
    pub poll_every: Duration,
    /// TLS and credentials, as ingest uses them.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    pub credentials: Option<crate::ingest::Credentials>,
}

/// Groups the rows by gateway (gateways without devices get an empty list).
pub fn bindings_of(rows: Vec<BindingRow>, now_ms: i64) -> Vec<GatewayBinding> {
    let mut by_gateway: BTreeMap<String, Vec<BoundDevice>> = BTreeMap::new();
    for r in rows {
        let devices = by_gateway.entry(r.gateway_id).or_default();
        if let (Some(device_id), Some(kind), Some(resident_id)) = (r.device_id, r.kind, r.resident_id) {
            let address = device_id.parse::<BleAddress>().ok().map(|a| a.to_string());
            devices.push(BoundDevice { device_id, address, kind, resident_id });
        }
    }
    by_gateway
        .into_iter()
        .map(|(gateway_id, devices)| GatewayBinding { v: PAYLOAD_VERSION, gateway_id, updated_ms: now_ms, devices })
        .collect()
}

fn fingerprint(devices: &[BoundDevice]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for d in devices {
        (&d.device_id, &d.address, &d.kind, d.resident_id).hash(&mut h);
    }
    h.finish()
}

/// Runs until `shutdown`.
pub async fn run(cfg: BindingConfig, store: Store, shutdown: CancellationToken) {
    let mut opts = MqttOptions::new(cfg.client_id.clone(), cfg.broker.host.clone(), cfg.broker.port);
    // A care home's binding is bigger than rumqttc's default packet limit of 10 KiB (~80 bytes
    // a device); gateways accept a payload up to the schema's limit.
    opts.set_keep_alive(Duration::from_secs(30)).set_clean_session(true).set_max_packet_size(
        eldercare_schema::payload::MAX_PAYLOAD_BYTES + 1024,
        eldercare_schema::payload::MAX_PAYLOAD_BYTES + 1024,
    );
    crate::ingest::secure(&mut opts, cfg.tls.as_ref(), cfg.credentials.as_ref());
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    // Counts connections, so that each new one republishes everything.
    let (connections_tx, mut connections) = watch::channel(0u64);
    let link = tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(200);
                    connections_tx.send_modify(|n| *n += 1);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "binding publisher: MQTT link down; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    let mut published: HashMap<String, u64> = HashMap::new();
    // The binding clock when everything stamped up to it was published; `None`: read every
    // gateway (at the start and after each new connection).
    let mut seen: Option<i64> = None;
    // A poll that reads every gateway's devices costs the database real time (450 ms for
    // 400,000 devices under ingest load), so the wait grows with the poll, keeping it under 1/20
    // of the time. A wait of zero polls at once.
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = connections.changed() => {
                if changed.is_err() {
                    break;
                }
                published.clear();
                seen = None;
            }
            _ = tokio::time::sleep(wait) => {}
        }
        wait = cfg.poll_every;
        if *connections.borrow() == 0 {
            continue;
        }
        let started = std::time::Instant::now();
        // Most polls end here: nothing changed since the last one.
        let clock = match store.binding_clock().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "binding publisher: cannot read the binding clock");
                continue;
            }
        };
        if seen == Some(clock) {
            continue;
        }
        let rows = match seen {
            None => store.gateway_bindings().await,
            Some(n) => store.gateway_bindings_since(n).await,
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "binding publisher: cannot read the devices");
                continue;
            }
        };
        let mut all_sent = true;
        for binding in bindings_of(rows, eldercare_store::now_ms()) {
            let fp = fingerprint(&binding.devices);
            if published.get(&binding.gateway_id) == Some(&fp) {
                continue;
            }
            let bytes = serde_json::to_vec(&binding).expect("a binding serialises");
            if bytes.len() > eldercare_schema::payload::MAX_PAYLOAD_BYTES {
                // Could never be sent (the client would drop its link trying): said once per change.
                tracing::error!(
                    gateway = %binding.gateway_id, devices = binding.devices.len(), bytes = bytes.len(),
                    limit = eldercare_schema::payload::MAX_PAYLOAD_BYTES, "binding publisher: binding too large to publish"
                );
                published.insert(binding.gateway_id, fp);
                continue;
            }
            let to = topic(&binding.gateway_id, Channel::Binding);
            // The request channel is full while the link is down; shutdown does not wait for it.
            let sent = tokio::select! {
                r = client.publish(to, QoS::AtLeastOnce, true, bytes) => r,
                _ = shutdown.cancelled() => break,
            };
            match sent {
                Ok(()) => {
                    tracing::debug!(gateway = %binding.gateway_id, devices = binding.devices.len(), "device binding published");
                    published.insert(binding.gateway_id, fp);
                }
                Err(e) => {
                    all_sent = false;
                    tracing::warn!(gateway = %binding.gateway_id, error = %e, "binding publisher: cannot publish")
                }
            }
        }
        if shutdown.is_cancelled() {
            break; // Mid-publish (the `break` above left only the `for`).
        }
        // What could not be sent is read again next time.
        if all_sent {
            seen = Some(clock);
        }
        wait = cfg.poll_every.max(started.elapsed() * 20);
    }
    // Not `disconnect().await`, which waits for room in a request channel that may be full.
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while !link.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    link.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(gw: &str, device: Option<(&str, &str, i64)>) -> BindingRow {
        BindingRow {
            gateway_id: gw.into(),
            device_id: device.map(|d| d.0.into()),
            kind: device.map(|d| d.1.into()),
            resident_id: device.map(|d| d.2),
        }
    }

    #[test]
    fn rows_become_one_binding_per_gateway() {
        let rows = vec![
            row("gw-a", Some(("c4:7c:8d:6a:11:02", "heart_rate_band", 1))),
            row("gw-a", Some(("ox-1", "pulse_oximeter", 2))),
            row("gw-b", None),
        ];
        let b = bindings_of(rows, 5);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].gateway_id, "gw-a");
        assert_eq!(b[0].devices[0].address.as_deref(), Some("C4:7C:8D:6A:11:02"));
        assert_eq!(b[0].devices[1].address, None);
        assert!(b[1].devices.is_empty(), "a gateway without devices gets an empty binding");
        // A rebind (another resident) changes the fingerprint.
        let mut moved = b[0].devices.clone();
        moved[1].resident_id = 3;
        assert_ne!(fingerprint(&b[0].devices), fingerprint(&moved));
    }
}
