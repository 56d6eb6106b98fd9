//! Denies tool calls that point a server at the inside of its network:
//! cloud metadata services, loopback and private addresses, internal host
//! names, and URL schemes that talk to other protocols.
//!
//! Server-side request forgery works because a tool fetches whatever URL it
//! is given from where the server runs, behind the firewall. The policy
//! therefore reads every URL in a call's arguments the way the fetcher will:
//! it parses it (WHATWG, so `http://0x7f.1`, `http://2130706433/` and
//! `http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ` are the loopback addresses they are), classifies the
//! host (ranges, not strings: every IPv4 spelling `inet_aton` accepts,
//! IPv4-mapped and NAT64 IPv6, wildcard DNS names such as `10.0.0.1.nip.io`),
//! and follows URLs nested in the query or path of another, which is how
//! open redirects carry an internal target past a naive check.
//!
//! | rule | what it finds | value (`url`, `host`, …) | command / code |
//! |------|---------------|------|------|
//! | `cloud-metadata` | `169.254.169.254`, `fd00:ec2::254`, `metadata.google.internal`, Alibaba's `100.100.100.200`… | deny | deny |
//! | `internal-address` | loopback, `0.0.0.0`, private, link-local and CGNAT ranges | deny | escalate |
//! | `internal-name` | single-label names, `.internal`, `.local`, `.corp`… | escalate | — |
//! | `protocol-smuggling` | `gopher:`, `dict:`, `jar:`, `ldap:`, `tftp:`, `netdoc:`, `php:`, `expect:`; `file:` | deny | deny |
//! | `other-protocol` | `ftp:`, `sftp:`, `smb:`, `telnet:` | escalate | — |
//! | `userinfo-host` | a user name that is itself a host (`http://trusted.com@evil.com`) | escalate | escalate |
//!
//! A URL nested in another is judged like the outer one, with the rule of
//! what it reaches. Free text (messages, bodies) is not judged: a URL in a
//! chat message is not fetched by the server.
//!
//! Settings, for tools that are meant to reach inside (a local dev server):
//!
//! ```json
//! { "allow-hosts": ["localhost", "*.dev.example.com"], "allow-cidrs": ["127.0.0.0/8"] }
//! ```

mod address;
mod settings;
mod urls;

use portcullis_sdk::serde_json::Value;
use portcullis_sdk::{
    ArgumentKind, ArgumentText, Context, EventKind, Finding, Metadata, Outcome, Policy,
    SettingError, ToolCall, Verdict, argument_texts, excerpt, export_policy,
    schema_property_description,
};

use address::Reach;
use settings::SsrfSettings;
use urls::{Target, targets_in};

/// The policy.
pub struct Ssrf;

impl Policy for Ssrf {
    fn metadata() -> Metadata {
        Metadata::new("ssrf", env!("CARGO_PKG_VERSION")).on(EventKind::ToolCall)
    }

    fn configure(settings: &str) -> Result<(), SettingError> {
        portcullis_sdk::settings::validate::<SsrfSettings>(settings)
    }

    fn check_call(_ctx: &Context, call: &ToolCall, _findings: &[Finding]) -> Outcome {
        let settings = portcullis_sdk::settings::get::<SsrfSettings>();
        let mut outcome = Outcome::allow();
        let schema = call.tool.as_ref().map(|tool| tool.input_schema_json());
        let arguments = call.arguments_json();
        for ArgumentText {
            field: pointer,
            key,
            text: value,
        } in argument_texts(&arguments)
        {
            let description =
                key.and_then(|key| schema_property_description(schema.as_ref()?, key));
            let kind = ArgumentKind::classify(&call.name, key, description, Some(value));
            if kind == ArgumentKind::Prose {
                continue;
            }
            let uri_format = key.is_some_and(|key| {
                schema
                    .as_ref()
                    .is_some_and(|schema| is_uri_property(schema, key))
            });
            for target in targets_in(value, key, uri_format) {
                if settings.allows(&target) {
                    continue;
                }
                if let Some((verdict, rule, why)) = judge(&target, kind) {
                    outcome.add(
                        verdict,
                        rule,
                        format!("{pointer}: `{}` {why}", excerpt(&target.text)),
                        [],
                    );
                }
            }
        }
        outcome
    }
}

export_policy!(Ssrf);

