//! Escalation through MCP elicitation, with the real MCP client: a call to a
//! destructive tool (the filesystem server's `write_file`, annotated
//! `destructiveHint`) goes ahead only when the human approves it, and is
//! refused with an approval id when the client cannot be asked. A call the
//! client cancels while it waits is never run, whatever the human answers
//! later (conformance 5.1), and a call sent before the tools were listed is
//! escalated all the same (red-team finding 7, conformance 5.2).

use std::path::Path;

use portcullis_tests::mcp::{Proxy, filesystem_server, python_client, run_command, scratch};
use serde_json::{Value, json};

fn write(root: &Path, approve: Option<&str>, audit: &Path) -> Vec<Value> {
    let steps = json!([
        {"list": true},
        {"call": "write_file", "arguments": {"path": root.join("new.txt"), "content": "approved"}},
    ]);
    let proxy = run_command(
        &["--audit", audit.to_str().unwrap()],
        &filesystem_server(root),
    );
    python_client(&steps, approve, &proxy)
}

fn audit_events(audit: &Path) -> Vec<Value> {
    std::fs::read_to_string(audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn an_approved_destructive_call_goes_through_after_the_human_said_yes() {
    let root = scratch("escalate-accept");
    let audit = root.join("audit.jsonl");
    let out = write(&root, Some("accept"), &audit);
    let question = out[1]["elicitation"]
        .as_str()
        .expect("the client was asked");
    assert!(
        question.contains(r#"the call to "write_file""#),
        "{question}"
    );
    // The human sees what they approve: the arguments the server will get.
    assert!(question.contains(r#""content":"approved""#), "{question}");
    assert!(
        question.contains("risk-tier/destructive-tool"),
        "{question}"
    );
    assert_eq!(out[2]["isError"], false, "{}", out[2]);
    assert_eq!(
        std::fs::read_to_string(root.join("new.txt")).unwrap(),
        "approved"
    );
    let records = audit_events(&audit);
    let escalation = records
        .iter()
        .find(|r| r["event"] == "call" && r["tool"] == "write_file")
        .unwrap();
    assert_eq!(escalation["verdict"], "escalate");
    let approval = records.iter().find(|r| r["event"] == "approval").unwrap();
    assert_eq!(approval["verdict"], "allow");
    assert_eq!(approval["approval_id"], escalation["approval_id"]);
}

#[test]
fn a_declined_destructive_call_is_refused_and_never_reaches_the_server() {
    let root = scratch("escalate-decline");
    let out = write(&root, Some("decline"), &root.join("audit.jsonl"));
    assert!(out[1]["elicitation"].is_string(), "{}", out[1]);
    assert_eq!(out[2]["isError"], true, "{}", out[2]);
    assert!(
        out[2]["text"]
            .as_str()
            .unwrap()
            .contains("refused it (decline)"),
        "{}",
        out[2]
    );
    assert!(!root.join("new.txt").exists());
}

#[test]
fn without_elicitation_the_call_is_refused_with_an_approval_id() {
    let root = scratch("escalate-no-client");
    let audit = root.join("audit.jsonl");
    let out = write(&root, None, &audit);
    assert_eq!(out[1]["isError"], true, "{}", out[1]);
    let text = out[1]["text"].as_str().unwrap();
    let escalation = audit_events(&audit)
        .into_iter()
        .find(|r| r["event"] == "call" && r["tool"] == "write_file")
        .unwrap();
    let approval_id = escalation["approval_id"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "requires human approval for the call to \"write_file\" (approval id {approval_id})"
        )),
        "{text}"
    );
    assert!(!root.join("new.txt").exists());
}

#[test]
fn a_call_cancelled_while_it_waits_for_a_human_never_runs() {
    let root = scratch("escalate-cancel");
    let target = root.join("cancelled.txt");
    let mut proxy = Proxy::start(&["--approval-timeout", "60"], &filesystem_server(&root));
    proxy.initialize(json!({"elicitation": {}}));
    proxy.request("tools/list", json!({}));
    let id = proxy.next_id();
    proxy.send(&json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "write_file", "arguments": {"path": target, "content": "x"}},
    }));
    let question = proxy.recv();
    assert_eq!(question["method"], "elicitation/create", "{question}");
    proxy.send(&json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": id, "reason": "the user gave up"},
    }));
    let withdrawn = proxy.recv();
    assert_eq!(
        withdrawn["method"], "notifications/cancelled",
        "{withdrawn}"
    );
    assert_eq!(withdrawn["params"]["requestId"], question["id"]);
    // The human answers anyway, too late.
    proxy.send(&json!({
        "jsonrpc": "2.0", "id": question["id"],
        "result": {"action": "accept", "content": {"approve": true}},
    }));
    let pong = proxy.request("ping", json!({}));
    assert!(pong.get("result").is_some(), "{pong}");
    assert!(!target.exists(), "the cancelled call ran");
    assert!(
        proxy.received.iter().all(|message| message["id"] != id),
        "the cancelled request was answered: {:?}",
        proxy.received
    );
    proxy.finish();
}

#[test]
fn a_call_sent_before_any_listing_is_checked_against_the_listing() {
    let root = scratch("escalate-early");
    let target = root.join("early.txt");
    let mut proxy = Proxy::start(&[], &filesystem_server(&root));
    proxy.initialize(json!({}));
    let refused = proxy.call_tool("write_file", json!({"path": target, "content": "x"}));
    let text = refused["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("requires human approval"), "{refused}");
    assert!(!target.exists(), "the early call ran unchecked");
    let unlisted = proxy.call_tool("format_disk", json!({}));
    let text = unlisted["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("unlisted-tool"), "{unlisted}");
    proxy.finish();
}
