//! End-to-end tests: real embedded broker (rumqttd) on a free port, real server, real SQLite in a
//! temp dir, real gateway outbox and uplink. Nothing of ours is mocked.

mod alerting;
mod bad_input;
mod baselines;
mod binding;
mod durability;
mod pipeline;
#[path = "../common/pki.rs"]
mod pki;
mod support;
mod tls;
