//! Finding the URLs and hosts in an argument, and reading each one as the
//! fetcher will.

use std::net::IpAddr;

use portcullis_sdk::words;
use url::{Host, Url};

use crate::address::{
    Reach, ipv4_reach, ipv6_reach, name_reach, parse_ipv4_lenient, parse_ipv4_loose,
};

/// One URL or host found in an argument.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The text it was read from.
    pub(crate) text: String,
    /// The URL's scheme, lower-case; `None` for a bare host.
    pub(crate) scheme: Option<String>,
    /// The host, as the URL parser normalised it.
    pub(crate) host: Option<String>,
    /// The host's address, when it is an IP address.
    pub(crate) ip: Option<IpAddr>,
    /// Where the host points; `None` without a host.
    pub(crate) reach: Option<Reach>,
    /// Whether the user name before `@` is itself a host name.
    pub(crate) userinfo_host: bool,
    /// 0 for a URL in the argument, 1 for one nested in it, and so on.
    pub(crate) depth: u8,
}

/// How deep URLs nested in URLs are followed.
const MAX_DEPTH: u8 = 3;

/// Argument names that hold a URL or a host even without a scheme.
const ADDRESS_WORDS: &[&str] = &[
    "url", "uri", "urls", "link", "href", "endpoint", "host", "hostname", "domain", "server",
    "address", "ip", "webhook", "callback", "site", "website", "origin", "proxy", "target",
    "remote", "src", "source",
];

/// The URLs and hosts in `value`, an argument named `key`. `uri_format`
/// says the tool's schema declares the argument a URI or host.
pub(crate) fn targets_in(value: &str, key: Option<&str>, uri_format: bool) -> Vec<Target> {
    let mut targets = Vec::new();
    for candidate in url_candidates(value) {
        read_url(candidate, 0, &mut targets);
    }
    let names_address = uri_format
        || key.is_some_and(|key| {
            words(key)
                .iter()
                .any(|word| ADDRESS_WORDS.contains(&word.as_str()))
        });
    let trimmed = value.trim();
    if targets.is_empty()
        && names_address
        && !trimmed.is_empty()
        && !trimmed.contains(char::is_whitespace)
    {
        // `169.254.169.254/latest`, `localhost:8080`, `db.internal`: read it as an HTTP URL.
        if let Ok(url) = Url::parse(&format!("http://{trimmed}"))
            && let Some(mut target) = target_of(&url, trimmed, 0)
            && looks_like_host(trimmed)
        {
            target.scheme = None;
            targets.push(target);
        }
    }
    targets
}

/// Whether `text` starts with something shaped like a host: a name with a
/// dot, an IP address, `localhost`, or a bracketed IPv6 address. Keeps
/// words such as `main` in a `target` argument from being read as hosts.
fn looks_like_host(text: &str) -> bool {
    let host = text.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    let name = if host.starts_with('[') {
        return true;
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        })
    };
    let numeric = name.chars().all(|c| c.is_ascii_digit() || c == '.');
    if numeric {
        // `0.3.0` is a version, `10.0.0.1` an address: only a full dotted quad is one.
        return name.split('.').count() == 4 && name.parse::<std::net::Ipv4Addr>().is_ok();
    }
    name.contains('.') || name.eq_ignore_ascii_case("localhost")
}

/// Schemes whose URLs need no `//` (`jar:http://…!/`, `file:/etc/passwd`).
const SCHEMES_WITHOUT_SLASHES: &[&str] = &["jar:", "file:", "php:", "expect:", "netdoc:"];

/// The substrings of `text` that start a URL: a scheme followed by `:`,
/// where the scheme is followed by `//` or is one that needs none.
fn url_candidates(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for token in text.split(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '(' | ')' | ',' | ';')
    }) {
        let lower = token.to_ascii_lowercase();
        // A scheme and nothing after it (`File:` heading a line) names no resource.
        if SCHEMES_WITHOUT_SLASHES
            .iter()
            .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
        {
            found.push(token);
            continue;
        }
        if let Some(at) = token.find("://") {
            let start = token[..at]
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                .last()
                .map_or(at, |(index, _)| index);
            if start < at && token[start..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                found.push(&token[start..]);
            }
        }
    }
    found
}

