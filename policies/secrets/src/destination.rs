//! Where a tool call sends what it is given.
//!
//! A secret in a call is only a leak if the call takes it somewhere others
//! can read: a message, a comment, a public gist, a mail to an outside
//! address, a request to a host on the internet. Writing it to a local file
//! or passing it to a local command is suspicious, not proof.

use portcullis_sdk::serde_json::Value;
use portcullis_sdk::{ArgumentKind, argument_texts, words};

use crate::settings::SecretsSettings;

/// Words of a tool's name that say it publishes or sends.
const PUBLISHING_WORDS: &[&str] = &[
    "send",
    "post",
    "publish",
    "comment",
    "reply",
    "tweet",
    "share",
    "upload",
    "gist",
    "issue",
    "issues",
    "message",
    "messages",
    "email",
    "mail",
    "webhook",
    "paste",
    "notify",
    "forward",
    "broadcast",
    "announce",
    "pull",
    "review",
    "chat",
    "sms",
    "slack",
    "discord",
    "telegram",
    "invite",
    "submit",
];

/// Words of an argument name that hold mail recipients.
const RECIPIENT_WORDS: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "recipient",
    "recipients",
    "email",
    "emails",
    "address",
    "addresses",
];

/// Why the call is outbound, or `None` if nothing says it is.
pub(crate) fn outbound(
    tool: &str,
    arguments: &Value,
    settings: &SecretsSettings,
) -> Option<String> {
    let mut recipients = 0;
    for argument in argument_texts(arguments) {
        let Some(key) = argument.key else { continue };
        let key_words = words(key);
        if key_words
            .iter()
            .any(|word| RECIPIENT_WORDS.contains(&word.as_str()))
        {
            for address in argument
                .text
                .split([',', ';', ' '])
                .filter(|a| a.contains('@'))
            {
                recipients += 1;
                let domain = address.rsplit('@').next().unwrap_or_default();
                let domain = domain.trim_end_matches(['>', '"', '\'']);
                if !settings.is_internal(domain) {
                    return Some(format!("mails it to `{domain}`"));
                }
            }
        }
        let kind = ArgumentKind::classify(tool, Some(key), None, Some(argument.text));
        if kind != ArgumentKind::Prose
            && let Some(host) = http_host(argument.text)
            && !is_local_host(host)
            && !settings.is_internal(host)
        {
            return Some(format!("sends it to `{host}`"));
        }
    }
    if is_public(arguments) {
        return Some("makes it public".to_owned());
    }
    let publishing = words(tool)
        .iter()
        .any(|word| PUBLISHING_WORDS.contains(&word.as_str()));
    // Mail whose every recipient is internal stays inside.
    (publishing && recipients == 0).then(|| format!("`{tool}` posts or sends what it is given"))
}

/// `public: true`, `visibility: "public"`, `private: false`.
fn is_public(arguments: &Value) -> bool {
    let Some(object) = arguments.as_object() else {
        return false;
    };
    object.iter().any(|(key, value)| {
        let key = key.to_ascii_lowercase();
        (key == "public" && value == &Value::Bool(true))
            || (key == "private" && value == &Value::Bool(false))
            || (key == "visibility"
                && value
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case("public")))
    })
}

/// The host of an `http:` or `https:` URL at the start of `text`.
fn http_host(text: &str) -> Option<&str> {
    let text = text.trim();
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next()?
    } else {
        host.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// Loopback, private and link-local addresses and names that only resolve
/// inside a network.
fn is_local_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified();
    }
    if host.starts_with('[') {
        return host == "[::1]"
            || host.starts_with("[fc")
            || host.starts_with("[fd")
            || host.starts_with("[fe80");
    }
    !host.contains('.')
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
            .iter()
            .any(|suffix| host.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::json;

    use super::*;

    fn settings() -> SecretsSettings {
        portcullis_sdk::serde_json::from_str(r#"{"internal-domains": ["corp.example"]}"#).unwrap()
    }

    #[test]
    fn publishing_tools_are_outbound() {
        for tool in [
            "slack_post_message",
            "add_issue_comment",
            "create_gist",
            "sendEmail",
        ] {
            assert!(outbound(tool, &json!({}), &settings()).is_some(), "{tool}");
        }
        assert!(outbound("write_file", &json!({"path": "notes.txt"}), &settings()).is_none());
    }

    #[test]
    fn mail_is_outbound_unless_every_recipient_is_internal() {
        let internal = json!({"to": "ops@corp.example", "body": "x"});
        assert!(outbound("send_email", &internal, &settings()).is_none());
        let outside = json!({"to": "ops@corp.example, a@elsewhere.example", "body": "x"});
        assert_eq!(
            outbound("send_email", &outside, &settings()).as_deref(),
            Some("mails it to `elsewhere.example`")
        );
    }

    #[test]
    fn urls_to_public_hosts_are_outbound() {
        let public = json!({"url": "https://collector.example.net/in?d=1"});
        assert!(outbound("fetch", &public, &settings()).is_some());
        for url in [
            "http://localhost:8080/x",
            "http://10.0.0.5/",
            "https://wiki.corp.example/p",
        ] {
            assert!(
                outbound("fetch", &json!({"url": url}), &settings()).is_none(),
                "{url}"
            );
        }
        // A link inside a message body is not where the call goes.
        let prose = json!({"body": "see https://example.org"});
        assert!(outbound("save_note", &prose, &settings()).is_none());
    }

    #[test]
    fn public_flags() {
        assert!(outbound("create_snippet", &json!({"public": true}), &settings()).is_some());
        assert!(
            outbound(
                "create_snippet",
                &json!({"visibility": "PUBLIC"}),
                &settings()
            )
            .is_some()
        );
        assert!(outbound("create_snippet", &json!({"public": false}), &settings()).is_none());
    }
}
