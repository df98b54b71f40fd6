//! Known browsers: OWASP's device-cookie defence against guessing one account's password
//! without locking its owner out.
//!
//! Each successful sign-in sets `wm_device`, an HttpOnly cookie naming a random browser id and
//! the account (tenant and email) it signed in to, tagged with an HMAC under a key derived from
//! `SECRETS_KEY` (so no one can mint one, and one issued for an account means nothing for
//! another). A sign-in attempt that presents a valid cookie for the account it names is charged
//! to that browser's own budget (`login:device:<id>`, the account limit's size); every other
//! attempt on the account (no cookie, another account's, a forged one) shares the account's
//! budget (`login:account:<tenant>:<email>`). Someone guessing the password from elsewhere
//! exhausts the shared budget only, and the owner's browser still signs in.
//!
//! Nothing is stored: the cookie is checked by its tag alone. A stolen cookie gives its thief
//! one browser's budget (5 attempts, then 1 a minute by default), no more. One cookie per
//! browser: signing in to another account replaces it.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use db::secrets::KeySetting;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

/// The cookie's name.
pub const DEVICE_COOKIE: &str = "wm_device";
/// How long a browser stays known without signing in again.
const LIFETIME_DAYS: i64 = 365;
/// The format of the cookie's value; any other version is ignored.
const VERSION: &str = "d1";
/// The HMAC-SHA256 tag, cut to 128 bits: forging one takes 2^128 tries.
const TAG_LEN: usize = 16;

/// The account a sign-in names: the tenant's slug (none for the superadmin) and the email,
/// lower-cased as the account budget keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInAccount {
    pub tenant: Option<String>,
    pub email: String,
}

impl SignInAccount {
    pub fn new(tenant: Option<&str>, email: &str) -> Self {
        Self {
            tenant: tenant.map(str::to_ascii_lowercase),
            email: email.to_lowercase(),
        }
    }

    /// The budget every attempt on this account without its known browser shares.
    pub fn bucket(&self) -> String {
        format!(
            "login:account:{}:{}",
            self.tenant.as_deref().unwrap_or("-"),
            self.email
        )
    }
}

/// A browser that signed in to the account before: its own budget's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBrowser(String);

impl KnownBrowser {
    pub fn bucket(&self) -> String {
        format!("login:device:{}", self.0)
    }
}

/// The key that tags device cookies.
#[derive(Clone)]
pub struct DeviceKey(Hmac<Sha256>);

impl DeviceKey {
    /// A key of its own (HMAC of a fixed label under the operator's key), so a device tag is
    /// never a value computed with the key for any other purpose.
    pub fn derive(secrets_key: &KeySetting) -> Self {
        let secret = match secrets_key {
            KeySetting::Operator(key) => key.expose_secret().trim().to_owned(),
            KeySetting::Development => db::secrets::DEVELOPMENT_KEY_HEX.to_owned(),
        };
        let mut derivation = mac(secret.as_bytes());
        derivation.update(b"wuzapi-manager known browser key v1");
        Self(mac(&derivation.finalize().into_bytes()))
    }

    fn tag(&self, account: &SignInAccount, browser: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        // NUL-separated: neither the slug nor an email holds one, so no two accounts feed the
        // same bytes.
        mac.update(account.tenant.as_deref().unwrap_or("").as_bytes());
        mac.update(&[0, u8::from(account.tenant.is_some()), 0]);
        mac.update(account.email.as_bytes());
        mac.update(&[0]);
        mac.update(browser.as_bytes());
        mac
    }

    /// The browser of the request's cookie, when the cookie was issued for `account`.
    pub fn recognise(&self, req: &HttpRequest, account: &SignInAccount) -> Option<KnownBrowser> {
        let cookie = req.cookie(DEVICE_COOKIE)?;
        let mut parts = cookie.value().split('.');
        let (Some(VERSION), Some(browser), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if browser.len() != 32 || !browser.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let tag = hex::decode(tag).ok()?;
        self.tag(account, browser)
            .verify_truncated_left(&tag)
            .ok()
            .filter(|()| tag.len() == TAG_LEN)
            .map(|()| KnownBrowser(browser.to_owned()))
    }

    /// A new cookie naming a new browser id for `account`.
    pub fn issue(&self, account: &SignInAccount, secure: bool) -> Cookie<'static> {
        let browser = hex::encode(rand_bytes());
        let tag = self.tag(account, &browser).finalize().into_bytes();
        let value = format!("{VERSION}.{browser}.{}", hex::encode(&tag[..TAG_LEN]));
        Cookie::build(DEVICE_COOKIE, value)
            // Only sign-in reads it.
            .path("/api/auth")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .max_age(actix_web::cookie::time::Duration::days(LIFETIME_DAYS))
            .finish()
    }
}

fn rand_bytes() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request_with(cookie: &Cookie<'_>) -> HttpRequest {
        TestRequest::default()
            .cookie(Cookie::new(DEVICE_COOKIE, cookie.value().to_owned()))
            .to_http_request()
    }

    #[test]
    fn a_cookie_is_known_for_its_own_account_only() {
        let key = DeviceKey::derive(&KeySetting::Development);
        let ana = SignInAccount::new(Some("Acme"), "Ana@acme.example");
        let cookie = key.issue(&ana, true);
        assert!(cookie.http_only().unwrap_or(false));
        let known = key.recognise(&request_with(&cookie), &ana).unwrap();
        assert!(known.bucket().starts_with("login:device:"));
        // Same email, case aside: the same account.
        assert_eq!(
            key.recognise(
                &request_with(&cookie),
                &SignInAccount::new(Some("acme"), "ana@ACME.example")
            ),
            Some(known.clone())
        );
        // Another account, another tenant, the superadmin: unknown.
        for other in [
            SignInAccount::new(Some("acme"), "bia@acme.example"),
            SignInAccount::new(Some("other"), "ana@acme.example"),
            SignInAccount::new(None, "ana@acme.example"),
        ] {
            assert_eq!(key.recognise(&request_with(&cookie), &other), None);
        }
        // Another deployment's key.
        let other_key = DeviceKey::derive(&KeySetting::Operator("ab".repeat(32).into()));
        assert_eq!(other_key.recognise(&request_with(&cookie), &ana), None);
        // Each issue is a new browser id.
        let again = key.issue(&ana, true);
        assert_ne!(key.recognise(&request_with(&again), &ana), Some(known));
    }

    #[test]
    fn tampered_or_malformed_cookies_are_unknown() {
        let key = DeviceKey::derive(&KeySetting::Development);
        let ana = SignInAccount::new(Some("acme"), "ana@acme.example");
        let value = key.issue(&ana, false).value().to_owned();
        let (head, tag) = value.rsplit_once('.').unwrap();
        let flipped = format!(
            "{head}.{}{}",
            if tag.starts_with('0') { '1' } else { '0' },
            &tag[1..]
        );
        let short = format!("{head}.{}", &tag[..8]);
        for bad in [
            flipped.as_str(),
            short.as_str(),
            "d1.zz.00",
            "",
            "d2.00000000000000000000000000000000.00",
            &format!("{value}.extra"),
        ] {
            let req = TestRequest::default()
                .cookie(Cookie::new(DEVICE_COOKIE, bad.to_owned()))
                .to_http_request();
            assert_eq!(key.recognise(&req, &ana), None, "{bad}");
        }
    }
}
