//! A cursor over a characteristic value that turns running out of bytes into
//! [`DecodeError::TooShort`] naming the field, so decoders read like the specification's tables.

use super::datetime::DateTime;
use super::sfloat::Float11073;
use super::{Characteristic, DecodeError};

pub(crate) struct Reader<'a> {
    characteristic: Characteristic,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(characteristic: Characteristic, bytes: &'a [u8]) -> Self {
        Reader { characteristic, bytes, pos: 0 }
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let end = self.pos + N;
        let slice = self.bytes.get(self.pos..end).ok_or(DecodeError::TooShort {
            characteristic: self.characteristic,
            field,
            needed: end,
            got: self.bytes.len(),
        })?;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        self.pos = end;
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.array::<1>(field).map(|[b]| b)
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.array(field).map(u16::from_le_bytes)
    }

    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        self.array(field).map(i16::from_le_bytes)
    }

    pub fn u24(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(|[a, b, c]| u32::from_le_bytes([a, b, c, 0]))
    }

    pub fn sfloat(&mut self, field: &'static str) -> Result<Float11073, DecodeError> {
        self.u16(field).map(Float11073::from_sfloat)
    }

    pub fn float(&mut self, field: &'static str) -> Result<Float11073, DecodeError> {
        self.array(field).map(|b| Float11073::from_float(u32::from_le_bytes(b)))
    }

    pub fn date_time(&mut self, field: &'static str) -> Result<DateTime, DecodeError> {
        self.array(field).map(DateTime::from_bytes)
    }

    /// Reads the field only if `present`.
    pub fn optional<T>(
        &mut self,
        present: bool,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if present { read(self).map(Some) } else { Ok(None) }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

/// Appends little-endian fields, for the encoders.
#[derive(Default)]
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn sfloat(&mut self, v: f64) -> &mut Self {
        self.u16(Float11073::sfloat_bits(v))
    }

    pub fn float(&mut self, v: f64) -> &mut Self {
        self.0.extend_from_slice(&Float11073::float_bits(v).to_le_bytes());
        self
    }

    pub fn date_time(&mut self, t: Option<DateTime>) -> &mut Self {
        if let Some(t) = t {
            self.0.extend_from_slice(&t.to_bytes());
        }
        self
    }
}
