//! The report: printed for people, or JSON with `--json`.

use std::fmt::Write;

use serde::Serialize;

use crate::procstat::ProcessUsage;
use crate::verify::Verification;

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Batches measured (each from its first publish to the server's ack).
    pub batches: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// Raw QoS 1 messages per second through the broker (one publisher, one subscriber).
    pub broker_messages_per_s: f64,
    /// Raw rows per second into the database.
    pub db_rows_per_s: f64,
    /// How the raw rows were written.
    pub db_method: String,
    /// Ingest readings/s divided by raw database rows/s.
    pub ingest_to_db: f64,
    /// Ingest readings/s divided by raw broker messages/s (a batch carries many readings).
    pub ingest_readings_to_broker_messages: f64,
    /// Ingest batches/s divided by raw broker messages/s.
    pub ingest_batches_to_broker_messages: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub prefix: String,
    pub seq_base: u64,
    pub gateways: usize,
    pub residents: usize,
    pub speedup: f64,
    /// Readings per second the simulated devices were set to produce.
    pub offered_per_s: f64,
    pub measured_s: f64,
    /// From the start until the last acknowledgement.
    pub total_s: f64,
    pub published: u64,
    pub acked: u64,
    /// Measured but not published before the end (the server could not keep up).
    pub never_published: u64,
    /// Whether every published reading was acknowledged within the drain time.
    pub drained: bool,
    /// Readings acknowledged (committed) per second while the devices were measuring.
    pub readings_per_s: f64,
    /// Batches acknowledged per second while measuring.
    pub batches_per_s: f64,
    pub mean_batch: f64,
    pub latency: Latency,
    pub resent_batches: u64,
    pub extra_acks: u64,
    pub rejected: u64,
    pub first_rejection: Option<String>,
    pub disconnects: u64,
    pub check: Verification,
    pub baseline: Option<Baseline>,
    pub processes: Vec<ProcessUsage>,
    pub loadgen_cpu_s: f64,
    pub loadgen_peak_rss_mib: f64,
    /// PostgreSQL only: size of the readings table with its indexes, per stored reading.
    pub storage_bytes_per_reading: Option<f64>,
}

