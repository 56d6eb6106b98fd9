//! Secrets recognised by their structure rather than by an issuer's
//! prefix: private key blocks, JSON Web Tokens, passwords in URLs and on
//! command lines, `Authorization` headers, values assigned to names such as
//! `password` or `api_key`, and free-standing random tokens.

use portcullis_sdk::{base64_decode, words};

use crate::formats::known_in;
use crate::randomness::{is_filler, is_generated, is_random_token};

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evidence {
    /// A credential by its format or by where it stands: denied when it
    /// leaves.
    Specific,
    /// A random-looking token with nothing else to say it is a key:
    /// escalated, never denied.
    Suspicious,
}

/// One secret in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Secret {
    /// The rule that found it.
    pub(crate) rule: &'static str,
    /// What it is, without its value: "GitHub personal access token",
    /// "the value of `DB_PASSWORD`".
    pub(crate) what: String,
    /// Byte range of the secret in the text it was found in.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) evidence: Evidence,
}

/// Every secret in `text`, in order, without overlaps; where two rules
/// find the same bytes the more specific is kept.
pub(crate) fn secrets_in(text: &str) -> Vec<Secret> {
    let mut found: Vec<Secret> = known_in(text)
        .into_iter()
        .map(|known| Secret {
            rule: "known-credential",
            what: known.format.name.to_owned(),
            start: known.start,
            end: known.end,
            evidence: Evidence::Specific,
        })
        .collect();
    private_keys(text, &mut found);
    json_web_tokens(text, &mut found);
    url_passwords(text, &mut found);
    // The whitespace-separated words, split once for the three rules that
    // read them.
    let words: Vec<(usize, &str)> = words_with_offsets(text).collect();
    command_line_credentials(&words, &mut found);
    authorization_headers(&words, &mut found);
    keyed_values(text, &mut found);
    random_tokens(&words, &mut found);
    // Specific findings first, then suspicions that no specific finding
    // and no public PEM block (a certificate, a public key) explains.
    let public_blocks = public_pem_blocks(text);
    found.sort_by_key(|secret| {
        (
            secret.evidence == Evidence::Suspicious,
            secret.start,
            std::cmp::Reverse(secret.end),
        )
    });
    let mut kept: Vec<Secret> = Vec::with_capacity(found.len());
    for secret in found {
        let overlaps = |start: usize, end: usize| secret.start < end && start < secret.end;
        let explained = kept.iter().any(|other| overlaps(other.start, other.end))
            || (secret.evidence == Evidence::Suspicious
                && public_blocks
                    .iter()
                    .any(|&(start, end)| overlaps(start, end)));
        if !explained {
            kept.push(secret);
        }
    }
    kept.sort_by_key(|secret| secret.start);
    kept
}

/// Byte ranges of PEM blocks that are not private keys: their base64 is
/// random by nature and public by design.
fn public_pem_blocks(text: &str) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    for (at, _) in text.match_indices("-----BEGIN ") {
        let rest = &text[at..];
        let header = rest
            .get(..rest.find('\n').unwrap_or(rest.len()).min(80))
            .unwrap_or(rest);
        if header.contains("PRIVATE KEY") {
            continue;
        }
        let end = rest.find("-----END").map_or(text.len(), |end| at + end);
        blocks.push((at, end));
    }
    blocks
}

fn specific(rule: &'static str, what: impl Into<String>, start: usize, end: usize) -> Secret {
    Secret {
        rule,
        what: what.into(),
        start,
        end,
        evidence: Evidence::Specific,
    }
}

