//! Command line. Every option also reads an `ELDERCARE_LOADGEN_*` variable.

use std::time::Duration;

use clap::Parser;
use eldercare_gateway::mqtt::MqttUrl;

/// Parses `500ms`, `30s`, `5m`, `2h`, `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 500ms, 30s, 5m, 2h or 1d"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m, h or d)")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{s:?} must be more than zero"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "eldercare-loadgen",
    version,
    about = "Simulates many home gateways against a running eldercare server and measures it.",
    long_about = "Simulates many home gateways against a running eldercare server and measures it.\n\n\
        Each simulated gateway is its own MQTT client (QoS 1, TCP_NODELAY) publishing valid readings \
        batches for its residents' devices at realistic rates (heart rate every 5 s, SpO2 every minute, \
        blood pressure and weight daily; --speedup compresses time). A batch stays in flight until the \
        server's acknowledgement, sent after its database commit, names it; unacknowledged batches are \
        resent, so a broker or server restart loses nothing.\n\n\
        Steps: provision the homes in the server's database (skipped for homes that exist), run for \
        --duration, wait for the last acknowledgements, check in the database that every published \
        reading is stored exactly once, and with --baseline measure the raw broker and raw database \
        write rates in the same run. Prints a report (or JSON with --json); exits with status 1 when \
        any reading was lost or duplicated.\n\n\
        Example: eldercare-loadgen --database-url sqlite:eldercare.db --mqtt-url mqtt://127.0.0.1:1883 \
        --gateways 1000 --residents-per-gateway 2 --speedup 20 --duration 60s --baseline --watch-pid $(pidof eldercare-server)"
)]
pub struct Cli {
    /// The server's database (`sqlite:path` or `postgres://...`): homes are registered there
    /// and the stored readings checked.
    #[arg(long, env = "ELDERCARE_LOADGEN_DATABASE_URL")]
    pub database_url: String,
    /// The broker the server ingests from.
    #[arg(long, env = "ELDERCARE_LOADGEN_MQTT_URL", default_value = "mqtt://127.0.0.1:1883")]
    pub mqtt_url: MqttUrl,
    /// MQTT password of every simulated gateway (its username is its gateway id), for a broker
    /// with per-gateway credentials.
    #[arg(long, env = "ELDERCARE_LOADGEN_GATEWAY_PASSWORD", hide_env_values = true)]
    pub gateway_password: Option<String>,
    /// Number of simulated homes, each with its own gateway and MQTT connection.
    #[arg(long, env = "ELDERCARE_LOADGEN_GATEWAYS", default_value_t = 100)]
    pub gateways: usize,
    /// Residents per home; each wears a heart-rate band and has an oximeter, a blood-pressure
    /// cuff and a scale.
    #[arg(long, env = "ELDERCARE_LOADGEN_RESIDENTS_PER_GATEWAY", default_value_t = 2)]
    pub residents_per_gateway: usize,
    /// How long the devices measure (e.g. 60s, 10m).
    #[arg(long, env = "ELDERCARE_LOADGEN_DURATION", default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Story time per wall-clock second: 10 makes every device measure ten times as often.
    #[arg(long, env = "ELDERCARE_LOADGEN_SPEEDUP", default_value_t = 1.0)]
    pub speedup: f64,
    /// Heart-rate interval (story time).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub heart_rate_every: Duration,
    /// SpO2 interval (story time).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub spo2_every: Duration,
    /// Blood-pressure interval (story time); each measurement is two readings.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    pub blood_pressure_every: Duration,
    /// Weight interval (story time).
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    pub weight_every: Duration,
    /// Gateway ids are `<prefix>-g<n>`: reuse a prefix to reuse its provisioned homes. Default:
    /// `lg` and the number of gateways and residents.
    #[arg(long, env = "ELDERCARE_LOADGEN_PREFIX")]
    pub prefix: Option<String>,
    /// How each gateway batches: it publishes what its devices measured this often.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub flush_every: Duration,
    /// Readings per batch at most (the schema allows 1000).
    #[arg(long, default_value_t = 200)]
    pub batch_max: usize,
    /// Unacknowledged batches per gateway at most (1 to 32).
    #[arg(long, default_value_t = 4)]
    pub max_in_flight: usize,
    /// Resend a gateway's unacknowledged batches after this long without an ack, at first; then
    /// the wait follows how long acks take and doubles after each resend, as the real
    /// gateway's does.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub resend_after: Duration,
    /// The longest wait for an ack before a resend.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub resend_max: Duration,
    /// After measuring stops, wait at most this long for the last acknowledgements.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub drain: Duration,
    /// In the first N homes, the first resident's SpO2 reads 82 %: each raises one critical
    /// alert, so alerting runs under the load too.
    #[arg(long, default_value_t = 0)]
    pub low_spo2_homes: usize,
    /// Only register the homes, then exit.
    #[arg(long, conflicts_with = "no_provision")]
    pub provision_only: bool,
    /// Do not register homes (they must exist already).
    #[arg(long)]
    pub no_provision: bool,
    /// Also measure, in the same run, raw broker messages/s (QoS 1, one publisher, one plain
    /// subscriber) and raw database writes/s (PostgreSQL COPY, SQLite multi-row INSERT in one
    /// transaction) of as many rows as readings were stored (10,000 to 500,000), and report
    /// ingest as a ratio of each.
    #[arg(long)]
    pub baseline: bool,
    /// MQTT `user:password` for the broker baseline's two clients (anonymous when absent).
    #[arg(long, env = "ELDERCARE_LOADGEN_BASELINE_CREDENTIALS", hide_env_values = true)]
    pub baseline_credentials: Option<String>,
    /// Report CPU time and peak memory of this process (and its children), e.g. each server
    /// instance, the broker, the PostgreSQL postmaster. Repeat for several.
    #[arg(long = "watch-pid")]
    pub watch_pid: Vec<u32>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

impl Cli {
    pub fn prefix(&self) -> String {
        self.prefix.clone().unwrap_or_else(|| format!("lg{}x{}", self.gateways, self.residents_per_gateway))
    }

