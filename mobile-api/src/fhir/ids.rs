//! FHIR ids of devices and gateways. A FHIR id is 1 to 64 of `A-Za-z0-9-.`; our device ids
//! may also hold `_` and `:` and gateway ids `_`. So the id is a prefix (`d-` for a wearable,
//! `g-` for a gateway) and the raw id with every other byte (and `.` itself) escaped as `.XX`:
//! reversible, and unchanged for the usual ids (`ox-wang-01` is `d-ox-wang-01`). The rare raw
//! id too long once escaped is named by a hash instead (`dh-`/`gh-` and 32 hex digits) and found
//! by comparing hashes within the caller's scope.

use sha2::{Digest, Sha256};

/// What a FHIR Device id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceRef {
    Wearable(String),
    Gateway(String),
    /// A long id, by hash: `(is_gateway, hash hex)`.
    Hashed(bool, String),
}

const MAX_ID: usize = 64;

fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!(".{b:02X}"));
        }
    }
    out
}

fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn hash_of(raw: &str) -> String {
    hex::encode(&Sha256::digest(raw.as_bytes())[..16])
}

fn encode(prefix: &str, raw: &str) -> String {
    let id = format!("{prefix}-{}", escape(raw));
    if id.len() <= MAX_ID { id } else { format!("{prefix}h-{}", hash_of(raw)) }
}

pub(crate) fn wearable_id(device_id: &str) -> String {
    encode("d", device_id)
}

pub(crate) fn gateway_id(gateway_id: &str) -> String {
    encode("g", gateway_id)
}

pub(crate) fn parse(id: &str) -> Option<DeviceRef> {
    if let Some(h) = id.strip_prefix("dh-") {
        return Some(DeviceRef::Hashed(false, h.to_owned()));
    }
    if let Some(h) = id.strip_prefix("gh-") {
        return Some(DeviceRef::Hashed(true, h.to_owned()));
    }
    if let Some(raw) = id.strip_prefix("d-") {
        return unescape(raw).map(DeviceRef::Wearable);
    }
    if let Some(raw) = id.strip_prefix("g-") {
        return unescape(raw).map(DeviceRef::Gateway);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn valid_fhir_id(id: &str) -> bool {
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    }

    #[test]
    fn usual_ids_read_as_themselves() {
        assert_eq!(wearable_id("ox-wang-01"), "d-ox-wang-01");
        assert_eq!(gateway_id("gw_home"), "g-gw.5Fhome");
        assert_eq!(parse("g-gw.5Fhome"), Some(DeviceRef::Gateway("gw_home".into())));
        assert_eq!(parse("d-a.2Eb.3Ac"), Some(DeviceRef::Wearable("a.b:c".into())));
        assert_eq!(parse("x-1"), None);
        assert_eq!(parse("d-bad.Z"), None);
    }

    #[test]
    fn long_ids_become_hashes() {
        let long = "_".repeat(30);
        let id = wearable_id(&long);
        assert!(id.starts_with("dh-") && valid_fhir_id(&id), "{id}");
        assert_eq!(parse(&id), Some(DeviceRef::Hashed(false, hash_of(&long))));
    }

    proptest! {
        #[test]
        fn every_id_is_a_valid_fhir_id_and_reads_back(raw in "[ -~]{1,64}") {
            for (id, gateway) in [(wearable_id(&raw), false), (gateway_id(&raw), true)] {
                prop_assert!(valid_fhir_id(&id), "{}", id);
                match parse(&id) {
                    Some(DeviceRef::Wearable(r)) => prop_assert!(!gateway && r == raw),
                    Some(DeviceRef::Gateway(r)) => prop_assert!(gateway && r == raw),
                    Some(DeviceRef::Hashed(g, h)) => prop_assert!(g == gateway && h == hash_of(&raw)),
                    None => prop_assert!(false, "unparsed {}", id),
                }
            }
        }
    }
}
