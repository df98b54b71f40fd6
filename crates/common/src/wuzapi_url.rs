//! Which WUZAPI servers an inbox may point at.
//!
//! An inbox's WUZAPI URL is where the campaign worker sends the inbox's token and every message
//! body, from inside the platform's network. Letting a tenant choose any URL would let them make
//! the platform call its own internal services (the database's admin port, the cloud metadata
//! endpoint, ...). So the operator decides: a URL is accepted only when its host is the host of
//! the default server (`WUZAPI_URL`) or is listed in `WUZAPI_ALLOWED_HOSTS`.
//!
//! `WUZAPI_ALLOWED_HOSTS` is a comma-separated list of `host` (any port) or `host:port` entries,
//! e.g. `wuzapi-1.internal,wuzapi-2.internal:8080,[fd00::10]:8080`. Loopback, unspecified,
//! link-local and cloud metadata hosts (`127.0.0.0/8`, `::1`, `0.0.0.0`, `169.254.0.0/16`,
//! `fe80::/10`, `169.254.169.254`, `fd00:ec2::254`, `100.100.100.200`, `metadata.google.internal`,
//! `metadata`, `localhost`) are refused even on an allowed port unless that exact host is listed or is the
//! default server's host. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) counts as its IPv4.
//!
//! Which *addresses* those hosts may be reached at is the egress guard's business
//! ([`WuzapiUrlPolicy::trusted_hosts`]): the default server's host and listed IP addresses are
//! the operator's and reached whatever they are; listed names must resolve to public addresses
//! unless `WUZAPI_ALLOW_PRIVATE=true`, checked at creation and at every connection.
//!
//! The gateway checks a URL when an inbox is created; the worker checks the stored URL again
//! before it sends, so narrowing the list takes effect for existing inboxes too:
//!
//! ```
//! use common::config::Env;
//! use common::wuzapi_url::{UrlRefused, WuzapiUrlPolicy};
//!
//! let env = Env::from_pairs([
//!     ("WUZAPI_URL", "http://wuzapi.internal:8080"),
//!     ("WUZAPI_ALLOWED_HOSTS", "wuzapi-eu.internal:443"),
//! ]);
//! let policy = WuzapiUrlPolicy::from_env(&env).unwrap();
//! assert_eq!(
//!     policy.check("https://wuzapi-eu.internal/").unwrap().as_str(),
//!     "https://wuzapi-eu.internal"
//! );
//! assert!(matches!(
//!     policy.check("http://169.254.169.254/latest/meta-data"),
//!     Err(UrlRefused::InternalAddress { .. })
//! ));
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::config::{ConfigError, DEFAULT_WUZAPI_URL, Env, redact_url};

/// The variable that lists the extra hosts inboxes may use.
pub const ALLOWED_HOSTS_VAR: &str = "WUZAPI_ALLOWED_HOSTS";
/// The variable that names the default WUZAPI server (always allowed).
pub const DEFAULT_URL_VAR: &str = "WUZAPI_URL";
/// The variable that lets the names in [`ALLOWED_HOSTS_VAR`] resolve to private addresses.
pub const ALLOW_PRIVATE_VAR: &str = "WUZAPI_ALLOW_PRIVATE";
/// Longest URL accepted; real WUZAPI base URLs are far shorter.
pub const MAX_URL_LEN: usize = 2048;

/// Why a WUZAPI URL was refused, in words a tenant can act on. None of them lists the allowed
/// hosts: they are the operator's internal names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlRefused {
    #[error("the WUZAPI URL is not a valid URL ({0}); write it like https://wuzapi.example.com")]
    NotAUrl(String),
    #[error("the WUZAPI URL must be at most {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the WUZAPI URL must start with http:// or https://, not {0}://")]
    Scheme(String),
    #[error(
        "the WUZAPI URL must not contain a user name or password; the WUZAPI user token goes in `token`"
    )]
    Credentials,
    #[error("the WUZAPI URL must not have a query string (`?`) or a fragment (`#`)")]
    QueryOrFragment,
    #[error(
        "`{host}` is a loopback, link-local or cloud metadata address and cannot be used as a WUZAPI server; leave the URL out to use the platform's WUZAPI server"
    )]
    InternalAddress { host: String },
    #[error(
        "`{host}` is not an allowed WUZAPI server; leave the URL out to use the platform's WUZAPI server, or ask the platform operator to allow this host"
    )]
    HostNotAllowed { host: String },
}

