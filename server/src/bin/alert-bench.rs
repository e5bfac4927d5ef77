//! Alert latency and rules throughput, measured on this machine in one run:
//!
//! 1. Baseline: the broker's own round trip (publish → a subscriber receives), QoS 1.
//! 2. Alert latency: the MQTT publish of a critical reading → the `alert` event on the live
//!    stream of a logged-in caregiver, p50/p99, while a background load of `--load` readings/s
//!    (default 10,000) flows through the same broker, ingest and database.
//! 3. Rules-engine throughput: readings/s through `rules::evaluate` on one core, against the
//!    baseline of decoding the same readings from JSON.
//!
//! Run: `cargo run --release -p eldercare-server --bin alert-bench` (`--help` for options).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use eldercare_schema::payload::PAYLOAD_VERSION;
use eldercare_schema::topic::{Channel, topic};
use eldercare_schema::{Metric, Reading, ReadingsBatch, TimeSource};
use eldercare_server::rules::{self, Context, Observation, ResidentState, Thresholds};
use eldercare_server::{Mqtt, ServerConfig};
use eldercare_store::org::OrgKind;
use eldercare_store::{Role, Store};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

#[derive(Parser, Debug)]
#[command(about = "Measures alert latency under load and rules-engine throughput.")]
struct Args {
    /// Background load, readings per second.
    #[arg(long, default_value_t = 10_000)]
    load: u64,
    /// Critical readings to time.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Critical readings sent first and not timed: each database connection prepares its
    /// statements on first use, and the first alerts pay for that.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Readings per MQTT message of the background load.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Observations for the rules-engine throughput.
    #[arg(long, default_value_t = 200_000)]
    rules_readings: usize,
}

const BACKGROUND_GATEWAYS: usize = 20;
const PASSWORD: &str = "bench-password";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn now_ms() -> i64 {
    eldercare_store::now_ms()
}

struct Seeded {
    /// (gateway, device) of the background load.
    background: Vec<(String, String)>,
    /// (gateway, oximeter, resident) of one resident per latency sample.
    probes: Vec<(String, String, i64)>,
}