/// A PEM private key block with a body: `-----BEGIN … PRIVATE KEY-----`
/// and at least 64 base64 characters that are not filler. A header alone,
/// or one around `anything`, is documentation. A block cut short (no END
/// line) still counts: truncating a key does not make it less secret.
fn private_keys(text: &str, found: &mut Vec<Secret>) {
    for (at, _) in text.match_indices("-----BEGIN ") {
        let header_start = at + "-----BEGIN ".len();
        let Some(header_len) = text[header_start..].find("-----") else {
            continue;
        };
        let label = &text[header_start..header_start + header_len];
        if header_len > 40
            || !(label.ends_with("PRIVATE KEY") || label.ends_with("PRIVATE KEY BLOCK"))
        {
            continue;
        }
        let body_start = header_start + header_len + "-----".len();
        let body_end = text[body_start..]
            .find("-----END")
            .map_or(text.len(), |end| body_start + end);
        let body: String = text[body_start..body_end]
            .lines()
            .filter(|line| !line.contains(':'))
            .flat_map(str::chars)
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            .collect();
        if body.len() >= 64 && !is_filler(&body) {
            found.push(specific(
                "private-key",
                format!("{label} block"),
                at,
                body_end,
            ));
        }
    }
}

fn base64url_run(bytes: &[u8], from: usize) -> usize {
    let mut end = from;
    while end < bytes.len()
        && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b'-'))
    {
        end += 1;
    }
    end
}

/// A JSON Web Token: a base64url header that decodes to a JSON object
/// naming `alg` or `typ`, a `.`, and a payload that decodes to a JSON
/// object (the signature is optional: an unsigned token still grants what
/// the server accepts). A header alone is not a token.
fn json_web_tokens(text: &str, found: &mut Vec<Secret>) {
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices("eyJ") {
        if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let header_end = base64url_run(bytes, at);
        if bytes.get(header_end) != Some(&b'.') || !text[header_end + 1..].starts_with("eyJ") {
            continue;
        }
        let payload_end = base64url_run(bytes, header_end + 1);
        let header = base64_decode(&text[at..header_end]).unwrap_or_default();
        let payload = base64_decode(&text[header_end + 1..payload_end]).unwrap_or_default();
        let header = String::from_utf8_lossy(&header);
        let names_alg = header.contains("\"alg\"") || header.contains("\"typ\"");
        if !(header.starts_with("{\"") && names_alg && payload.starts_with(b"{")) {
            continue;
        }
        let end = if bytes.get(payload_end) == Some(&b'.') {
            base64url_run(bytes, payload_end + 1)
        } else {
            payload_end
        };
        found.push(specific("json-web-token", "JSON Web Token", at, end));
    }
}

/// Whether a value is a stand-in for a secret rather than one:
/// `${TOKEN}`, `%s`, `<your key>`, `********`, `changeme`, `example`…
pub(crate) fn is_placeholder(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "example",
        "placeholder",
        "changeme",
        "change_me",
        "your",
        "redacted",
        "dummy",
        "insert",
        "replace",
        "sample",
        "fake",
        "password",
        "secret",
    ];
    let lower = value.to_ascii_lowercase();
    value.is_empty()
        || value.starts_with(['$', '%', '<', '{', '[', '*', '('])
        || ["xxx", "***", "...", "…"]
            .iter()
            .any(|filler| lower.contains(filler))
        || WORDS.iter().any(|word| lower.contains(word))
}

/// `scheme://user:password@host`: the password of a connection string or
/// URL, unless it is a placeholder.
fn url_passwords(text: &str, found: &mut Vec<Secret>) {
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices("://") {
        let scheme_ok = at > 0 && bytes[at - 1].is_ascii_alphanumeric();
        let authority_start = at + 3;
        let authority_end = bytes[authority_start..]
            .iter()
            .position(|&byte| b"/?# \t\r\n\"'`<>".contains(&byte))
            .map_or(bytes.len(), |end| authority_start + end);
        let authority = &text[authority_start..authority_end];
        let Some(userinfo) = authority.rfind('@').map(|at| &authority[..at]) else {
            continue;
        };
        let Some((user, password)) = userinfo.split_once(':') else {
            continue;
        };
        if scheme_ok && !is_placeholder(password) && !is_filler(password) {
            let start = authority_start + user.len() + 1;
            found.push(specific(
                "password-in-url",
                "a password in a URL",
                start,
                start + password.len(),
            ));
        }
    }
}

/// Whitespace-separated words of `text` with their byte offsets.
fn words_with_offsets(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_ascii_whitespace()
        .map(move |word| (word.as_ptr() as usize - text.as_ptr() as usize, word))
}

fn unquote(word: &str) -> &str {
    word.trim_matches(|c| matches!(c, '"' | '\'' | '`'))
}

