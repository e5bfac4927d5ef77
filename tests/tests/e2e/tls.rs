//! TLS end to end, with certificates made here by a test CA (rcgen):
//!
//! - a gateway configured by its `gateway.toml` (`mqtt_url = "mqtts://..."`, `mqtt_ca_file`)
//!   reaches the embedded broker's TLS listener through the real uplink, and its readings are
//!   stored; a gateway that trusts another CA is refused at the handshake and stores nothing;
//! - webhooks go out over `https://`, verified against the server's extra CA file and signed;
//!   a receiver whose certificate is not trusted is a failed attempt in the delivery log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eldercare_gateway::config::GatewayConfig;
use eldercare_gateway::gatt::{Characteristic, encode};
use eldercare_gateway::home::{self, GatewayHandle, SimulatedGatewayConfig};
use eldercare_gateway::sim::{DeviceKind, Scenario, SimDevice, SimulatorConfig, Story};
use eldercare_gateway::uplink::UplinkConfig;
use eldercare_server::broker::TlsListener;
use eldercare_server::{Mqtt, RunningServer, Security, ServerConfig};
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

use crate::pki::{Pki, TestCa};
use crate::support::*;

/// A server on the embedded broker with a TLS listener (besides the plain one that ingest
/// uses), SQLite in `dir`, the demo community seeded.
async fn server(
    dir: &Path,
    broker: &Pki,
    webhook_ca_file: Option<PathBuf>,
    clock: Option<&ManualClock>,
) -> RunningServer {
    let clock = clock.map(|c| {
        let c = c.0.clone();
        Arc::new(move || c.load(Ordering::SeqCst)) as eldercare_server::alerts::Clock
    });
    let server = eldercare_server::start(ServerConfig {
        database_url: format!("sqlite:{}", dir.join("eldercare.db").display()),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        mqtt: Mqtt::Embedded("127.0.0.1:0".parse().unwrap()),
        jwt_secret: "test-secret-test-secret-test-secret-0123".into(),
        instance: "tls".into(),
        clock,
        utc_offset_minutes: 480,
        trusted_proxies: Vec::new(),
        security: Security {
            mqtt_tls_listener: Some(TlsListener {
                addr: "127.0.0.1:0".parse().unwrap(),
                cert_file: broker.cert.clone(),
                key_file: broker.key.clone(),
            }),
            webhook_ca_file,
            ..Default::default()
        },
        shared_group: None,
        raw_retention_days: 0,
        rollup_every: eldercare_server::rollups::EVERY,
        ingest_workers: 1,
    })
    .await
    .unwrap();
    eldercare_server::demo::seed(&server.store, PASSWORD).await.unwrap();
    server
}

/// A gateway's `gateway.toml` in `dir`, pointing at `broker` over TLS and trusting `ca_pem`.
fn gateway_toml(dir: &Path, gateway_id: &str, broker: SocketAddr, ca_pem: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("broker-ca.pem"), ca_pem).unwrap();
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "gateway_id = \"{gateway_id}\"\nmqtt_url = \"mqtts://{broker}\"\nmqtt_ca_file = \"broker-ca.pem\"\n\
             outbox_dir = \"outbox\"\n"
        ),
    )
    .unwrap();
    path
}

/// The simulated home of `eldercare-gateway simulate`, with the broker link and trust of the
/// configuration file at `config`: one heart-rate band sending every 0.2 s.
fn simulated_gateway(config: &Path, device_id: &str) -> (GatewayHandle, GatewayConfig) {
    let cfg = GatewayConfig::load(config).unwrap();
    let mut uplink = UplinkConfig::new(&cfg.gateway_id, cfg.mqtt_url.clone());
    uplink.auth = cfg.broker_auth().unwrap();
    let mut simulator = SimulatorConfig::new(Scenario {
        devices: vec![SimDevice {
            device_id: device_id.into(),
            kind: DeviceKind::HeartRateBand,
            every_s: Some(0.2),
            story: Story::Healthy,
        }],
    });
    simulator.tick = Duration::from_millis(50);
    let handle = home::start_simulated(SimulatedGatewayConfig {
        uplink,
        outbox_dir: cfg.outbox_dir.clone(),
        outbox_capacity: cfg.outbox_capacity,
        simulator,
    })
    .unwrap();
    (handle, cfg)
}

