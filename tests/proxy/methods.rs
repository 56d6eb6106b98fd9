//! A `tools/call` the proxy does not recognise as one must not reach a
//! lenient server: sent as a notification (red-team finding 8), or under a
//! look-alike method name such as `Tools/Call` (finding 15).

use portcullis_tests::mcp::{Proxy, peers_dir};
use serde_json::json;

#[test]
fn disguised_and_id_less_calls_never_reach_the_server() {
    let server = vec![
        "python3".into(),
        peers_dir().join("lenient_server.py").into(),
    ];
    let mut proxy = Proxy::start(&[], &server);
    proxy.initialize(json!({}));
    let arguments = json!({"name": "run", "arguments": {"command": "x; rm -rf / #"}});

    proxy.send(&json!({"jsonrpc": "2.0", "method": "tools/call", "params": arguments}));
    for method in ["Tools/Call", "tools/call ", "tools\u{2215}call"] {
        let refused = proxy.request(method, arguments.clone());
        assert!(
            refused["error"]["message"].as_str().is_some(),
            "{method:?}: {refused}"
        );
    }
    // The server handles messages in order: once it has answered a ping, it
    // has seen everything sent before it.
    let pong = proxy.request("ping", json!({}));
    assert!(pong.get("result").is_some(), "{pong}");
    for message in &proxy.received {
        assert!(!message.to_string().contains("EXECUTED"), "{message}");
    }

    // The control: a real call is checked, and this one is denied before it runs.
    let denied = proxy.call_tool("run", json!({"command": "x; rm -rf / #"}));
    assert_eq!(denied["isError"], true, "{denied}");
    let pong = proxy.request("ping", json!({}));
    assert!(pong.get("result").is_some(), "{pong}");
    for message in &proxy.received {
        assert!(!message.to_string().contains("EXECUTED"), "{message}");
    }

    // And the detector works: an allowed call does run, and says so.
    proxy.call_tool("run", json!({"command": "ls"}));
    let pong = proxy.request("ping", json!({}));
    assert!(pong.get("result").is_some(), "{pong}");
    assert!(
        proxy
            .received
            .iter()
            .any(|message| message.to_string().contains("EXECUTED")),
        "the server never reported the allowed call: {:?}",
        proxy.received
    );
    proxy.finish();
}
