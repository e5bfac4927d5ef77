//! The eldercare home gateway: reads wearables over BLE (or simulates them with the same GATT
//! bytes), keeps every reading in a durable outbox, and forwards it over MQTT until the server
//! acknowledges it after its database commit.

pub mod binding;
#[cfg(feature = "ble")]
pub mod ble;
pub mod cli;
pub mod clock;
pub mod config;
#[cfg(feature = "fake-bluez")]
pub mod fake_bluez;
pub mod forward;
pub mod gatt;
pub mod home;
pub mod mqtt;
pub mod outbox;
pub mod resend;
pub mod sim;
pub mod supervise;
pub mod uplink;

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
