//! Gemini CLI's hooks: `BeforeTool` and `AfterTool`, answered with a
//! top-level `decision` and `reason`. Gemini CLI has no ask: an escalation
//! is refused. A refused result is replaced by the reason, which is what
//! the model reads.

use portcullis::{Decision, ToolCall, Verdict};
use serde_json::{Value, json};

use crate::payload::{HookError, Payload, arguments, call_or_result, mcp_tool};
use crate::response::{refusal_without_asking, withheld};
use crate::{HookAnswer, HookPoint, HookRequest, Runtime};

pub(crate) fn read(payload: &Value) -> Result<HookRequest, HookError> {
    let fields = Payload::new(payload)?;
    let hook_event = fields.string("hook_event_name")?;
    let point = match hook_event {
        "BeforeTool" => HookPoint::BeforeCall,
        "AfterTool" => HookPoint::AfterCall,
        other => {
            return Err(HookError::UnsupportedEvent {
                runtime: Runtime::Gemini.name(),
                event: other.to_owned(),
                supported: "BeforeTool and AfterTool",
            });
        }
    };
    let tool = fields.string("tool_name")?;
    // `mcp_context` names the server and the tool as the server does;
    // without it, the `mcp__server__tool` name does.
    let context = fields.value("mcp_context").and_then(Value::as_object);
    let from_context = context.and_then(|context| {
        Some((
            context.get("server_name")?.as_str()?,
            context.get("tool_name")?.as_str()?,
        ))
    });
    let (server, name) = from_context
        .or_else(|| mcp_tool(tool))
        .unwrap_or((Runtime::Gemini.name(), tool));
    let call = ToolCall {
        name: name.to_owned(),
        arguments: arguments(fields.value("tool_input")),
        tool: None,
    };
    let event = call_or_result(point, call, fields.value("tool_response"));
    Ok(HookRequest {
        runtime: Runtime::Gemini,
        hook_event: hook_event.to_owned(),
        point,
        session: fields.session("session_id"),
        tool: tool.to_owned(),
        server: server.to_owned(),
        runtime_version: None,
        events: vec![event],
        blocking: true,
    })
}

pub(crate) fn answer(request: &HookRequest, decision: &Decision) -> HookAnswer {
    let stdout = match (request.point, decision.verdict) {
        (_, Verdict::Allow) => json!({}),
        (HookPoint::BeforeCall, _) => json!({
            "decision": "deny",
            "reason": refusal_without_asking(request, decision),
        }),
        (HookPoint::AfterCall, _) => json!({
            "decision": "deny",
            "reason": withheld(request, decision),
        }),
    };
    HookAnswer {
        stdout,
        stderr: None,
        exit_code: 0,
    }
}
