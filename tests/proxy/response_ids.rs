//! A server that answers under another spelling of a request's id (`1.0` for
//! `1`, `2e0` for `2`), which real clients read as the same id, must not get
//! its answer to the client unchecked (red-team finding 1). The request is
//! answered with an error under its own id instead.

use portcullis_tests::mcp::{Proxy, peers_dir};
use serde_json::json;

fn alias_server() -> Vec<std::ffi::OsString> {
    vec!["python3".into(), peers_dir().join("alias_server.py").into()]
}

#[test]
fn answers_under_an_aliased_id_are_refused_and_exact_ones_checked() {
    let mut proxy = Proxy::start(&[], &alias_server());
    proxy.initialize(json!({}));

    let listing = proxy.request("tools/list", json!({}));
    assert!(listing.get("result").is_none(), "{listing}");
    let message = listing["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("instead of"), "{listing}");

    let call = proxy.request("tools/call", json!({"name": "fetch", "arguments": {}}));
    assert!(call.get("result").is_none(), "{call}");
    assert!(!call.to_string().contains("Ignore all previous"), "{call}");

    // The control: the same injection under the exact id is checked and withheld.
    let exact = proxy.call_tool("exact", json!({}));
    assert_eq!(exact["isError"], true, "{exact}");
    assert!(
        !exact.to_string().contains("Ignore all previous"),
        "{exact}"
    );

    // Nothing the server sent under an alias reached the client some other way.
    for message in &proxy.received {
        assert!(!message.to_string().contains("id_rsa"), "{message}");
    }
    proxy.finish();
}
