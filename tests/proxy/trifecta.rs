//! The lethal trifecta through the proxy: tool results feed the session's
//! taint (the `py-trifecta` policy, a Python component), so an outbound call
//! is denied once the session has read private data and untrusted content;
//! another session starts clean.

use std::ffi::OsString;
use std::path::PathBuf;

use portcullis_tests::mcp::{peers_dir, python, python_client, run_command, scratch};
use serde_json::{Value, json};

/// A policy directory holding the `py-trifecta` component, which
/// `.ci/prepare` builds (with `policies/py-trifecta/build.sh`).
fn trifecta_policies() -> PathBuf {
    let component =
        portcullis_tests::binary::workspace().join("policies/py-trifecta/target/py-trifecta.wasm");
    assert!(
        component.is_file(),
        "{} is not built; build it with: .ci/prepare (or policies/py-trifecta/build.sh)",
        component.display()
    );
    let dir = scratch("trifecta-policies");
    std::fs::copy(&component, dir.join("py-trifecta.wasm")).unwrap();
    dir
}

fn trifecta_server() -> Vec<OsString> {
    vec![
        python().into(),
        peers_dir().join("trifecta_server.py").into(),
    ]
}

fn call(name: &str) -> Value {
    json!({"call": name, "arguments": {}})
}

#[test]
fn an_outbound_call_is_denied_once_the_session_holds_private_data_and_untrusted_content() {
    let policies = trifecta_policies();
    let proxy = run_command(
        &["--policies", policies.to_str().unwrap()],
        &trifecta_server(),
    );
    let steps = json!([
        call("send_email"),
        call("read_file"),
        call("send_email"),
        call("fetch"),
        call("send_email"),
    ]);
    let out = python_client(&steps, None, &proxy);
    assert_eq!(out[0], json!({"isError": false, "text": "sent"}));
    assert_eq!(out[1]["isError"], false);
    assert_eq!(
        out[2],
        json!({"isError": false, "text": "sent"}),
        "one leg is not enough"
    );
    assert_eq!(
        out[3]["isError"], false,
        "the untrusted content itself passes"
    );
    assert_eq!(out[4]["isError"], true, "{}", out[4]);
    let text = out[4]["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "Portcullis denied the call to `send_email`: lethal-trifecta/lethal-trifecta:"
        ),
        "{text}"
    );

    let fresh = python_client(&json!([call("send_email")]), None, &proxy);
    assert_eq!(
        fresh[0],
        json!({"isError": false, "text": "sent"}),
        "taint leaked across sessions"
    );
}
