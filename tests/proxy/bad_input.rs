//! Bad input from the client and a crashing server: clear JSON-RPC errors,
//! under the request's own id wherever the line gives one (red-team
//! finding 11), and the proxy goes on (or ends cleanly).

use std::ffi::OsString;
use std::process::Command;

use portcullis_tests::mcp::{Proxy, everything_server};
use serde_json::{Value, json};

fn assert_error(response: &Value, code: i64, id: Value, mentions: &str) {
    assert_eq!(response["error"]["code"], code, "{response}");
    assert_eq!(response["id"], id, "{response}");
    let message = response["error"]["message"].as_str().unwrap();
    assert!(message.contains(mentions), "{message}");
}

/// The next message that is not a notification (the proxy's own notices
/// about the server, such as its instructions, may come first).
fn answer(proxy: &mut Proxy) -> Value {
    loop {
        let message = proxy.recv();
        if message.get("method").is_none() {
            return message;
        }
        proxy.received.push(message);
    }
}

fn ping_works(proxy: &mut Proxy) {
    let pong = proxy.request("ping", json!({}));
    assert_eq!(pong["result"], json!({}), "{pong}");
}

#[test]
fn malformed_lines_get_json_rpc_errors_and_the_session_goes_on() {
    let mut proxy = Proxy::start(&["--max-frame-bytes", "4096"], &everything_server());
    proxy.initialize(json!({}));

    proxy.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":");
    assert_error(&answer(&mut proxy), -32700, json!(1), "not valid JSON");
    ping_works(&mut proxy);

    proxy.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"x\":\"\xc3\x28\"}");
    assert_error(&answer(&mut proxy), -32700, json!(2), "UTF-8");
    ping_works(&mut proxy);

    let oversize = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(10_000)
    );
    proxy.send_raw(oversize.as_bytes());
    assert_error(
        &answer(&mut proxy),
        -32600,
        json!(3),
        "4096-byte frame limit",
    );
    ping_works(&mut proxy);

    proxy.send_raw(br#"{"jsonrpc":"1.0","id":"old","method":"ping"}"#);
    assert_error(&answer(&mut proxy), -32600, json!("old"), "jsonrpc");
    proxy.send_raw(br#"[{"jsonrpc":"2.0","id":4,"method":"ping"}]"#);
    assert_error(&answer(&mut proxy), -32600, json!(4), "batches");
    proxy.send_raw(br#"{"jsonrpc":"2.0","id":5,"method":"ping","id":6}"#);
    assert_error(&answer(&mut proxy), -32700, Value::Null, "given twice");
    proxy.send_raw(br#"[1, 2]"#);
    assert_error(&answer(&mut proxy), -32600, Value::Null, "batches");
    let id = proxy.next_id();
    proxy.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {}}));
    assert_error(&proxy.response(id), -32602, json!(id), "params.name");
    ping_works(&mut proxy);

    assert!(proxy.finish().success());
}

#[test]
fn a_server_crash_answers_pending_requests_and_ends_with_a_failure_code() {
    let crashing: Vec<OsString> = ["sh", "-c", "read line; echo 'dying' >&2; exit 3"]
        .map(OsString::from)
        .to_vec();
    let mut proxy = Proxy::start(&[], &crashing);
    proxy.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
    let answer = proxy.recv();
    assert_error(&answer, -32603, json!(1), "exited");
    let notice = proxy.recv();
    assert_eq!(notice["method"], "notifications/message", "{notice}");
    assert_eq!(notice["params"]["level"], "error");
    // The server's own exit code is passed on.
    assert_eq!(proxy.wait().code(), Some(3));
    assert!(
        proxy.stderr().contains("exited unexpectedly"),
        "{}",
        proxy.stderr()
    );
}

#[test]
fn a_server_that_cannot_start_is_a_clear_error() {
    let output = Command::new(portcullis_tests::binary::binary())
        .args(["run", "--", "/nonexistent/mcp-server"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "stdout is for the protocol only");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot start the MCP server"), "{stderr}");
    // Said once, without colour codes (stderr is a pipe here, as in a
    // client's log file).
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}
