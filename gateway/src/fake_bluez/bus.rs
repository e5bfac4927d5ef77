//! A private D-Bus "system" bus: a `dbus-daemon` (Debian package `dbus`) with its socket in a
//! fresh temp folder, EXTERNAL authentication and a policy that lets anyone own any name and
//! send or receive anything. No root, systemd or bluetoothd involved.
//!
//! The daemon runs under a small `sh` wrapper that reads our end of a pipe: when this process
//! ends, however it ends, the pipe closes and the wrapper stops the daemon and removes the
//! folder, so no daemon outlives the tests.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot prepare the bus folder {path}: {source}")]
    Dir { path: String, source: std::io::Error },
    #[error("cannot start dbus-daemon (install Debian's `dbus` package): {0}")]
    Spawn(std::io::Error),
    #[error("dbus-daemon did not start: {0}")]
    NotStarted(String),
}

/// A running private bus. Dropping it stops the daemon.
#[derive(Debug)]
pub struct PrivateBus {
    address: String,
    dir: PathBuf,
    child: Child,
    keepalive: Option<ChildStdin>,
}

const CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=@SOCKET@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"#;

/// Stops the daemon when stdin closes, then removes the folder ($2).
const WRAPPER: &str = r#"dbus-daemon --config-file="$1" --nofork --print-address=1 2>"$2/dbus-daemon.log" &
d=$!
cat >/dev/null
kill "$d" 2>/dev/null
wait "$d" 2>/dev/null
rm -rf "$2""#;

impl PrivateBus {
    /// Starts a bus in a new folder under the system temp folder; returns once it accepts
    /// connections.
    pub fn start() -> Result<PrivateBus, BusError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "eldercare-bus-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let dir_err = |source| BusError::Dir { path: dir.display().to_string(), source };
        std::fs::create_dir_all(&dir).map_err(dir_err)?;
        let socket = dir.join("system_bus_socket");
        let config = dir.join("bus.conf");
        std::fs::write(&config, CONFIG.replace("@SOCKET@", &socket.display().to_string())).map_err(dir_err)?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("sh")
            .arg(&config)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(BusError::Spawn)?;
        let keepalive = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        let address = line.trim().to_owned();
        if read.is_err() || !address.starts_with("unix:") {
            let log = read_log(&dir);
            drop(keepalive);
            let _ = child.wait();
            return Err(BusError::NotStarted(if log.is_empty() { "no address printed".into() } else { log }));
        }
        // Keep draining stdout so the daemon never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = stdout.read_to_end(&mut sink);
        });
        Ok(PrivateBus { address, dir, child, keepalive })
    }

    /// The address, for `DBUS_SYSTEM_BUS_ADDRESS` or a zbus connection.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("dbus-daemon.log")).unwrap_or_default().trim().to_owned()
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        drop(self.keepalive.take());
        let _ = self.child.wait();
    }
}
