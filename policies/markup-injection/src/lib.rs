//! Denies tool calls that plant script in text that will be rendered: an
//! issue body, a comment, a page title, a record in a database.
//!
//! Each finding is judged by the kind of argument it sits in
//! ([`ArgumentKind`](portcullis_sdk::ArgumentKind)). Code and shell commands
//! (a web page the agent writes to a file, an `echo` into one) legitimately
//! hold markup, so the rules apply to free text, plain values and SQL only.
//!
//! | rule | what it finds | free text | value | SQL |
//! |------|---------------|-----------|-------|-----|
//! | `script-tag` | `<script`, `</script>` | deny | deny | deny |
//! | `script-url` | `javascript:…`, `vbscript:…`, `data:text/html` | deny | deny | deny |
//! | `event-handler-attribute` | a tag with an `on…=` handler: `<img src=x onerror=…>` | deny | deny | deny |
//! | `event-handler` | a bare `onerror=`, `onload=`… outside a tag | escalate | deny | escalate |
//! | `active-tag` | `<iframe`, `<object`, `<embed`, `<svg … on…`, `<meta http-equiv`, `<base`, `<form action` | escalate | deny | deny |
//! | `xss-probe` | `alert(1)`, `confirm('…')`, `document.cookie`, `String.fromCharCode(` | escalate | deny | escalate |
//!
//! Text written for people may mention a handler or an `alert()` while
//! discussing a bug, so the weaker signals escalate there instead of
//! denying.

mod rules;

use portcullis_sdk::{
    Context, EventKind, Finding, Metadata, Outcome, Policy, ToolCall, export_policy,
    judge_arguments,
};

use rules::RULES;

/// The policy.
pub struct MarkupInjection;

impl Policy for MarkupInjection {
    fn metadata() -> Metadata {
        Metadata::new("markup-injection", env!("CARGO_PKG_VERSION"))
            .on(EventKind::ToolCall)
            .patterns(RULES.iter().map(|rule| rule.pattern()))
    }

    fn check_call(_ctx: &Context, call: &ToolCall, findings: &[Finding]) -> Outcome {
        judge_arguments(RULES, call, findings)
    }
}

export_policy!(MarkupInjection);

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::{Value, json};
    use portcullis_sdk::testing::rules;
    use portcullis_sdk::{Verdict, testing};

    /// `cases.jsonl`, the file `portcullis policy test` also runs through the
    /// engine (`tests/cli/policy_cases.rs`).
    #[test]
    fn cases() {
        portcullis_sdk::testing::check_cases::<MarkupInjection>(include_str!("../cases.jsonl"));
    }

    use super::*;

    fn check(tool: &str, arguments: Value) -> Outcome {
        testing::check_call::<MarkupInjection>(tool, arguments)
    }

    #[test]
    fn script_in_an_issue_body_is_denied() {
        for (body, rule) in [
            ("<script>alert(1)</script>", "script-tag"),
            (
                "The link [here](javascript:prompt(document.cookie)) is broken",
                "script-url",
            ),
            ("[x](data:text/html;base64,PHNjcmlwdD4=)", "script-url"),
            (
                "`\"'><img src=xxx:x onerror=javascript:alert(1)>",
                "event-handler-attribute",
            ),
            (
                "<img/src=\"x\"/onerror=prompt()>",
                "event-handler-attribute",
            ),
        ] {
            let outcome = check("create_issue", json!({ "title": "Bug", "body": body }));
            assert_eq!(outcome.verdict, Verdict::Deny, "{body}");
            assert!(
                rules(&outcome).contains(&rule),
                "{body}: {:?}",
                rules(&outcome)
            );
        }
    }

    #[test]
    fn weak_signals_in_free_text_escalate() {
        for body in [
            "The link [here](\"onerror=\"alert(1)) is broken",
            "See [here](.alert(1);)",
            "Embed: <iframe src=\"https://example.com\"></iframe>",
        ] {
            let outcome = check("create_issue", json!({ "body": body }));
            assert_eq!(
                outcome.verdict,
                Verdict::Escalate,
                "{body}: {:?}",
                outcome.reasons
            );
        }
    }

    #[test]
    fn markup_in_a_plain_value_is_denied() {
        let outcome = check("set_name", json!({ "name": "x\" onmouseover=\"steal()" }));
        assert_eq!(outcome.verdict, Verdict::Deny);
        assert_eq!(rules(&outcome), ["event-handler"]);
        assert!(
            outcome.reasons[0]
                .message
                .starts_with("/arguments/name (value)")
        );
    }

    #[test]
    fn code_and_ordinary_text_are_allowed() {
        for (tool, arguments) in [
            (
                "write_file",
                json!({ "path": "index.html", "content": "<script src=\"app.js\"></script>" }),
            ),
            (
                "create_issue",
                json!({ "body": "JavaScript: The Good Parts covers regular expression (regex) syntax." }),
            ),
            (
                "create_issue",
                json!({ "body": "![logo](data:image/png;base64,iVBORw0KGgo=) looks fine" }),
            ),
            ("fetch", json!({ "url": "https://example.com/?onload=1" })),
        ] {
            let outcome = check(tool, arguments.clone());
            assert_eq!(
                outcome.verdict,
                Verdict::Allow,
                "{arguments}: {:?}",
                outcome.reasons
            );
        }
    }
}
