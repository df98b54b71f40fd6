//! Which IP addresses a tenant-chosen target may reach: public unicast only, unless the operator
//! allows private targets.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public unicast one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// `0.0.0.0/8`, `::`: "this host" (on Linux, `0.0.0.0` reaches the local host).
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// RFC 6598 carrier-grade NAT, `100.64/10` (also where some clouds put metadata services).
    SharedAddressSpace,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// A cloud instance metadata service (`169.254.169.254`, `fd00:ec2::254`).
    Metadata,
    /// `fc00::/7`.
    UniqueLocal,
    /// `fec0::/10`, deprecated but still routed by some stacks.
    SiteLocal,
    /// `255.255.255.255`.
    Broadcast,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18/15`, `2001:2::/48`.
    Benchmarking,
    /// Any other special-purpose range (`192.0.0/24`, `240/4`, `100::/64`, Teredo, ...).
    Reserved,
}

impl Refusal {
    /// What the address is, in words, for error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unspecified => "an unspecified address",
            Refusal::Loopback => "a loopback address",
            Refusal::Private => "a private (RFC 1918) address",
            Refusal::SharedAddressSpace => "a carrier-grade NAT (100.64.0.0/10) address",
            Refusal::LinkLocal => "a link-local address",
            Refusal::Metadata => "a cloud metadata address",
            Refusal::UniqueLocal => "a unique-local (fc00::/7) address",
            Refusal::SiteLocal => "a site-local (fec0::/10) address",
            Refusal::Broadcast => "the broadcast address",
            Refusal::Multicast => "a multicast address",
            Refusal::Documentation => "a documentation address",
            Refusal::Benchmarking => "a benchmarking address",
            Refusal::Reserved => "a reserved address",
        }
    }

    /// Whether `WEBHOOK_ALLOW_PRIVATE`-style permission lets it through: everything a unicast
    /// HTTP connection can meaningfully reach on a private network, not multicast or broadcast.
    pub fn allowed_when_private_allowed(self) -> bool {
        !matches!(self, Refusal::Multicast | Refusal::Broadcast)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// `None` for a public unicast address; otherwise what it is.
pub fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

pub fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    use Refusal::*;
    let ranges: &[([u8; 4], u32, Refusal)] = &[
        ([169, 254, 169, 254], 32, Metadata),
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Broadcast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    ranges
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, refusal)| *refusal)
}

pub fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    use Refusal::*;
    // Forms that carry an IPv4 address are judged by it: a mapped `::ffff:127.0.0.1` reaches
    // 127.0.0.1 on a dual-stack socket, and NAT64 / 6to4 / compatible forms are translated to it.
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    let ranges: &[([u16; 8], u32, Refusal)] = &[
        ([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254], 128, Metadata),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, SiteLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
        ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
        ([0x2001, 0x0002, 0, 0, 0, 0, 0, 0], 48, Benchmarking),
        // Teredo tunnels to an address we cannot see.
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Reserved),
        // ORCHID and other IETF protocol assignments.
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Reserved),
        ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
        // The rest of `::/8` (IPv4-compatible forms are judged above).
        ([0, 0, 0, 0, 0, 0, 0, 0], 8, Reserved),
    ];
    ranges
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, refusal)| *refusal)
}

/// The IPv4 address an IPv6 one stands for: IPv4-mapped `::ffff:0:0/96`, IPv4-compatible
/// `::/96` (not `::` and `::1`), NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    // IPv4-compatible `::a.b.c.d`, and IPv4-translated `::ffff:0:a.b.c.d`.
    if (bits >> 32 == 0 && bits > 1) || bits >> 32 == 0xffff_0000 {
        return Some(low32);
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
        || in_v6(ip, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48)
    {
        return Some(low32);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_range_is_classified_and_public_addresses_pass() {
        use Refusal::*;
        let table: &[(&str, Option<Refusal>)] = &[
            // Public.
            ("93.184.215.14", None),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("198.17.255.255", None),
            ("198.20.0.0", None),
            ("223.255.255.255", None),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001:80e::200e", None),
            ("64:ff9b::808:808", None),
            ("2002:0808:0808::1", None),
            // IPv4.
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("10.255.255.255", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("100.64.0.1", Some(SharedAddressSpace)),
            ("100.127.255.255", Some(SharedAddressSpace)),
            ("100.100.100.200", Some(SharedAddressSpace)),
            ("169.254.0.1", Some(LinkLocal)),
            ("169.254.169.254", Some(Metadata)),
            ("192.0.0.192", Some(Reserved)),
            ("192.0.2.10", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.99", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.255", Some(Broadcast)),
            // IPv6.
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456::1", Some(UniqueLocal)),
            ("fd00:ec2::254", Some(Metadata)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(SiteLocal)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Documentation)),
            ("3fff::1", Some(Documentation)),
            ("2001:2::1", Some(Benchmarking)),
            ("2001::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            // IPv6 forms judged by their IPv4 address.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.0.0.1", Some(Private)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some(Loopback)),
            ("::10.1.2.3", Some(Private)),
            ("::ffff:0:7f00:1", Some(Loopback)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(Metadata)),
            ("64:ff9b:1::c0a8:101", Some(Private)),
            ("2002:7f00:0001::", Some(Loopback)),
            ("2002:c0a8:0101::1", Some(Private)),
        ];
        for (text, expected) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *expected, "{text}");
        }
    }

    #[test]
    fn only_multicast_and_broadcast_stay_refused_when_private_targets_are_allowed() {
        assert!(Refusal::Loopback.allowed_when_private_allowed());
        assert!(Refusal::Metadata.allowed_when_private_allowed());
        assert!(!Refusal::Multicast.allowed_when_private_allowed());
        assert!(!Refusal::Broadcast.allowed_when_private_allowed());
    }
}
