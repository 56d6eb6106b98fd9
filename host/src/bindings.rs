//! Host-side bindings for the `policy` world, generated from `wit/`, and the
//! conversions between the library's types and the WIT types.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "policy",
});

use serde_json::Value;

use self::portcullis::policy::types as wit;
use crate::decision::{self, Verdict};
use crate::event::{self, Event, EventKind, ToolDefinition};
use portcullis_text::prefilter::{BuiltinDetector, Matcher};

/// An event as the `check-*` functions take it.
pub(crate) enum WitEvent {
    /// For `check-tool`.
    Tool(wit::Tool),
    /// For `check-call`.
    Call(wit::ToolCall),
    /// For `check-result`.
    Result(wit::ToolResult),
}

impl From<&Event> for WitEvent {
    fn from(event: &Event) -> Self {
        match event {
            Event::Tool(tool) => WitEvent::Tool(tool.into()),
            Event::Call(call) => WitEvent::Call(call.into()),
            Event::Result(result) => WitEvent::Result(result.into()),
        }
    }
}

/// The WIT context of an event of `ctx`, numbered `sequence` in its
/// session, received at `timestamp_ms` unless `ctx` says when.
pub(crate) fn context(ctx: &event::Context, sequence: u64, timestamp_ms: u64) -> wit::Context {
    wit::Context {
        session: ctx.session.clone(),
        server: ctx.server.clone(),
        tenant: ctx.tenant.clone(),
        principal: ctx.principal.as_ref().map(|principal| wit::Principal {
            subject: principal.subject.clone(),
            claims: match &principal.claims {
                Value::Null => "{}".to_owned(),
                claims => claims.to_string(),
            },
        }),
        client: ctx.client.as_ref().map(|client| wit::Client {
            name: client.name.clone(),
            version: client.version.clone(),
        }),
        timestamp_ms: ctx.timestamp_ms.unwrap_or(timestamp_ms),
        sequence,
    }
}

impl From<&ToolDefinition> for wit::Tool {
    fn from(tool: &ToolDefinition) -> Self {
        wit::Tool {
            name: tool.name.clone(),
            description: tool.description.clone(),
            input_schema: tool.input_schema.to_string(),
            annotations: match &tool.annotations {
                Value::Null => "{}".to_owned(),
                annotations => annotations.to_string(),
            },
            digest: tool.digest(),
        }
    }
}

impl From<&event::ToolCall> for wit::ToolCall {
    fn from(call: &event::ToolCall) -> Self {
        wit::ToolCall {
            name: call.name.clone(),
            arguments: call.arguments.to_string(),
            tool: call.tool.as_ref().map(wit::Tool::from),
        }
    }
}

impl From<&event::ToolResult> for wit::ToolResult {
    fn from(result: &event::ToolResult) -> Self {
        wit::ToolResult {
            call: (&result.call).into(),
            response: result.response.to_string(),
        }
    }
}

impl From<&decision::Finding> for wit::Finding {
    fn from(finding: &decision::Finding) -> Self {
        wit::Finding {
            pattern: finding.pattern.clone(),
            field: finding.field.clone(),
            start: finding.start,
            end: finding.end,
            matched: finding.matched.clone(),
        }
    }
}

impl From<wit::Verdict> for Verdict {
    fn from(verdict: wit::Verdict) -> Self {
        match verdict {
            wit::Verdict::Allow => Verdict::Allow,
            wit::Verdict::Escalate => Verdict::Escalate,
            wit::Verdict::Deny => Verdict::Deny,
        }
    }
}

impl From<wit::EventKind> for EventKind {
    fn from(kind: wit::EventKind) -> Self {
        match kind {
            wit::EventKind::ToolDescription => EventKind::ToolDescription,
            wit::EventKind::ToolCall => EventKind::ToolCall,
            wit::EventKind::ToolResult => EventKind::ToolResult,
        }
    }
}

impl From<wit::Matcher> for Matcher {
    fn from(matcher: wit::Matcher) -> Self {
        match matcher {
            wit::Matcher::Literal(text) => Matcher::Literal(text),
            wit::Matcher::Regex(regex) => Matcher::Regex(regex),
            wit::Matcher::Builtin(detector) => Matcher::Builtin(match detector {
                wit::BuiltinDetector::InvisibleCharacters => BuiltinDetector::InvisibleCharacters,
                wit::BuiltinDetector::TagCharacters => BuiltinDetector::TagCharacters,
                wit::BuiltinDetector::BidiControls => BuiltinDetector::BidiControls,
            }),
        }
    }
}
