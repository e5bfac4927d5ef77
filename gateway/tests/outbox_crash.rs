//! The outbox survives `kill -9`: a child process pushes readings from several threads and
//! prints each push once it has returned; it is killed with SIGKILL in mid-stream; every reading
//! it reported is in the reopened outbox, intact, and numbering carries on after them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use eldercare_gateway::outbox::{NewReading, Outbox};
use eldercare_schema::{Metric, TimeSource};

const CHILD: &str = "ELDERCARE_OUTBOX_CRASH_CHILD";
const REPORTED_BEFORE_KILL: usize = 400;

fn reading(v: f64) -> NewReading {
    NewReading {
        device_id: "hr-crash".into(),
        metric: Metric::HeartRate,
        value: v,
        time_ms: 1_760_000_000_000,
        time_source: TimeSource::Device,
    }
}

/// Pushes forever from 4 threads, printing `pushed <seq> <value>` after each push returned.
fn child(dir: &str) -> ! {
    let ob = std::sync::Arc::new(Outbox::open(std::path::Path::new(dir), 1_000_000).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let ob = ob.clone();
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let value = (t * 1_000_000 + i) as f64;
                    let seqs = ob.push(&[reading(value)]).unwrap();
                    println!("pushed {} {value}", seqs[0]);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    std::process::exit(0)
}

#[test]
fn acknowledged_pushes_survive_kill_9() {
    if let Ok(dir) = std::env::var(CHILD) {
        child(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args(["acknowledged_pushes_survive_kill_9", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reported = Vec::new();
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    while reported.len() < REPORTED_BEFORE_KILL {
        let line = lines.next().expect("the writer stopped early").unwrap();
        if let Some(rest) = line.strip_prefix("pushed ") {
            let (seq, value) = rest.split_once(' ').unwrap();
            reported.push((seq.parse::<u64>().unwrap(), value.parse::<f64>().unwrap()));
        }
    }
    writer.kill().unwrap(); // SIGKILL, pushes in flight
    writer.wait().unwrap();

    let ob = Outbox::open(dir.path(), 1_000_000).unwrap();
    let stored: std::collections::HashMap<u64, f64> =
        ob.peek(None, usize::MAX).unwrap().into_iter().map(|r| (r.seq, r.value)).collect();
    for (seq, value) in &reported {
        assert_eq!(stored.get(seq), Some(value), "reading {seq} was acknowledged by push, so it is on disk");
    }
    let last = *stored.keys().max().unwrap();
    let next = ob.push(&[reading(-1.0)]).unwrap()[0];
    assert!(next > last, "numbering carries on after the crash: {next} > {last}");
}
