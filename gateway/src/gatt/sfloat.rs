//! IEEE 11073-20601 numbers: SFLOAT (16 bit) and FLOAT (32 bit), as used by the Bluetooth health
//! profiles (the GATT Specification Supplement calls them `medfloat16` and `medfloat32`).
//!
//! A value is `mantissa × 10^exponent`, both signed two's complement, little-endian on the wire:
//! SFLOAT has a 4-bit exponent and a 12-bit mantissa, FLOAT an 8-bit exponent and a 24-bit one.
//!
//! Five mantissas are special values, never measurements: NaN (`0x7FF` / `0x7FFFFF`),
//! NRes, "not at this resolution" (`0x800` / `0x800000`), +INF (`0x7FE` / `0x7FFFFE`),
//! −INF (`0x802` / `0x800002`) and a reserved one (`0x801` / `0x800001`). The standard defines
//! them with exponent 0; decoders in the wild differ on other exponents. **We match on the
//! mantissa only, whatever the exponent** (so `0xF7FF` is NaN too): a device that sets an
//! exponent on a special value still means "no value", and the only cost is that the five
//! mantissas are never read as numbers (the encoder never produces them).

use serde::{Serialize, Serializer};

/// A decoded SFLOAT or FLOAT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Float11073 {
    /// A finite number (every non-special bit pattern decodes to one).
    Value(f64),
    /// Not a Number: the device has no valid value.
    NaN,
    /// Not at this Resolution: the value cannot be represented with the precision in use.
    NRes,
    /// Positive infinity (above the device's range).
    PositiveInfinity,
    /// Negative infinity (below the device's range).
    NegativeInfinity,
    /// The special value reserved for future use.
    Reserved,
}

/// The shape of one of the two formats.
struct Format {
    mantissa_bits: u32,
    exponent_bits: u32,
    min_exponent: i32,
    max_exponent: i32,
}

const SFLOAT: Format = Format { mantissa_bits: 12, exponent_bits: 4, min_exponent: -8, max_exponent: 7 };
const FLOAT: Format = Format { mantissa_bits: 24, exponent_bits: 8, min_exponent: -128, max_exponent: 127 };

impl Format {
    /// The raw (unsigned) mantissa of NaN; the other special values follow it.
    fn nan(&self) -> u32 {
        (1 << (self.mantissa_bits - 1)) - 1
    }

    /// The largest magnitude of an ordinary mantissa: the specials take the top of the range.
    fn max_mantissa(&self) -> i64 {
        i64::from(self.nan()) - 2
    }

    fn decode(&self, raw: u32) -> Float11073 {
        let mantissa_mask = (1u32 << self.mantissa_bits) - 1;
        let m = raw & mantissa_mask;
        let nan = self.nan();
        match m {
            _ if m == nan => Float11073::NaN,
            _ if m == nan + 1 => Float11073::NRes,
            _ if m == nan - 1 => Float11073::PositiveInfinity,
            _ if m == nan + 3 => Float11073::NegativeInfinity,
            _ if m == nan + 2 => Float11073::Reserved,
            _ => {
                let mantissa = sign_extend(m, self.mantissa_bits);
                let exponent = sign_extend(raw >> self.mantissa_bits, self.exponent_bits);
                Float11073::Value(scale(i64::from(mantissa), exponent))
            }
        }
    }

    fn pack(&self, mantissa: i64, exponent: i32) -> u32 {
        let m = (mantissa as u32) & ((1 << self.mantissa_bits) - 1);
        let e = (exponent as u32) & ((1 << self.exponent_bits) - 1);
        (e << self.mantissa_bits) | m
    }

    /// The mantissa for `value` at `exponent`, if it fits.
    fn mantissa_at(&self, value: f64, exponent: i32) -> Option<i64> {
        let m = if exponent <= 0 {
            (value * 10f64.powi(-exponent)).round()
        } else {
            (value / 10f64.powi(exponent)).round()
        };
        (m.abs() <= self.max_mantissa() as f64).then_some(m as i64)
    }

    fn encode(&self, value: f64) -> u32 {
        let nan = self.nan();
        if value.is_nan() {
            return nan;
        }
        if value.is_infinite() {
            return if value > 0.0 { nan - 1 } else { nan + 3 };
        }
        // Fewest decimals that carry the value exactly: 120 → 120e0, 36.7 → 367e-1.
        for exponent in (self.min_exponent..=0).rev() {
            if let Some(m) = self.mantissa_at(value, exponent)
                && (scale(m, exponent) - value).abs() <= value.abs() * 1e-12
            {
                return self.pack(m, exponent);
            }
        }
        // Otherwise the most precise representation that fits, rounding.
        for exponent in self.min_exponent..=self.max_exponent {
            if let Some(m) = self.mantissa_at(value, exponent) {
                return self.pack(m, exponent);
            }
        }
        if value > 0.0 { nan - 1 } else { nan + 3 }
    }
}

/// `mantissa × 10^exponent`, dividing for negative exponents so that e.g. 367e-1 is exactly
/// the `f64` nearest to 36.7.
fn scale(mantissa: i64, exponent: i32) -> f64 {
    let m = mantissa as f64;
    if exponent >= 0 { m * 10f64.powi(exponent) } else { m / 10f64.powi(-exponent) }
}

/// Reads the low `bits` of `raw` as a two's complement number.
fn sign_extend(raw: u32, bits: u32) -> i32 {
    let shift = 32 - bits;
    ((raw << shift) as i32) >> shift
}

impl Float11073 {
    /// Decodes a 16-bit SFLOAT (already assembled from its little-endian bytes).
    pub fn from_sfloat(raw: u16) -> Self {
        SFLOAT.decode(u32::from(raw))
    }

    /// Decodes a 32-bit FLOAT (already assembled from its little-endian bytes).
    pub fn from_float(raw: u32) -> Self {
        FLOAT.decode(raw)
    }

    /// Encodes as an SFLOAT: the fewest decimals that carry the value exactly (so 120 becomes
    /// `120e0` as devices send it), else the most precise rounding that fits; NaN and ±∞ map to
    /// the special values, and magnitudes beyond 2045 × 10⁷ to ±INF.
    pub fn sfloat_bits(value: f64) -> u16 {
        // SFLOAT.encode packs into 16 bits, so the cast is lossless.
        SFLOAT.encode(value) as u16
    }

    /// Encodes as a FLOAT, with the same rules as [`Float11073::sfloat_bits`].
    pub fn float_bits(value: f64) -> u32 {
        FLOAT.encode(value)
    }

    /// The number, or `None` for a special value.
    pub fn value(self) -> Option<f64> {
        match self {
            Float11073::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// A number serialises as a JSON number; a special value as `"NaN"`, `"NRes"`, `"+INF"`,
/// `"-INF"` or `"reserved"`.
impl Serialize for Float11073 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Float11073::Value(v) => serializer.serialize_f64(*v),
            Float11073::NaN => serializer.serialize_str("NaN"),
            Float11073::NRes => serializer.serialize_str("NRes"),
            Float11073::PositiveInfinity => serializer.serialize_str("+INF"),
            Float11073::NegativeInfinity => serializer.serialize_str("-INF"),
            Float11073::Reserved => serializer.serialize_str("reserved"),
        }
    }
}
