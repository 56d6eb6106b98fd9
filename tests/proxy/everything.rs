//! `portcullis run` in front of the real "everything" reference server
//! (`@modelcontextprotocol/server-everything`).

use portcullis_tests::mcp::{Proxy, everything_server, result_text};
use serde_json::{Value, json};

fn tools(listing: &Value) -> &Vec<Value> {
    listing["result"]["tools"].as_array().unwrap()
}

#[test]
fn tools_and_their_annotations_pass_unchanged_and_removals_are_audited() {
    let mut direct = Proxy::spawn(&everything_server());
    direct.initialize(json!({}));
    let direct_raw = direct.request_raw("tools/list", json!({}));
    let direct_listing: Value = serde_json::from_slice(&direct_raw).unwrap();
    assert!(
        tools(&direct_listing)
            .iter()
            .any(|tool| tool.get("annotations").is_some()),
        "the everything server should annotate some tools"
    );

    let dir = portcullis_tests::mcp::scratch("everything");
    let audit = dir.join("audit.jsonl");
    let mut proxy = Proxy::start(&["--audit", audit.to_str().unwrap()], &everything_server());
    proxy.initialize(json!({}));
    let proxied_raw = proxy.request_raw("tools/list", json!({}));
    let proxied_listing: Value = serde_json::from_slice(&proxied_raw).unwrap();

    let denied: Vec<String> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record["event"] == "tool" && record["verdict"] == "deny")
        .map(|record| record["tool"].as_str().unwrap().to_owned())
        .collect();
    if denied.is_empty() {
        assert_eq!(
            String::from_utf8_lossy(&proxied_raw),
            String::from_utf8_lossy(&direct_raw),
            "a listing with nothing removed must pass byte for byte"
        );
    }
    let expected: Vec<&Value> = tools(&direct_listing)
        .iter()
        .filter(|tool| !denied.iter().any(|name| tool["name"] == name.as_str()))
        .collect();
    let got: Vec<&Value> = tools(&proxied_listing).iter().collect();
    assert_eq!(
        got, expected,
        "tools other than the denied ones must pass unchanged"
    );

    let echoed = proxy.call_tool("echo", json!({"message": "through the gate"}));
    assert!(
        result_text(&echoed).contains("through the gate"),
        "{echoed}"
    );
    assert!(proxy.finish().success());
}