/// A WUZAPI base URL that passed [`WuzapiUrlPolicy::check`]: parsed and re-serialised (lower-case
/// host, default port dropped, IPv4 in dotted form) and without a trailing `/`, so
/// `format!("{url}/chat/send/text")` is the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalisedUrl(String);

impl NormalisedUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for NormalisedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for NormalisedUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<NormalisedUrl> for String {
    fn from(url: NormalisedUrl) -> Self {
        url.0
    }
}

/// A host as compared by the policy: IPs by value (IPv4-mapped IPv6 as IPv4), names in lower
/// case without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKey {
    Ip(IpAddr),
    Name(String),
}

impl HostKey {
    fn of(host: &Host<impl AsRef<str>>) -> Self {
        match host {
            Host::Domain(name) => {
                HostKey::Name(name.as_ref().trim_end_matches('.').to_ascii_lowercase())
            }
            Host::Ipv4(ip) => HostKey::Ip(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => HostKey::Ip(IpAddr::V4(v4)),
                None => HostKey::Ip(IpAddr::V6(*ip)),
            },
        }
    }

    /// Loopback, unspecified, link-local or a cloud metadata endpoint.
    fn is_internal(&self) -> bool {
        const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
        match self {
            HostKey::Ip(IpAddr::V4(ip)) => {
                ip.is_loopback()
                    || ip.is_unspecified()
                    // 0.0.0.0/8 is "this network"; Linux connects 0.x.y.z to the local host.
                    || ip.octets()[0] == 0
                    // Includes 169.254.169.254, the metadata endpoint of most clouds.
                    || ip.is_link_local()
                    || *ip == Ipv4Addr::new(100, 100, 100, 200)
            }
            HostKey::Ip(IpAddr::V6(ip)) => {
                ip.is_loopback()
                    || ip.is_unspecified()
                    || (ip.segments()[0] & 0xffc0) == 0xfe80
                    || *ip == AWS_METADATA_V6
            }
            HostKey::Name(name) => {
                matches!(
                    name.as_str(),
                    "metadata" | "metadata.google.internal" | "localhost"
                ) || name.ends_with(".localhost")
            }
        }
    }
}

/// One `WUZAPI_ALLOWED_HOSTS` entry; `port: None` allows every port of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    host: HostKey,
    port: Option<u16>,
}

/// The operator's rule for inbox WUZAPI URLs: the default server plus `WUZAPI_ALLOWED_HOSTS`.
#[derive(Debug, Clone)]
pub struct WuzapiUrlPolicy {
    default_url: NormalisedUrl,
    default_host: HostKey,
    default_port: u16,
    allowed: Vec<AllowedHost>,
    /// `WUZAPI_ALLOW_PRIVATE`: the allowed host *names* may resolve to non-public addresses.
    private_names: bool,
}

