//! How far the gateway's clock can be trusted: readings without a device time stamp carry the
//! gateway's, so the status says whether the clock is synchronised (NTP).
//!
//! Sources, in order: `/run/systemd/timesync/synchronized` (present once systemd-timesyncd
//! synchronised), then `timedatectl show -p NTPSynchronized --value` (systemd-timedated, which
//! also knows about chrony and ntpd through the kernel's clock state). Neither available:
//! unknown (`None`). Asking is slow (a process, a D-Bus call), so the answer is cached for a
//! minute and refreshed in the background; the first call answers `None`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

const REFRESH: Duration = Duration::from_secs(60);

static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 not synced, 2 synced
static CHECKED: Mutex<Option<Instant>> = Mutex::new(None);
static CHECKING: AtomicBool = AtomicBool::new(false);

/// Whether the clock is NTP-synchronised, as last found out; `None` when unknown.
pub fn synced() -> Option<bool> {
    let due = {
        let mut checked = CHECKED.lock().unwrap_or_else(|p| p.into_inner());
        let due = checked.is_none_or(|t| t.elapsed() >= REFRESH);
        if due {
            *checked = Some(Instant::now());
        }
        due
    };
    if due && !CHECKING.swap(true, Ordering::AcqRel) {
        let spawned = std::thread::Builder::new().name("clock-check".into()).spawn(|| {
            let v = probe();
            STATE.store(
                match v {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                },
                Ordering::Release,
            );
            CHECKING.store(false, Ordering::Release);
        });
        if spawned.is_err() {
            CHECKING.store(false, Ordering::Release);
        }
    }
    match STATE.load(Ordering::Acquire) {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    }
}

/// Asks the system now (blocking).
pub fn probe() -> Option<bool> {
    if Path::new("/run/systemd/timesync/synchronized").exists() {
        return Some(true);
    }
    let out = Command::new("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_timedatectl(&String::from_utf8_lossy(&out.stdout))
}

/// `yes` / `no` as `timedatectl show --value` prints them.
pub fn parse_timedatectl(text: &str) -> Option<bool> {
    match text.trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_timedatectl() {
        assert_eq!(parse_timedatectl("yes\n"), Some(true));
        assert_eq!(parse_timedatectl("no"), Some(false));
        assert_eq!(parse_timedatectl(""), None);
        assert_eq!(parse_timedatectl("Failed to connect to bus"), None);
    }
}
