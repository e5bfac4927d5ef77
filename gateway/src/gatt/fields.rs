//! Small field types shared by the decoders' `detail`: named status bits and coded values.

use serde::Serialize;

/// A status or flags field: the raw value, and the names of the bits that are set. Bits the
/// specification reserves are not named; they still show in `raw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusBits {
    pub raw: u32,
    pub set: Vec<&'static str>,
}

impl StatusBits {
    /// Names the set bits of `raw` from `(bit, name)` pairs.
    pub fn new(raw: u32, names: &[(u32, &'static str)]) -> Self {
        let set = names.iter().filter(|(bit, _)| raw & (1 << bit) != 0).map(|&(_, name)| name).collect();
        StatusBits { raw, set }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.set.contains(&name)
    }
}

/// An enumerated field: the code as sent and its meaning (`"reserved"` for codes the
/// specification does not define).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Coded {
    pub code: u8,
    pub name: &'static str,
}

impl Coded {
    /// Looks `code` up in a table whose index is the code.
    pub fn from_table(code: u8, table: &[&'static str]) -> Self {
        let name = table.get(usize::from(code)).copied().filter(|n| !n.is_empty()).unwrap_or("reserved");
        Coded { code, name }
    }
}
