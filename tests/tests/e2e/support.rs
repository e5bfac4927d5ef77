//! Shared helpers: a world with a broker, a server and the demo community, a gateway, waiting.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::Characteristic;
use eldercare_gateway::mqtt::MqttUrl;
use eldercare_gateway::outbox::Outbox;
use eldercare_gateway::uplink::{self, DeviceBoard, UplinkConfig, UplinkStats};
use eldercare_server::{Mqtt, RunningServer, ServerConfig};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse battery staple";
/// Every wait in these tests is bounded by this.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct World {
    pub dir: tempfile::TempDir,
    pub broker: MqttUrl,
    pub server: Option<RunningServer>,
    pub clock: Option<ManualClock>,
    instance: String,
}

/// A clock the test moves by hand; the server's rules and escalation read it.
#[derive(Clone, Debug)]
pub struct ManualClock(pub Arc<std::sync::atomic::AtomicI64>);

impl ManualClock {
    pub fn starting_now() -> Self {
        ManualClock(Arc::new(std::sync::atomic::AtomicI64::new(eldercare_gateway::now_ms())))
    }
    pub fn now(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn advance_min(&self, minutes: i64) {
        self.0.fetch_add(minutes * 60_000, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn advance_s(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1_000, std::sync::atomic::Ordering::SeqCst);
    }
    /// Sets the clock `seconds` past the later of itself and the real clock (which readings
    /// fed through a gateway are stamped with).
    pub fn advance_past_real_s(&self, seconds: i64) {
        let base = self.now().max(eldercare_gateway::now_ms());
        self.0.store(base + seconds * 1_000, std::sync::atomic::Ordering::SeqCst);
    }
    fn as_clock(&self) -> eldercare_server::alerts::Clock {
        let c = self.0.clone();
        Arc::new(move || c.load(std::sync::atomic::Ordering::SeqCst))
    }
}

pub fn broker() -> MqttUrl {
    let b = eldercare_server::broker::start("127.0.0.1:0".parse().unwrap()).expect("embedded broker");
    MqttUrl { host: b.addr.ip().to_string(), port: b.addr.port(), tls: false }
}

impl World {
    /// A broker, a server connected to it, and the demo community seeded.
    pub async fn new() -> World {
        World::seeded(None).await
    }

    /// Like [`World::new`], with the server's rules and escalation on `clock`.
    pub async fn seeded(clock: Option<ManualClock>) -> World {
        let mut w = World::without_server().await;
        w.clock = clock;
        w.start_server().await;
        eldercare_server::demo::seed(&w.server().store, PASSWORD).await.unwrap();
        w
    }

    /// A broker and a temp dir; no server yet.
    pub async fn without_server() -> World {
        World { dir: tempfile::tempdir().unwrap(), broker: broker(), server: None, clock: None, instance: "e2e".into() }
    }

    pub fn db_url(&self) -> String {
        format!("sqlite:{}", self.dir.path().join("eldercare.db").display())
    }

    pub async fn start_server(&mut self) {
        assert!(self.server.is_none());
        let server = self.another_server(&self.instance.clone()).await;
        self.server = Some(server);
    }

    /// A further server instance on the same database and broker.
    pub async fn another_server(&self, instance: &str) -> RunningServer {
        eldercare_server::start(ServerConfig {
            database_url: self.db_url(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            mqtt: Mqtt::External(self.broker.clone()),
            jwt_secret: "test-secret-test-secret-test-secret-0123".into(),
            instance: instance.into(),
            clock: self.clock.as_ref().map(ManualClock::as_clock),
            utc_offset_minutes: 480,
            trusted_proxies: Vec::new(),
            security: Default::default(),
            shared_group: None,
            raw_retention_days: 0,
            rollup_every: eldercare_server::rollups::EVERY,
            ingest_workers: 4,
        })
        .await
        .unwrap()
    }

    pub async fn stop_server(&mut self) {
        self.server.take().expect("server running").shutdown().await;
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    pub fn http(&self) -> SocketAddr {
        self.server().http_addr
    }

    pub fn outbox_dir(&self, gateway_id: &str) -> PathBuf {
        self.dir.path().join("outbox").join(gateway_id)
    }
}

/// A gateway's outbox and uplink, without the simulator: tests put exact bytes in.
pub struct TestGateway {
    pub outbox: Arc<Outbox>,
    pub stats: Arc<UplinkStats>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), uplink::UplinkError>>,
}

impl TestGateway {
    pub fn start(gateway_id: &str, broker: &MqttUrl, outbox_dir: &Path) -> TestGateway {
        let outbox = Arc::new(Outbox::open(outbox_dir, 100_000).unwrap());
        let mut cfg = UplinkConfig::new(gateway_id, broker.clone());
        cfg.resend_after = Duration::from_secs(2);
        cfg.batch_max = 25;
        let wake = Arc::new(Notify::new());
        let stats = Arc::new(UplinkStats::default());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(uplink::run(
            cfg,
            outbox.clone(),
            wake.clone(),
            DeviceBoard::default(),
            stats.clone(),
            shutdown.clone(),
        ));
        TestGateway { outbox, stats, wake, shutdown, task }
    }

    /// Decodes GATT bytes with the real decoders and puts the readings in the outbox.
    pub fn feed(&self, device_id: &str, ch: Characteristic, bytes: &[u8]) -> Vec<u64> {
        let readings = readings_from_packet(device_id, ch, bytes, eldercare_gateway::now_ms()).expect("decodes");
        let seqs = self.outbox.push(&readings).unwrap();
        self.wake.notify_one();
        seqs
    }

    /// Puts one reading measured at `time_ms` (e.g. on the test's clock) in the outbox.
    pub fn push_at(&self, device_id: &str, metric: eldercare_schema::Metric, value: f64, time_ms: i64) {
        let r = eldercare_gateway::outbox::NewReading {
            device_id: device_id.into(),
            metric,
            value,
            time_ms,
            time_source: eldercare_schema::TimeSource::Device,
        };
        self.outbox.push(&[r]).unwrap();
        self.wake.notify_one();
    }

    pub async fn drained(&self) {
        eventually("the outbox to drain", || async { (self.outbox.len().unwrap() == 0).then_some(()) }).await
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }

    /// Ends the uplink where it stands, like kill -9, and waits until the outbox file is closed.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        let outbox = self.outbox;
        eventually("the outbox to be released", || {
            let n = Arc::strong_count(&outbox);
            async move { (n == 1).then_some(()) }
        })
        .await;
    }
}

/// Polls `check` until it yields a value, at most [`PATIENCE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eldercare_tests::eventually_within(PATIENCE, what, check).await
}

pub async fn login(http: SocketAddr, username: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("http://{http}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login as {username}");
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// GET with a token; returns the status and the JSON body (Null when there is none).
pub async fn get(http: SocketAddr, token: &str, path: &str) -> (u16, Value) {
    let res = reqwest::Client::new().get(format!("http://{http}{path}")).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The resident id of `name` as `token`'s user sees the list.
pub async fn resident_id(http: SocketAddr, token: &str, name: &str) -> Option<i64> {
    let (status, list) = get(http, token, "/api/v1/residents").await;
    assert_eq!(status, 200);
    list.as_array().unwrap().iter().find(|r| r["full_name"] == name).map(|r| r["resident_id"].as_i64().unwrap())
}
