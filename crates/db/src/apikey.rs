//! API keys: `wzm_` + 32 random bytes in hex. Keys have 256 bits of entropy, so a plain SHA-256
//! is enough to store them (a slow password hash would only slow every request down).

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "wzm_";

/// A freshly made key: `raw` is shown to its owner once and never stored.
pub struct NewApiKey {
    pub raw: String,
    /// What listings show, enough to recognise a key: `wzm_` and 8 hex characters.
    pub display_prefix: String,
    pub hash: Vec<u8>,
}

pub fn generate() -> NewApiKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let raw = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    NewApiKey {
        display_prefix: raw[..KEY_PREFIX.len() + 8].to_owned(),
        hash: hash(&raw),
        raw,
    }
}

pub fn hash(raw: &str) -> Vec<u8> {
    Sha256::digest(raw.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.raw, b.raw);
        assert!(a.raw.starts_with(KEY_PREFIX));
        assert_eq!(a.raw.len(), KEY_PREFIX.len() + 64);
        assert_eq!(a.hash, hash(&a.raw));
        assert!(a.raw.starts_with(&a.display_prefix));
    }
}