/// The verdict, rule and explanation for `target` in an argument of `kind`.
fn judge(target: &Target, kind: ArgumentKind) -> Option<(Verdict, &'static str, String)> {
    let lenient = matches!(kind, ArgumentKind::Command | ArgumentKind::Code);
    let nested = if target.depth > 0 {
        " (nested in another URL)"
    } else {
        ""
    };
    if let Some(scheme) = &target.scheme {
        match scheme.as_str() {
            "gopher" | "dict" | "jar" | "ldap" | "ldaps" | "tftp" | "netdoc" | "php" | "phar"
            | "expect" | "file" => {
                return Some((
                    Verdict::Deny,
                    "protocol-smuggling",
                    format!(
                        "uses the `{scheme}:` scheme{nested}, which makes a fetcher speak another protocol or read local files"
                    ),
                ));
            }
            "ftp" | "sftp" | "smb" | "telnet" if !lenient => {
                return Some((
                    Verdict::Escalate,
                    "other-protocol",
                    format!("uses the `{scheme}:` scheme{nested}, not HTTP"),
                ));
            }
            _ => {}
        }
    }
    let reach = target.reach?;
    let reaches = format!("reaches {}{nested}", reach.describe());
    match reach {
        Reach::Metadata => Some((
            Verdict::Deny,
            "cloud-metadata",
            format!("{reaches}, which hands out the server's credentials"),
        )),
        Reach::Loopback | Reach::Private if lenient => {
            Some((Verdict::Escalate, "internal-address", reaches))
        }
        Reach::Loopback | Reach::Private => Some((Verdict::Deny, "internal-address", reaches)),
        Reach::InternalName if !lenient => Some((Verdict::Escalate, "internal-name", reaches)),
        _ if target.userinfo_host => Some((
            Verdict::Escalate,
            "userinfo-host",
            format!("puts a host name before `@`{nested}; the request goes to the host after it"),
        )),
        _ => None,
    }
}

fn property<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    schema.get("properties")?.get(key)
}

