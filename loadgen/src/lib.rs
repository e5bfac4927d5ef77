//! eldercare-loadgen: many simulated home gateways against a running eldercare server, with
//! publish-to-commit latency, an exactly-once check in the database, and raw baselines measured
//! in the same run. `main.rs` parses the command line and calls [`run`]; the scale tests
//! (`tests/tests/scale/`) use [`load::Load`], [`provision`] and [`verify`] directly.

pub mod baseline;
pub mod config;
pub mod db;
pub mod gateway;
pub mod histogram;
pub mod home;
pub mod load;
pub mod procstat;
pub mod provision;
pub mod report;
pub mod verify;

use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Cli;
use crate::gateway::LinkConfig;
use crate::home::Rates;
use crate::load::{Load, LoadConfig};
use crate::report::{Baseline, Latency, Report};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A first sequence number no earlier run used: now in microseconds (like a new outbox).
pub fn fresh_seq_base() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(1)
}

fn bar(cli: &Cli, len: u64, template: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if cli.no_progress || cli.json {
        b.set_draw_target(ProgressDrawTarget::hidden());
    }
    b.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    b
}

/// What a run ended with.
#[derive(Debug)]
pub enum Finished {
    /// `--provision-only`: homes created now, and already there.
    Provisioned {
        created: usize,
        existing: usize,
    },
    Report(Box<Report>),
}

