//! Claude Code's hooks, and Codex's, which use the same wire format:
//! `PreToolUse` and `PostToolUse` with `tool_name`, `tool_input` and
//! `tool_response`; answers in `hookSpecificOutput` or a top-level
//! `decision: "block"`.
//!
//! Where they differ, Codex is stricter on the answer: it parses
//! `permissionDecision: "ask"` but marks the hook failed and runs the tool,
//! and it refuses `updatedMCPToolOutput`. So an escalation is a refusal on
//! Codex, and a withheld result is a `block` whose reason Codex shows the
//! model in the result's place.

use portcullis::{Decision, ToolCall, Verdict};
use serde_json::{Value, json};

use crate::payload::{HookError, Payload, arguments, call_or_result, mcp_tool};
use crate::response::{refusal_without_asking, summary, withheld};
use crate::{HookAnswer, HookPoint, HookRequest, Runtime};

pub(crate) fn read(runtime: Runtime, payload: &Value) -> Result<HookRequest, HookError> {
    let fields = Payload::new(payload)?;
    let hook_event = fields.string("hook_event_name")?;
    let point = match hook_event {
        "PreToolUse" => HookPoint::BeforeCall,
        "PostToolUse" => HookPoint::AfterCall,
        other => {
            return Err(HookError::UnsupportedEvent {
                runtime: runtime.name(),
                event: other.to_owned(),
                supported: "PreToolUse and PostToolUse",
            });
        }
    };
    let tool = fields.string("tool_name")?;
    let (server, name) = match mcp_tool(tool) {
        Some((server, name)) => (server.to_owned(), name),
        None => (runtime.name().to_owned(), tool),
    };
    let call = ToolCall {
        name: name.to_owned(),
        arguments: built_in_arguments(runtime, tool, arguments(fields.value("tool_input"))),
        tool: None,
    };
    let event = call_or_result(point, call, fields.value("tool_response"));
    Ok(HookRequest {
        runtime,
        hook_event: hook_event.to_owned(),
        point,
        session: fields.session("session_id"),
        tool: tool.to_owned(),
        server,
        runtime_version: None,
        events: vec![event],
        blocking: true,
    })
}

/// Codex hands `apply_patch` its patch as `tool_input.command`; it is a
/// file edit, not a shell command, and is named for what it is.
fn built_in_arguments(runtime: Runtime, tool: &str, arguments: Value) -> Value {
    match (runtime, tool, &arguments) {
        (Runtime::Codex, "apply_patch", Value::Object(input)) => match input.get("command") {
            Some(patch) => json!({ "patch": patch }),
            None => arguments,
        },
        _ => arguments,
    }
}

pub(crate) fn answer(request: &HookRequest, decision: &Decision) -> HookAnswer {
    let codex = request.runtime == Runtime::Codex;
    let stdout = match (request.point, decision.verdict) {
        // Allowed: no decision, so the runtime's own permissions still apply.
        (_, Verdict::Allow) => json!({}),
        (HookPoint::BeforeCall, Verdict::Escalate) if !codex => json!({
            "hookSpecificOutput": {
                "hookEventName": request.hook_event,
                "permissionDecision": "ask",
                "permissionDecisionReason": summary(request, decision),
            }
        }),
        (HookPoint::BeforeCall, _) => json!({
            "hookSpecificOutput": {
                "hookEventName": request.hook_event,
                "permissionDecision": "deny",
                "permissionDecisionReason": refusal_without_asking(request, decision),
            }
        }),
        (HookPoint::AfterCall, _) => {
            let mut block = json!({
                "decision": "block",
                "reason": refusal_without_asking(request, decision),
            });
            // Claude Code replaces an MCP tool's output with this, so the
            // model never reads what was refused.
            if !codex && mcp_tool(&request.tool).is_some() {
                block["hookSpecificOutput"] = json!({
                    "hookEventName": request.hook_event,
                    "updatedMCPToolOutput": withheld(request, decision),
                });
            }
            block
        }
    };
    HookAnswer {
        stdout,
        stderr: None,
        exit_code: 0,
    }
}
