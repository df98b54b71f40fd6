//! Inbox tokens are credentials to a WhatsApp number: they are stored encrypted with
//! AES-256-GCM and only ever shown as a hint (the last four characters).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;

/// Only for development: used when `INBOX_TOKEN_KEY` is unset, with a warning at start.
pub const DEVELOPMENT_KEY_HEX: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("the key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("the ciphertext is damaged or was made with another key")]
    Undecryptable,
}

/// Reads `INBOX_TOKEN_KEY`: `None` when unset (the development key will be used), an error naming
/// the variable when it is not a 32-byte hex key. Every service that touches inbox tokens must
/// use the same key.
pub fn token_key_setting(
    env: &common::config::Env,
) -> Result<Option<String>, common::config::ConfigError> {
    let key = env.optional("INBOX_TOKEN_KEY");
    if let Some(value) = &key
        && TokenCipher::from_hex(value).is_err()
    {
        return Err(common::config::ConfigError {
            var: "INBOX_TOKEN_KEY".into(),
            value: "(hidden)".into(),
            reason: "must be 64 hex characters (a 32-byte AES-256 key)".into(),
        });
    }
    Ok(key)
}

impl TokenCipher {
    /// The cipher for a [`token_key_setting`]; without a key, the development key, with a warning.
    pub fn from_setting(key_hex: Option<&str>) -> Result<Self, CipherError> {
        match key_hex {
            Some(key) => Self::from_hex(key),
            None => {
                tracing::warn!("INBOX_TOKEN_KEY is unset: inbox tokens use the development key");
                Self::from_hex(DEVELOPMENT_KEY_HEX)
            }
        }
    }

    pub fn from_hex(key_hex: &str) -> Result<Self, CipherError> {
        let bytes = hex::decode(key_hex.trim()).map_err(|_| CipherError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CipherError::BadKey);
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    /// `nonce || ciphertext`, with a fresh random nonce per call.
    pub fn encrypt(&self, plaintext: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<String, CipherError> {
        if stored.len() <= NONCE_LEN {
            return Err(CipherError::Undecryptable);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CipherError::Undecryptable)?;
        String::from_utf8(plaintext).map_err(|_| CipherError::Undecryptable)
    }
}

/// What may be shown of a secret: its last four characters.
pub fn hint(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_tampering() {
        let cipher = TokenCipher::from_hex(DEVELOPMENT_KEY_HEX).unwrap();
        let stored = cipher.encrypt("user-token-123");
        assert!(
            !stored.windows(5).any(|w| w == b"token"),
            "plaintext must not leak"
        );
        assert_eq!(cipher.decrypt(&stored).unwrap(), "user-token-123");
        assert_ne!(stored, cipher.encrypt("user-token-123"), "nonces are fresh");

        let mut damaged = stored.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert_eq!(cipher.decrypt(&damaged), Err(CipherError::Undecryptable));

        let other = TokenCipher::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(other.decrypt(&stored), Err(CipherError::Undecryptable));
    }

    #[test]
    fn refuses_bad_keys_and_hints_only_the_tail() {
        assert!(TokenCipher::from_hex("abc").is_err());
        assert!(TokenCipher::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(hint("user-token-123"), "…-123");
        assert_eq!(hint("ab"), "…ab");
    }
}
