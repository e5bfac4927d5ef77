//! Logs and metrics: `tracing` with an `EnvFilter` (JSON on request), and a Prometheus recorder
//! installed once per process.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// The default filter: our crates at info, the MQTT broker's chatter at warn.
/// rumqttd reports every client that hangs up abruptly (and our own readiness probe) at ERROR;
/// those are not errors of ours, so its connection handling is silenced.
pub const DEFAULT_FILTER: &str = "info,rumqttd=warn,rumqttd::server::broker=off,rumqttc=warn,sqlx=warn";

/// Sets up logging to stderr. `RUST_LOG` overrides the filter.
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// The process-wide Prometheus handle (installed on first use).
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests embedding several servers).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
