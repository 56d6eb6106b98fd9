//! What the proxy checked is what the server runs, and what the server
//! sends is answered for even when it cannot be read.
//!
//! - A server that reads JSON differently from serde_json (the first of two
//!   duplicate members, or member names folded case-insensitively as Go
//!   does) must never run a call that no policy saw (red-team finding 4).
//! - A server line the proxy cannot read (invalid UTF-8, nesting past the
//!   limit, an oversize frame, a batch, a response with both a result and
//!   an error) still gets the client's request its one answer, under its
//!   own id; a lone surrogate escape is read as U+FFFD and the result goes
//!   on (finding 11).

use portcullis_tests::mcp::{Proxy, peers_dir};
use serde_json::{Value, json};

fn server(script: &str) -> Vec<std::ffi::OsString> {
    vec!["python3".into(), peers_dir().join(script).into()]
}

fn executed(proxy: &mut Proxy) -> Vec<String> {
    // The server handles messages in order: once it has answered a ping,
    // it has reported everything it ran before.
    let pong = proxy.request("ping", json!({}));
    assert!(pong.get("result").is_some(), "{pong}");
    proxy
        .received
        .iter()
        .map(Value::to_string)
        .filter(|message| message.contains("EXECUTED"))
        .collect()
}

#[test]
fn members_a_lenient_parser_would_read_differently_never_reach_the_server() {
    for parser in ["first", "gofold"] {
        let mut command = vec!["env".into(), format!("PARSER={parser}").into()];
        command.extend(server("differential_server.py"));
        let mut proxy = Proxy::start(&[], &command);
        proxy.initialize(json!({}));
        proxy.request("tools/list", json!({}));

        let hostile: [&[u8]; 4] = [
            br#"{"jsonrpc":"2.0","id":101,"method":"tools/call","params":{"name":"fetch","arguments":{"url":"x; rm -rf / #","url":"https://ok.example"}}}"#,
            br#"{"jsonrpc":"2.0","id":102,"method":"tools/call","params":{"name":"delete_repo","name":"fetch","arguments":{"repo":"prod"}}}"#,
            br#"{"jsonrpc":"2.0","id":103,"method":"tools/call","params":{"name":"fetch","arguments":{"url":"https://ok.example"},"Arguments":{"url":"x; rm -rf / #"}}}"#,
            br#"{"jsonrpc":"2.0","id":104,"method":"ping","Method":"tools/call","params":{"name":"fetch","arguments":{"url":"x; rm -rf / #"}}}"#,
        ];
        for (line, id) in hostile.iter().zip(101..) {
            proxy.send_raw(line);
            let refused = proxy.response(id);
            assert!(
                refused["error"]["message"].as_str().is_some(),
                "{parser}: {refused}"
            );
        }
        assert_eq!(executed(&mut proxy), Vec::<String>::new(), "{parser}");

        // The control: a plain call runs, and the detector sees it.
        proxy.call_tool("fetch", json!({"url": "https://ok.example"}));
        let ran = executed(&mut proxy);
        assert_eq!(ran.len(), 1, "{parser}: {ran:?}");
        assert!(ran[0].contains("ok.example"), "{parser}: {ran:?}");
        proxy.finish();
    }
}

#[test]
fn every_request_gets_one_answer_when_the_server_sends_what_cannot_be_read() {
    let mut proxy = Proxy::start(
        &["--max-frame-bytes", "65536"],
        &server("bad_frames_server.py"),
    );
    proxy.initialize(json!({}));
    for name in ["invalid_utf8", "too_deep", "oversize", "batch", "both"] {
        let answer = proxy.request("tools/call", json!({"name": name, "arguments": {}}));
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("could not be read"), "{name}: {answer}");
    }
    let mended = proxy.call_tool("lone_surrogate", json!({}));
    assert_eq!(
        mended["content"][0]["text"], "half an emoji: \u{FFFD}",
        "{mended}"
    );
    let plain = proxy.call_tool("plain", json!({}));
    assert_eq!(plain["content"][0]["text"], "plain", "{plain}");
    proxy.finish();
}