/// `curl -u user:password`, `--user user:password`, and options that take a
/// credential (`--password`, `--token`, `--api-key`…) followed by a
/// generated value.
fn command_line_credentials(words: &[(usize, &str)], found: &mut Vec<Secret>) {
    const BASIC: &[&str] = &["-u", "--user", "--proxy-user"];
    const SECRET_OPTIONS: &[&str] = &[
        "--password",
        "--passwd",
        "--token",
        "--api-key",
        "--apikey",
        "--secret",
        "--client-secret",
        "--auth-token",
        "--access-token",
    ];
    for (index, &(start, word)) in words.iter().enumerate() {
        let (option, offset, raw) = match word.split_once('=') {
            Some((option, value)) => (option, start + option.len() + 1, value),
            None => match words.get(index + 1) {
                Some(&(offset, next)) => (word, offset, next),
                None => continue,
            },
        };
        let value = unquote(raw);
        if BASIC.contains(&option) {
            if let Some((_, password)) = value.split_once(':')
                && !is_placeholder(password)
                && password.len() >= 4
                && !is_filler(password)
            {
                found.push(specific(
                    "basic-credentials",
                    format!("a password given to `{option}`"),
                    offset,
                    offset + raw.len(),
                ));
            }
        } else if SECRET_OPTIONS.contains(&option) && !is_placeholder(value) && is_generated(value)
        {
            found.push(specific(
                "keyed-secret",
                format!("the value of `{option}`"),
                offset,
                offset + raw.len(),
            ));
        }
    }
}

/// `Bearer <token>` with a generated token, and `Basic <base64>` that
/// decodes to `user:password`.
fn authorization_headers(words: &[(usize, &str)], found: &mut Vec<Secret>) {
    for pair in words.windows(2) {
        let [(_, scheme), (offset, raw)] = pair else {
            continue;
        };
        let value = unquote(raw).trim_end_matches([',', ';']);
        if scheme.eq_ignore_ascii_case("bearer") && value.len() >= 16 && is_generated(value) {
            found.push(specific(
                "bearer-token",
                "a bearer token",
                *offset,
                offset + raw.len(),
            ));
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64_decode(value).unwrap_or_default();
            let decoded = String::from_utf8_lossy(&decoded);
            if let Some((_, password)) = decoded.split_once(':')
                && value.len() >= 8
                && !password.is_empty()
                && !is_placeholder(password)
            {
                found.push(specific(
                    "basic-credentials",
                    "basic authorization credentials",
                    *offset,
                    offset + raw.len(),
                ));
            }
        }
    }
}

/// Whether an identifier names a secret: `password`, `DB_PASSWORD`,
/// `apiKey`, `client_secret`, `authToken`, `sumologic.accessId`… but not
/// `token_url`, `public_key`, `key_file` or `password_length`, which name
/// something about a secret.
pub(crate) fn is_secret_name(identifier: &str) -> bool {
    const SECRET: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "auth",
        "authtoken",
        "accesskey",
        "privatekey",
        "secretkey",
    ];
    const ABOUT: &[&str] = &[
        "public",
        "publishable",
        "file",
        "path",
        "url",
        "uri",
        "name",
        "type",
        "length",
        "size",
        "count",
        "env",
        "var",
        "header",
        "field",
        "prefix",
        "format",
        "ttl",
        "expiry",
        "expires",
        "expiration",
        "policy",
        "endpoint",
        "location",
        "method",
        "mode",
        "id",
    ];
    let words = words(identifier);
    let joined = words.concat();
    let access_id = joined.contains("accessid") || joined.contains("accesskeyid");
    let last_is_key = words.last().is_some_and(|last| last == "key");
    let names_secret = access_id
        || last_is_key
        || words.iter().any(|word| SECRET.contains(&word.as_str()))
        || ["apikey", "accesskey", "secretkey", "authtoken"]
            .iter()
            .any(|compound| joined.contains(compound));
    let about = words
        .iter()
        .any(|word| ABOUT.contains(&word.as_str()) && !(access_id && word == "id"));
    names_secret && !about
}

