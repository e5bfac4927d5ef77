//! Running a test body against a private bus, and the gateway configuration for a scenario.

use std::future::Future;
use std::time::Duration;

use eldercare_gateway::config::{BleSettings, DeviceEntry};
use eldercare_gateway::fake_bluez::PrivateBus;
use eldercare_gateway::sim::Home;

/// Set in the child process that runs a test body.
const CHILD: &str = "ELDERCARE_BLE_TEST_CHILD";
/// Printed by the child once the body passed, so a mistyped test name cannot pass vacuously.
const PASSED: &str = "eldercare-ble-test-body-passed";
/// A child running longer than this is killed and the test fails.
const CHILD_PATIENCE: Duration = Duration::from_secs(180);

/// Runs `body(bus_address)` in a child process of this test binary whose D-Bus system bus is a
/// fresh private bus. `name` is the test's name as the test harness knows it
/// (`module::function`). In the child, `body` runs on a two-thread Tokio runtime.
pub fn on_private_bus<F, Fut>(name: &str, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    if std::env::var_os(CHILD).is_some() {
        let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").expect("the parent sets the bus address");
        if let Ok(filter) = std::env::var("TEST_LOG") {
            // TEST_LOG=debug (or any filter) shows the logs of the test body.
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
        }
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(body(address));
        println!("{PASSED}");
        return;
    }
    let bus = PrivateBus::start().expect("a private D-Bus (dbus-daemon, from Debian's `dbus` package)");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let out = rt.block_on(async {
        let child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .env(CHILD, "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("re-running this test binary");
        tokio::time::timeout(CHILD_PATIENCE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("{name} did not finish within {CHILD_PATIENCE:?}"))
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed in its child process (output above)");
    assert!(stdout.contains(PASSED), "{name} did not run in its child process: is the name right?");
}

/// Settings that make things happen within seconds.
pub fn quick_settings() -> BleSettings {
    BleSettings {
        adapter: Some("hci0".into()),
        max_connections: 4,
        connect_timeout_s: 10.0,
        backoff_min_s: 0.2,
        backoff_max_s: 1.0,
        scan_watchdog_s: 1.0,
        idle_disconnect_s: 0.5,
        stale_after_s: 0.0,
    }
}

/// The allowlist for the scenario's devices named in `ids`, at the addresses the scenario gives.
pub fn allowlist(home: &Home, ids: &[&str]) -> Vec<DeviceEntry> {
    ids.iter()
        .map(|id| {
            let spec = home.scenario.devices.iter().find(|d| d.device_id == *id).expect("device in the scenario");
            DeviceEntry {
                device_id: id.to_string(),
                address: home.radio_of(id).address(),
                kind: Some(spec.kind),
                connection: None,
            }
        })
        .collect()
}

/// Polls `check` until it yields a value, at most `limit` (`eldercare_tests::eventually_within`).
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eldercare_tests::eventually_within(limit, what, check).await
}