/// Provisions, runs the load, checks the database, measures the baselines; returns the report.
pub async fn run(cli: Cli) -> anyhow::Result<Finished> {
    cli.check().map_err(|e| anyhow::anyhow!(e))?;
    let prefix = cli.prefix();
    if !cli.no_provision {
        let store = eldercare_store::Store::open(&cli.database_url)
            .await
            .with_context(|| format!("opening the database {}", cli.database_url))?;
        let pb = bar(&cli, cli.gateways as u64, "provisioning {bar:30} {pos}/{len} homes {msg}");
        let created =
            provision::provision(&store, &prefix, cli.gateways, cli.residents_per_gateway, |k| pb.inc(k)).await?;
        pb.finish_and_clear();
        store.close().await;
        tracing::info!(created, prefix, "homes provisioned");
        if cli.provision_only {
            return Ok(Finished::Provisioned { created, existing: cli.gateways - created });
        }
    }
    let db = db::Db::connect(&cli.database_url).await.context("connecting for the check")?;

    let seq_base = fresh_seq_base();
    let cfg = LoadConfig {
        link: LinkConfig {
            broker: cli.mqtt_url.clone(),
            password: cli.gateway_password.clone(),
            batch_max: cli.batch_max,
            max_in_flight: cli.max_in_flight,
            resend_after: cli.resend_after,
            resend_max: cli.resend_max,
            flush_every: cli.flush_every,
            seq_base,
        },
        prefix: prefix.clone(),
        gateways: cli.gateways,
        residents_per_gateway: cli.residents_per_gateway,
        rates: Rates {
            heart_rate: cli.heart_rate_every,
            spo2: cli.spo2_every,
            blood_pressure: cli.blood_pressure_every,
            weight: cli.weight_every,
        },
        speedup: cli.speedup,
        duration: cli.duration,
        drain: cli.drain,
        low_spo2_homes: cli.low_spo2_homes,
    };
    let offered = cfg.offered_per_s();
    let watch = procstat::Watch::start(&cli.watch_pid);
    let load = Load::start(cfg.clone());
    let counters = load.counters.clone();
    let started = load.started;
    let pb = bar(&cli, cli.duration.as_secs().max(1), "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} s  {msg}");
    let ticker = {
        let pb = pb.clone();
        let counters = counters.clone();
        let (gateways, duration) = (cli.gateways, cli.duration);
        tokio::spawn(async move {
            let mut last = (0u64, std::time::Instant::now());
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                use std::sync::atomic::Ordering::Relaxed;
                let acked = counters.acked.load(Relaxed);
                let rate = (acked - last.0) as f64 / last.1.elapsed().as_secs_f64();
                last = (acked, std::time::Instant::now());
                let published = counters.published.load(Relaxed);
                pb.set_position(started.elapsed().as_secs().min(duration.as_secs()));
                pb.set_message(format!(
                    "{rate:>8.0} readings/s committed | published {published} | unacked {} | connected {}/{gateways} | resent {}",
                    published.saturating_sub(acked),
                    counters.connected.load(Relaxed),
                    counters.resent.load(Relaxed),
                ));
            }
        })
    };
    let acked_at_stop = {
        let counters = counters.clone();
        let duration = cli.duration;
        tokio::spawn(async move {
            tokio::time::sleep_until((started + duration).into()).await;
            counters.acked.load(std::sync::atomic::Ordering::Relaxed)
        })
    };
    let outcome = load.finish().await;
    let acked_while_measuring = acked_at_stop.await.unwrap_or(0);
    ticker.abort();
    pb.finish_and_clear();
    let processes = watch.finish();

    let check = verify::verify(&db, &prefix, seq_base, &outcome).await.context("checking the database")?;
    let measured_s = outcome.measuring.as_secs_f64();
    let readings_per_s = acked_while_measuring as f64 / measured_s;
    let batches = outcome.latency_us.len();
    let mean_batch = if batches > 0 { outcome.acked() as f64 / batches as f64 } else { 0.0 };
    let batches_per_s = if mean_batch > 0.0 { readings_per_s / mean_batch } else { 0.0 };

    let baseline = if cli.baseline {
        let rows = check.stored.clamp(10_000, 500_000);
        let creds =
            cli.baseline_credentials.as_ref().and_then(|c| c.split_once(':')).map(|(u, p)| (u.into(), p.into()));
        let avg_payload = (mean_batch.max(1.0) * 130.0 + 80.0) as usize;
        let messages = (outcome.latency_us.len()).clamp(10_000, 200_000);
        eprintln!("baseline: {messages} raw QoS 1 messages of {avg_payload} bytes, {rows} raw rows ...");
        let broker = baseline::broker_messages_per_s(&cli.mqtt_url, creds.as_ref(), &prefix, messages, avg_payload)
            .await
            .context("broker baseline")?;
        let db_rows = db.raw_write_baseline(rows).await.context("database baseline")?;
        Some(Baseline {
            broker_messages_per_s: broker,
            db_rows_per_s: db_rows,
            db_method: if db.is_postgres() {
                "COPY FROM STDIN, 10,000-row chunks, one connection".into()
            } else {
                "500-row INSERTs in one transaction, WAL, synchronous=FULL".into()
            },
            ingest_to_db: readings_per_s / db_rows,
            ingest_readings_to_broker_messages: readings_per_s / broker,
            ingest_batches_to_broker_messages: batches_per_s / broker,
        })
    } else {
        None
    };
    let storage_bytes_per_reading = match db.readings_bytes().await {
        Ok(Some(bytes)) => {
            let total = eldercare_store::Store::open(&cli.database_url).await.ok();
            match total {
                Some(s) => {
                    let n = s.count_readings().await.unwrap_or(0);
                    s.close().await;
                    (n > 0).then(|| bytes as f64 / n as f64)
                }
                None => None,
            }
        }
        _ => None,
    };
    db.close().await;
    let (loadgen_cpu_s, loadgen_peak_rss_mib) = procstat::own_usage();
    use std::sync::atomic::Ordering::Relaxed;
    let report = Report {
        prefix,
        seq_base,
        gateways: cli.gateways,
        residents: cli.gateways * cli.residents_per_gateway,
        speedup: cli.speedup,
        offered_per_s: offered,
        measured_s,
        total_s: outcome.total.as_secs_f64(),
        published: outcome.published(),
        acked: outcome.acked(),
        never_published: outcome.never_published(),
        drained: outcome.drained,
        readings_per_s,
        batches_per_s,
        mean_batch,
        latency: Latency {
            batches,
            p50_ms: outcome.latency_us.quantile(0.5) as f64 / 1000.0,
            p99_ms: outcome.latency_us.quantile(0.99) as f64 / 1000.0,
            max_ms: outcome.latency_us.max() as f64 / 1000.0,
        },
        resent_batches: counters.resent.load(Relaxed),
        extra_acks: counters.extra_acks.load(Relaxed),
        rejected: counters.rejected.load(Relaxed),
        first_rejection: counters.first_rejection.lock().unwrap().clone(),
        disconnects: counters.disconnects.load(Relaxed),
        check,
        baseline,
        processes,
        loadgen_cpu_s,
        loadgen_peak_rss_mib,
        storage_bytes_per_reading,
    };
    Ok(Finished::Report(Box::new(report)))
}

/// Shared with the tests: everything a [`Load`] needs besides the homes.
pub fn link_config(broker: eldercare_gateway::mqtt::MqttUrl, password: Option<String>) -> LinkConfig {
    LinkConfig {
        broker,
        password,
        batch_max: 200,
        max_in_flight: 4,
        resend_after: Duration::from_secs(10),
        resend_max: Duration::from_secs(120),
        flush_every: Duration::from_secs(1),
        seq_base: fresh_seq_base(),
    }
}