/// `NAME = value`, `NAME: value`, `NAME := "value"`, `"name": "value"`,
/// `?api_key=value`: a generated value assigned to a name that says it is
/// a secret.
fn keyed_values(text: &str, found: &mut Vec<Secret>) {
    let bytes = text.as_bytes();
    let identifier_byte =
        |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-');
    for (at, &byte) in bytes.iter().enumerate() {
        if !(byte == b'=' || byte == b':') || text[at..].starts_with("://") {
            continue;
        }
        // The operator's first byte only: `:=`, `==`, `=>`.
        if at > 0 && matches!(bytes[at - 1], b':' | b'=') {
            continue;
        }
        let mut name_end = at;
        while name_end > 0 && matches!(bytes[name_end - 1], b' ' | b'\t' | b'"' | b'\'') {
            name_end -= 1;
        }
        let mut name_start = name_end;
        while name_start > 0 && identifier_byte(bytes[name_start - 1]) {
            name_start -= 1;
        }
        let name = &text[name_start..name_end];
        if name.is_empty() || !is_secret_name(name) {
            continue;
        }
        let mut value_start = at + 1;
        while value_start < bytes.len()
            && matches!(
                bytes[value_start],
                b'=' | b'>' | b':' | b' ' | b'\t' | b'"' | b'\'' | b'`'
            )
        {
            value_start += 1;
        }
        let value_end = bytes[value_start..]
            .iter()
            .position(|&byte| byte.is_ascii_whitespace() || b"\"'`,;&)}]".contains(&byte))
            .map_or(bytes.len(), |end| value_start + end);
        let value = &text[value_start..value_end];
        if value.contains("://") || value.starts_with(['/', '.']) {
            continue;
        }
        if !is_placeholder(value) && is_generated(value) {
            found.push(specific(
                "keyed-secret",
                format!("the value of `{name}`"),
                value_start,
                value_end,
            ));
        }
    }
}

/// Whether `token` is base64 of readable text (a JWT header alone, an
/// encoded sentence): encoded data, not a random key, which decodes to
/// bytes of every value.
fn decodes_to_text(token: &str) -> bool {
    base64_decode(token).is_some_and(|bytes| {
        bytes.len() >= 8
            && bytes
                .iter()
                .all(|&byte| byte == b'\n' || byte == b'\t' || (0x20..0x7f).contains(&byte))
    })
}

/// Publishable keys are meant to be public (Stripe's `pk_live_`).
const PUBLIC_PREFIXES: &[&str] = &["pk_live_", "pk_test_"];

