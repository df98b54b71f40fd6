//! Verification of the `Stripe-Signature` header of a webhook delivery, as Stripe documents it
//! (<https://docs.stripe.com/webhooks#verify-manually>).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a delivery's timestamp may be from now, either way: Stripe's default tolerance.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was refused. The messages name no secret and no signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    MissingHeader,
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the Stripe-Signature header carries no v1 signature")]
    NoV1Signature,
    #[error("no v1 signature matches the payload and the endpoint's signing secret")]
    Mismatch,
    #[error("the signature timestamp is {seconds} s from now; at most {tolerance} s is accepted")]
    OutsideTolerance { seconds: i64, tolerance: i64 },
}

/// The parts of a `Stripe-Signature` header: `t=<unix>,v1=<hex>[,v1=<hex>...]`.
struct Header<'a> {
    timestamp: i64,
    v1: Vec<&'a str>,
}

fn parse_header(header: &str) -> Result<Header<'_>, SignatureError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let (scheme, value) = item
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("every item must be `key=value`"))?;
        match scheme {
            "t" if timestamp.is_some() => {
                return Err(SignatureError::Malformed("more than one timestamp"));
            }
            "t" => {
                let seconds = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed("the timestamp is not a number"))?;
                timestamp = Some(seconds);
            }
            "v1" => v1.push(value),
            // Other schemes (`v0` from test tooling, future ones) are not ours to check.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no timestamp"))?;
    Ok(Header { timestamp, v1 })
}

/// Checks `header` (the `Stripe-Signature` value, `None` when absent) against the raw `payload`
/// and the endpoint's signing `secret`; returns the signed timestamp.
///
/// Any `v1` signature may match, so deliveries keep verifying while a secret is rolled (Stripe
/// then signs with both). The timestamp must be within `tolerance_secs` of `now`, in the past or
/// the future, which bounds how long a captured delivery can be replayed.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<DateTime<Utc>, SignatureError> {
    let header = parse_header(header.ok_or(SignatureError::MissingHeader)?)?;
    if header.v1.is_empty() {
        return Err(SignatureError::NoV1Signature);
    }
    let signed_at = DateTime::from_timestamp(header.timestamp, 0)
        .ok_or(SignatureError::Malformed("the timestamp is out of range"))?;
    let mac = signed_mac(secret, header.timestamp, payload);
    // `verify_slice` compares in constant time; a value that is not hex cannot match.
    let matches = header.v1.iter().any(|candidate| {
        hex::decode(candidate).is_ok_and(|expected| mac.clone().verify_slice(&expected).is_ok())
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    let seconds = (now - signed_at).num_seconds();
    if seconds.abs() > tolerance_secs {
        return Err(SignatureError::OutsideTolerance {
            seconds,
            tolerance: tolerance_secs,
        });
    }
    Ok(signed_at)
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `timestamp`: for tests and
/// for tools that replay events against an endpoint.
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let signature = signed_mac(secret, timestamp, payload)
        .finalize()
        .into_bytes();
    format!("t={timestamp},v1={}", hex::encode(signature))
}

/// HMAC-SHA256 keyed with `secret` over `"{timestamp}.{payload}"`.
fn signed_mac(secret: &str, timestamp: i64, payload: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    const SIGNED_AT: i64 = 1_700_000_000;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn check(header: Option<&str>, body: &[u8], now: i64) -> Result<DateTime<Utc>, SignatureError> {
        verify(header, body, SECRET, at(now), DEFAULT_TOLERANCE_SECS)
    }

    /// The signature computed here independently of [`sign`], from Stripe's documented recipe.
    fn expected_hex(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let mut signed = format!("{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&signed);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_valid_signature_verifies_and_returns_its_timestamp() {
        let header = format!("t={SIGNED_AT},v1={}", expected_hex(SECRET, SIGNED_AT, BODY));
        assert_eq!(header, sign(SECRET, SIGNED_AT, BODY));
        assert_eq!(
            check(Some(&header), BODY, SIGNED_AT + 10),
            Ok(at(SIGNED_AT))
        );
    }

    #[test]
    fn any_v1_may_match_while_a_secret_is_rolled() {
        let old = expected_hex("whsec_old_secret", SIGNED_AT, BODY);
        let new = expected_hex(SECRET, SIGNED_AT, BODY);
        let header = format!("t={SIGNED_AT},v1={old},v1={new}");
        assert_eq!(check(Some(&header), BODY, SIGNED_AT), Ok(at(SIGNED_AT)));
    }

    #[test]
    fn a_wrong_secret_does_not_verify() {
        let header = sign("whsec_someone_else", SIGNED_AT, BODY);
        assert_eq!(
            check(Some(&header), BODY, SIGNED_AT),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_tampered_body_does_not_verify() {
        let header = sign(SECRET, SIGNED_AT, BODY);
        let tampered = br#"{"id":"evt_2","object":"event"}"#;
        assert_eq!(
            check(Some(&header), tampered, SIGNED_AT),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: moving it forward breaks the signature.
        let moved = header.replace(&SIGNED_AT.to_string(), &(SIGNED_AT + 1).to_string());
        assert_eq!(
            check(Some(&moved), BODY, SIGNED_AT),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let header = sign(SECRET, SIGNED_AT, BODY);
        assert!(check(Some(&header), BODY, SIGNED_AT + DEFAULT_TOLERANCE_SECS).is_ok());
        assert_eq!(
            check(Some(&header), BODY, SIGNED_AT + DEFAULT_TOLERANCE_SECS + 1),
            Err(SignatureError::OutsideTolerance {
                seconds: 301,
                tolerance: 300
            })
        );
        assert!(check(Some(&header), BODY, SIGNED_AT - DEFAULT_TOLERANCE_SECS).is_ok());
        assert_eq!(
            check(Some(&header), BODY, SIGNED_AT - DEFAULT_TOLERANCE_SECS - 1),
            Err(SignatureError::OutsideTolerance {
                seconds: -301,
                tolerance: 300
            })
        );
    }

    #[test]
    fn a_missing_header_is_refused() {
        assert_eq!(
            check(None, BODY, SIGNED_AT),
            Err(SignatureError::MissingHeader)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let v1 = expected_hex(SECRET, SIGNED_AT, BODY);
        for header in [
            String::new(),
            "garbage".to_owned(),
            format!("v1={v1}"),
            format!("t=soon,v1={v1}"),
            format!("t={SIGNED_AT},t={SIGNED_AT},v1={v1}"),
            format!("t={SIGNED_AT},v1{v1}"),
            format!("t={},v1={v1}", i64::MAX),
        ] {
            assert!(
                matches!(
                    check(Some(&header), BODY, SIGNED_AT),
                    Err(SignatureError::Malformed(_))
                ),
                "{header}"
            );
        }
        // A v1 that is not hex is one that does not match.
        let header = format!("t={SIGNED_AT},v1=not-hex");
        assert_eq!(
            check(Some(&header), BODY, SIGNED_AT),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn v0_signatures_are_ignored() {
        let v0 = expected_hex(SECRET, SIGNED_AT, BODY);
        let header = format!("t={SIGNED_AT},v0={v0}");
        assert_eq!(
            check(Some(&header), BODY, SIGNED_AT),
            Err(SignatureError::NoV1Signature)
        );
        // Next to a valid v1, a v0 changes nothing.
        let header = format!("t={SIGNED_AT},v0=00,v1={v0}");
        assert!(check(Some(&header), BODY, SIGNED_AT).is_ok());
    }
}
