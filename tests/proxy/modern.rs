//! The 2026-07-28 protocol, with the current `mcp` client and server in
//! their default mode (conformance 5.3): the proxy's own results say their
//! `resultType`, its own requests carry the client's protocol `_meta` (a
//! modern server answers nothing else), and a human approves a destructive
//! call through the multi-round-trip flow (`InputRequiredResult`), since
//! this revision has no request from the proxy to the client. The legacy
//! handshake still gets `elicitation/create`.

use std::ffi::OsString;

use portcullis_tests::mcp::{peers_dir, python, run_command};
use serde_json::Value;

/// Runs the modern client in `mode`, answering approvals with `action`,
/// against the modern server behind the proxy. Returns its JSON lines and
/// its stderr (where the server reports what it deleted).
fn client(mode: &str, action: &str) -> (Vec<Value>, String) {
    let server: Vec<OsString> = vec![python().into(), peers_dir().join("modern_server.py").into()];
    let output = std::process::Command::new(python())
        .args(["-W", "ignore"])
        .arg(peers_dir().join("modern_client.py"))
        .args([mode, action, "--"])
        .args(run_command(&[], &server))
        .output()
        .expect("the modern client runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    (lines, stderr)
}

fn step<'a>(lines: &'a [Value], tool: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["tool"] == tool)
        .unwrap_or_else(|| panic!("no {tool} step: {lines:?}"))
}

#[test]
fn a_modern_client_approves_or_refuses_through_the_multi_round_trip() {
    let (lines, stderr) = client("auto", "accept");
    assert_eq!(lines[0]["negotiated"], "2026-07-28", "{lines:?}");
    assert_eq!(step(&lines, "add")["text"], "3", "{lines:?}");
    let question = lines
        .iter()
        .find_map(|line| line["elicitation"].as_str())
        .expect("the human was asked");
    assert!(question.contains(r#"{"name":"groceries"}"#), "{question}");
    assert_eq!(step(&lines, "delete_note")["isError"], false, "{lines:?}");
    assert!(stderr.contains("DELETED groceries"), "{stderr}");

    let (lines, stderr) = client("auto", "decline");
    let refused = step(&lines, "delete_note");
    assert_eq!(refused["isError"], true, "{lines:?}");
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("refused it (decline)"),
        "{refused}"
    );
    assert!(!stderr.contains("DELETED"), "{stderr}");
}

#[test]
fn the_legacy_handshake_is_still_asked_through_elicitation() {
    let (lines, stderr) = client("legacy", "accept");
    assert_ne!(lines[0]["negotiated"], "2026-07-28", "{lines:?}");
    assert!(
        lines.iter().any(|line| line["elicitation"].is_string()),
        "{lines:?}"
    );
    assert_eq!(step(&lines, "delete_note")["isError"], false, "{lines:?}");
    assert!(stderr.contains("DELETED groceries"), "{stderr}");
}
