//! The URL a tenant gives: what may be a target before any address is looked up.

use url::{Host, Url};

/// Why a URL cannot be a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL: {0}")]
    Parse(String),
    #[error("the scheme must be http or https, not `{0}`")]
    Scheme(String),
    #[error("the URL must not carry a user name or password")]
    Userinfo,
    #[error("the URL has no host")]
    NoHost,
    #[error("port {0} is not allowed: use 80, 443 or a port from 1024 up")]
    Port(u16),
    /// The port is not one the caller's [`Ports::Only`] lists.
    #[error("port {port} is not allowed: use {}", list(allowed))]
    PortNotListed { port: u16, allowed: Vec<u16> },
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
}

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

fn list(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    match ports.len() {
        0 => "no port".to_owned(),
        1 => format!("port {}", ports[0]),
        _ => format!("one of ports {}", ports.join(", ")),
    }
}

/// Which ports a target may name when private targets are not allowed (with them, any port
/// but 0 is).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Ports {
    /// 80, 443 and 1024 up: privileged ports are where SMTP, SSH and the like listen, never a
    /// webhook receiver.
    #[default]
    Unprivileged,
    /// Only these (Web Push: 443 unless the operator lists more). Empty refuses every port.
    Only(Vec<u16>),
}

impl Ports {
    fn allows(&self, port: u16) -> Result<(), UrlError> {
        match self {
            Ports::Unprivileged if port == 80 || port == 443 || port >= 1024 => Ok(()),
            Ports::Unprivileged => Err(UrlError::Port(port)),
            Ports::Only(allowed) if allowed.contains(&port) => Ok(()),
            Ports::Only(allowed) => Err(UrlError::PortNotListed {
                port,
                allowed: allowed.clone(),
            }),
        }
    }
}

/// A URL that may be a target: http(s), a host, no credentials, an allowed port. Its host's
/// addresses are checked separately, at every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    url: Url,
}

impl Target {
    /// Checks `text`. Privileged ports other than 80 and 443 are refused unless
    /// `allow_private` (they are where SMTP, SSH and the like listen, never a webhook
    /// receiver); port 0 never.
    pub fn parse(text: &str, allow_private: bool) -> Result<Self, UrlError> {
        Self::parse_with(text, allow_private, &Ports::Unprivileged)
    }

    /// Like [`parse`](Self::parse), with the ports allowed when `allow_private` is off.
    pub fn parse_with(text: &str, allow_private: bool, ports: &Ports) -> Result<Self, UrlError> {
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let url = Url::parse(text.trim()).map_err(|e| UrlError::Parse(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Userinfo);
        }
        match url.host() {
            None => return Err(UrlError::NoHost),
            Some(Host::Domain("")) => return Err(UrlError::NoHost),
            Some(_) => {}
        }
        let port = url.port_or_known_default().unwrap_or(0);
        if port == 0 {
            return Err(UrlError::Port(port));
        }
        if !allow_private {
            ports.allows(port)?;
        }
        Ok(Self { url })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The host as written (domains lower-cased by the URL parser, IP literals without
    /// brackets).
    pub fn host(&self) -> Host<&str> {
        self.url.host().expect("checked at parse")
    }

    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().expect("checked at parse")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_targets_pass() {
        for ok in [
            "https://hooks.example.com/in",
            "http://hooks.example.com:8080/x?y=1",
            "https://[2606:4700::1111]/",
            "https://1.1.1.1/",
        ] {
            assert!(Target::parse(ok, false).is_ok(), "{ok}");
        }
        let refused = [
            ("ftp://files.example.com/", UrlError::Scheme("ftp".into())),
            ("file:///etc/passwd", UrlError::Scheme("file".into())),
            ("gopher://x.example/", UrlError::Scheme("gopher".into())),
            ("https://user:pw@hooks.example.com/", UrlError::Userinfo),
            ("https://user@hooks.example.com/", UrlError::Userinfo),
            ("https://hooks.example.com:25/", UrlError::Port(25)),
            ("https://hooks.example.com:0/", UrlError::Port(0)),
        ];
        for (text, error) in refused {
            assert_eq!(Target::parse(text, false).unwrap_err(), error, "{text}");
        }
        assert!(matches!(
            Target::parse("not a url", false),
            Err(UrlError::Parse(_))
        ));
        assert!(Target::parse(&format!("https://a.example/{}", "x".repeat(3000)), false).is_err());
        assert!(Target::parse("http://127.0.0.1:22/", true).is_ok());
    }

    #[test]
    fn a_port_list_narrows_the_ports_unless_private_targets_are_allowed() {
        let https_only = Ports::Only(vec![443]);
        assert!(Target::parse_with("https://push.example.net/x", false, &https_only).is_ok());
        assert_eq!(
            Target::parse_with("https://push.example.net:8443/x", false, &https_only).unwrap_err(),
            UrlError::PortNotListed {
                port: 8443,
                allowed: vec![443]
            }
        );
        assert_eq!(
            Target::parse_with("http://push.example.net/x", false, &https_only)
                .unwrap_err()
                .to_string(),
            "port 80 is not allowed: use port 443"
        );
        let two = Ports::Only(vec![443, 8443]);
        assert!(Target::parse_with("https://push.example.net:8443/x", false, &two).is_ok());
        assert!(Target::parse_with("http://127.0.0.1:9/", true, &https_only).is_ok());
        assert_eq!(
            Target::parse_with("http://127.0.0.1:0/", true, &https_only).unwrap_err(),
            UrlError::Port(0)
        );
    }
}
