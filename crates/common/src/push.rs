//! Web Push keys: the VAPID key pair the platform signs pushes with (RFC 8292), and the checks
//! a browser's subscription keys must pass (RFC 8291: a P-256 public key and an auth secret).
//!
//! `VAPID_PRIVATE_KEY` is the raw P-256 scalar in base64url (what `web-push generate-vapid-keys`
//! and most generators print) or a PEM (SEC1 `EC PRIVATE KEY` or PKCS#8 `PRIVATE KEY`). The
//! gateway needs only the public half: it derives it from `VAPID_PRIVATE_KEY`, or takes
//! `VAPID_PUBLIC_KEY` alone so the private key can stay with the notification worker.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, Env};

pub const PRIVATE_KEY_VAR: &str = "VAPID_PRIVATE_KEY";
pub const PUBLIC_KEY_VAR: &str = "VAPID_PUBLIC_KEY";
pub const SUBJECT_VAR: &str = "VAPID_SUBJECT";
const DEV_MODE_VAR: &str = "DEV_MODE";

/// The development VAPID key, published in this repository: it protects nothing. Only
/// `DEV_MODE=true` uses it, when `VAPID_PRIVATE_KEY` is unset.
pub const DEVELOPMENT_PRIVATE_KEY: &str = "LjBAd5FPjyATr0bUyk2SN0nW1Ph_61Bf_bWy-MFGRfI";
/// The development key's contact, as VAPID requires one.
pub const DEVELOPMENT_SUBJECT: &str = "mailto:dev@localhost";

/// The platform's VAPID private key. Its `Debug` shows no key material.
#[derive(Clone)]
pub struct VapidKey {
    /// base64url of the 32-byte scalar, as `web-push` takes it.
    scalar: SecretString,
    public: Vec<u8>,
    /// Whether this is [`DEVELOPMENT_PRIVATE_KEY`].
    pub development: bool,
}

impl fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_key_base64())
            .field("development", &self.development)
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    /// Reads a raw base64url scalar or a PEM.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let secret = if value.starts_with("-----BEGIN") {
            let pem = value.replace("\\n", "\n");
            p256::SecretKey::from_sec1_pem(&pem)
                .or_else(|_| {
                    use p256::pkcs8::DecodePrivateKey;
                    p256::SecretKey::from_pkcs8_pem(&pem)
                })
                .map_err(|_| "not a P-256 private key in PEM (SEC1 or PKCS#8)".to_owned())?
        } else {
            let bytes = URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map_err(|_| "neither base64url nor PEM".to_owned())?;
            if bytes.len() != 32 {
                return Err(format!(
                    "a raw P-256 private key is 32 bytes, this is {}",
                    bytes.len()
                ));
            }
            p256::SecretKey::from_slice(&bytes)
                .map_err(|_| "not a valid P-256 private key".to_owned())?
        };
        let public = secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        Ok(Self {
            scalar: SecretString::from(URL_SAFE_NO_PAD.encode(secret.to_bytes())),
            public,
            development: false,
        })
    }

    /// `VAPID_PRIVATE_KEY`; without it, the development key under `DEV_MODE=true`, else `None`.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        if let Some(value) = env.optional(PRIVATE_KEY_VAR) {
            return Self::parse(&value).map(Some).map_err(|reason| ConfigError {
                var: PRIVATE_KEY_VAR.into(),
                // Never echo a private key.
                value: "(hidden)".into(),
                reason,
            });
        }
        if env.parse(DEV_MODE_VAR, false)? {
            let mut key = Self::parse(DEVELOPMENT_PRIVATE_KEY).expect("the development key parses");
            key.development = true;
            return Ok(Some(key));
        }
        Ok(None)
    }

    /// base64url of the raw scalar (for `web_push::VapidSignatureBuilder::from_base64_no_sub`).
    pub fn expose_scalar_base64(&self) -> &str {
        self.scalar.expose_secret()
    }

    /// The uncompressed public key (65 bytes).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The public key in base64url: the `applicationServerKey` a browser subscribes with.
    pub fn public_key_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.public)
    }
}