/// Reads `text` as a URL at `depth`, and the URLs nested in it.
fn read_url(text: &str, depth: u8, out: &mut Vec<Target>) {
    let parsed = Url::parse(text).ok();
    let parsed_reach = parsed
        .as_ref()
        .and_then(|url| target_of(url, text, depth))
        .and_then(|target| {
            let reach = target.reach;
            out.push(target);
            reach
        });
    // Other parsers read some authorities differently (`a@b@c`, `host:80:\@other`,
    // numbers WHATWG refuses): an internal host under any reading counts.
    for host in raw_hosts(text) {
        let reach = match parse_ipv4_lenient(&host) {
            Some(ip) => ipv4_reach(ip),
            None => continue,
        };
        if matches!(reach, Reach::Metadata | Reach::Loopback | Reach::Private)
            && parsed_reach != Some(reach)
        {
            out.push(Target {
                text: text.to_owned(),
                scheme: text
                    .split_once(':')
                    .map(|(scheme, _)| scheme.to_ascii_lowercase()),
                host: Some(host),
                ip: None,
                reach: Some(reach),
                userinfo_host: false,
                depth,
            });
            break;
        }
    }
    let Some(url) = parsed else {
        return;
    };
    if depth >= MAX_DEPTH {
        return;
    }
    // `jar:http://host!/`, a redirect's `?url=http://…`, a path that embeds
    // a URL: decode and look again.
    let mut nested = String::new();
    if url.scheme() == "jar" {
        // `jar:<url>!/<entry>`: the archive's URL ends at the `!`.
        nested.push_str(url.path().split('!').next().unwrap_or_default());
    } else {
        nested.push_str(url.path());
    }
    for (_, value) in url.query_pairs() {
        nested.push(' ');
        nested.push_str(&value);
    }
    if let Some(fragment) = url.fragment() {
        nested.push(' ');
        nested.push_str(fragment);
    }
    let decoded = percent_decode_twice(&nested);
    for candidate in url_candidates(&decoded) {
        read_url(candidate, depth + 1, out);
    }
}

/// Every string a parser might take for the host of the URL `text`: the
/// pieces of its authority between `@` and before `:`.
fn raw_hosts(text: &str) -> Vec<String> {
    let Some((_, rest)) = text.split_once("://") else {
        return Vec::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority
        .split('@')
        .flat_map(|part| part.split([':', '\\']).next())
        .map(|host| host.trim_matches(['[', ']']).to_ascii_lowercase())
        .filter(|host| !host.is_empty())
        .collect()
}

fn target_of(url: &Url, text: &str, depth: u8) -> Option<Target> {
    let (host, ip, reach) = match url.host() {
        Some(Host::Ipv4(ip)) => (
            Some(ip.to_string()),
            Some(IpAddr::V4(ip)),
            Some(ipv4_reach(ip)),
        ),
        Some(Host::Ipv6(ip)) => (
            Some(ip.to_string()),
            Some(IpAddr::V6(ip)),
            Some(ipv6_reach(ip)),
        ),
        Some(Host::Domain(name)) => {
            // A non-special scheme keeps the host as written: read its IPv4 forms too.
            let name = name.to_ascii_lowercase();
            let ip = parse_ipv4_loose(&name).map(IpAddr::V4);
            (Some(name.clone()), ip, Some(name_reach(&name)))
        }
        None => (None, None, None),
    };
    let username = percent_decode_twice(url.username());
    Some(Target {
        text: text.to_owned(),
        scheme: Some(url.scheme().to_ascii_lowercase()),
        userinfo_host: username.contains('.') && !username.contains(' '),
        host,
        ip,
        reach,
        depth,
    })
}

/// `text` with `%XX` escapes decoded, twice over (double encoding is a
/// classic way past a check that decodes once).
fn percent_decode_twice(text: &str) -> String {
    let once = portcullis_sdk::percent_decode(text);
    if once.contains('%') {
        portcullis_sdk::percent_decode(&once).into_owned()
    } else {
        once.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(value: &str, key: &str) -> Vec<(Option<String>, u8)> {
        targets_in(value, Some(key), false)
            .into_iter()
            .map(|target| (target.host, target.depth))
            .collect()
    }

    #[test]
    fn urls_are_found_inside_text_and_inside_each_other() {
        assert_eq!(
            hosts(
                "curl -s 'http://a.example/x' && wget https://b.example",
                "command"
            ),
            [(Some("a.example".into()), 0), (Some("b.example".into()), 0)]
        );
        assert_eq!(
            hosts(
                "https://r.example/?to=http%253A%252F%252F10.0.0.1%252F",
                "url"
            ),
            [(Some("r.example".into()), 0), (Some("10.0.0.1".into()), 1)]
        );
        assert_eq!(
            hosts("jar:http://127.0.0.1!/", "url")[1],
            (Some("127.0.0.1".into()), 1)
        );
    }

    #[test]
    fn a_bare_host_counts_only_in_an_address_argument_and_when_shaped_like_one() {
        assert_eq!(
            hosts("169.254.169.254/latest", "url"),
            [(Some("169.254.169.254".into()), 0)]
        );
        assert_eq!(
            hosts("localhost:8080", "host"),
            [(Some("localhost".into()), 0)]
        );
        assert!(hosts("main", "target").is_empty());
        assert!(hosts("0.3.0", "target").is_empty());
        assert!(hosts("2026.1.26", "target").is_empty());
        assert!(hosts("10.0.0.1", "comment").is_empty());
    }
}
