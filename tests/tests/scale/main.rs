//! Scale tests with real processes: our own Mosquitto and (when the store speaks it) our own
//! PostgreSQL on free ports in a temp dir, several `eldercare-server` processes, and the load
//! generator's simulated gateways. They never touch the machine's shared broker or database,
//! check exactly-once delivery in the database, and never assert on time.
//!
//! Needs `mosquitto` and `mosquitto_passwd` (Debian: mosquitto) and, for PostgreSQL, `initdb`
//! and `pg_ctl` (Debian: postgresql; found in /usr/lib/postgresql/<version>/bin or through
//! ELDERCARE_PG_BIN). As root, PostgreSQL runs as the `postgres` user through `runuser`.

mod faults;
mod harness;
#[path = "../common/pki.rs"]
mod pki;
mod shutdown;
mod support;
mod tls_broker;
mod two_instances;

use support::DbKind;

/// The database every scale test runs on. Switch to `DbKind::Postgres` once the store opens
/// `postgres://` URLs: the harness then starts its own cluster, and the fault test also
/// restarts it.
pub const DATABASE: DbKind = DbKind::Postgres;

/// The group of the servers' MQTT shared subscription, passed as `serve --shared-group <group>`.
/// `None` until `serve` has that option: then every instance receives every batch (the
/// harshest case for duplicates), and the test cannot check that the instances split the work.
pub const SHARED_GROUP: Option<&str> = Some("ingest");
