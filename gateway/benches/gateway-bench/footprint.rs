//! The gateway's memory and CPU, measured from outside: the real `eldercare-gateway` binary
//! runs as a child process, so the broker, the acknowledging stand-in for the server and (for
//! the Bluetooth variant) the simulated BlueZ, which live in this process, are not counted.
//!
//! - `footprint`: `eldercare-gateway simulate` with 20 devices measuring once a second.
//! - `footprint-ble` (build with `--features ble,fake-bluez`): `eldercare-gateway run` on real
//!   btleplug, against the simulated BlueZ on a private D-Bus, 20 devices connected and
//!   notifying once a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eldercare_gateway::mqtt::MqttUrl;
use eldercare_schema::topic::{Channel, filter_all, topic};
use eldercare_schema::{Ack, ReadingsBatch};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const GATEWAY: &str = "gw-bench";
const DEVICES: usize = 20;
const WARM_UP: Duration = Duration::from_secs(5);
const BINARY: &str = env!("CARGO_BIN_EXE_eldercare-gateway");

/// 20 devices of kinds that stay connected, each measuring once a second, as a scenario file.
fn scenario_toml() -> String {
    let kinds = ["heart_rate_band", "pulse_oximeter", "thermometer"];
    (0..DEVICES)
        .map(|i| {
            format!("[[devices]]\ndevice_id = \"bench-{i:02}\"\nkind = \"{}\"\nevery_s = 1\n\n", kinds[i % kinds.len()])
        })
        .collect()
}