impl WuzapiUrlPolicy {
    /// Reads `WUZAPI_URL` and `WUZAPI_ALLOWED_HOSTS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let default_url = env.string(DEFAULT_URL_VAR, DEFAULT_WUZAPI_URL);
        let allowed_hosts = env.optional(ALLOWED_HOSTS_VAR).unwrap_or_default();
        Ok(Self::new(&default_url, &allowed_hosts)?
            .with_private_names(env.parse(ALLOW_PRIVATE_VAR, false)?))
    }

    /// Whether the host names of `WUZAPI_ALLOWED_HOSTS` may resolve to non-public addresses
    /// (`WUZAPI_ALLOW_PRIVATE`; default no).
    #[must_use]
    pub fn with_private_names(mut self, allowed: bool) -> Self {
        self.private_names = allowed;
        self
    }

    /// The hosts whose addresses the egress guard (`crates/egress`) does not check when an
    /// inbox's server is connected to: what the operator chose and cannot be changed by
    /// anyone's DNS. That is the default server's host (the platform's own WUZAPI, usually on
    /// the private network), the IP addresses listed in `WUZAPI_ALLOWED_HOSTS` (the operator
    /// wrote the address), and the names listed there only with `WUZAPI_ALLOW_PRIVATE=true`.
    /// Without it a listed name must resolve to public addresses, at creation and at every
    /// connection: its DNS may be someone else's (a partner's WUZAPI), and could point it at
    /// the platform's own network.
    pub fn trusted_hosts(&self) -> Vec<String> {
        std::iter::once(&self.default_host)
            .chain(
                self.allowed
                    .iter()
                    .map(|a| &a.host)
                    .filter(|host| self.private_names || matches!(host, HostKey::Ip(_))),
            )
            .map(|host| match host {
                HostKey::Ip(ip) => ip.to_string(),
                HostKey::Name(name) => name.clone(),
            })
            .collect()
    }

    /// `default_url` as `WUZAPI_URL`, `allowed_hosts` as `WUZAPI_ALLOWED_HOSTS` (may be empty).
    /// Errors name the variable the value would have come from.
    pub fn new(default_url: &str, allowed_hosts: &str) -> Result<Self, ConfigError> {
        let default_error = |reason: String| ConfigError {
            var: DEFAULT_URL_VAR.to_owned(),
            value: redact_url(default_url),
            reason,
        };
        let url = Url::parse(default_url.trim()).map_err(|e| default_error(e.to_string()))?;
        let (default_url, host, port) =
            structural_check(&url).map_err(|e| default_error(e.to_string()))?;
        let allowed = allowed_hosts
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                parse_allowed_host(entry).map_err(|reason| ConfigError {
                    var: ALLOWED_HOSTS_VAR.to_owned(),
                    value: entry.to_owned(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            default_url,
            default_host: host,
            default_port: port,
            allowed,
            private_names: false,
        })
    }

    /// The default WUZAPI server (`WUZAPI_URL`), normalised like [`check`](Self::check) does.
    pub fn default_url(&self) -> &NormalisedUrl {
        &self.default_url
    }

    /// Accepts `url` as an inbox's WUZAPI base URL, or says why not.
    ///
    /// Rules: `http` or `https`; no user name or password; no query or fragment; the host and
    /// port are the default server's or match an allowed entry; and a loopback, unspecified,
    /// link-local or cloud metadata host is refused unless that exact host is allowed or is the
    /// default server's host. Host names are compared as written, never resolved: allow only
    /// names the operator controls.
    pub fn check(&self, url: &str) -> Result<NormalisedUrl, UrlRefused> {
        let raw = url.trim();
        if raw.len() > MAX_URL_LEN {
            return Err(UrlRefused::TooLong);
        }
        let parsed = Url::parse(raw).map_err(|e| UrlRefused::NotAUrl(e.to_string()))?;
        let (normalised, host, port) = structural_check(&parsed)?;
        if host == self.default_host && port == self.default_port {
            return Ok(normalised);
        }
        let shown = || display_host(&parsed, port);
        if host.is_internal()
            && host != self.default_host
            && !self.allowed.iter().any(|a| a.host == host)
        {
            return Err(UrlRefused::InternalAddress { host: shown() });
        }
        let allowed = self
            .allowed
            .iter()
            .any(|a| a.host == host && a.port.is_none_or(|p| p == port));
        if allowed {
            Ok(normalised)
        } else {
            Err(UrlRefused::HostNotAllowed { host: shown() })
        }
    }
}

/// The rules that do not depend on the allow-list; returns the normalised URL, host and port.
fn structural_check(url: &Url) -> Result<(NormalisedUrl, HostKey, u16), UrlRefused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefused::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UrlRefused::QueryOrFragment);
    }
    // http(s) URLs always have a host and a known default port once parsed.
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Err(UrlRefused::NotAUrl("it names no host".into()));
    };
    let normalised = NormalisedUrl(url.as_str().trim_end_matches('/').to_owned());
    Ok((normalised, HostKey::of(&host), port))
}