/// The VAPID public key the gateway hands browsers: `VAPID_PUBLIC_KEY`, or derived from
/// `VAPID_PRIVATE_KEY` (or the development key under `DEV_MODE=true`). `None`: Web Push is not
/// configured, and `GET /api/push/vapid-public-key` says so. Both set but not a pair is an error.
pub fn public_key_from_env(env: &Env) -> Result<Option<String>, ConfigError> {
    let explicit = env
        .optional(PUBLIC_KEY_VAR)
        .map(|value| {
            check_public_key(&value)
                .map(|_| value.trim().trim_end_matches('=').to_owned())
                .map_err(|reason| ConfigError {
                    var: PUBLIC_KEY_VAR.into(),
                    value: value.clone(),
                    reason,
                })
        })
        .transpose()?;
    let derived = if env.optional(PRIVATE_KEY_VAR).is_some() || explicit.is_none() {
        VapidKey::from_env(env)?.map(|key| key.public_key_base64())
    } else {
        None
    };
    match (explicit, derived) {
        (Some(explicit), Some(derived)) if explicit != derived => Err(ConfigError {
            var: PUBLIC_KEY_VAR.into(),
            value: explicit,
            reason: format!("is not the public key of {PRIVATE_KEY_VAR}"),
        }),
        (Some(key), _) | (None, Some(key)) => Ok(Some(key)),
        (None, None) => Ok(None),
    }
}

/// `VAPID_SUBJECT`: the contact push services may write to, `mailto:` or `https:`.
pub fn subject_from_env(env: &Env, key: &VapidKey) -> Result<String, ConfigError> {
    let Some(subject) = env.optional(SUBJECT_VAR) else {
        if key.development {
            return Ok(DEVELOPMENT_SUBJECT.to_owned());
        }
        return Err(ConfigError {
            var: SUBJECT_VAR.into(),
            value: String::new(),
            reason: "required with VAPID_PRIVATE_KEY: a mailto: or https: URL push services can reach you at".into(),
        });
    };
    let valid = match url::Url::parse(&subject) {
        Ok(url) if url.scheme() == "mailto" => url.path().contains('@'),
        Ok(url) if url.scheme() == "https" => url.host_str().is_some(),
        _ => false,
    };
    if !valid {
        return Err(ConfigError {
            var: SUBJECT_VAR.into(),
            value: subject,
            reason: "must be a mailto: address or an https: URL".into(),
        });
    }
    Ok(subject)
}

/// Where push endpoints may point: the gateway checks it when a browser subscribes, and
/// `worker-notification` again at every connection (through `crates/egress`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTargets {
    /// `WEB_PUSH_ALLOW_PRIVATE` (false): endpoints may be loopback, private, link-local and
    /// other non-public addresses, on any port (a self-hosted push service, tests).
    pub allow_private: bool,
    /// `WEB_PUSH_ALLOWED_PORTS` (`443`): the ports an endpoint may name otherwise.
    pub ports: Vec<u16>,
}

pub const ALLOW_PRIVATE_VAR: &str = "WEB_PUSH_ALLOW_PRIVATE";
pub const ALLOWED_PORTS_VAR: &str = "WEB_PUSH_ALLOWED_PORTS";

impl PushTargets {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let ports = match env.optional(ALLOWED_PORTS_VAR) {
            None => vec![443],
            Some(text) => text
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0))
                .collect::<Option<Vec<u16>>>()
                .filter(|ports| !ports.is_empty())
                .ok_or_else(|| ConfigError {
                    var: ALLOWED_PORTS_VAR.into(),
                    value: text.clone(),
                    reason: "comma-separated ports from 1 to 65535, e.g. `443,8443`".into(),
                })?,
        };
        Ok(Self {
            allow_private: env.parse(ALLOW_PRIVATE_VAR, false)?,
            ports,
        })
    }
}

/// Checks a `p256dh` key: base64url (padding tolerated) of an uncompressed P-256 point (65
/// bytes, `0x04` first) that lies on the curve.
pub fn check_public_key(value: &str) -> Result<Vec<u8>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(value.trim().trim_end_matches('='))
        .map_err(|_| "must be base64url".to_owned())?;
    if bytes.len() != 65 || bytes[0] != 0x04 {
        return Err(format!(
            "must be an uncompressed P-256 point (65 bytes starting with 0x04), got {} bytes",
            bytes.len()
        ));
    }
    p256::PublicKey::from_sec1_bytes(&bytes)
        .map_err(|_| "is not a point on the P-256 curve".to_owned())?;
    Ok(bytes)
}