async fn seed(store: &Store, samples: usize) -> anyhow::Result<Seeded> {
    let hash = eldercare_mobile_api::password::hash_password(PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let district = store.create_org_unit(None, OrgKind::District, "Bench District").await?;
    let grid = store.create_org_unit(Some(district), OrgKind::Grid, "Bench grid").await?;
    let caregiver = store.create_user("bench-caregiver", &hash, Role::Caregiver, "Bench").await?;
    store.grant_scope(caregiver, district).await?;
    let mut background = Vec::new();
    for g in 0..BACKGROUND_GATEWAYS {
        let household = store.create_household(grid, &format!("Load home {g}")).await?;
        let gw = format!("gw-load-{g}");
        store.register_gateway(&gw, household).await?;
        for d in 0..5 {
            let resident = store.create_resident(household, &format!("Load resident {g}-{d}"), Some(1940)).await?;
            let dev = format!("hr-load-{g}-{d}");
            store.register_device(&dev, &gw, resident, "heart_rate_band").await?;
            background.push((gw.clone(), dev));
        }
    }
    let mut probes = Vec::new();
    for p in 0..samples {
        let household = store.create_household(grid, &format!("Probe home {p}")).await?;
        let gw = format!("gw-probe-{p}");
        store.register_gateway(&gw, household).await?;
        let resident = store.create_resident(household, &format!("Probe resident {p}"), Some(1940)).await?;
        let dev = format!("ox-probe-{p}");
        store.register_device(&dev, &gw, resident, "pulse_oximeter").await?;
        probes.push((gw, dev, resident));
    }
    Ok(Seeded { background, probes })
}

async fn client(broker: &eldercare_gateway::mqtt::MqttUrl, id: &str) -> (AsyncClient, rumqttc::EventLoop) {
    let mut opts = MqttOptions::new(id, broker.host.clone(), broker.port);
    opts.set_max_packet_size(1 << 20, 1 << 20).set_keep_alive(Duration::from_secs(30));
    let (c, mut el) = AsyncClient::new(opts, 1000);
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    el.set_network_options(net);
    (c, el)
}

/// The broker's own QoS 1 round trip, as the baseline.
async fn broker_round_trip(broker: &eldercare_gateway::mqtt::MqttUrl, n: usize) -> anyhow::Result<Vec<f64>> {
    let (c, mut el) = client(broker, "bench-rtt").await;
    c.subscribe("bench/rtt", QoS::AtLeastOnce).await?;
    let mut out = Vec::new();
    // Wait for the subscription.
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = el.poll().await? {
            break;
        }
    }
    for _ in 0..n {
        let start = Instant::now();
        c.publish("bench/rtt", QoS::AtLeastOnce, false, vec![0u8; 150]).await?;
        loop {
            if let Event::Incoming(Packet::Publish(_)) = el.poll().await? {
                break;
            }
        }
        out.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(out)
}

fn rules_throughput(n: usize) -> (f64, f64) {
    let thresholds = Thresholds::default();
    let start_ms = 1_780_000_000_000i64;
    let obs: Vec<Observation> = (0..n)
        .map(|i| Observation {
            device_id: "hr".into(),
            metric: if i % 3 == 0 { Metric::Spo2 } else { Metric::HeartRate },
            value: if i % 3 == 0 { 96.0 + (i % 3) as f64 } else { 70.0 + (i % 11) as f64 },
            time_ms: start_ms + i as i64 * 5_000,
        })
        .collect();
    // Baseline: decoding the same readings from JSON.
    let json: Vec<Vec<u8>> = obs
        .chunks(100)
        .map(|c| {
            let readings: Vec<Reading> = c
                .iter()
                .enumerate()
                .map(|(i, o)| Reading {
                    seq: i as u64,
                    device_id: o.device_id.clone(),
                    metric: o.metric,
                    value: o.value,
                    time_ms: o.time_ms,
                    time_source: TimeSource::Device,
                })
                .collect();
            serde_json::to_vec(&ReadingsBatch { v: 1, gateway_id: "g".into(), batch_id: 1, sent_ms: 0, readings })
                .unwrap()
        })
        .collect();
    let t = Instant::now();
    let mut decoded = 0usize;
    for j in &json {
        decoded += ReadingsBatch::parse(j, "g").map(|b| b.readings.len()).unwrap_or(0);
    }
    let json_rate = decoded as f64 / t.elapsed().as_secs_f64();

    let mut state = ResidentState::default();
    let t = Instant::now();
    for chunk in obs.chunks(10) {
        let ctx = Context { thresholds: &thresholds, now_ms: chunk[chunk.len() - 1].time_ms, utc_offset_minutes: 480 };
        std::hint::black_box(rules::evaluate(&mut state, &ctx, chunk));
    }
    let rules_rate = n as f64 / t.elapsed().as_secs_f64();
    (rules_rate, json_rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let server = eldercare_server::start(ServerConfig {
        database_url: format!("sqlite:{}", dir.path().join("bench.db").display()),
        http_addr: "127.0.0.1:0".parse()?,
        mqtt: Mqtt::Embedded("127.0.0.1:0".parse()?),
        jwt_secret: "bench-secret-bench-secret-bench-secret!!".into(),
        instance: "bench".into(),
        clock: None,
        utc_offset_minutes: 480,
        trusted_proxies: Vec::new(),
        security: Default::default(),
        shared_group: None,
        raw_retention_days: 0,
        rollup_every: eldercare_server::rollups::EVERY,
        ingest_workers: 4,
    })
    .await?;
    let seeded = seed(&server.store, args.warmup + args.samples).await?;
    eprintln!("seeded: {} background devices, {} probe residents", seeded.background.len(), seeded.probes.len());

    let rtt = {
        let mut v = broker_round_trip(&server.mqtt_url, 200).await?;
        v.sort_by(f64::total_cmp);
        v
    };

    // Log in and open the caregiver's live stream.
    let http = server.http_addr;
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{http}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "bench-caregiver", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"].as_str().context("login")?.to_owned();
    let mut live = reqwest::Client::new().get(format!("http://{http}/api/v1/live")).bearer_auth(&token).send().await?;

    // Background load: BACKGROUND_GATEWAYS publishers sharing `--load` readings/s.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut loaders = Vec::new();
    let per_gateway_rate = args.load as f64 / BACKGROUND_GATEWAYS as f64;
    for g in 0..BACKGROUND_GATEWAYS {
        let devices: Vec<String> =
            seeded.background.iter().filter(|(gw, _)| *gw == format!("gw-load-{g}")).map(|(_, d)| d.clone()).collect();
        let (c, mut el) = client(&server.mqtt_url, &format!("bench-load-{g}")).await;
        tokio::spawn(async move { while el.poll().await.is_ok() {} });
        let (stop, sent, batch) = (stop.clone(), sent.clone(), args.batch);
        // Each gateway starts at its own point of the publishing period: real homes are not in
        // step, and twenty batches arriving at the same instant would measure a burst instead.
        let offset = Duration::from_secs_f64(batch as f64 / per_gateway_rate * g as f64 / BACKGROUND_GATEWAYS as f64);
        loaders.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let t0 = Instant::now();
            let mut seq = 0u64;
            let mut published = 0f64;
            let gw = format!("gw-load-{g}");
            while !stop.load(Ordering::Relaxed) {
                let due = t0.elapsed().as_secs_f64() * per_gateway_rate;
                if published + batch as f64 > due {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                let now = now_ms();
                let readings = (0..batch)
                    .map(|i| {
                        seq += 1;
                        Reading {
                            seq,
                            device_id: devices[i % devices.len()].clone(),
                            metric: Metric::HeartRate,
                            value: 60.0 + (seq % 30) as f64,
                            time_ms: now,
                            time_source: TimeSource::Gateway,
                        }
                    })
                    .collect();
                let b =
                    ReadingsBatch { v: PAYLOAD_VERSION, gateway_id: gw.clone(), batch_id: seq, sent_ms: now, readings };
                if c.publish(topic(&gw, Channel::Readings), QoS::AtLeastOnce, false, serde_json::to_vec(&b).unwrap())
                    .await
                    .is_err()
                {
                    break;
                }
                published += batch as f64;
                sent.fetch_add(batch as u64, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stored_before = server.store.count_readings().await?;
    let load_started = Instant::now();

    // Probes: one critical SpO2 per probe resident; time to its alert on the live stream.
    let (probe, mut probe_el) = client(&server.mqtt_url, "bench-probe").await;
    tokio::spawn(async move { while probe_el.poll().await.is_ok() {} });
    let mut buf = String::new();
    let mut latencies = Vec::new();
    // Publish → ingest took the reading up (ms resolution): the wait in the broker and queues.
    let mut waited: Vec<f64> = Vec::new();
    for (i, (gw, dev, resident)) in seeded.probes.iter().enumerate() {
        let now = now_ms();
        let b = ReadingsBatch {
            v: PAYLOAD_VERSION,
            gateway_id: gw.clone(),
            batch_id: i as u64,
            sent_ms: now,
            readings: vec![Reading {
                seq: 1,
                device_id: dev.clone(),
                metric: Metric::Spo2,
                value: 82.0,
                time_ms: now,
                time_source: TimeSource::Device,
            }],
        };
        let start = Instant::now();
        probe.publish(topic(gw, Channel::Readings), QoS::AtLeastOnce, false, serde_json::to_vec(&b)?).await?;
        let got = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                // Frames are scanned in place and the buffer is trimmed once per chunk: the
                // stream also carries every vital of the district (~10,000 events/s), and
                // draining frame by frame would cost this client more than the server's work.
                let mut pos = 0;
                let mut found = false;
                while let Some(end) = buf[pos..].find("\n\n") {
                    let frame = &buf[pos..pos + end];
                    pos += end + 2;
                    if !frame.lines().any(|l| l == "event: alert") {
                        continue;
                    }
                    let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
                    let Ok(event) = serde_json::from_str::<serde_json::Value>(data) else { continue };
                    if event["kind"] == "opened"
                        && event["condition"] == "spo2_low"
                        && event["resident_id"] == *resident
                    {
                        // The event's time is when ingest took up the reading (same clock).
                        waited.push(event["at_ms"].as_i64().unwrap_or(now).saturating_sub(now) as f64);
                        found = true;
                        break;
                    }
                }
                buf.drain(..pos);
                if found {
                    return Ok::<_, anyhow::Error>(());
                }
                let chunk = live.chunk().await?.context("live stream ended")?;
                buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        match got {
            Ok(Ok(())) if i < args.warmup => {
                waited.pop();
            }
            Ok(Ok(())) => latencies.push(start.elapsed().as_secs_f64() * 1000.0),
            _ => eprintln!("probe {i}: no alert within 10 s"),
        }
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    let stored_during = server.store.count_readings().await? - stored_before;
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        let _ = l.await;
    }
    latencies.sort_by(f64::total_cmp);
    waited.sort_by(f64::total_cmp);

    let (rules_rate, json_rate) = tokio::task::spawn_blocking(move || rules_throughput(args.rules_readings)).await?;

    println!(
        "eldercare alert bench ({} samples after {} warm-up, background load target {} readings/s)",
        latencies.len(),
        args.warmup,
        args.load
    );
    println!(
        "  baseline  broker QoS 1 round trip      p50 {:>8.2} ms   p99 {:>8.2} ms",
        percentile(&rtt, 0.5),
        percentile(&rtt, 0.99)
    );
    println!(
        "  alert     publish -> live stream event  p50 {:>8.2} ms   p99 {:>8.2} ms   ({:.1}x / {:.1}x the broker round trip)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.5) / percentile(&rtt, 0.5),
        percentile(&latencies, 0.99) / percentile(&rtt, 0.99)
    );
    println!(
        "            p90 {:.2} ms, max {:.2} ms, {} of {} probes answered within 10 s",
        percentile(&latencies, 0.9),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len(),
        args.samples
    );
    println!(
        "            of which waiting for ingest (publish -> rules run, ms clock) p50 {:.0} ms, p99 {:.0} ms",
        percentile(&waited, 0.5),
        percentile(&waited, 0.99)
    );
    println!(
        "  load      stored {:.0} readings/s during the probes (target {})",
        stored_during as f64 / load_secs,
        args.load
    );
    println!(
        "  rules     {:.0} readings/s on one core ({:.2}x JSON decoding of the same readings, {:.0}/s)",
        rules_rate,
        rules_rate / json_rate,
        json_rate
    );
    drop(live);
    server.shutdown().await;
    Ok(())
}
