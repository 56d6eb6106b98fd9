//! How each runtime's payloads are read and its answers written, with
//! decisions made by hand; the real policies answer the fixtures in
//! `tests/cli/hooks.rs`.

use portcullis::{Decision, Event, Reason, Verdict};
use serde_json::{Value, json};

use crate::{HookPoint, HookRequest, Runtime, failure};

fn decided(verdict: Verdict) -> Decision {
    Decision::new(
        verdict,
        Reason::new("ssrf", "cloud-metadata", "reaches 169.254.169.254"),
        1,
    )
}

fn answer(runtime: Runtime, payload: Value, verdict: Verdict) -> Value {
    let request = HookRequest::read(runtime, &payload).unwrap();
    request.answer(&decided(verdict)).stdout
}

fn pre(tool: &str) -> Value {
    json!({ "session_id": "s", "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": { "url": "x" } })
}

fn post(tool: &str) -> Value {
    json!({ "session_id": "s", "hook_event_name": "PostToolUse", "tool_name": tool, "tool_input": {}, "tool_response": "text" })
}

#[test]
fn claude_code_asks_where_codex_must_refuse() {
    let claude = answer(Runtime::ClaudeCode, pre("Bash"), Verdict::Escalate);
    assert_eq!(claude["hookSpecificOutput"]["permissionDecision"], "ask");
    let codex = answer(Runtime::Codex, pre("Bash"), Verdict::Escalate);
    assert_eq!(codex["hookSpecificOutput"]["permissionDecision"], "deny");
    let reason = codex["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("Codex cannot ask for approval"), "{reason}");
}

#[test]
fn an_allowed_call_leaves_the_runtime_its_own_permissions() {
    for runtime in [Runtime::ClaudeCode, Runtime::Codex] {
        assert_eq!(answer(runtime, pre("Bash"), Verdict::Allow), json!({}));
    }
    let gemini =
        json!({ "hook_event_name": "BeforeTool", "tool_name": "read_file", "tool_input": {} });
    assert_eq!(answer(Runtime::Gemini, gemini, Verdict::Allow), json!({}));
}

#[test]
fn a_refused_mcp_result_is_replaced_where_the_runtime_allows_it() {
    let mcp = answer(Runtime::ClaudeCode, post("mcp__web__fetch"), Verdict::Deny);
    assert_eq!(mcp["decision"], "block");
    let replaced = mcp["hookSpecificOutput"]["updatedMCPToolOutput"]
        .as_str()
        .unwrap();
    assert!(
        replaced.starts_with("[The result was withheld."),
        "{replaced}"
    );
    // Built-in tools, and Codex, which refuses the field: a block only.
    let built_in = answer(Runtime::ClaudeCode, post("Bash"), Verdict::Deny);
    assert_eq!(built_in.get("hookSpecificOutput"), None);
    let codex = answer(Runtime::Codex, post("mcp__web__fetch"), Verdict::Deny);
    assert_eq!(codex.get("hookSpecificOutput"), None);
    assert_eq!(codex["decision"], "block");
}

#[test]
fn mcp_names_give_the_server_and_the_tool() {
    let request =
        HookRequest::read(Runtime::ClaudeCode, &pre("mcp__github__create_issue")).unwrap();
    assert_eq!(
        (request.server.as_str(), request.tool.as_str()),
        ("github", "mcp__github__create_issue")
    );
    let Event::Call(call) = &request.events[0] else {
        panic!("a call")
    };
    assert_eq!(call.name, "create_issue");

    let built_in = HookRequest::read(Runtime::Codex, &pre("Bash")).unwrap();
    assert_eq!(built_in.server, "codex");
    assert_eq!(built_in.session, "s");
}

#[test]
fn cursor_names_an_mcp_server_by_prefix_url_or_command() {
    let server = |extra: Value| {
        let mut payload = json!({ "conversation_id": "c", "hook_event_name": "beforeMCPExecution", "tool_name": "query", "tool_input": "{}" });
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        HookRequest::read(Runtime::Cursor, &payload).unwrap().server
    };
    assert_eq!(
        server(json!({ "tool_name": "MCP:warehouse:query" })),
        "warehouse"
    );
    assert_eq!(
        server(json!({ "url": "https://mcp.warehouse.example:8443/mcp" })),
        "mcp.warehouse.example:8443"
    );
    assert_eq!(
        server(json!({ "command": "npx -y @acme/warehouse-mcp" })),
        "warehouse-mcp"
    );
    assert_eq!(server(json!({})), "mcp");
}

#[test]
fn cursor_decides_a_file_read_as_its_path_and_its_content() {
    let payload = json!({
        "conversation_id": "c", "hook_event_name": "beforeReadFile",
        "file_path": "/w/notes.md", "content": "hello",
    });
    let request = HookRequest::read(Runtime::Cursor, &payload).unwrap();
    assert!(matches!(
        request.events.as_slice(),
        [Event::Call(_), Event::Result(_)]
    ));
    // This hook cannot ask: an escalation is a refusal, with the reason in the log.
    let answer = request.answer(&decided(Verdict::Escalate));
    assert_eq!(answer.stdout, json!({ "permission": "deny" }));
    assert!(answer.stderr.unwrap().contains("ssrf/cloud-metadata"));
}

#[test]
fn cursor_after_hooks_are_decided_but_not_answered() {
    let payload = json!({
        "conversation_id": "c", "hook_event_name": "afterMCPExecution",
        "tool_name": "query", "tool_input": "{}", "result_json": "{\"content\":[]}",
    });
    let request = HookRequest::read(Runtime::Cursor, &payload).unwrap();
    assert_eq!(request.point, HookPoint::AfterCall);
    assert!(!request.blocking);
    assert_eq!(request.answer(&decided(Verdict::Deny)).stdout, json!({}));
}

#[test]
fn gemini_has_no_ask_and_replaces_a_refused_result() {
    let before =
        json!({ "hook_event_name": "BeforeTool", "tool_name": "web_fetch", "tool_input": {} });
    assert_eq!(
        answer(Runtime::Gemini, before, Verdict::Escalate)["decision"],
        "deny"
    );
    let after = json!({ "hook_event_name": "AfterTool", "tool_name": "web_fetch", "tool_input": {}, "tool_response": { "llmContent": "x" } });
    let reason = answer(Runtime::Gemini, after, Verdict::Deny)["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("withheld"), "{reason}");
}

#[test]
fn a_failure_blocks_with_the_exit_code_every_runtime_reads_as_a_block() {
    for runtime in [Runtime::ClaudeCode, Runtime::Codex, Runtime::Gemini] {
        let answer = failure(runtime, "no policies", Verdict::Deny);
        assert_eq!(answer.exit_code, 2);
        assert!(answer.stderr.unwrap().contains("no policies"));
        assert_eq!(failure(runtime, "x", Verdict::Allow).exit_code, 0);
    }
    assert_eq!(
        failure(Runtime::Cursor, "x", Verdict::Deny).stdout["permission"],
        "deny"
    );
}

#[test]
fn the_wrong_event_says_which_events_are_answered() {
    let error = HookRequest::read(
        Runtime::Gemini,
        &json!({ "hook_event_name": "BeforeModel" }),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("BeforeTool and AfterTool"),
        "{error}"
    );
    let error = HookRequest::read(
        Runtime::ClaudeCode,
        &json!({ "hook_event_name": "PreToolUse" }),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the hook payload has no string `tool_name`"
    );
}
