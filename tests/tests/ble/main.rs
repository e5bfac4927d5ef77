//! The gateway's real Bluetooth path (btleplug, unmodified) against a simulated BlueZ on a
//! private D-Bus, with the real broker, server and SQLite behind it; and the long-outage test.
//!
//! btleplug finds BlueZ through libdbus, which reads `DBUS_SYSTEM_BUS_ADDRESS` once per process
//! (and changing the environment of a running process needs `unsafe`): so each Bluetooth test
//! runs its body in a child process of this test binary, started with the address of a private
//! bus of its own (see `support::on_private_bus`). Tests are isolated from each other and from
//! any real system bus.

#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod e2e_support;

mod binding;
mod home;
mod outage;
mod records;
mod scan;
mod support;