fn n(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 && c.is_ascii_digit() && s.as_bytes()[i - 1].is_ascii_digit() {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "eldercare-loadgen {}: {} gateways x {} residents, speedup {}, offered {} readings/s",
            self.prefix,
            self.gateways,
            self.residents / self.gateways.max(1),
            self.speedup,
            n(self.offered_per_s)
        );
        let _ = writeln!(
            s,
            "  ingest      {} readings/s sustained ({} batches/s, {:.1} readings/batch) over {:.1} s",
            n(self.readings_per_s),
            n(self.batches_per_s),
            self.mean_batch,
            self.measured_s
        );
        let _ = writeln!(
            s,
            "  latency     publish -> ack after commit: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} batches)",
            self.latency.p50_ms,
            self.latency.p99_ms,
            self.latency.max_ms,
            n(self.latency.batches as f64)
        );
        let _ = writeln!(
            s,
            "  delivery    published {}, acknowledged {}, never published {}, resent batches {}, disconnects {}{}",
            n(self.published as f64),
            n(self.acked as f64),
            n(self.never_published as f64),
            self.resent_batches,
            self.disconnects,
            if self.drained { "" } else { "  (drain time ran out)" }
        );
        if self.rejected > 0 {
            let _ = writeln!(
                s,
                "  REJECTED    {} readings, first reason: {}",
                self.rejected,
                self.first_rejection.as_deref().unwrap_or("?")
            );
        }
        let c = &self.check;
        // Before the drain ends, what is missing may still be queued in the broker or in flight
        // (the gateways would resend it): not stored yet, not known lost.
        let (missing, verdict) = match (c.exactly_once(), self.drained) {
            (true, _) => ("losses", "exactly once"),
            (false, true) => ("losses", "NOT exactly once"),
            (false, false) if c.duplicates == 0 && c.unexpected == 0 => {
                ("not stored yet", "NOT checked to the end: the drain ran out; try a longer --drain")
            }
            (false, false) => ("not stored yet", "NOT exactly once"),
        };
        let _ = writeln!(
            s,
            "  database    stored {} of {} published: {missing} {}, duplicates {}, unexpected {}  => {verdict}",
            n(c.stored as f64),
            n(c.published as f64),
            c.losses,
            c.duplicates,
            c.unexpected,
        );
        if let Some(b) = self.storage_bytes_per_reading {
            let _ = writeln!(s, "  storage     {b:.0} bytes per stored reading (readings table and its indexes)");
        }
        if let Some(b) = &self.baseline {
            let _ = writeln!(
                s,
                "  baseline    broker {} msg/s raw QoS 1; database {} rows/s raw ({})",
                n(b.broker_messages_per_s),
                n(b.db_rows_per_s),
                b.db_method
            );
            let _ = writeln!(
                s,
                "  ratios      ingest readings/s = {:.2} x raw database rows/s, {:.2} x raw broker msg/s; \
                 ingest batches/s = {:.2} x raw broker msg/s",
                b.ingest_to_db, b.ingest_readings_to_broker_messages, b.ingest_batches_to_broker_messages
            );
        }
        for p in &self.processes {
            let _ = writeln!(
                s,
                "  process     {} {}: {:.1} CPU s ({:.2} cores), peak RSS {:.0} MiB{}{}",
                p.pid,
                p.name,
                p.cpu_s,
                p.cores,
                p.peak_rss_mib,
                if p.descendants > 0 { format!(", with {} child processes", p.descendants) } else { String::new() },
                if p.alive { "" } else { " (exited during the run)" }
            );
        }
        let _ =
            writeln!(s, "  loadgen     {:.1} CPU s, peak RSS {:.0} MiB", self.loadgen_cpu_s, self.loadgen_peak_rss_mib);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(drained: bool, losses: u64, duplicates: u64) -> Report {
        Report {
            prefix: "p".into(),
            seq_base: 1,
            gateways: 1,
            residents: 1,
            speedup: 1.0,
            offered_per_s: 1.0,
            measured_s: 1.0,
            total_s: 1.0,
            published: 10,
            acked: 10 - losses,
            never_published: 0,
            drained,
            readings_per_s: 1.0,
            batches_per_s: 1.0,
            mean_batch: 1.0,
            latency: Latency { batches: 1, p50_ms: 1.0, p99_ms: 1.0, max_ms: 1.0 },
            resent_batches: 0,
            extra_acks: 0,
            rejected: 0,
            first_rejection: None,
            disconnects: 0,
            check: Verification { published: 10, stored: 10 - losses, losses, duplicates, ..Default::default() },
            baseline: None,
            processes: Vec::new(),
            loadgen_cpu_s: 0.0,
            loadgen_peak_rss_mib: 0.0,
            storage_bytes_per_reading: None,
        }
    }

    fn database_line(r: &Report) -> String {
        r.text().lines().find(|l| l.trim_start().starts_with("database")).unwrap().to_owned()
    }

    #[test]
    fn readings_missing_after_a_finished_drain_are_losses_and_before_it_not_yet_stored() {
        assert!(database_line(&report(true, 0, 0)).ends_with("=> exactly once"));
        let lost = database_line(&report(true, 3, 0));
        assert!(lost.contains("losses 3") && lost.ends_with("=> NOT exactly once"), "{lost}");
        let queued = database_line(&report(false, 3, 0));
        assert!(queued.contains("not stored yet 3") && queued.contains("NOT checked to the end"), "{queued}");
        let doubled = database_line(&report(false, 3, 1));
        assert!(doubled.contains("duplicates 1") && doubled.ends_with("=> NOT exactly once"), "{doubled}");
    }

    #[test]
    fn thousands() {
        assert_eq!(super::n(1234567.4), "1,234,567");
        assert_eq!(super::n(999.0), "999");
        assert_eq!(super::n(0.2), "0");
    }
}
