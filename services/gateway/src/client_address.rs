//! Who the client is, for every per-address limit (sign-in attempts, the anonymous budget):
//! its address, read from the proxy chain by a configured number of trusted hops
//! (`TRUST_PROXY_HOPS`), and the key its budget is kept under (IPv4 per address, IPv6 per /64).
//!
//! Each proxy in front of the gateway appends the address it received the request from to
//! `X-Forwarded-For`; everything to the left of what the first trusted proxy appended is the
//! client's to write, so it is never read. With `hops` trusted proxies:
//!
//! - `0`: the TCP peer's address; `X-Forwarded-For` is ignored.
//! - `N`: the `N`th address from the right of `X-Forwarded-For` (all its headers in order,
//!   comma-separated), which the outermost trusted proxy appended: `1` is the rightmost entry.
//! - Fewer entries than `N` (a request that passed fewer proxies than configured): the leftmost
//!   entry present. No header at all: the peer's address.
//! - The chosen entry is not an address (`unknown`, an obfuscated name): the peer's address, so
//!   one garbled header never moves a client into someone else's budget by choice.
//!
//! An entry may carry a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`); the address alone counts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;

/// The address `hops` trusted proxies say the client has (see the module's rules).
pub fn client_address(req: &HttpRequest, hops: u8) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |socket| socket.ip());
    from_chain(peer, req.headers(), hops)
}

/// [`client_address`] on its parts: the TCP peer and the request's headers.
pub fn from_chain(peer: IpAddr, headers: &HeaderMap, hops: u8) -> IpAddr {
    if hops == 0 {
        return canonical(peer);
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let Some(last) = entries.len().checked_sub(1) else {
        return canonical(peer);
    };
    let chosen = entries[last.saturating_sub(usize::from(hops) - 1)];
    parse_entry(chosen).map_or(canonical(peer), canonical)
}

/// One `X-Forwarded-For` entry: an address, with or without a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    // `[2001:db8::1]` without a port.
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`) is the IPv4 client it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The key a client's budgets are kept under: an IPv4 address, or the /64 network of an IPv6
/// one (a single host is usually given a whole /64, so per-/128 keys would let it rotate
/// through 2^64 budgets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6Net(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => Self::V6Net((v6.to_bits() >> 64) as u64),
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(v4) => write!(f, "{v4}"),
            Self::V6Net(net) => {
                let network = Ipv6Addr::from_bits(u128::from(*net) << 64);
                write!(f, "{network}/64")
            }
        }
    }
}

/// The budget key of the request's client.
pub fn client_key(req: &HttpRequest, hops: u8) -> ClientKey {
    client_address(req, hops).into()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_hops_the_peer_is_the_client_whatever_the_header_says() {
        let spoofed = headers(&["203.0.113.9, 198.51.100.1"]);
        assert_eq!(from_chain(PEER, &spoofed, 0), PEER);
        assert_eq!(from_chain(PEER, &HeaderMap::new(), 0), PEER);
    }

    #[test]
    fn one_hop_reads_the_rightmost_entry_not_what_the_client_wrote() {
        // The client wrote `203.0.113.9`; the proxy appended what it saw.
        let chain = headers(&["203.0.113.9, 198.51.100.1"]);
        assert_eq!(from_chain(PEER, &chain, 1), ip("198.51.100.1"));
        // A second header line counts as more entries to the right.
        let split = headers(&["203.0.113.9", "198.51.100.1"]);
        assert_eq!(from_chain(PEER, &split, 1), ip("198.51.100.1"));
    }

    #[test]
    fn n_hops_read_the_nth_entry_from_the_right() {
        let chain = headers(&["1.1.1.1, 2.2.2.2, 192.0.2.5, 10.1.1.1"]);
        assert_eq!(from_chain(PEER, &chain, 2), ip("192.0.2.5"));
        assert_eq!(from_chain(PEER, &chain, 3), ip("2.2.2.2"));
    }

    #[test]
    fn fewer_entries_than_hops_take_the_leftmost_and_no_header_the_peer() {
        let chain = headers(&["192.0.2.5, 10.1.1.1"]);
        assert_eq!(from_chain(PEER, &chain, 5), ip("192.0.2.5"));
        assert_eq!(from_chain(PEER, &HeaderMap::new(), 2), PEER);
        assert_eq!(from_chain(PEER, &headers(&[" , "]), 1), PEER);
    }

    #[test]
    fn a_garbled_entry_is_the_peer_and_ports_are_dropped() {
        assert_eq!(from_chain(PEER, &headers(&["1.1.1.1, unknown"]), 1), PEER);
        assert_eq!(
            from_chain(PEER, &headers(&["192.0.2.5:4711"]), 1),
            ip("192.0.2.5")
        );
        assert_eq!(
            from_chain(PEER, &headers(&["[2001:db8::1]:4711"]), 1),
            ip("2001:db8::1")
        );
        assert_eq!(
            from_chain(PEER, &headers(&["[2001:db8::1]"]), 1),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_their_ipv4_client() {
        assert_eq!(
            from_chain(PEER, &headers(&["::ffff:192.0.2.5"]), 1),
            ip("192.0.2.5")
        );
        assert_eq!(
            from_chain(ip("::ffff:192.0.2.6"), &HeaderMap::new(), 0),
            ip("192.0.2.6")
        );
        assert_eq!(
            ClientKey::from(ip("::ffff:192.0.2.5")),
            ClientKey::V4(Ipv4Addr::new(192, 0, 2, 5))
        );
    }

    #[test]
    fn the_replaced_setting_stops_the_gateway_naming_its_successor() {
        use common::config::Env;
        let config = crate::config::GatewayConfig::from_env(&Env::from_pairs([
            ("DEV_MODE", "true"),
            ("TRUST_FORWARDED_FOR", "true"),
        ]));
        let error = config.err().expect("refused");
        assert_eq!(error.var, "TRUST_FORWARDED_FOR");
        assert!(
            error.reason.contains("TRUST_PROXY_HOPS"),
            "{}",
            error.reason
        );
        let hops = crate::config::GatewayConfig::from_env(&Env::from_pairs([
            ("DEV_MODE", "true"),
            ("TRUST_PROXY_HOPS", "2"),
        ]))
        .unwrap_or_else(|e| panic!("accepted: {e}"));
        assert_eq!(hops.trust_proxy_hops, 2);
        let too_many = crate::config::GatewayConfig::from_env(&Env::from_pairs([
            ("DEV_MODE", "true"),
            ("TRUST_PROXY_HOPS", "11"),
        ]));
        assert_eq!(too_many.err().expect("refused").var, "TRUST_PROXY_HOPS");
    }

    #[test]
    fn ipv6_clients_share_a_key_per_64_and_ipv4_per_address() {
        let a = ClientKey::from(ip("2001:db8:1:2::1"));
        let b = ClientKey::from(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        let other = ClientKey::from(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_ne!(
            ClientKey::from(ip("192.0.2.1")),
            ClientKey::from(ip("192.0.2.2"))
        );
        assert_eq!(ClientKey::from(ip("192.0.2.1")).to_string(), "192.0.2.1");
    }
}
