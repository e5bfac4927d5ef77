//! The gateway's benchmarks, printed as a report:
//!
//! ```sh
//! cargo bench -p eldercare-gateway --features ble,fake-bluez --bench gateway-bench   # all, ~2 min
//! cargo bench -p eldercare-gateway --bench gateway-bench -- outbox         # outbox throughput
//! cargo bench -p eldercare-gateway --bench gateway-bench -- footprint      # simulate: memory, CPU
//! cargo bench -p eldercare-gateway --features ble,fake-bluez --bench gateway-bench -- footprint-ble
//! ```
//!
//! - **outbox**: durable readings per second through [`Outbox::push`], against a baseline
//!   measured in the same run on the same disk: `write` + `fdatasync` of a small record, the
//!   ceiling for one-commit-per-reading designs. Three producers: one thread pushing one
//!   reading at a time (a commit each), 20 threads pushing one reading at a time (20 devices;
//!   concurrent pushes share a commit), one thread pushing batches of 100 and of 1000 (the
//!   Bluetooth forwarder under load; the CPU ceiling).
//! - **footprint**: the real `eldercare-gateway` binary, 20 devices sending at 1 Hz, in a child
//!   process talking to an embedded broker and an acknowledging stand-in for the server in this
//!   process: `simulate` (the real decoders, outbox and MQTT uplink) and, with the `ble` and
//!   `fake-bluez` features, `run` (btleplug against the simulated BlueZ on a private D-Bus, which
//!   also lives in this process). Resident memory (VmRSS, VmHWM from /proc/<pid>/status) and CPU
//!   time (utime + stime from /proc/<pid>/stat) are read over a 30 s window after a 5 s warm-up.
//!
//! Options after `--`: `--seconds N` (outbox run length, default 3), `--window N` (footprint
//! window, default 30), `--dir PATH` (where the outbox files go, default the temp folder).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eldercare_gateway::outbox::{NewReading, Outbox};
use eldercare_schema::{Metric, TimeSource};

mod footprint;

struct Args {
    what: String,
    seconds: f64,
    window: f64,
    dir: PathBuf,
    /// Arguments not understood.
    rest: Vec<String>,
}

fn args() -> Args {
    let mut a = Args { what: "all".into(), seconds: 3.0, window: 30.0, dir: std::env::temp_dir(), rest: Vec::new() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.seconds),
            "--window" => a.window = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.window),
            "--dir" => a.dir = it.next().map(PathBuf::from).unwrap_or(a.dir),
            "outbox" | "footprint" | "footprint-ble" | "all" => a.what = arg,
            _ => a.rest.push(arg),
        }
    }
    a
}

fn main() {
    let a = args();
    if !a.rest.is_empty() {
        eprintln!("ignoring arguments {:?}", a.rest);
    }
    match a.what.as_str() {
        "outbox" => outbox(&a),
        "footprint" => footprint::run(a.window),
        "footprint-ble" => footprint::run_ble(a.window),
        _ => {
            outbox(&a);
            footprint::run(a.window);
            footprint::run_ble(a.window);
        }
    }
}

fn reading(i: u64) -> NewReading {
    NewReading {
        device_id: format!("hr-bench-{:02}", i % 20),
        metric: Metric::HeartRate,
        value: 60.0 + (i % 40) as f64,
        time_ms: 1_760_000_000_000 + i as i64,
        time_source: TimeSource::Device,
    }
}

fn scratch(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(format!("eldercare-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench folder");
    dir
}

/// `write` + `fdatasync` of a 64-byte record, as many as possible in `seconds`.
fn fsync_baseline(base: &Path, seconds: f64) -> f64 {
    use std::io::Write;
    let dir = scratch(base, "fsync");
    let mut f = std::fs::File::create(dir.join("appends")).expect("baseline file");
    let record = [0x5au8; 64];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        f.write_all(&record).expect("write");
        f.sync_data().expect("fdatasync");
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    rate
}

/// Readings per second with `threads` producers each pushing `per_push` readings at a time.
fn outbox_rate(base: &Path, seconds: f64, threads: usize, per_push: usize) -> (f64, u64) {
    let dir = scratch(base, &format!("outbox-{threads}-{per_push}"));
    let ob = Arc::new(Outbox::open(&dir, 100_000_000).expect("outbox"));
    let stop = Arc::new(AtomicBool::new(false));
    let pushed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (ob, stop, pushed) = (ob.clone(), stop.clone(), pushed.clone());
            std::thread::spawn(move || {
                let mut i = t as u64 * 1_000_000_000;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<NewReading> = (0..per_push).map(|k| reading(i + k as u64)).collect();
                    i += per_push as u64;
                    ob.push(&batch).expect("push");
                    pushed.fetch_add(per_push as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = pushed.load(Ordering::Relaxed);
    assert_eq!(ob.len().expect("len"), n, "every pushed reading is in the outbox");
    drop(ob);
    let _ = std::fs::remove_dir_all(&dir);
    (n as f64 / elapsed, n)
}

fn outbox(a: &Args) {
    println!("== outbox: durable pushes ({} s each, files in {}) ==", a.seconds, a.dir.display());
    let fsyncs = fsync_baseline(&a.dir, a.seconds);
    println!("baseline: write + fdatasync of a 64-byte record      {fsyncs:>10.0} /s");
    for (label, threads, per_push) in [
        ("1 thread, 1 reading per push", 1, 1),
        ("20 threads, 1 reading per push", 20, 1),
        ("1 thread, 100 readings per push", 1, 100),
        ("1 thread, 1000 readings per push", 1, 1000),
    ] {
        let (rate, n) = outbox_rate(&a.dir, a.seconds, threads, per_push);
        println!(
            "outbox: {label:<36} {rate:>10.0} readings/s  ({:.2} x the fsync baseline; {n} readings)",
            rate / fsyncs
        );
    }
}
