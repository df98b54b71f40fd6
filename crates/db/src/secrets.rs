//! Secrets at rest. Inbox tokens (credentials to a WhatsApp number), and later payment-provider
//! keys, are stored encrypted with AES-256-GCM under one operator key, `SECRETS_KEY`, and only
//! ever shown as a hint (the last four characters). Decrypted values and the key itself live in
//! `secrecy` types, whose `Debug` prints `[REDACTED]`, so a log line cannot carry them by accident.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use common::config::{ConfigError, Env};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const NONCE_LEN: usize = 12;

/// The operator's key for everything encrypted at rest: 64 hex characters (32 bytes).
pub const KEY_VAR: &str = "SECRETS_KEY";
/// The earlier name of [`KEY_VAR`], still read when `SECRETS_KEY` is unset.
pub const LEGACY_KEY_VAR: &str = "INBOX_TOKEN_KEY";
/// `DEV_MODE=true` lets a service start without a key, on the published development key.
pub const DEV_MODE_VAR: &str = "DEV_MODE";

/// Published in this repository, so it protects nothing: only for development mode.
pub const DEVELOPMENT_KEY_HEX: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Which key encrypts secrets at rest, as the operator configured it.
#[derive(Debug, Clone)]
pub enum KeySetting {
    /// `SECRETS_KEY` (or the legacy `INBOX_TOKEN_KEY`), already checked to be a 32-byte hex key.
    Operator(SecretString),
    /// No key, and `DEV_MODE=true`: the published development key.
    Development,
}

impl KeySetting {
    /// Reads the key. Every service that reads or writes secrets must use the same one. Without
    /// a key a service refuses to start, unless development mode is explicitly on.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let named = [KEY_VAR, LEGACY_KEY_VAR]
            .into_iter()
            .find_map(|var| env.optional(var).map(|value| (var, value)));
        if let Some((var, value)) = named {
            if SecretCipher::from_hex(&value).is_err() {
                return Err(ConfigError {
                    var: var.into(),
                    value: "(hidden)".into(),
                    reason: "must be 64 hex characters (a 32-byte AES-256 key)".into(),
                });
            }
            return Ok(Self::Operator(SecretString::from(value)));
        }
        if env.parse(DEV_MODE_VAR, false)? {
            return Ok(Self::Development);
        }
        Err(ConfigError {
            var: KEY_VAR.into(),
            value: "(unset)".into(),
            reason: "is required: the key that encrypts inbox tokens and other secrets at rest \
                     (64 hex characters, e.g. `openssl rand -hex 32`); for local development \
                     only, set DEV_MODE=true to use the published development key"
                .into(),
        })
    }
}

#[derive(Clone)]
pub struct SecretCipher {
    cipher: Aes256Gcm,
    /// Keys [`token_digest`](Self::token_digest): derived from the operator's key, never the
    /// AES key itself (one key, one use).
    digest_key: Hmac<Sha256>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("the key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("the ciphertext is damaged or was made with another key")]
    Undecryptable,
}

impl SecretCipher {
    /// The cipher for a [`KeySetting`]; the development key comes with a warning.
    pub fn from_setting(setting: &KeySetting) -> Result<Self, CipherError> {
        match setting {
            KeySetting::Operator(key) => Self::from_hex(key.expose_secret()),
            KeySetting::Development => {
                tracing::warn!(
                    "DEV_MODE: secrets at rest use the published development key; \
                     set SECRETS_KEY for anything real"
                );
                Self::from_hex(DEVELOPMENT_KEY_HEX)
            }
        }
    }