/// Checks an `auth` secret: base64url of 16 bytes.
pub fn check_auth_secret(value: &str) -> Result<Vec<u8>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(value.trim().trim_end_matches('='))
        .map_err(|_| "must be base64url".to_owned())?;
    if bytes.len() != 16 {
        return Err(format!("must be 16 bytes, got {}", bytes.len()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_targets_default_to_public_addresses_on_443() {
        let targets = PushTargets::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(
            targets,
            PushTargets {
                allow_private: false,
                ports: vec![443]
            }
        );
        let env = Env::from_pairs([
            (ALLOWED_PORTS_VAR, "443, 8443"),
            (ALLOW_PRIVATE_VAR, "true"),
        ]);
        let targets = PushTargets::from_env(&env).unwrap();
        assert_eq!(targets.ports, [443, 8443]);
        assert!(targets.allow_private);
        for bad in ["0", "https", "443,70000", ","] {
            let env = Env::from_pairs([(ALLOWED_PORTS_VAR, bad)]);
            assert_eq!(
                PushTargets::from_env(&env).unwrap_err().var,
                ALLOWED_PORTS_VAR,
                "{bad}"
            );
        }
    }

    use super::*;

    const DEV_PUBLIC: &str =
        "BH_QI_qCbSPhyQ_vvAo2ENQNcBYPQPgEntkils49XC4lzOK_XY_gCO39_R7h8p4rV855qv2O-4wCFlpSsRFt2VA";

    #[test]
    fn the_development_key_derives_its_published_public_key() {
        let key = VapidKey::parse(DEVELOPMENT_PRIVATE_KEY).unwrap();
        assert_eq!(key.public_key_base64(), DEV_PUBLIC);
        assert!(!format!("{key:?}").contains(DEVELOPMENT_PRIVATE_KEY));
    }

    #[test]
    fn keys_come_from_the_environment_or_dev_mode_or_not_at_all() {
        assert!(VapidKey::from_env(&Env::from_pairs([])).unwrap().is_none());
        let dev = VapidKey::from_env(&Env::from_pairs([("DEV_MODE", "true")]))
            .unwrap()
            .unwrap();
        assert!(dev.development);
        let bad = VapidKey::from_env(&Env::from_pairs([(PRIVATE_KEY_VAR, "c2hvcnQ")])).unwrap_err();
        assert_eq!(bad.var, PRIVATE_KEY_VAR);
        assert!(!bad.to_string().contains("c2hvcnQ"), "{bad}");

        let public = public_key_from_env(&Env::from_pairs([(PUBLIC_KEY_VAR, DEV_PUBLIC)])).unwrap();
        assert_eq!(public.as_deref(), Some(DEV_PUBLIC));
        let mismatch = public_key_from_env(&Env::from_pairs([
            (PUBLIC_KEY_VAR, DEV_PUBLIC),
            (
                PRIVATE_KEY_VAR,
                "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
            ),
        ]))
        .unwrap_err();
        assert_eq!(mismatch.var, PUBLIC_KEY_VAR);
    }

    #[test]
    fn subjects_are_mailto_or_https() {
        let key = VapidKey::parse(DEVELOPMENT_PRIVATE_KEY).unwrap();
        for good in ["mailto:ops@example.com", "https://example.com/contact"] {
            let env = Env::from_pairs([(SUBJECT_VAR, good)]);
            assert_eq!(subject_from_env(&env, &key).unwrap(), good);
        }
        for bad in ["ops@example.com", "http://example.com", "mailto:nobody"] {
            let env = Env::from_pairs([(SUBJECT_VAR, bad)]);
            assert_eq!(subject_from_env(&env, &key).unwrap_err().var, SUBJECT_VAR);
        }
        assert!(subject_from_env(&Env::from_pairs([]), &key).is_err());
    }

    #[test]
    fn subscription_keys_are_checked() {
        assert!(check_public_key(DEV_PUBLIC).is_ok());
        // Right length and prefix, but not on the curve.
        let off_curve = URL_SAFE_NO_PAD.encode([[4u8].as_slice(), &[1u8; 64]].concat());
        assert!(check_public_key(&off_curve).unwrap_err().contains("curve"));
        assert!(check_public_key("AAAA").unwrap_err().contains("65 bytes"));
        assert!(check_public_key("not base64!").is_err());
        assert!(check_auth_secret("AAAAAAAAAAAAAAAAAAAAAA").is_ok());
        assert!(check_auth_secret("AAAA").unwrap_err().contains("16 bytes"));
    }
}