fn start_broker() -> std::net::SocketAddr {
    use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = probe.local_addr().expect("port");
    drop(probe);
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 1024 * 1024,
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
            max_connections: 100,
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
    std::thread::spawn(move || {
        let _ = broker.start();
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    addr
}

/// Stands in for the server: acknowledges every batch at once.
async fn acker(broker: MqttUrl, acked: Arc<AtomicU64>) {
    let mut opts = MqttOptions::new("bench-acker", broker.host.clone(), broker.port);
    opts.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    client.subscribe(filter_all(Channel::Readings), QoS::AtLeastOnce).await.expect("subscribe");
    let ack_topic = topic(GATEWAY, Channel::Ack);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let Ok(batch) = ReadingsBatch::parse(&p.payload, GATEWAY) else { continue };
                let seqs: Vec<u64> = batch.readings.iter().map(|r| r.seq).collect();
                acked.fetch_add(seqs.len() as u64, Ordering::Relaxed);
                let ack = Ack { v: 1, batch_id: batch.batch_id, seqs, rejected: Vec::new() };
                let _ = client.try_publish(&ack_topic, QoS::AtLeastOnce, false, serde_json::to_vec(&ack).expect("ack"));
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32, ticks_per_s: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let rest: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    let utime: f64 = rest[11].parse().expect("utime");
    let stime: f64 = rest[12].parse().expect("stime");
    (utime + stime) / ticks_per_s
}

/// A `kB` line of /proc/<pid>/status, in MiB.
fn status_mib(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(all(feature = "ble", feature = "fake-bluez"))]
type RadioGuard = ble::Radio;
#[cfg(not(all(feature = "ble", feature = "fake-bluez")))]
type RadioGuard = ();

/// What the gateway child is, and what it needs around it.
enum Variant {
    Simulated,
    #[cfg(all(feature = "ble", feature = "fake-bluez"))]
    Bluetooth,
}

pub fn run(window_s: f64) {
    measure(Variant::Simulated, window_s);
}

#[cfg(all(feature = "ble", feature = "fake-bluez"))]
pub fn run_ble(window_s: f64) {
    measure(Variant::Bluetooth, window_s);
}

#[cfg(not(all(feature = "ble", feature = "fake-bluez")))]
pub fn run_ble(_window_s: f64) {
    println!("== footprint-ble: skipped (build with --features ble,fake-bluez) ==");
}

fn measure(variant: Variant, window_s: f64) {
    let title = match variant {
        Variant::Simulated => "simulated gateway (`simulate`)",
        #[cfg(all(feature = "ble", feature = "fake-bluez"))]
        Variant::Bluetooth => "Bluetooth gateway (`run`, btleplug, simulated BlueZ)",
    };
    println!("== footprint: {title}, {DEVICES} devices at 1 Hz, {window_s} s window after {WARM_UP:?} warm-up ==");
    let addr = start_broker();
    let broker = MqttUrl { host: addr.ip().to_string(), port: addr.port(), tls: false };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let acked = Arc::new(AtomicU64::new(0));
    rt.spawn(acker(broker.clone(), acked.clone()));
    let dir = std::env::temp_dir().join(format!("eldercare-bench-{}-footprint", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    let mut command = std::process::Command::new(BINARY);
    command.env("RUST_LOG", "warn");
    // Kept alive until the measurement ends.
    let _radio: Option<RadioGuard> = match variant {
        Variant::Simulated => {
            let scenario = dir.join("home.toml");
            std::fs::write(&scenario, scenario_toml()).expect("scenario");
            command.args(["simulate", "--gateway-id", GATEWAY, "--mqtt-url", &broker.to_string()]);
            command.arg("--outbox-dir").arg(dir.join("outbox")).arg("--scenario").arg(&scenario);
            None
        }
        #[cfg(all(feature = "ble", feature = "fake-bluez"))]
        Variant::Bluetooth => Some(ble::prepare(&rt, &dir, &broker, &mut command)),
    };
    let mut gateway = command.spawn().expect("starting the gateway");
    let pid = gateway.id();
    let ticks = clock_ticks();
    std::thread::sleep(WARM_UP);
    let (cpu0, acked0, t0) = (cpu_seconds(pid, ticks), acked.load(Ordering::Relaxed), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(window_s));
    let (cpu1, acked1, elapsed) = (cpu_seconds(pid, ticks), acked.load(Ordering::Relaxed), t0.elapsed().as_secs_f64());
    let rss = status_mib(pid, "VmRSS:");
    let hwm = status_mib(pid, "VmHWM:");
    let _ = gateway.kill();
    let _ = gateway.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let cpu = 100.0 * (cpu1 - cpu0) / elapsed;
    println!(
        "gateway RSS {rss:.1} MiB (peak {hwm:.1} MiB); CPU {cpu:.2} % of one core (utime+stime over {elapsed:.1} s)"
    );
    println!("readings acknowledged in the window: {} ({:.1}/s)", acked1 - acked0, (acked1 - acked0) as f64 / elapsed);
    // `_radio` (the simulated BlueZ) goes before `rt`, the runtime it runs on.
}

#[cfg(all(feature = "ble", feature = "fake-bluez"))]
mod ble {
    use std::path::Path;

    use eldercare_gateway::fake_bluez::{FakeBluez, FakeBluezConfig, PrivateBus};
    use eldercare_gateway::mqtt::MqttUrl;
    use eldercare_gateway::sim::Home;

    /// The private bus and the simulated BlueZ, kept alive while the gateway runs.
    pub struct Radio {
        _fake: FakeBluez,
        _bus: PrivateBus,
    }

    pub fn prepare(
        rt: &tokio::runtime::Runtime,
        dir: &Path,
        broker: &MqttUrl,
        command: &mut std::process::Command,
    ) -> Radio {
        let bus = PrivateBus::start().expect("a private D-Bus (dbus-daemon)");
        let home = Home::from_toml(&super::scenario_toml()).expect("scenario");
        let fake =
            rt.block_on(FakeBluez::start(bus.address(), FakeBluezConfig::new(home.clone()))).expect("fake BlueZ");
        let mut config = format!(
            "gateway_id = \"{}\"\nmqtt_url = \"{broker}\"\noutbox_dir = \"outbox\"\n\n[ble]\nmax_connections = {}\n\n",
            super::GATEWAY,
            super::DEVICES
        );
        for d in &home.scenario.devices {
            config += &format!(
                "[[devices]]\ndevice_id = \"{}\"\naddress = \"{}\"\nkind = \"{}\"\n\n",
                d.device_id,
                home.radio_of(&d.device_id).address(),
                d.kind.as_str()
            );
        }
        let path = dir.join("gateway.toml");
        std::fs::write(&path, config).expect("gateway.toml");
        command.arg("run").arg("--config").arg(&path).env("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
        Radio { _fake: fake, _bus: bus }
    }
}
