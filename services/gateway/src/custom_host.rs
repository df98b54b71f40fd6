//! Custom hosts a tenant must prove before its login page is served on them.
//!
//! Without proof a tenant could name any host, the platform's own included, and the login page
//! found by that host would wear the tenant's name and logo. So a host set in the branding is a
//! *claim* with a token; the tenant publishes the token as the DNS TXT record
//! `_wuzapi-manager.<host>`, and `POST /api/branding/custom-host/verify` looks that record up.
//! The platform's own hosts (`PUBLIC_URL`'s and `RESERVED_HOSTS`), and every name under them,
//! cannot be claimed at all.
//!
//! The look-up asks the system's resolvers (`/etc/resolv.conf`), or the name servers in
//! `CUSTOM_HOST_DNS_SERVERS` (an operator's own resolver; the tests' DNS server on loopback).

use std::net::SocketAddr;
use std::time::Duration;

use common::config::{ConfigError, Env};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

/// The label under a custom host whose TXT record proves the tenant controls it.
pub const TXT_LABEL: &str = "_wuzapi-manager";

/// Custom host settings.
#[derive(Debug, Clone, Default)]
pub struct CustomHostSettings {
    /// `RESERVED_HOSTS`: comma-separated hostnames of the platform (besides `PUBLIC_URL`'s host)
    /// that no tenant may claim, nor any name under them.
    pub reserved: Vec<String>,
    /// `CUSTOM_HOST_DNS_SERVERS`: comma-separated `ip:port` name servers asked for the TXT
    /// record; unset: the system's resolver configuration.
    pub dns_servers: Vec<SocketAddr>,
    /// `CUSTOM_HOST_DNS_TIMEOUT_MS` (3000): one DNS query.
    pub dns_timeout: Duration,
}

impl CustomHostSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let list = |var: &str| -> Vec<String> {
            env.optional(var)
                .map(|text| {
                    text.split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let invalid = |var: &str, value: &str, reason: &str| ConfigError {
            var: var.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let reserved = list("RESERVED_HOSTS")
            .into_iter()
            .map(|item| {
                crate::routes::branding::hostname(&item).ok_or_else(|| {
                    invalid(
                        "RESERVED_HOSTS",
                        &item,
                        "each entry must be a hostname such as `app.example.com`",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let dns_servers = list("CUSTOM_HOST_DNS_SERVERS")
            .into_iter()
            .map(|item| {
                item.parse::<SocketAddr>().map_err(|_| {
                    invalid(
                        "CUSTOM_HOST_DNS_SERVERS",
                        &item,
                        "each entry must be an `ip:port` such as `10.0.0.2:53`",
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            reserved,
            dns_servers,
            dns_timeout: Duration::from_millis(env.parse_in(
                "CUSTOM_HOST_DNS_TIMEOUT_MS",
                3_000,
                100..=30_000,
            )?),
        })
    }

    /// Whether `host` (lower-case, as validated) is the platform's: a reserved host, the
    /// public URL's, or a name under either.
    pub fn is_reserved(&self, host: &str, public_url: Option<&url::Url>) -> bool {
        let public_host = public_url.and_then(|url| url.host_str().map(str::to_ascii_lowercase));
        self.reserved
            .iter()
            .map(String::as_str)
            .chain(public_host.as_deref())
            .any(|reserved| {
                host == reserved
                    || host
                        .strip_suffix(reserved)
                        .is_some_and(|prefix| prefix.ends_with('.'))
            })
    }
}

/// The name whose TXT record proves `host`.
pub fn txt_name(host: &str) -> String {
    format!("{TXT_LABEL}.{host}")
}

/// What the DNS said about a claim's TXT record.
#[derive(Debug, PartialEq, Eq)]
pub enum Proof {
    /// A TXT record of the name holds the token.
    Found,
    /// The name has no TXT record with the token (none at all, or other values).
    Missing,
    /// The DNS could not be asked (timeout, refused, unreachable server).
    Unavailable,
}

/// Looks for `token` among the TXT records of `_wuzapi-manager.<host>`. A resolver is made per
/// check: checks are rare, and a fresh one caches no earlier "no such record".
pub async fn prove(settings: &CustomHostSettings, host: &str, token: &str) -> Proof {
    let resolver = match resolver(settings) {
        Ok(resolver) => resolver,
        Err(error) => {
            tracing::warn!(%error, "cannot build a DNS resolver for custom host checks");
            return Proof::Unavailable;
        }
    };
    // Fully qualified: no search domain is appended.
    let name = format!("{}.", txt_name(host));
    match resolver.txt_lookup(name.as_str()).await {
        Ok(lookup) => {
            let found = lookup.answers().iter().any(|record| match &record.data {
                // One record's strings are one value (RFC 7208 §3.3 joins them the same way).
                RData::TXT(txt) => txt.txt_data.concat() == token.as_bytes(),
                _ => false,
            });
            if found { Proof::Found } else { Proof::Missing }
        }
        Err(error) if error.is_no_records_found() || error.is_nx_domain() => Proof::Missing,
        Err(error) => {
            tracing::info!(%error, host, "custom host TXT look-up failed");
            Proof::Unavailable
        }
    }
}

fn resolver(
    settings: &CustomHostSettings,
) -> Result<TokioResolver, hickory_resolver::net::NetError> {
    let mut builder = if settings.dns_servers.is_empty() {
        TokioResolver::builder_tokio()?
    } else {
        let servers = settings
            .dns_servers
            .iter()
            .map(|server| {
                let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut name_server.connections {
                    connection.port = server.port();
                }
                name_server
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    let options: &mut ResolverOpts = builder.options_mut();
    options.timeout = settings.dns_timeout;
    options.attempts = 2;
    options.cache_size = 0;
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_hosts_and_names_under_them_are_reserved() {
        let settings = CustomHostSettings {
            reserved: vec!["app.example.com".into(), "example.net".into()],
            ..Default::default()
        };
        let public = url::Url::parse("https://wuzapi.example.org").unwrap();
        for host in [
            "app.example.com",
            "login.app.example.com",
            "example.net",
            "a.b.example.net",
            "wuzapi.example.org",
            "x.wuzapi.example.org",
        ] {
            assert!(settings.is_reserved(host, Some(&public)), "{host}");
        }
        for host in [
            "example.com",
            "myapp.example.com",
            "notexample.net",
            "login.acme.com",
            "example.org",
        ] {
            assert!(!settings.is_reserved(host, Some(&public)), "{host}");
        }
    }

    #[test]
    fn settings_are_read_and_bad_ones_named() {
        let env = Env::from_pairs([
            ("RESERVED_HOSTS", " App.Example.com , example.net,"),
            ("CUSTOM_HOST_DNS_SERVERS", "127.0.0.1:5353"),
        ]);
        let settings = CustomHostSettings::from_env(&env).unwrap();
        assert_eq!(settings.reserved, ["app.example.com", "example.net"]);
        assert_eq!(
            settings.dns_servers,
            ["127.0.0.1:5353".parse::<SocketAddr>().unwrap()]
        );
        let error = CustomHostSettings::from_env(&Env::from_pairs([("RESERVED_HOSTS", "1.2.3.4")]))
            .unwrap_err();
        assert_eq!(error.var, "RESERVED_HOSTS");
        let error = CustomHostSettings::from_env(&Env::from_pairs([(
            "CUSTOM_HOST_DNS_SERVERS",
            "dns.example",
        )]))
        .unwrap_err();
        assert_eq!(error.var, "CUSTOM_HOST_DNS_SERVERS");
    }
}
