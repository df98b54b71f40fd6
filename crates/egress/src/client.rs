//! Sending to a checked target: the resolver hands the connector only addresses that passed
//! the check, so the address connected to is the address checked (no window for DNS
//! rebinding), and IP-literal hosts, which skip the resolver, are checked before sending.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use url::Host;

use crate::address::{Refusal, classify};
use crate::target::Target;

/// Looks up a host's addresses. The system resolver in production; tests inject their own to
/// make a public-looking name resolve to a private address.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A target's host is, or resolves only to, addresses that are not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{host}` is {address}: {reason}, which is not allowed as a target")]
pub struct RefusedAddress {
    pub host: String,
    pub address: IpAddr,
    pub reason: Refusal,
}

/// Why a target's addresses could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] RefusedAddress),
    #[error("cannot resolve `{host}`: {source}")]
    Lookup {
        host: String,
        #[source]
        source: std::io::Error,
    },
}

/// Decides which addresses may be reached.
#[derive(Clone)]
pub struct Guard {
    allow_private: bool,
    lookup: Arc<dyn Lookup>,
    /// Hosts the operator chose (the platform's own WUZAPI server, say): whatever they
    /// resolve to may be reached. Lower-case names without a trailing dot, IPs as `IpAddr`
    /// prints them.
    trusted: Arc<[String]>,
}

impl Guard {
    pub fn new(allow_private: bool, lookup: Arc<dyn Lookup>) -> Self {
        Self {
            allow_private,
            lookup,
            trusted: Arc::from([]),
        }
    }

    /// Trusts `hosts` (names or IP literals, as the operator configured them): their
    /// addresses are not checked. Only for hosts a tenant cannot choose.
    #[must_use]
    pub fn trusting(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        self.trusted = hosts.into_iter().map(|h| host_key(&h)).collect();
        self
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    fn trusts(&self, host: &str) -> bool {
        !self.trusted.is_empty() && self.trusted.contains(&host_key(host))
    }

    /// `Ok` when `ip` may be connected to.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), RefusedAddress> {
        if self.trusts(host) {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(reason) if self.allow_private && reason.allowed_when_private_allowed() => Ok(()),
            Some(reason) => Err(RefusedAddress {
                host: host.to_owned(),
                address: ip,
                reason,
            }),
        }
    }

    /// The addresses of `host` that may be connected to: all that pass, or the refusal of the
    /// first when none does.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let host = host.trim_end_matches('.');
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            self.check(host, ip)?;
            return Ok(vec![ip]);
        }
        let found = self
            .lookup
            .lookup(host)
            .await
            .map_err(|source| ResolveError::Lookup {
                host: host.to_owned(),
                source,
            })?;
        let mut first_refusal = None;
        let mut allowed = Vec::new();
        for ip in found {
            match self.check(host, ip) {
                Ok(()) => allowed.push(ip),
                Err(refused) => {
                    first_refusal.get_or_insert(refused);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (false, _) => Ok(allowed),
            (true, Some(refused)) => Err(refused.into()),
            (true, None) => Err(ResolveError::Lookup {
                host: host.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            }),
        }
    }

    /// The addresses `target` may be reached at (what creation checks).
    pub async fn resolve(&self, target: &Target) -> Result<Vec<IpAddr>, ResolveError> {
        match target.host() {
            Host::Ipv4(ip) => {
                self.check(&ip.to_string(), IpAddr::V4(ip))?;
                Ok(vec![IpAddr::V4(ip)])
            }
            Host::Ipv6(ip) => {
                self.check(&ip.to_string(), IpAddr::V6(ip))?;
                Ok(vec![IpAddr::V6(ip)])
            }
            Host::Domain(domain) => self.resolve_host(domain).await,
        }
    }
}

/// How a host is compared with the trusted ones: lower case, no trailing dot, no brackets,
/// IPv6 in its canonical form.
fn host_key(host: &str) -> String {
    let bare = host
        .trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        // `::ffff:a.b.c.d` is the IPv4 address it carries.
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        Ok(ip) => ip.to_string(),
        Err(_) => bare.to_ascii_lowercase(),
    }
}

/// Makes `builder` a client for checked targets: its resolver hands the connector only the
/// addresses `guard` allows, it never follows a redirect (the next host was never checked)
/// and never uses a proxy (it would connect to an address we never checked). IP-literal
/// hosts never reach a resolver: check them with [`Guard::check_literal`] before sending.
pub fn guarded(builder: reqwest::ClientBuilder, guard: &Guard) -> reqwest::ClientBuilder {
    builder
        .dns_resolver(Arc::new(GuardedResolver(guard.clone())))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
}