fn display_host(url: &Url, port: u16) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(_) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_allowed_host(entry: &str) -> Result<AllowedHost, String> {
    const FORMAT: &str = "entries are `host` or `host:port` separated by commas (IPv6 in brackets: `[fd00::1]:8080`)";
    if entry
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#'))
    {
        return Err(format!("`{entry}` is not a host: {FORMAT}"));
    }
    let (host, port) = match entry.strip_prefix('[') {
        Some(rest) => {
            let (inner, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{entry}` has no closing `]`: {FORMAT}"))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| {
                    format!("`{entry}` has text after `]` that is not `:port`: {FORMAT}")
                })?),
            };
            (&entry[..inner.len() + 2], port)
        }
        None => match entry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        },
    };
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(format!("`{entry}` has an invalid port: {FORMAT}")),
        })
        .transpose()?;
    if host.is_empty() {
        return Err(format!("`{entry}` names no host: {FORMAT}"));
    }
    let host = Host::parse(host).map_err(|e| format!("`{entry}` is not a host ({e}): {FORMAT}"))?;
    Ok(AllowedHost {
        host: HostKey::of(&host),
        port,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_operators_own_hosts_are_trusted_and_listed_names_only_when_allowed() {
        let listed = "wuzapi-eu.example.com,[fd00::10]:8080,10.1.2.3";
        let policy = policy("http://WUZAPI:8080", listed);
        assert_eq!(
            policy.trusted_hosts(),
            ["wuzapi", "fd00::10", "10.1.2.3"],
            "a listed name must resolve publicly"
        );
        let policy = policy.with_private_names(true);
        assert_eq!(
            policy.trusted_hosts(),
            ["wuzapi", "wuzapi-eu.example.com", "fd00::10", "10.1.2.3"]
        );
        let env = Env::from_pairs([
            ("WUZAPI_ALLOWED_HOSTS", "a.example"),
            ("WUZAPI_ALLOW_PRIVATE", "true"),
        ]);
        assert!(
            WuzapiUrlPolicy::from_env(&env)
                .unwrap()
                .trusted_hosts()
                .contains(&"a.example".to_owned())
        );
    }

    use super::*;

    fn policy(default: &str, allowed: &str) -> WuzapiUrlPolicy {
        WuzapiUrlPolicy::new(default, allowed).expect("valid policy")
    }

    fn accepted(policy: &WuzapiUrlPolicy, url: &str) -> String {
        match policy.check(url) {
            Ok(url) => url.into_string(),
            Err(e) => panic!("{url} refused: {e}"),
        }
    }

    #[test]
    fn the_default_server_is_always_allowed_and_normalised() {
        let p = policy("http://127.0.0.1:8080", "");
        assert_eq!(p.default_url().as_str(), "http://127.0.0.1:8080");
        assert_eq!(
            accepted(&p, "http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            accepted(&p, " HTTP://127.0.0.1:8080/base/ "),
            "http://127.0.0.1:8080/base"
        );
        // The same address written differently is the same server.
        assert_eq!(
            accepted(&p, "http://2130706433:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            accepted(&p, "http://[::ffff:127.0.0.1]:8080"),
            "http://[::ffff:7f00:1]:8080"
        );
        // Its host on another port is not the default server, and it is loopback.
        assert!(matches!(
            p.check("http://127.0.0.1:5432"),
            Err(UrlRefused::HostNotAllowed { .. })
        ));
        assert!(matches!(
            p.check("http://localhost:8080"),
            Err(UrlRefused::InternalAddress { .. })
        ));
    }

    #[test]
    fn allowed_hosts_with_and_without_ports() {
        let p = policy(
            "https://wuzapi.internal",
            " wuzapi-eu.internal , wuzapi-us.internal:8443,[fd00::10]:8080,10.0.0.7:80",
        );
        assert_eq!(
            accepted(&p, "https://WUZAPI.internal/"),
            "https://wuzapi.internal"
        );
        assert_eq!(
            accepted(&p, "http://wuzapi-eu.internal:9999/x"),
            "http://wuzapi-eu.internal:9999/x"
        );
        assert_eq!(
            accepted(&p, "https://wuzapi-us.internal:8443"),
            "https://wuzapi-us.internal:8443"
        );
        assert_eq!(
            accepted(&p, "http://[fd00::10]:8080"),
            "http://[fd00::10]:8080"
        );
        assert_eq!(accepted(&p, "http://10.0.0.7"), "http://10.0.0.7");
        assert_eq!(
            accepted(&p, "http://wuzapi-eu.internal./"),
            "http://wuzapi-eu.internal."
        );
        for refused in [
            "https://wuzapi.internal:8443",
            "https://wuzapi-us.internal",
            "http://[fd00::10]:8081",
            "http://10.0.0.7:8080",
            "https://evil.example",
            "https://wuzapi-eu.internal.evil.example",
            "http://10.0.0.8",
        ] {
            assert!(
                matches!(p.check(refused), Err(UrlRefused::HostNotAllowed { .. })),
                "{refused}: {:?}",
                p.check(refused)
            );
        }
    }

    #[test]
    fn internal_addresses_are_refused_unless_listed_exactly() {
        let p = policy("https://wuzapi.internal", "");
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://0x7f000001",
            "http://0.0.0.0:5432",
            "http://[::1]:8080",
            "http://[::]:80",
            "http://[::ffff:127.0.0.1]",
            "http://[::ffff:169.254.169.254]",
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.1.1",
            "http://[fe80::1]",
            "http://[febf::1]",
            "http://[fd00:ec2::254]",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA",
            "http://metadata./",
            "http://localhost:6379",
            "http://redis.localhost",
        ] {
            assert!(
                matches!(p.check(url), Err(UrlRefused::InternalAddress { .. })),
                "{url}: {:?}",
                p.check(url)
            );
        }
        // Listing the exact host (any port, or the one port) allows it.
        let p = policy("https://wuzapi.internal", "127.0.0.1:9000,metadata,[::1]");
        assert_eq!(
            accepted(&p, "http://127.0.0.1:9000"),
            "http://127.0.0.1:9000"
        );
        assert!(matches!(
            p.check("http://127.0.0.1:9001"),
            Err(UrlRefused::HostNotAllowed { .. })
        ));
        assert!(matches!(
            p.check("http://127.0.0.2:9000"),
            Err(UrlRefused::InternalAddress { .. })
        ));
        assert_eq!(accepted(&p, "http://metadata"), "http://metadata");
        assert_eq!(accepted(&p, "http://[::1]:1234"), "http://[::1]:1234");
        assert!(matches!(
            p.check("http://169.254.169.254"),
            Err(UrlRefused::InternalAddress { .. })
        ));
    }

    #[test]
    fn only_plain_http_base_urls() {
        let p = policy("http://127.0.0.1:8080", "wuzapi.example");
        type Expected = fn(&UrlRefused) -> bool;
        let cases: [(&str, Expected); 8] = [
            (
                "ftp://wuzapi.example",
                |e| matches!(e, UrlRefused::Scheme(s) if s == "ftp"),
            ),
            ("file:///etc/passwd", |e| matches!(e, UrlRefused::Scheme(_))),
            ("https://user:pw@wuzapi.example", |e| {
                *e == UrlRefused::Credentials
            }),
            ("https://user@wuzapi.example", |e| {
                *e == UrlRefused::Credentials
            }),
            ("https://wuzapi.example/?a=1", |e| {
                *e == UrlRefused::QueryOrFragment
            }),
            ("https://wuzapi.example/#x", |e| {
                *e == UrlRefused::QueryOrFragment
            }),
            ("wuzapi.example", |e| matches!(e, UrlRefused::NotAUrl(_))),
            ("http://", |e| matches!(e, UrlRefused::NotAUrl(_))),
        ];
        for (url, expected) in cases {
            let err = p.check(url).expect_err(url);
            assert!(expected(&err), "{url}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
        let long = format!("https://wuzapi.example/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(p.check(&long), Err(UrlRefused::TooLong));
    }

    #[test]
    fn refusals_never_list_the_allowed_hosts() {
        let p = policy("http://wuzapi.internal:8080", "secret-cluster.internal");
        let text = p.check("https://evil.example").unwrap_err().to_string();
        assert!(text.contains("evil.example"), "{text}");
        assert!(!text.contains("secret-cluster"), "{text}");
        assert!(!text.contains("wuzapi.internal"), "{text}");
    }

    #[test]
    fn bad_configuration_names_the_variable() {
        for entry in [
            "host/path",
            "user@host",
            "host:",
            "host:0",
            "host:99999",
            "[::1",
            "[::1]x",
            "bad host",
            ":8080",
            "exa mple",
        ] {
            let err = WuzapiUrlPolicy::new(DEFAULT_WUZAPI_URL, &format!("ok.example,{entry}"))
                .expect_err(entry);
            assert_eq!(err.var, ALLOWED_HOSTS_VAR, "{entry}");
            assert_eq!(err.value, entry);
        }
        let err = WuzapiUrlPolicy::from_env(&Env::from_pairs([(
            "WUZAPI_URL",
            "http://user:pw@wuzapi.internal",
        )]))
        .unwrap_err();
        assert_eq!(err.var, DEFAULT_URL_VAR);
        assert_eq!(err.value, "http://user:***@wuzapi.internal");
        let err =
            WuzapiUrlPolicy::from_env(&Env::from_pairs([("WUZAPI_URL", "nope")])).unwrap_err();
        assert_eq!(err.var, DEFAULT_URL_VAR);
        // Blank and empty entries are nothing.
        let p =
            WuzapiUrlPolicy::from_env(&Env::from_pairs([("WUZAPI_ALLOWED_HOSTS", " , ")])).unwrap();
        assert_eq!(p.default_url().as_str(), DEFAULT_WUZAPI_URL);
    }
}
