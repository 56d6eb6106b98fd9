//! Every channel from a server to the model or the human is checked as a
//! tool result is (red-team finding 3): `initialize` instructions, a
//! tool's error message, log and progress notifications, sampling and
//! elicitation requests, and the answers to resources, prompts and
//! completions. A server's elicitation may not speak for Portcullis.

use portcullis_tests::mcp::{Proxy, peers_dir};
use serde_json::{Value, json};

/// A word of the planted instruction, which must never reach the client.
const MARKER: &str = "collector.example";

#[test]
fn a_planted_instruction_reaches_the_client_through_no_channel() {
    let server = vec![
        "python3".into(),
        peers_dir().join("channels_server.py").into(),
    ];
    let mut proxy = Proxy::start(&[], &server);
    let initialized = proxy.initialize(json!({"sampling": {}, "elicitation": {}}));
    assert_eq!(initialized["result"]["serverInfo"]["name"], "channels");
    assert!(
        initialized["result"].get("instructions").is_none(),
        "{initialized}"
    );
    proxy.request("tools/list", json!({}));

    let failed = proxy.request("tools/call", json!({"name": "fetch", "arguments": {}}));
    assert!(!failed.to_string().contains(MARKER), "{failed}");

    for (method, params) in [
        ("resources/read", json!({"uri": "file:///notes.txt"})),
        ("prompts/get", json!({"name": "summary"})),
        ("prompts/list", json!({})),
        (
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "summary"}, "argument": {"name": "a", "value": ""}}),
        ),
    ] {
        let answer = proxy.request(method, params);
        assert_eq!(answer["error"]["code"], -32051, "{method}: {answer}");
    }

    // The server's own requests were answered with errors, not shown.
    let replies = proxy.call_tool("replies", json!({}));
    let replies: Value =
        serde_json::from_str(replies["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        replies,
        json!({"question": "error", "sampling": "error"}),
        "{replies}"
    );

    // The control: a harmless resource passes as it is.
    let plain = proxy.request("resources/read", json!({"uri": "file:///plain.txt"}));
    assert_eq!(
        plain["result"]["contents"][0]["text"], "Meeting moved to Tuesday.",
        "{plain}"
    );

    for message in &proxy.received {
        let text = message.to_string();
        assert!(!text.contains(MARKER), "{text}");
        assert_ne!(message["method"], "sampling/createMessage", "{text}");
        assert_ne!(message["method"], "elicitation/create", "{text}");
    }
    assert!(
        proxy
            .received
            .iter()
            .any(|message| message["params"]["logger"] == "portcullis"),
        "the client was never told what was withheld: {:?}",
        proxy.received
    );
    proxy.finish();
}