impl Guard {
    /// Checks the host of `url` when it is an IP literal (which no resolver sees); names pass
    /// here and are checked by the guarded resolver when connecting.
    pub fn check_literal(&self, url: &url::Url) -> Result<(), RefusedAddress> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check(&ip.to_string(), IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check(&ip.to_string(), IpAddr::V6(ip)),
            Some(Host::Domain(_)) | None => Ok(()),
        }
    }
}

/// The refusal in `error`'s chain, when the guard refused the connection.
pub fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<RefusedAddress> {
    let mut source = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedAddress>() {
            return Some(refused.clone());
        }
        if let Some(ResolveError::Refused(refused)) = cause.downcast_ref::<ResolveError>() {
            return Some(refused.clone());
        }
        source = cause.source();
    }
    None
}

/// The connector's resolver: only checked addresses come out of it.
struct GuardedResolver(Guard);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = guard.resolve_host(&host).await?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Bounds of one outbound request.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    pub allow_private: bool,
    /// From start to the connection being up.
    pub connect_timeout: Duration,
    /// From start to the last byte read.
    pub timeout: Duration,
    /// How much of a response body is kept; the rest is never read.
    pub max_response_bytes: usize,
    pub user_agent: String,
}

/// What the target answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The first `max_response_bytes` of the body (lossy UTF-8).
    pub excerpt: String,
    /// Whether the body went on past the excerpt (or its reading was cut off).
    pub truncated: bool,
    pub elapsed: Duration,
}

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The target's address is not allowed: nothing was sent.
    #[error(transparent)]
    Refused(RefusedAddress),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the request failed: {0}")]
    Request(String),
    /// The caller's own verdict before sending (e.g. a URL its settings refuse).
    #[error("{0}")]
    Unsendable(String),
}

impl SendError {
    /// What a tenant may be told: the kind of failure, and for a refusal the kind of address
    /// (what the creation check says too), never the address or the HTTP client's error text:
    /// shown to a tenant, connection errors would say which internal hosts and ports exist.
    /// The detail is the operator's, for logs ([`Display`](std::fmt::Display)).
    pub fn public_text(&self) -> String {
        match self {
            SendError::Refused(refused) => format!("refused: {} is not allowed", refused.reason),
            // The caller's verdict on the tenant's own URL.
            SendError::Unsendable(reason) => format!("refused: {reason}"),
            SendError::Timeout(_) => "no answer in time".to_owned(),
            SendError::Connect(_) => "unreachable".to_owned(),
            SendError::Request(_) => "the request failed".to_owned(),
        }
    }
}

/// `"2xx"` .. `"5xx"`: an answer's status as a tenant is told it.
pub fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

/// An HTTP client for tenant-chosen targets: checked addresses only, no redirects followed,
/// no proxy, bounded in time and in what it reads.
#[derive(Clone)]
pub struct Egress {
    guard: Guard,
    client: reqwest::Client,
    config: EgressConfig,
}

impl Egress {
    /// With the system resolver.
    pub fn new(config: EgressConfig) -> Result<Self, reqwest::Error> {
        Self::with_lookup(config, Arc::new(SystemLookup))
    }

    pub fn with_lookup(
        config: EgressConfig,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, reqwest::Error> {
        let guard = Guard::new(config.allow_private, lookup);
        let client = guarded(reqwest::Client::builder(), &guard)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(config.user_agent.clone())
            .build()?;
        Ok(Self {
            guard,
            client,
            config,
        })
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// POSTs `body` to `target` with `headers`. A 3xx is an answer like any other: its
    /// `Location` is never followed.
    pub async fn post(
        &self,
        target: &Target,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Answer, SendError> {
        let started = Instant::now();
        // IP literals never reach the resolver: check them here.
        self.guard
            .check_literal(target.url())
            .map_err(SendError::Refused)?;
        let response = self
            .client
            .post(target.url().clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| self.send_error(e))?;
        let status = response.status().as_u16();
        let (excerpt, truncated) = self.excerpt(response).await;
        Ok(Answer {
            status,
            excerpt,
            truncated,
            elapsed: started.elapsed(),
        })
    }

    /// Reads at most `max_response_bytes` of the body; a body that errs or times out midway
    /// keeps what was read.
    async fn excerpt(&self, mut response: reqwest::Response) -> (String, bool) {
        let max = self.config.max_response_bytes;
        let mut kept = Vec::with_capacity(max.min(8192));
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = max - kept.len();
                    if chunk.len() > room {
                        kept.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    kept.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => {
                    truncated = true;
                    break;
                }
            }
        }
        (String::from_utf8_lossy(&kept).into_owned(), truncated)
    }

    fn send_error(&self, error: reqwest::Error) -> SendError {
        if let Some(refused) = refusal_in(&error) {
            return SendError::Refused(refused);
        }
        let text = chain(&error);
        if error.is_timeout() {
            SendError::Timeout(self.config.timeout)
        } else if error.is_connect() {
            SendError::Connect(text)
        } else {
            SendError::Request(text)
        }
    }
}

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
