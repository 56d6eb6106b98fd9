//! `portcullis run` in front of the real filesystem server
//! (`@modelcontextprotocol/server-filesystem`), driven by the real MCP client
//! (the `mcp` Python package) and by raw JSON-RPC.

use std::process::Command;

use portcullis_tests::mcp::{
    Proxy, filesystem_server, python_client, result_text, run_command, scratch,
};
use serde_json::{Value, json};

/// A directory with one file for the server to serve.
fn served(name: &str) -> std::path::PathBuf {
    let root = scratch(name);
    std::fs::write(root.join("notes.txt"), "the portcullis is down\n").unwrap();
    root
}

#[test]
fn the_listing_through_the_proxy_is_the_servers_whole_listing() {
    let root = served("fs-list");
    let server = filesystem_server(&root);
    let direct = python_client(&json!([{"list": true}]), None, &server);
    let proxied = python_client(&json!([{"list": true}]), None, &run_command(&[], &server));
    let names: Vec<&str> = proxied[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"read_text_file"), "{names:?}");
    assert_eq!(proxied, direct, "the proxy changed a clean listing");
}

#[test]
fn an_allowed_read_returns_the_files_content() {
    let root = served("fs-read");
    let path = root.join("notes.txt");
    let steps = json!([
        {"list": true},
        {"call": "read_text_file", "arguments": {"path": path}},
    ]);
    let out = python_client(&steps, None, &run_command(&[], &filesystem_server(&root)));
    assert_eq!(
        out[1],
        json!({"isError": false, "text": "the portcullis is down\n"})
    );
}

#[test]
fn a_call_that_chains_a_shell_command_is_denied_with_the_reason() {
    let root = served("fs-inject");
    let steps = json!([
        {"list": true},
        {"call": "read_text_file", "arguments": {"path": format!("{}/notes.txt; rm -rf /", root.display())}},
    ]);
    let out = python_client(&steps, None, &run_command(&[], &filesystem_server(&root)));
    assert_eq!(out[1]["isError"], true, "{}", out[1]);
    let text = out[1]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Portcullis denied the call to `read_text_file`: command-injection/"),
        "{text}"
    );
}

#[test]
fn a_call_that_climbs_out_of_the_served_directory_is_denied_with_the_reason() {
    let root = served("fs-traversal");
    let steps = json!([
        {"list": true},
        {"call": "read_text_file", "arguments": {"path": "../../etc/passwd"}},
    ]);
    let out = python_client(&steps, None, &run_command(&[], &filesystem_server(&root)));
    assert_eq!(out[1]["isError"], true, "{}", out[1]);
    let text = out[1]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Portcullis denied the call to `read_text_file`: path-traversal/"),
        "{text}"
    );
}

/// The audit log, keyed with the operator's key: it verifies, a second
/// proxy on the same file is refused rather than forking the chain
/// (conformance 5.5), an edited record is found on its line, and a log cut
/// short is found by its head (red-team finding 12).
#[test]
fn the_audit_log_verifies_and_an_edited_record_is_detected() {
    let root = served("fs-audit");
    let audit = root.join("audit.jsonl");
    let key = root.join("audit.key");
    std::fs::write(&key, "a secret of thirty-two bytes, or more, for tests").unwrap();
    let options = [
        "--audit",
        audit.to_str().unwrap(),
        "--audit-key",
        key.to_str().unwrap(),
    ];
    let mut proxy = Proxy::start(&options, &filesystem_server(&root));
    proxy.initialize(json!({}));
    let second = Command::new(portcullis_tests::binary::binary())
        .arg("run")
        .args(options)
        .arg("--")
        .args(filesystem_server(&root))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("being written by another process"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let listed = proxy.request("tools/list", json!({}));
    let tools = listed["result"]["tools"].as_array().unwrap().len();
    let allowed = proxy.call_tool("read_text_file", json!({"path": root.join("notes.txt")}));
    assert_eq!(result_text(&allowed), "the portcullis is down\n");
    let denied = proxy.call_tool("read_text_file", json!({"path": "x; rm -rf /"}));
    assert_eq!(denied["isError"], true, "{denied}");
    assert!(proxy.finish().success());

    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // One record per listed tool, per call and per result.
    assert_eq!(records.len(), tools + 3);
    let denial = records.iter().find(|r| r["verdict"] == "deny").unwrap();
    assert_eq!(denial["event"], "call");
    // The arguments are kept as a digest; only the policies' own messages
    // (which may quote what they matched) say anything about them.
    assert_eq!(denial["args_digest"].as_str().unwrap().len(), 64);
    assert!(
        !denial.to_string().contains("x; rm -rf /"),
        "raw arguments in the log: {denial}"
    );

    let verify = |path: &std::path::Path| {
        Command::new(portcullis_tests::binary::binary())
            .args(["audit", "verify", "--key"])
            .arg(&key)
            .arg(path)
            .output()
            .unwrap()
    };
    let ok = verify(&audit);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.contains(&format!("{} records, chain intact, keyed", records.len())),
        "{stdout}"
    );

    let text = std::fs::read_to_string(&audit).unwrap();
    let whole: Vec<&str> = text.lines().collect();
    std::fs::write(&audit, whole[..whole.len() - 1].join("\n") + "\n").unwrap();
    let cut = verify(&audit);
    assert_eq!(cut.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&cut.stderr).contains("removed from the end"),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
    std::fs::write(&audit, &text).unwrap();

    let text = std::fs::read_to_string(&audit).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let edited = lines[2].replace("\"verdict\":\"allow\"", "\"verdict\":\"deny\"");
    assert_ne!(edited, lines[2], "the third record should be an allow");
    lines[2] = &edited;
    std::fs::write(&audit, lines.join("\n") + "\n").unwrap();
    let tampered = verify(&audit);
    assert_eq!(tampered.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("edited"),
        "{stderr}"
    );
}