    /// Refuses settings that cannot work, with the reason.
    pub fn check(&self) -> Result<(), String> {
        if self.gateways == 0 || self.residents_per_gateway == 0 {
            return Err("--gateways and --residents-per-gateway must be at least 1".into());
        }
        if !(self.speedup.is_finite() && self.speedup > 0.0) {
            return Err("--speedup must be a number above 0".into());
        }
        if !(1..=32).contains(&self.max_in_flight) {
            return Err("--max-in-flight must be from 1 to 32".into());
        }
        if !(1..=eldercare_schema::payload::MAX_READINGS_PER_BATCH).contains(&self.batch_max) {
            return Err("--batch-max must be from 1 to 1000".into());
        }
        eldercare_schema::topic::validate_gateway_id(&format!("{}-g{}", self.prefix(), self.gateways))
            .map_err(|e| format!("--prefix: {e}"))?;
        if let Some(c) = &self.baseline_credentials
            && !c.contains(':')
        {
            return Err("--baseline-credentials must be user:password".into());
        }
        for pid in &self.watch_pid {
            if !crate::procstat::exists(*pid) {
                return Err(format!("--watch-pid {pid}: no such process"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn help_and_checks() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::parse_from(["x", "--database-url", "sqlite:x.db", "--max-in-flight", "99"]);
        assert!(cli.check().unwrap_err().contains("max-in-flight"));
        let cli = Cli::parse_from(["x", "--database-url", "sqlite:x.db", "--prefix", "bad prefix"]);
        assert!(cli.check().unwrap_err().contains("prefix"));
        let cli = Cli::parse_from(["x", "--database-url", "sqlite:x.db"]);
        assert_eq!(cli.prefix(), "lg100x2");
        assert!(cli.check().is_ok());
    }
}