    pub fn from_hex(key_hex: &str) -> Result<Self, CipherError> {
        let bytes = hex::decode(key_hex.trim()).map_err(|_| CipherError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CipherError::BadKey);
        }
        let mut derivation = mac(&bytes);
        derivation.update(b"wuzapi-manager inbox token digest v1");
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            digest_key: mac(&derivation.finalize().into_bytes()),
        })
    }

    /// A keyed digest (HMAC-SHA256) of a WUZAPI user token on its server, to find a second
    /// registration of the same pair: the tokens themselves are encrypted with random nonces,
    /// so equal tokens never have equal ciphertexts. `server` is the normalised base URL
    /// (`common::wuzapi_url::NormalisedUrl`). Keyed, so the digest of a guessed token cannot be
    /// computed by whoever reads the database without the key.
    pub fn token_digest(&self, server: &str, token: &str) -> Vec<u8> {
        let mut mac = self.digest_key.clone();
        // The server's length first: no (server, token) pair feeds the bytes of another.
        mac.update(&(server.len() as u64).to_be_bytes());
        mac.update(server.as_bytes());
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().to_vec()
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

    pub fn decrypt(&self, stored: &[u8]) -> Result<SecretString, CipherError> {
        if stored.len() <= NONCE_LEN {
            return Err(CipherError::Undecryptable);
        }
        let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CipherError::Undecryptable)?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| CipherError::Undecryptable)
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
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
    fn token_digests_are_equal_for_equal_pairs_only_and_keyed() {
        let cipher = SecretCipher::from_hex(DEVELOPMENT_KEY_HEX).unwrap();
        let digest = cipher.token_digest("http://wuzapi:8080", "tok");
        assert_eq!(digest.len(), 32);
        assert_eq!(digest, cipher.token_digest("http://wuzapi:8080", "tok"));
        assert_ne!(digest, cipher.token_digest("http://wuzapi:8081", "tok"));
        assert_ne!(digest, cipher.token_digest("http://wuzapi:8080", "tok2"));
        // The boundary between server and token is part of what is digested.
        assert_ne!(
            cipher.token_digest("http://a", "bc"),
            cipher.token_digest("http://ab", "c")
        );
        let other = SecretCipher::from_hex(&"ab".repeat(32)).unwrap();
        assert_ne!(digest, other.token_digest("http://wuzapi:8080", "tok"));
    }

    #[test]
    fn round_trips_and_detects_tampering() {
        let cipher = SecretCipher::from_hex(DEVELOPMENT_KEY_HEX).unwrap();
        let stored = cipher.encrypt("user-token-123");
        assert!(
            !stored.windows(5).any(|w| w == b"token"),
            "plaintext must not leak"
        );
        assert_eq!(
            cipher.decrypt(&stored).unwrap().expose_secret(),
            "user-token-123"
        );
        assert_ne!(stored, cipher.encrypt("user-token-123"), "nonces are fresh");

        let mut damaged = stored.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert_eq!(
            cipher.decrypt(&damaged).unwrap_err(),
            CipherError::Undecryptable
        );

        let other = SecretCipher::from_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(
            other.decrypt(&stored).unwrap_err(),
            CipherError::Undecryptable
        );
    }

    #[test]
    fn refuses_bad_keys_and_hints_only_the_tail() {
        assert!(SecretCipher::from_hex("abc").is_err());
        assert!(SecretCipher::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(hint("user-token-123"), "…-123");
        assert_eq!(hint("ab"), "…ab");
    }

    #[test]
    fn a_service_needs_a_key_unless_development_mode_is_explicit() {
        let none = KeySetting::from_env(&Env::from_pairs([])).unwrap_err();
        assert_eq!(none.var, KEY_VAR);
        assert!(none.reason.contains("DEV_MODE=true"), "{}", none.reason);

        let dev = KeySetting::from_env(&Env::from_pairs([(DEV_MODE_VAR, "true")])).unwrap();
        assert!(matches!(dev, KeySetting::Development));
        let off = KeySetting::from_env(&Env::from_pairs([(DEV_MODE_VAR, "false")])).unwrap_err();
        assert_eq!(off.var, KEY_VAR);

        let key = "ab".repeat(32);
        let set = KeySetting::from_env(&Env::from_pairs([(KEY_VAR, key.as_str())])).unwrap();
        assert!(matches!(&set, KeySetting::Operator(k) if k.expose_secret() == key));
        assert!(!format!("{set:?}").contains(&key), "the key never prints");
        let legacy = KeySetting::from_env(&Env::from_pairs([(LEGACY_KEY_VAR, key.as_str())]));
        assert!(matches!(legacy, Ok(KeySetting::Operator(_))));

        let bad = KeySetting::from_env(&Env::from_pairs([
            (KEY_VAR, "short"),
            (DEV_MODE_VAR, "true"),
        ]))
        .unwrap_err();
        assert_eq!(bad.var, KEY_VAR);
        assert_eq!(bad.value, "(hidden)");
    }

    #[test]
    fn decrypted_secrets_do_not_print() {
        let cipher = SecretCipher::from_hex(DEVELOPMENT_KEY_HEX).unwrap();
        let secret = cipher.decrypt(&cipher.encrypt("user-token-123")).unwrap();
        assert!(!format!("{secret:?}").contains("token"));
    }
}
