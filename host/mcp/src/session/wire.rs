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
/// Under the 2026-07-28 protocol (`modern`) a result says what it is
/// (`resultType`), and a client refuses one that does not.
pub(super) fn tool_error(id: &RequestId, text: &str, modern: bool) -> Vec<u8> {
    let mut result = json!({
        "content": [{ "type": "text", "text": text }],
        "isError": true,
    });
    if modern {
        result["resultType"] = json!("complete");
    }
    to_line(&json!({ "jsonrpc": "2.0", "id": id.to_value(), "result": result }))
}

/// The `_meta` key of the protocol version a 2026-07-28 request carries.
pub(super) const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key of the client capabilities a 2026-07-28 request carries.
pub(super) const CLIENT_CAPABILITIES_META: &str = "io.modelcontextprotocol/clientCapabilities";
/// The first protocol revision without an `initialize` handshake, where
/// every request carries its version and the client's capabilities.
pub(super) const FIRST_MODERN_REVISION: &str = "2026-07-28";

pub(super) fn to_line(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON values serialize")
}

/// The JSON-RPC error code of an answer the proxy withheld or a request it
/// refused on a policy's decision: in the range JSON-RPC leaves to servers,
/// and apart from the codes the MCP SDKs use.
pub const POLICY_REFUSAL: i64 = -32051;

/// A JSON-RPC error answering `id` in place of what a policy withheld.
pub(super) fn refusal(id: &RequestId, text: &str) -> Vec<u8> {
    crate::framing::error_response(&id.to_value(), POLICY_REFUSAL, text)
}

/// A `notifications/message` from the proxy itself, at `level`.
pub(super) fn notice(level: &str, text: &str) -> Vec<u8> {
    to_line(&json!({
        "jsonrpc": "2.0",
        "method": "notifications/message",
        "params": { "level": level, "logger": "portcullis", "data": text },
    }))
}
