//! The deployment's broker security end to end: Mosquitto with a TLS listener, a password per
//! gateway and the topic ACL of `deploy/mosquitto/`, anonymous clients refused. The server and
//! the gateways reach it only over `mqtts://`, verify its certificate against the test's CA
//! (the gateway's own TLS setup, `eldercare_gateway::mqtt::options`), and log in with their
//! own passwords: the server as `eldercare-server`, each gateway as its gateway id.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use eldercare_gateway::mqtt::{BrokerAuth, MqttUrl, Secret};
use eldercare_loadgen::home::{DeviceKind, device_id, gateway_id};
use eldercare_schema::payload::PAYLOAD_VERSION;
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{Ack, Metric, Reading, ReadingsBatch, TimeSource};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, Packet, QoS};

use crate::pki::TestCa;
use crate::support::*;
use crate::two_instances::{gateway_ids, load_config, provision};

/// A gateway's MQTT session over TLS, trusting only the test's CA.
struct Session {
    client: AsyncClient,
    eventloop: EventLoop,
}

impl Session {
    /// Connects as `username` (none: anonymous); the broker's answer to the login.
    async fn connect(url: &MqttUrl, ca: &Path, username: Option<&str>, password: &str) -> Result<Session, String> {
        let auth = BrokerAuth {
            username: username.map(str::to_owned),
            password: Some(Secret::new(password)),
            ca_file: Some(ca.to_owned()),
        };
        static SESSIONS: AtomicU64 = AtomicU64::new(0);
        let client_id = format!("{}-{}", username.unwrap_or("anonymous"), SESSIONS.fetch_add(1, Ordering::Relaxed));
        let mut opts = eldercare_gateway::mqtt::options(client_id, url, &auth).unwrap();
        opts.set_keep_alive(Duration::from_secs(30));
        let (client, mut eventloop) = AsyncClient::new(opts, 16);
        loop {
            match tokio::time::timeout(PATIENCE, eventloop.poll()).await.expect("the broker answers") {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(Session { client, eventloop }),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(format!("{code:?}")),
                Err(e) => panic!("connecting to the TLS listener: {e}"),
            }
        }
    }

    /// Publishes a batch of `n` heart rates of `gateway`'s band under `gateway`'s topic, and
    /// waits for the broker's PUBACK.
    async fn publish(&mut self, gateway: &str, batch_id: u64, first_seq: u64, n: u64) {
        let device = device_id(gateway, 0, DeviceKind::Band);
        let now = eldercare_store::now_ms();
        let readings = (first_seq..first_seq + n)
            .map(|seq| Reading {
                seq,
                device_id: device.clone(),
                metric: Metric::HeartRate,
                value: 72.0,
                time_ms: now - 60_000 + seq as i64,
                time_source: TimeSource::Device,
            })
            .collect();
        let batch = ReadingsBatch { v: PAYLOAD_VERSION, gateway_id: gateway.into(), batch_id, sent_ms: now, readings };
        let bytes = serde_json::to_vec(&batch).unwrap();
        self.client.publish(topic(gateway, Channel::Readings), QoS::AtLeastOnce, false, bytes).await.unwrap();
        self.wait_for("the broker's PUBACK", |p| matches!(p, Packet::PubAck(_))).await;
    }

    /// Subscribes to `gateway`'s acknowledgements and waits for the SUBACK.
    async fn subscribe_acks(&mut self, gateway: &str) {
        self.client.subscribe(topic(gateway, Channel::Ack), QoS::AtLeastOnce).await.unwrap();
        self.wait_for("the SUBACK", |p| matches!(p, Packet::SubAck(_))).await;
    }

    /// Waits for the server's acknowledgement of `batch_id`.
    async fn acked(&mut self, batch_id: u64) {
        self.wait_for("the server's acknowledgement", |p| match p {
            Packet::Publish(m) => serde_json::from_slice::<Ack>(&m.payload).is_ok_and(|a| a.batch_id == batch_id),
            _ => false,
        })
        .await;
    }

    async fn wait_for(&mut self, what: &str, wanted: impl Fn(&Packet) -> bool) {
        loop {
            let Ok(event) = tokio::time::timeout(PATIENCE, self.eventloop.poll()).await else {
                panic!("no {what} within {PATIENCE:?}")
            };
            match event {
                Ok(Event::Incoming(p)) if wanted(&p) => return,
                Ok(_) => {}
                Err(e) => panic!("waiting for {what}: {e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_each_client_logs_in_as_itself_and_a_gateway_publishes_only_as_itself() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load_config("tls", 2);
    let pki = TestCa::new("eldercare test CA").write(&dir.path().join("pki"));
    // The deployment's TLS listener (`deploy/mosquitto/eldercare.conf`), on a free port; the
    // plain listener the other tests use stays, and nobody gets in without a password.
    let tls_port = free_port();
    let tls = format!(
        "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\ntls_version tlsv1.2\n\
         require_certificate false\nallow_anonymous false\n",
        pki.ca.display(),
        pki.cert.display(),
        pki.key.display()
    );
    let _broker = Mosquitto::start_with(dir.path(), &gateway_ids(&cfg), &tls).await;
    let url = MqttUrl { host: "127.0.0.1".into(), port: tls_port, tls: true };
    let db = Database::start(crate::DATABASE, dir.path()).await;
    let ca = pki.ca.to_str().unwrap();
    // Ready only once its ingest link is up: over TLS, logged in as the server's user.
    let server = Server::start_with(
        dir.path(),
        "a",
        &db.url(),
        &url,
        &["--mqtt-ca-file", ca, "--mqtt-username", "eldercare-server"],
        &[("ELDERCARE_MQTT_PASSWORD", SERVER_PASSWORD)],
    )
    .await;
    provision(&db.url(), &cfg).await;
    let store = eldercare_store::Store::open(&db.url()).await.unwrap();
    let (home_a, home_b) = (gateway_id(&cfg.prefix, 0), gateway_id(&cfg.prefix, 1));

    // No password, or a wrong one: refused at login.
    let anonymous = Session::connect(&url, &pki.ca, None, "").await.err();
    assert!(anonymous.is_some(), "an anonymous client got in");
    let wrong = Session::connect(&url, &pki.ca, Some(&home_b), "not-the-password").await.err();
    assert!(wrong.is_some(), "a wrong password got in");

    // Home A, logged in as itself: stored and acknowledged over TLS.
    let mut a = Session::connect(&url, &pki.ca, Some(&home_a), GATEWAY_PASSWORD).await.unwrap();
    a.subscribe_acks(&home_a).await;
    a.publish(&home_a, 1, 1, 3).await;
    a.acked(1).await;
    assert_eq!(store.count_readings().await.unwrap(), 3);

    // Home A speaking for home B (B's topic, B's own band): the ACL lets it through to no one.
    // Home B's own batch after it, on the same topic, goes to the same ingest worker after
    // anything delivered before it; once that is acknowledged, only B's own reading is stored.
    a.publish(&home_b, 2, 100, 5).await;
    let mut b = Session::connect(&url, &pki.ca, Some(&home_b), GATEWAY_PASSWORD).await.unwrap();
    b.subscribe_acks(&home_b).await;
    b.publish(&home_b, 3, 200, 1).await;
    b.acked(3).await;
    assert_eq!(
        store.count_readings().await.unwrap(),
        4,
        "home A's batch under home B's topic was stored; server log:\n{}",
        server.log()
    );
    store.close().await;
}
