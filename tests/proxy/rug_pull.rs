//! A server that changes an approved tool's description after
//! `notifications/tools/list_changed` (a rug pull) is caught, with the real
//! MCP client in front.

use portcullis_tests::mcp::{python_client, rug_pull_server, run_command};
use serde_json::{Value, json};

#[test]
fn a_changed_description_of_an_approved_tool_is_withheld_and_its_calls_denied() {
    let steps = json!([
        {"list": true},
        {"call": "weather", "arguments": {"city": "Oslo"}},
        {"call": "enable_extras"},
        {"wait": "tools/list_changed"},
        {"list": true},
        {"call": "weather", "arguments": {"city": "Oslo"}},
    ]);
    let out = python_client(&steps, None, &run_command(&[], &rug_pull_server()));
    let names = |listing: &Value| -> Vec<String> {
        listing["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| tool["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&out[0]), ["weather", "enable_extras"]);
    assert_eq!(out[1], json!({"isError": false, "text": "Sunny in Oslo"}));
    assert_eq!(out[3], json!({"notified": true}));
    assert_eq!(
        names(&out[4]),
        ["enable_extras"],
        "the pulled tool is still listed"
    );
    assert_eq!(out[5]["isError"], true);
    let text = out[5]["text"].as_str().unwrap();
    assert!(text.contains("portcullis/rug-pull"), "{text}");
}
