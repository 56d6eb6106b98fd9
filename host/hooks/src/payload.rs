//! Reading the fields of a hook payload, and the shapes runtimes share:
//! MCP tool names and tool results.

use portcullis::{Event, ToolCall, ToolResult};
use serde_json::{Map, Value, json};

use crate::HookPoint;

/// Why a hook payload could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// The payload is not a JSON object.
    #[error("the hook payload is not a JSON object")]
    NotAnObject,
    /// A field the hook event needs is missing or has the wrong type.
    #[error("the hook payload has no {expected} `{field}`")]
    Field {
        /// The field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
    /// The payload is a hook event Portcullis does not answer: the hook is
    /// wired to the wrong event.
    #[error(
        "{runtime} sent the hook event {event:?}; `portcullis hook {runtime}` answers only {supported}: remove it from the other events"
    )]
    UnsupportedEvent {
        /// The runtime.
        runtime: &'static str,
        /// The event it sent.
        event: String,
        /// The events Portcullis answers for this runtime.
        supported: &'static str,
    },
}

/// A payload's object, with typed access to its fields.
pub(crate) struct Payload<'a>(&'a Map<String, Value>);

impl<'a> Payload<'a> {
    pub(crate) fn new(value: &'a Value) -> Result<Payload<'a>, HookError> {
        value.as_object().map(Payload).ok_or(HookError::NotAnObject)
    }

    /// A required string field.
    pub(crate) fn string(&self, field: &'static str) -> Result<&'a str, HookError> {
        self.optional_string(field).ok_or(HookError::Field {
            field,
            expected: "string",
        })
    }

    /// A string field, when present.
    pub(crate) fn optional_string(&self, field: &str) -> Option<&'a str> {
        self.0.get(field).and_then(Value::as_str)
    }

    /// A field of any type, when present and not null.
    pub(crate) fn value(&self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|value| !value.is_null())
    }

    /// The session id in `field`, or `unknown`.
    pub(crate) fn session(&self, field: &str) -> String {
        self.optional_string(field)
            .filter(|id| !id.is_empty())
            .unwrap_or("unknown")
            .to_owned()
    }
}

/// A tool's arguments as the runtime passed them: an object as is, a JSON
/// text (Cursor sends some that way) parsed, anything else kept whole under
/// `input` so that its text is still checked.
pub(crate) fn arguments(input: Option<&Value>) -> Value {
    match input {
        None => json!({}),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ Value::Object(_)) => parsed,
            _ => json!({ "input": text }),
        },
        Some(object @ Value::Object(_)) => object.clone(),
        Some(other) => json!({ "input": other }),
    }
}

/// The server and tool an MCP tool name `mcp__<server>__<tool>` names, as
/// Claude Code, Codex and Gemini CLI write them. The server is the part
/// before the first `__` after the prefix; a tool's own name may contain
/// `__`.
pub(crate) fn mcp_tool(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("mcp__")?;
    let (server, tool) = rest.split_once("__")?;
    (!server.is_empty() && !tool.is_empty()).then_some((server, tool))
}

/// A tool's output in the shape of an MCP tool result, which the result
/// policies read: a result object (`content`…) as is, a content list as the
/// result's `content`, text as one text block, and any other value (a
/// built-in tool's own output, such as `{stdout, stderr}`) as
/// `structuredContent`, whose every text is checked.
pub(crate) fn tool_result(output: Option<&Value>) -> Value {
    match output {
        None => json!({ "content": [] }),
        Some(Value::String(text)) => json!({ "content": [{ "type": "text", "text": text }] }),
        Some(Value::Array(blocks)) => json!({ "content": blocks }),
        Some(Value::Object(result)) if result.contains_key("content") => {
            Value::Object(result.clone())
        }
        Some(other) => json!({ "content": [], "structuredContent": other }),
    }
}

/// The event a hook at `point` decides: the call before the tool runs, the
/// call with the tool's `output` after.
pub(crate) fn call_or_result(point: HookPoint, call: ToolCall, output: Option<&Value>) -> Event {
    match point {
        HookPoint::BeforeCall => Event::Call(call),
        HookPoint::AfterCall => Event::Result(ToolResult {
            call,
            response: tool_result(output),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mcp_name_splits_at_the_first_separator_after_the_prefix() {
        assert_eq!(
            mcp_tool("mcp__github__create_issue"),
            Some(("github", "create_issue"))
        );
        assert_eq!(mcp_tool("mcp__db__run__raw"), Some(("db", "run__raw")));
        assert_eq!(mcp_tool("mcp__github"), None);
        assert_eq!(mcp_tool("mcp____tool"), None);
        assert_eq!(mcp_tool("Bash"), None);
    }

    #[test]
    fn arguments_in_json_text_are_parsed_and_anything_else_is_kept() {
        assert_eq!(arguments(Some(&json!("{\"q\": 1}"))), json!({ "q": 1 }));
        assert_eq!(
            arguments(Some(&json!("not json; rm -rf ~"))),
            json!({ "input": "not json; rm -rf ~" })
        );
        assert_eq!(arguments(Some(&json!([1, 2]))), json!({ "input": [1, 2] }));
        assert_eq!(arguments(None), json!({}));
    }

    #[test]
    fn outputs_take_the_shape_of_an_mcp_result() {
        assert_eq!(
            tool_result(Some(&json!("hello"))),
            json!({ "content": [{ "type": "text", "text": "hello" }] })
        );
        let blocks = json!([{ "type": "text", "text": "a" }]);
        assert_eq!(tool_result(Some(&blocks)), json!({ "content": blocks }));
        let result = json!({ "content": [], "isError": true });
        assert_eq!(tool_result(Some(&result)), result);
        assert_eq!(
            tool_result(Some(&json!({ "stdout": "x" }))),
            json!({ "content": [], "structuredContent": { "stdout": "x" } })
        );
    }
}