/// Whether the schema says the property `key` is a URI.
fn is_uri_property(schema: &Value, key: &str) -> bool {
    property(schema, key)
        .and_then(|property| property.get("format"))
        .and_then(Value::as_str)
        .is_some_and(|format| {
            matches!(
                format,
                "uri" | "url" | "iri" | "uri-reference" | "hostname" | "ipv4" | "ipv6"
            )
        })
}

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::json;
    use portcullis_sdk::testing::{self, rules};

    use super::*;

    #[test]
    fn cases() {
        testing::check_cases::<Ssrf>(include_str!("../cases.jsonl"));
    }

    fn check(tool: &str, arguments: Value) -> Outcome {
        portcullis_sdk::settings::set("{}");
        testing::check_call::<Ssrf>(tool, arguments)
    }

    #[test]
    fn metadata_services_are_denied_in_every_spelling() {
        for url in [
            "http://169.254.169.254/latest/meta-data/iam/",
            "http://[::ffff:169.254.169.254]/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://2852039166/computeMetadata/v1/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://[fd00:ec2::254]/latest/",
            "http://100.100.100.200/latest/meta-data/",
            "https://metadata.azure.com./metadata/instance",
        ] {
            let outcome = check("http_get", json!({ "endpoint": url }));
            assert_eq!(outcome.verdict, Verdict::Deny, "{url}");
            assert_eq!(rules(&outcome), ["cloud-metadata"], "{url}");
        }
    }

    #[test]
    fn internal_addresses_are_denied_in_values_and_held_in_commands() {
        for url in [
            "http://127.0.0.1:6379/",
            "http://localhost/admin",
            "http://0/",
            "https://10.20.30.40/",
            "http://[::1]:8080/",
            "http://192.168.0.1.nip.io/",
            "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
            "http://%31%32%37.0.0.1/",
        ] {
            let outcome = check("open_page", json!({ "link": url }));
            assert_eq!(outcome.verdict, Verdict::Deny, "{url}");
            assert_eq!(rules(&outcome), ["internal-address"], "{url}");
        }
        let outcome = check(
            "run",
            json!({ "command": "curl -s http://localhost:9200/_cat" }),
        );
        assert_eq!(outcome.verdict, Verdict::Escalate);
    }

    #[test]
    fn an_internal_host_under_any_parser_s_reading_counts() {
        for url in [
            "http://0o12.0.0.9/",
            "http://4294967297/",
            "http://0x1000000007f000001/",
            "http://docs.example.com:443:\\@@10.0.0.2/",
        ] {
            let outcome = check("fetch", json!({ "url": url }));
            assert_eq!(
                outcome.verdict,
                Verdict::Deny,
                "{url}: {:?}",
                outcome.reasons
            );
        }
    }

    #[test]
    fn a_bare_host_is_judged_where_the_argument_names_a_host() {
        let outcome = check("connect", json!({ "host": "169.254.169.254" }));
        assert_eq!(rules(&outcome), ["cloud-metadata"]);
        let outcome = check("connect", json!({ "hostname": "db.internal:5432" }));
        assert_eq!(outcome.verdict, Verdict::Escalate);
        // A word that is not an address is not one.
        assert_eq!(
            check("search", json!({ "query": "localhost" })).verdict,
            Verdict::Allow
        );
    }

    #[test]
    fn protocol_smuggling_schemes_are_denied() {
        for url in [
            "gopher://evil.example:70/_GET%20/",
            "dict://example.org:11211/stat",
            "file:///etc/shadow",
            "jar:https://example.org/x.jar!/",
            "ldap://example.org/%0astats",
        ] {
            let outcome = check("fetch", json!({ "url": url }));
            assert_eq!(rules(&outcome), ["protocol-smuggling"], "{url}");
        }
        assert_eq!(
            rules(&check(
                "fetch",
                json!({ "url": "ftp://ftp.example.org/pub/" })
            )),
            ["other-protocol"]
        );
    }

    #[test]
    fn a_scheme_with_nothing_after_it_is_not_a_url() {
        let text = "*** Update File: notes/todo.md\nfile: see below";
        assert_eq!(
            rules(&check("apply_patch", json!({ "patch": text }))),
            Vec::<String>::new()
        );
        assert_eq!(
            rules(&check("fetch", json!({ "url": "file:/etc/passwd" }))),
            ["protocol-smuggling"]
        );
    }

    #[test]
    fn a_url_nested_in_another_is_followed() {
        let outcome = check(
            "fetch",
            json!({ "url": "https://redirector.example/go?next=http%3A%2F%2F169.254.169.254%2Flatest" }),
        );
        assert_eq!(rules(&outcome), ["cloud-metadata"]);
        assert!(
            outcome.reasons[0].message.contains("nested"),
            "{:?}",
            outcome.reasons
        );
    }

    #[test]
    fn a_host_before_the_at_sign_is_a_trick() {
        let outcome = check(
            "fetch",
            json!({ "url": "https://docs.example.com@attacker.example/" }),
        );
        assert_eq!(rules(&outcome), ["userinfo-host"]);
        assert_eq!(
            check("fetch", json!({ "url": "https://user@example.com/" })).verdict,
            Verdict::Allow
        );
    }

    #[test]
    fn public_urls_and_prose_are_allowed() {
        for arguments in [
            json!({ "url": "https://github.com/modelcontextprotocol/servers" }),
            json!({ "url": "https://172.217.16.142/" }),
            json!({ "message": "the dev server runs on http://localhost:3000" }),
            json!({ "url": "https://example.com/?q=localhost" }),
            json!({ "command": "ssh deploy@10.0.0.5 -p 2222" }),
        ] {
            assert_eq!(
                check("tool", arguments.clone()).verdict,
                Verdict::Allow,
                "{arguments}"
            );
        }
    }

    #[test]
    fn settings_allow_chosen_hosts_and_ranges() {
        portcullis_sdk::settings::set(
            r#"{"allow-hosts": ["localhost", "*.corp"], "allow-cidrs": ["10.0.0.0/8"]}"#,
        );
        for url in [
            "http://localhost:3000/",
            "http://build.corp/",
            "http://10.1.2.3/",
        ] {
            let call = testing::call("fetch", json!({ "url": url }));
            let outcome = Ssrf::check_call(&testing::context(), &call, &[]);
            assert_eq!(outcome.verdict, Verdict::Allow, "{url}");
        }
        let call = testing::call("fetch", json!({ "url": "http://169.254.169.254/" }));
        assert_eq!(
            Ssrf::check_call(&testing::context(), &call, &[]).verdict,
            Verdict::Deny
        );
        portcullis_sdk::settings::set("{}");
        let error = Ssrf::configure(r#"{"allow-cidrs": ["10.0.0.0/40"]}"#).unwrap_err();
        assert_eq!(error.field, "/allow-cidrs/0");
    }
}
