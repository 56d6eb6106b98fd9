//! The messages the proxy writes itself.

use serde_json::{Value, json};

use crate::framing::RequestId;
use portcullis::Reason;

/// "policy/rule: message; ..." for the human reading a refusal.
pub fn explain(reasons: &[Reason]) -> String {
    if reasons.is_empty() {
        return "no reason given".to_owned();
    }
    reasons
        .iter()
        .map(|reason| format!("{}/{}: {}", reason.policy, reason.rule, reason.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A `CallToolResult` with `isError: true`: what clients show the model.
pub(super) fn tool_error(id: &RequestId, text: &str) -> Vec<u8> {
    to_line(&json!({
        "jsonrpc": "2.0",
        "id": id.to_value(),
        "result": {
            "content": [{ "type": "text", "text": text }],
            "isError": true,
        },
    }))
}

pub(super) fn to_line(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON values serialize")
}