async fn latest(http: SocketAddr, token: &str, resident: i64) -> Vec<Value> {
    let (status, body) = get(http, token, &format!("/api/v1/residents/{resident}/vitals/latest")).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_over_mqtts_is_stored_and_one_that_does_not_trust_the_broker_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("eldercare test CA");
    let broker_pki = ca.write(&dir.path().join("broker"));
    let s = server(dir.path(), &broker_pki, None, None).await;
    let tls_addr = s.mqtt_tls_addr.expect("the embedded broker's TLS listener");
    let caregiver = login(s.http_addr, "caregiver").await;
    let wang = resident_id(s.http_addr, &caregiver, "Wang Jianguo").await.unwrap();
    let chen = resident_id(s.http_addr, &caregiver, "Chen Mei").await.unwrap();

    // Chen's gateway trusts another CA: its link is refused at the handshake, for the reason
    // that the broker's certificate has an unknown issuer (the gateway's own TLS setup).
    let stranger = TestCa::new("some other CA");
    let chen_config = gateway_toml(&dir.path().join("gw-chen"), "gw-chen", tls_addr, &stranger.cert_pem());
    let (chen_gw, chen_cfg) = simulated_gateway(&chen_config, "hr-chen-01");
    let probe = eldercare_gateway::mqtt::options("probe-gw-chen", &chen_cfg.mqtt_url, &chen_cfg.broker_auth().unwrap())
        .unwrap();
    let (_client, mut link) = rumqttc::AsyncClient::new(probe, 10);
    let refused = tokio::time::timeout(PATIENCE, link.poll()).await.expect("an answer to the handshake");
    let why = format!("{:?}", refused.expect_err("the handshake is refused"));
    assert!(why.contains("UnknownIssuer"), "refused for the unknown issuer: {why}");

    // Wang's gateway trusts the broker's CA: over TLS, its readings are stored and acknowledged.
    let wang_config = gateway_toml(&dir.path().join("gw-wang"), "gw-wang", tls_addr, &ca.cert_pem());
    let (wang_gw, _) = simulated_gateway(&wang_config, "hr-wang-01");
    eventually("Wang's heart rate, sent over TLS, to be stored", || async {
        let acked = wang_gw.stats.readings_acked.load(Ordering::Relaxed);
        let stored = latest(s.http_addr, &caregiver, wang).await.iter().any(|v| v["device_id"] == "hr-wang-01");
        (acked >= 5 && stored).then_some(())
    })
    .await;
    assert!(wang_gw.stats.connected.load(Ordering::Relaxed));

    // All that while, Chen's gateway never got a link: nothing sent, everything still waiting
    // in its outbox, nothing of Chen's stored.
    assert!(!chen_gw.stats.connected.load(Ordering::Relaxed));
    assert_eq!(chen_gw.stats.batches_sent.load(Ordering::Relaxed), 0);
    assert!(chen_gw.outbox.len().unwrap() > 0, "Chen's readings wait in the outbox");
    assert_eq!(latest(s.http_addr, &caregiver, chen).await, Vec::<Value>::new(), "nothing of Chen's stored");

    wang_gw.stop().await.unwrap();
    chen_gw.stop().await.unwrap();
    s.shutdown().await;
}

/// The delivery ids (`X-Eldercare-Delivery`) a receiver got, in order.
type Received = Arc<Mutex<Vec<i64>>>;

/// An HTTPS webhook receiver on 127.0.0.1 with the server certificate of `pki`: checks each
/// request's signature with `secret`, answers 200, and records its delivery id.
async fn https_receiver(pki: &Pki, secret: &'static str) -> (String, Received) {
    use axum::http::HeaderMap;
    let received = Received::default();
    let r = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let r = r.clone();
            async move {
                let ts: i64 = headers["x-eldercare-timestamp"].to_str().unwrap().parse().unwrap();
                let sig = headers["x-eldercare-signature"].to_str().unwrap();
                assert_eq!(sig, eldercare_server::alerts::webhook::sign(secret, ts, &body), "signature checks out");
                let delivery = headers["x-eldercare-delivery"].to_str().unwrap().parse().unwrap();
                r.lock().unwrap().push(delivery);
                axum::http::StatusCode::OK
            }
        }),
    );
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&pki.cert).unwrap().collect::<Result<Vec<_>, _>>();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs.unwrap(), key)
        .unwrap();
    let listener = HttpsListener {
        tcp: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        tls: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    let addr = listener.tcp.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("https://{addr}/hook"), received)
}

