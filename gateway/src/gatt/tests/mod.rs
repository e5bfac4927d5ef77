//! Test vectors (one file per characteristic, each vector naming its source) and property
//! tests. Vectors are written as hex, byte by byte as they travel over the air.

mod battery;
mod blood_pressure;
mod characteristic;
mod datetime;
mod fall;
mod glucose;
mod heart_rate;
mod plx;
mod properties;
mod racp;
mod sfloat;
mod thermometer;
mod weight;

use super::*;
pub(super) use eldercare_schema::Metric;

/// Bytes from hex with optional spaces: `"16 4b 00"`.
pub(super) fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test vector is valid hex")
}

/// Decodes a vector that must decode.
pub(super) fn ok(ch: Characteristic, s: &str) -> Decoded {
    decode(ch, &hex(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Decodes a vector that must be too short; returns (field, needed, got).
pub(super) fn too_short(ch: Characteristic, s: &str) -> (&'static str, usize, usize) {
    match decode(ch, &hex(s)) {
        Err(DecodeError::TooShort { characteristic, field, needed, got }) => {
            assert_eq!(characteristic, ch);
            (field, needed, got)
        }
        other => panic!("{s}: expected TooShort, got {other:?}"),
    }
}

/// Asserts the samples, in order, to 1e-9 relative.
#[track_caller]
pub(super) fn assert_samples(d: &Decoded, expected: &[(Metric, f64)]) {
    let got: Vec<(Metric, f64)> = d.samples.iter().map(|s| (s.metric, s.value)).collect();
    assert_eq!(got.len(), expected.len(), "samples {got:?}, expected {expected:?}");
    for ((gm, gv), (em, ev)) in got.iter().zip(expected) {
        assert_eq!(gm, em, "samples {got:?}, expected {expected:?}");
        assert!((gv - ev).abs() <= 1e-9 * ev.abs().max(1.0), "{gm}: got {gv}, expected {ev}");
    }
}

/// The detail as JSON, for checking what a person debugging would see.
pub(super) fn json(d: &Decoded) -> serde_json::Value {
    serde_json::to_value(d).expect("Decoded serialises")["detail"].clone()
}