/// Free-standing tokens random enough to be keys (`is_random_token`),
/// outside URLs: a URL's path is full of random identifiers (document ids,
/// content hashes) that grant nothing.
fn random_tokens(words: &[(usize, &str)], found: &mut Vec<Secret>) {
    for &(offset, word) in words {
        if word.contains("://") {
            continue;
        }
        let bytes = word.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let token_byte = |byte: u8| byte.is_ascii_alphanumeric() || b"+/_-".contains(&byte);
            let end = bytes[start..]
                .iter()
                .position(|&byte| !token_byte(byte))
                .map_or(bytes.len(), |end| start + end);
            // A token starts after a separator byte, which may be part of a
            // multi-byte character; an empty run is no token.
            if end == start {
                start += 1;
                continue;
            }
            let token = &word[start..end];
            if (32..=128).contains(&token.len())
                && !decodes_to_text(token)
                && !PUBLIC_PREFIXES
                    .iter()
                    .any(|prefix| token.starts_with(prefix))
                && is_random_token(token)
            {
                found.push(Secret {
                    rule: "high-entropy-token",
                    what: "a random token".to_owned(),
                    start: offset + start,
                    end: offset + start + token.len(),
                    evidence: Evidence::Suspicious,
                });
            }
            start = end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<&'static str> {
        secrets_in(text).iter().map(|secret| secret.rule).collect()
    }

    #[test]
    fn private_key_blocks_need_a_body() {
        let body = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ";
        let block =
            format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----");
        assert_eq!(rules(&block), ["private-key"]);
        assert_eq!(
            rules(&block[..block.len() - 30]),
            ["private-key"],
            "truncated"
        );
        assert!(rules("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----").is_empty());
        assert!(
            rules(&format!(
                "-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"
            ))
            .is_empty()
        );
    }

    #[test]
    fn jwts_are_read_not_matched() {
        // {"alg":"HS256"} . {"sub":"42"}
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl";
        assert_eq!(
            rules(&format!("Authorization: {token}")),
            ["json-web-token"]
        );
        assert!(rules("eyJhbGciOiJIUzI1NiJ9").is_empty(), "a header alone");
        assert!(
            rules("eyJub3QiOiJqd3QifQ.eyJ4IjoxfQ").is_empty(),
            "no alg or typ"
        );
    }

    #[test]
    fn passwords_in_urls() {
        assert_eq!(
            rules("postgres://app:Zr7q!pL2w@db.example.com:5432/prod"),
            ["password-in-url"]
        );
        assert_eq!(rules("redis://:s3cr3tPass@cache:6379"), ["password-in-url"]);
        for text in [
            "postgres://app:${DB_PASSWORD}@db/prod",
            "https://user:password@example.com",
            "mysql://root:<pass>@localhost",
            "https://trusted.example@evil.example/",
        ] {
            assert!(rules(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn command_line_and_header_credentials() {
        assert_eq!(
            rules("curl -u admin:Wq8zT3kq https://api.example"),
            ["basic-credentials"]
        );
        assert_eq!(
            rules("curl --user=ops:Wq8zT3kq host"),
            ["basic-credentials"]
        );
        assert_eq!(
            rules("tool login --token Kx9Lm2Pq8Rt4Vw6Y"),
            ["keyed-secret"]
        );
        assert_eq!(
            rules("Authorization: Bearer Kx9Lm2Pq8Rt4Vw6Yz0Ab"),
            ["bearer-token"]
        );
        // admin:hunter2
        assert_eq!(
            rules("Authorization: Basic YWRtaW46aHVudGVyMg=="),
            ["basic-credentials"]
        );
        assert!(rules("curl -u $USER:$PASS https://api.example").is_empty());
        assert!(rules("the Bearer token scheme").is_empty());
    }

    #[test]
    fn secret_names() {
        for name in [
            "password",
            "DB_PASSWORD",
            "apiKey",
            "client_secret",
            "authToken",
            "sumologic.accessId",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "token_url",
            "public_key",
            "key_file",
            "password_length",
            "username",
            "monkey",
            "tokenizer",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn keyed_values_must_look_generated() {
        assert_eq!(rules("DB_PASSWORD=q7Rt2xWv9Lp3"), ["keyed-secret"]);
        assert_eq!(
            rules("{\"api_key\": \"4f9a1c07be2d58e3\"}"),
            ["keyed-secret"]
        );
        assert_eq!(
            rules("https://api.example/v1?user=me&api_key=9XqL2mTz7Rb4"),
            ["keyed-secret"]
        );
        for text in [
            "password: ${link}",
            "secret := ''",
            "not_a_secret = justsomewords",
            "API_KEY=\"insert_key_here\"",
            "token_type: Bearer",
            "key_file = /etc/ssl/private/server.pem",
        ] {
            assert!(rules(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn random_tokens_are_suspicious_outside_urls() {
        let token = "Zq3vN8xLr2Tb6WcYp0Hs4KdGm7FjQa9E";
        let found = secrets_in(&format!("here it is: {token}"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].evidence, Evidence::Suspicious);
        assert!(rules(&format!("https://drive.example/d/{token}/view")).is_empty());
        assert!(
            rules("pk_live_Zq3vN8xLr2Tb6WcYp0Hs4KdGm7FjQa").is_empty(),
            "publishable"
        );
        assert!(rules("commit 3f786850e387550fdab836ed7e6dc881de23001b").is_empty());
        assert!(rules("eyJhbGciOiJSUzI1NiJ9").is_empty(), "base64 of JSON");
        assert!(
            rules("café ü€ Zq3vN8xLr2Tb6WcYp0Hs4KdGm7FjQa9E").len() == 1,
            "after non-ASCII"
        );
    }
}
