//! What an address is: where a host name or IP address points, judged the
//! way a server's resolver and socket would read it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Where a host points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A cloud provider's instance metadata service: credentials one hop away.
    Metadata,
    /// The server itself: loopback, or `0.0.0.0`, which connects to it too.
    Loopback,
    /// A private, link-local or carrier-grade NAT network behind the server.
    Private,
    /// A name that only resolves inside a network (`.internal`, `.local`…).
    InternalName,
    /// The public internet, as far as the text shows.
    Public,
}

impl Reach {
    /// What the rule and the message call it.
    pub fn describe(self) -> &'static str {
        match self {
            Reach::Metadata => "a cloud metadata service",
            Reach::Loopback => "the server itself (loopback)",
            Reach::Private => "a private network",
            Reach::InternalName => "an internal host name",
            Reach::Public => "the internet",
        }
    }
}

/// Cloud metadata services by name (AWS, GCP, Azure, Alibaba, Oracle,
/// DigitalOcean, OpenStack, Kubernetes-on-cloud aliases).
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
    "metadata.azure.internal",
    "metadata.tencentyun.com",
    "metadata.packet.net",
];

/// Wildcard DNS services: `<anything>.<service>` resolves to the IP address
/// written in `<anything>` (`10.0.0.1.nip.io`, `10-0-0-1.sslip.io`), or to
/// loopback whatever it is (`localtest.me`, `lvh.me`).
const IP_ECHO_DOMAINS: &[&str] = &[
    "nip.io",
    "sslip.io",
    "xip.io",
    "traefik.me",
    "ip.addr.tools",
];
const LOOPBACK_DOMAINS: &[&str] = &[
    "localhost",
    "localtest.me",
    "lvh.me",
    "vcap.me",
    "lacolhost.com",
    "fuf.me",
    "readme.localtest.me",
];

/// Top-level names that exist only inside a network (RFC 6762, 8375, the
/// ICANN-reserved `.internal`, and the habitual ones).
const INTERNAL_SUFFIXES: &[&str] = &[
    "internal",
    "local",
    "localdomain",
    "lan",
    "intranet",
    "corp",
    "home",
    "home.arpa",
    "private",
    "cluster.local",
    "svc",
];

/// Where the host `name` (a domain name, already lower-cased and
/// IDNA-mapped by URL parsing) points.
pub fn name_reach(name: &str) -> Reach {
    let name = name.trim_end_matches('.');
    if let Some(ip) = parse_ipv4_loose(name) {
        return ipv4_reach(ip);
    }
    if METADATA_NAMES.contains(&name) {
        return Reach::Metadata;
    }
    if LOOPBACK_DOMAINS
        .iter()
        .any(|domain| name == *domain || name.ends_with(&format!(".{domain}")))
    {
        return Reach::Loopback;
    }
    for domain in IP_ECHO_DOMAINS {
        if let Some(prefix) = name.strip_suffix(&format!(".{domain}")) {
            return echoed_ip(prefix).map_or(Reach::InternalName, ipv4_reach);
        }
    }
    if !name.contains('.') {
        // A single label (`db`, `redis`) resolves only through a local search domain.
        return Reach::InternalName;
    }
    if INTERNAL_SUFFIXES
        .iter()
        .any(|suffix| name.ends_with(&format!(".{suffix}")))
    {
        return Reach::InternalName;
    }
    Reach::Public
}

/// The IP address a wildcard DNS name echoes: the last four numeric labels
/// or dash-separated numbers of `prefix` (`app.10.0.0.1`, `10-0-0-1`,
/// `app-10-0-0-1`), or eight hex digits (`0a000001`).
fn echoed_ip(prefix: &str) -> Option<Ipv4Addr> {
    let dotted: Vec<&str> = prefix.split('.').collect();
    if dotted.len() >= 4
        && let Ok(ip) = dotted[dotted.len() - 4..].join(".").parse()
    {
        return Some(ip);
    }
    let last = dotted.last()?;
    let dashed: Vec<&str> = last.split('-').collect();
    if dashed.len() >= 4
        && let Ok(ip) = dashed[dashed.len() - 4..].join(".").parse()
    {
        return Some(ip);
    }
    let hex = dashed.last()?;
    if hex.len() == 8 {
        return u32::from_str_radix(hex, 16).ok().map(Ipv4Addr::from);
    }
    None
}

