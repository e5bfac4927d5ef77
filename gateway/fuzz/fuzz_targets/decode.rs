//! Any bytes on any characteristic we decode: a reading or an error, never a panic, and what
//! comes out is finite and serialises. The first byte picks the characteristic.
#![no_main]

use eldercare_gateway::forward::readings_from_packet;
use eldercare_gateway::gatt::{self, Characteristic};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let ch = Characteristic::ALL[selector as usize % Characteristic::ALL.len()];
    if let Ok(decoded) = gatt::decode(ch, bytes) {
        for s in &decoded.samples {
            assert!(s.value.is_finite(), "{ch}: a non-finite sample from {bytes:02x?}");
        }
        serde_json::to_string(&decoded).expect("a decoded packet serialises");
    }
    if let Ok(readings) = readings_from_packet("fuzz-device", ch, bytes, 1_700_000_000_000) {
        for r in readings {
            assert!(r.value.is_finite());
        }
    }
});
