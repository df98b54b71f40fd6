//! What an entry looks like in Redis.
//!
//! `v1:{schema}:={json}` for a value, `v1:{schema}:-` for an absent row. `v1` is this crate's
//! layout, `{schema}` the key type's [`SCHEMA_VERSION`](crate::KeyType::SCHEMA_VERSION). Both are
//! checked before the JSON is touched, so an entry from another deploy is recognised as such
//! rather than half-parsed into the wrong shape.

use serde::Serialize;
use serde::de::DeserializeOwned;

const FORMAT: &[u8] = b"v1:";

/// A readable entry: the value, or the source's word that there is none.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry<V> {
    Present(V),
    Absent,
}

impl<V> Entry<V> {
    pub(crate) fn into_option(self) -> Option<V> {
        match self {
            Entry::Present(value) => Some(value),
            Entry::Absent => None,
        }
    }
}

/// Why an entry was not usable; either way it is a miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Written by a deploy with another layout or schema.
    Version,
    /// Not an entry at all, or JSON that does not fit the value type.
    Garbage,
}

pub(crate) fn encode<V: Serialize>(
    schema: u32,
    value: Option<&V>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = format!("v1:{schema}:").into_bytes();
    match value {
        Some(value) => {
            out.push(b'=');
            serde_json::to_writer(&mut out, value)?;
        }
        None => out.push(b'-'),
    }
    Ok(out)
}

pub(crate) fn decode<V: DeserializeOwned>(
    schema: u32,
    bytes: &[u8],
) -> Result<Entry<V>, Unreadable> {
    let Some(rest) = bytes.strip_prefix(FORMAT) else {
        return Err(version_or_garbage(bytes));
    };
    let colon = rest
        .iter()
        .position(|&b| b == b':')
        .ok_or(Unreadable::Garbage)?;
    let stored: u32 = std::str::from_utf8(&rest[..colon])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Unreadable::Garbage)?;
    if stored != schema {
        return Err(Unreadable::Version);
    }
    match &rest[colon + 1..] {
        b"-" => Ok(Entry::Absent),
        [b'=', json @ ..] => serde_json::from_slice(json)
            .map(Entry::Present)
            .map_err(|_| Unreadable::Garbage),
        _ => Err(Unreadable::Garbage),
    }
}

/// `v<digits>:` is how any layout of this crate starts, so it is an old or newer deploy's entry.
fn version_or_garbage(bytes: &[u8]) -> Unreadable {
    match bytes {
        [b'v', rest @ ..] => {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && rest.get(digits) == Some(&b':') {
                Unreadable::Version
            } else {
                Unreadable::Garbage
            }
        }
        _ => Unreadable::Garbage,
    }
}