/// An IPv4 address in any form `inet_aton` accepts: one to four parts,
/// each decimal, octal (leading `0`) or hex (`0x`), the last part filling
/// the remaining bytes (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.01`).
pub fn parse_ipv4_loose(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|part| parse_number(part))
        .collect::<Option<Vec<u64>>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&byte| byte > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if *last >= 1u64 << room {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u64, |value, (index, &byte)| {
            value | byte << (24 - 8 * index as u32)
        });
    u32::try_from(high | last).ok().map(Ipv4Addr::from)
}

/// An IPv4 address as the most lenient parsers read `text`: every form of
/// [`parse_ipv4_loose`], plus `0o` octal prefixes and a single number past
/// 32 bits cut to its low 32 bits (`7147006462` is 169.254.169.254 there).
/// What one parser rejects another connects to, so a check must consider
/// every reading.
pub fn parse_ipv4_lenient(text: &str) -> Option<Ipv4Addr> {
    let text = text.to_ascii_lowercase();
    let rewritten: String = text
        .split('.')
        .map(|part| match part.strip_prefix("0o") {
            Some(octal) => format!("0{octal}"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(".");
    if let Some(ip) = parse_ipv4_loose(&rewritten) {
        return Some(ip);
    }
    if rewritten.contains('.') {
        return None;
    }
    let (digits, radix) = match rewritten.strip_prefix("0x") {
        Some(hex) => (hex.to_owned(), 16),
        None => (rewritten.clone(), 10),
    };
    let value = u128::from_str_radix(&digits, radix).ok()?;
    Some(Ipv4Addr::from((value & u128::from(u32::MAX)) as u32))
}

fn parse_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or(part.strip_prefix("0X")) {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        return (radix == 16).then_some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|&n| n <= u64::from(u32::MAX))
}

/// Where an IPv4 address points.
pub fn ipv4_reach(ip: Ipv4Addr) -> Reach {
    let [a, b, c, d] = ip.octets();
    match (a, b, c, d) {
        // AWS, GCP, Azure, DigitalOcean, OpenStack; Alibaba; Oracle's legacy.
        (169, 254, 169, 254) | (100, 100, 100, 200) | (192, 0, 0, 192) => Reach::Metadata,
        // Azure's wire server and its instance-health endpoint.
        (168, 63, 129, 16) => Reach::Metadata,
        (127, ..) | (0, ..) => Reach::Loopback,
        (10, ..) | (192, 168, ..) | (169, 254, ..) => Reach::Private,
        (172, 16..=31, ..) => Reach::Private,
        // Carrier-grade NAT (RFC 6598), where clouds also put internal services.
        (100, 64..=127, ..) => Reach::Private,
        // IETF protocol assignments, benchmarking, broadcast and multicast.
        (192, 0, 0, _) | (198, 18..=19, ..) | (255, 255, 255, 255) | (224..=239, ..) => {
            Reach::Private
        }
        _ => Reach::Public,
    }
}

/// Where an IPv6 address points, IPv4 embedded in it included.
pub fn ipv6_reach(ip: Ipv6Addr) -> Reach {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return ipv4_reach(v4);
    }
    let segments = ip.segments();
    // AWS's IPv6 metadata endpoint, fd00:ec2::254.
    if segments == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254] {
        return Reach::Metadata;
    }
    if ip.is_loopback() || ip.is_unspecified() {
        return Reach::Loopback;
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) embed IPv4.
    if segments[..6] == [0, 0, 0, 0, 0, 0] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new(
            (segments[6] >> 8) as u8,
            segments[6] as u8,
            (segments[7] >> 8) as u8,
            segments[7] as u8,
        );
        return ipv4_reach(v4);
    }
    match segments[0] {
        // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10), multicast.
        0xfc00..=0xfdff | 0xfe80..=0xfeff | 0xff00..=0xffff => Reach::Private,
        _ => Reach::Public,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ipv4_spelling_of_an_address_is_the_same_address() {
        let loopback = Ipv4Addr::new(127, 0, 0, 1);
        for text in [
            "127.0.0.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "127.1",
            "127.0.1",
            "0x7f.1",
        ] {
            assert_eq!(parse_ipv4_loose(text), Some(loopback), "{text}");
        }
        let metadata = Ipv4Addr::new(169, 254, 169, 254);
        // `0x` alone is zero, as in inet_aton and the WHATWG URL parser.
        assert_eq!(parse_ipv4_loose("0x"), Some(Ipv4Addr::UNSPECIFIED));
        for text in [
            "0xa9fea9fe",
            "2852039166",
            "0251.0376.0251.0376",
            "169.16689662",
        ] {
            assert_eq!(parse_ipv4_loose(text), Some(metadata), "{text}");
        }
        for text in [
            "256.0.0.1",
            "1.2.3.4.5",
            "example.com",
            "1..2",
            "08.0.0.1",
            "",
        ] {
            assert_eq!(parse_ipv4_loose(text), None, "{text}");
        }
    }

    #[test]
    fn lenient_readings_include_octal_prefixes_and_truncation() {
        assert_eq!(parse_ipv4_lenient("0o177.0.0.1"), Some(Ipv4Addr::LOCALHOST));
        let metadata = Some(Ipv4Addr::new(169, 254, 169, 254));
        assert_eq!(parse_ipv4_lenient("7147006462"), metadata);
        assert_eq!(parse_ipv4_lenient("0x41414141a9fea9fe"), metadata);
        assert_eq!(parse_ipv4_lenient("example.com"), None);
    }

    #[test]
    fn addresses_are_classified_by_range() {
        let reach = |text: &str| ipv4_reach(text.parse().unwrap());
        assert_eq!(reach("169.254.169.254"), Reach::Metadata);
        assert_eq!(reach("100.100.100.200"), Reach::Metadata);
        assert_eq!(reach("127.3.2.1"), Reach::Loopback);
        assert_eq!(reach("0.0.0.0"), Reach::Loopback);
        for private in [
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.72.0.1",
        ] {
            assert_eq!(reach(private), Reach::Private, "{private}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "93.184.216.34"] {
            assert_eq!(reach(public), Reach::Public, "{public}");
        }
    }

    #[test]
    fn ipv6_forms_are_classified_with_the_ipv4_they_embed() {
        let reach = |text: &str| ipv6_reach(text.parse().unwrap());
        assert_eq!(reach("::1"), Reach::Loopback);
        assert_eq!(reach("::"), Reach::Loopback);
        assert_eq!(reach("::ffff:127.0.0.1"), Reach::Loopback);
        assert_eq!(reach("::ffff:a9fe:a9fe"), Reach::Metadata);
        assert_eq!(reach("fd00:ec2::254"), Reach::Metadata);
        assert_eq!(reach("64:ff9b::10.0.0.1"), Reach::Private);
        assert_eq!(reach("fe80::1"), Reach::Private);
        assert_eq!(reach("fd12:3456::1"), Reach::Private);
        assert_eq!(reach("2606:4700::1111"), Reach::Public);
    }

    #[test]
    fn names_are_classified_by_what_they_resolve_to() {
        assert_eq!(name_reach("metadata.google.internal"), Reach::Metadata);
        assert_eq!(name_reach("localhost"), Reach::Loopback);
        assert_eq!(name_reach("api.localhost"), Reach::Loopback);
        assert_eq!(name_reach("anything.localtest.me"), Reach::Loopback);
        assert_eq!(name_reach("10.0.0.1.nip.io"), Reach::Private);
        assert_eq!(name_reach("app-169-254-169-254.sslip.io"), Reach::Metadata);
        assert_eq!(name_reach("7f000001.nip.io"), Reach::Loopback);
        assert_eq!(name_reach("8.8.8.8.nip.io"), Reach::Public);
        assert_eq!(name_reach("db.corp"), Reach::InternalName);
        assert_eq!(name_reach("redis"), Reach::InternalName);
        assert_eq!(name_reach("vault.service.internal"), Reach::InternalName);
        assert_eq!(name_reach("example.com"), Reach::Public);
        assert_eq!(name_reach("localhost.example.com"), Reach::Public);
        assert_eq!(name_reach("0x7f.1"), Reach::Loopback);
    }
}
