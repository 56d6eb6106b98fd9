//! Cursor's hooks: `beforeShellExecution`, `beforeMCPExecution` and
//! `beforeReadFile`, answered with `permission`; `afterMCPExecution` and
//! `afterShellExecution`, which Cursor runs without waiting for an answer,
//! decided for the session's state and the audit log only.

use portcullis::{Decision, Event, ToolCall, ToolResult, Verdict};
use serde_json::{Value, json};

use crate::payload::{HookError, Payload, arguments, call_or_result, tool_result};
use crate::response::{refusal_without_asking, summary};
use crate::{HookAnswer, HookPoint, HookRequest, Runtime};

/// The server Cursor's own shell and file tools are decided under.
const BUILT_IN: &str = "cursor";

pub(crate) fn read(payload: &Value) -> Result<HookRequest, HookError> {
    let fields = Payload::new(payload)?;
    let hook_event = fields.string("hook_event_name")?;
    let (point, tool, server, events) = match hook_event {
        "beforeShellExecution" | "afterShellExecution" => {
            let call = ToolCall {
                name: "shell".to_owned(),
                arguments: json!({
                    "command": fields.string("command")?,
                    "cwd": fields.optional_string("cwd").unwrap_or_default(),
                }),
                tool: None,
            };
            let point = if hook_event == "beforeShellExecution" {
                HookPoint::BeforeCall
            } else {
                HookPoint::AfterCall
            };
            let event = call_or_result(point, call, fields.value("output"));
            (point, "shell".to_owned(), BUILT_IN.to_owned(), vec![event])
        }
        "beforeMCPExecution" | "afterMCPExecution" => {
            let (server, name) = mcp_server_and_tool(&fields)?;
            let call = ToolCall {
                name: name.clone(),
                arguments: arguments(fields.value("tool_input")),
                tool: None,
            };
            let point = if hook_event == "beforeMCPExecution" {
                HookPoint::BeforeCall
            } else {
                HookPoint::AfterCall
            };
            let output = fields.value("result_json").map(parse_json_text);
            let event = call_or_result(point, call, output.as_ref());
            (point, name, server, vec![event])
        }
        // The path is a call (a secret store?), the content a result the
        // model is about to read (planted instructions?): both are decided.
        "beforeReadFile" => {
            let path = fields.string("file_path")?;
            let mut call_arguments = json!({ "file_path": path });
            if let Some(attachments) = fields.value("attachments") {
                call_arguments["attachments"] = attachments.clone();
            }
            let call = ToolCall {
                name: "read_file".to_owned(),
                arguments: call_arguments,
                tool: None,
            };
            let content = fields.value("content");
            let result = ToolResult {
                call: call.clone(),
                response: tool_result(content),
            };
            (
                HookPoint::BeforeCall,
                "read_file".to_owned(),
                BUILT_IN.to_owned(),
                vec![Event::Call(call), Event::Result(result)],
            )
        }
        other => {
            return Err(HookError::UnsupportedEvent {
                runtime: Runtime::Cursor.name(),
                event: other.to_owned(),
                supported: "beforeShellExecution, beforeMCPExecution, beforeReadFile, afterMCPExecution and afterShellExecution",
            });
        }
    };
    Ok(HookRequest {
        runtime: Runtime::Cursor,
        hook_event: hook_event.to_owned(),
        point,
        session: fields.session("conversation_id"),
        tool,
        server,
        runtime_version: fields.optional_string("cursor_version").map(str::to_owned),
        events,
        blocking: point == HookPoint::BeforeCall,
    })
}

/// The server and tool of an MCP hook. Cursor names the tool either
/// plainly, with the server given by its `url` or `command`, or as
/// `MCP:<server>:<tool>`.
fn mcp_server_and_tool(fields: &Payload<'_>) -> Result<(String, String), HookError> {
    let tool = fields.string("tool_name")?;
    if let Some((server, name)) = tool
        .strip_prefix("MCP:")
        .and_then(|rest| rest.split_once(':'))
    {
        return Ok((server.to_owned(), name.to_owned()));
    }
    let server = fields
        .optional_string("url")
        .and_then(|url| url.split("://").nth(1))
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .or_else(|| {
            let command = fields.optional_string("command")?;
            let program = command.split_whitespace().last()?;
            program.rsplit('/').next()
        })
        .filter(|server| !server.is_empty())
        .unwrap_or("mcp");
    Ok((server.to_owned(), tool.to_owned()))
}

/// Cursor passes an MCP result as JSON text; text that is not JSON is the
/// result's text.
fn parse_json_text(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
        other => other.clone(),
    }
}

pub(crate) fn answer(request: &HookRequest, decision: &Decision) -> HookAnswer {
    let stdout = if request.hook_event == "beforeReadFile" {
        // This hook's answer has a permission only, and no ask.
        let permission = match decision.verdict {
            Verdict::Allow => "allow",
            Verdict::Escalate | Verdict::Deny => "deny",
        };
        let answer = json!({ "permission": permission });
        // The answer has no room for a reason: Cursor's hook log gets it.
        let reason =
            (decision.verdict != Verdict::Allow).then(|| refusal_without_asking(request, decision));
        return HookAnswer {
            stdout: answer,
            stderr: reason,
            exit_code: 0,
        };
    } else {
        match decision.verdict {
            Verdict::Allow => json!({ "permission": "allow" }),
            Verdict::Escalate => permission(Verdict::Escalate, &summary(request, decision)),
            Verdict::Deny => permission(Verdict::Deny, &refusal_without_asking(request, decision)),
        }
    };
    HookAnswer {
        stdout,
        stderr: None,
        exit_code: 0,
    }
}

/// Cursor's answer to a before-hook: `permission`, with the message for the
/// user and for the model.
pub(crate) fn permission(verdict: Verdict, message: &str) -> Value {
    let permission = match verdict {
        Verdict::Allow => "allow",
        Verdict::Escalate => "ask",
        Verdict::Deny => "deny",
    };
    json!({
        "permission": permission,
        "user_message": message,
        "agent_message": message,
    })
}