/// A TLS listener for axum: each accepted connection after its handshake (failed ones skipped).
struct HttpsListener {
    tcp: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for HttpsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, peer)) = self.tcp.accept().await else { continue };
            if let Ok(stream) = self.tls.accept(tcp).await {
                return (stream, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_webhooks_are_verified_and_an_untrusted_certificate_is_a_logged_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let ca = TestCa::new("eldercare test CA");
    let trusted = ca.write(&dir.path().join("trusted"));
    let stranger = TestCa::new("a CA the server does not know").write(&dir.path().join("stranger"));
    // The server trusts the platform's roots plus the test CA (what --webhook-ca-file gives).
    let s = server(dir.path(), &trusted, Some(trusted.ca.clone()), Some(&clock)).await;
    let (trusted_url, trusted_got) = https_receiver(&trusted, "trusted-secret").await;
    let (stranger_url, stranger_got) = https_receiver(&stranger, "stranger-secret").await;
    let good = s.store.create_webhook(&trusted_url, "trusted-secret", "urgent", clock.now()).await.unwrap();
    let bad = s.store.create_webhook(&stranger_url, "stranger-secret", "urgent", clock.now()).await.unwrap();

    let caregiver = login(s.http_addr, "caregiver").await;
    let gw = TestGateway::start("gw-wang", &s.mqtt_url, &dir.path().join("outbox"));
    gw.feed("ox-wang-01", Characteristic::PlxSpotCheck, &encode::plx_spot_check(85.0, 72.0, None));
    let alert = eventually("the SpO2 alert", || async {
        let (_, list) = get(s.http_addr, &caregiver, "/api/v1/alerts").await;
        list.as_array()?.iter().find(|a| a["condition"] == "spo2_low").map(|a| a["alert_id"].as_i64().unwrap())
    })
    .await;
    let notification = |d: &Value, webhook: i64| -> Value {
        d["notifications"].as_array().unwrap().iter().find(|n| n["webhook_id"] == webhook).cloned().unwrap_or_default()
    };
    let detail = eventually("one attempt at each receiver", || async {
        let (_, d) = get(s.http_addr, &caregiver, &format!("/api/v1/alerts/{alert}")).await;
        (notification(&d, good)["status"] == "delivered" && notification(&d, bad)["attempts"] == 1).then_some(d)
    })
    .await;

    // The trusted receiver got it once, signed (checked by the receiver), over verified TLS.
    let good_n = notification(&detail, good);
    assert_eq!(good_n["attempts"], 1);
    let good_id = good_n["notification_id"].as_i64().unwrap();
    let attempts = s.store.delivery_attempts(good_id).await.unwrap();
    assert_eq!((attempts.len(), attempts[0].1, attempts[0].2.as_deref()), (1, Some(200), None));
    // (SpO2 85 % also scores NEWS2, an alert of its own with its own deliveries.)
    assert_eq!(trusted_got.lock().unwrap().iter().filter(|&&d| d == good_id).count(), 1);

    // The other one never saw the request: the handshake failed, logged with its reason, and the
    // delivery waits for its retry.
    let bad_n = notification(&detail, bad);
    assert_eq!(bad_n["status"], "pending");
    let attempts = s.store.delivery_attempts(bad_n["notification_id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].1, None, "no HTTP status");
    let why = attempts[0].2.as_deref().unwrap_or_default();
    assert!(why.starts_with("TLS failed") && why.contains("UnknownIssuer"), "{why}");
    assert!(stranger_got.lock().unwrap().is_empty(), "no request got through");

    gw.stop().await;
    s.shutdown().await;
}
