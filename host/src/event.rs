//! Stand-in for the engine's `event` module (agreed API in the shared brief);
//! replaced by the engine branch at merge.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Who and where an event comes from.
#[derive(Debug, Clone)]
pub struct Context {
    /// The session.
    pub session: String,
    /// The server the tool belongs to.
    pub server: String,
}

/// A tool definition.
#[derive(Debug, Clone)]
pub struct ToolDefinition {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `inputSchema`.
    pub input_schema: Value,
    /// `annotations`.
    pub annotations: Value,
}

/// Why an MCP value is not a tool definition.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EventError(String);

impl ToolDefinition {
    /// SHA-256 of the definition.
    pub fn digest(&self) -> String {
        let text = serde_json::json!([
            self.name,
            self.description,
            self.input_schema,
            self.annotations
        ])
        .to_string();
        format!("{:x}", Sha256::digest(text.as_bytes()))
    }

    /// Reads an MCP `tools/list` entry.
    pub fn from_mcp(value: &Value) -> Result<Self, EventError> {
        let name = value
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| EventError("a tool needs a string `name`".into()))?;
        Ok(ToolDefinition {
            name: name.to_owned(),
            description: value
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            input_schema: value.get("inputSchema").cloned().unwrap_or(Value::Null),
            annotations: value
                .get("annotations")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({})),
        })
    }
}

/// A tool call.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// Tool name.
    pub name: String,
    /// Arguments.
    pub arguments: Value,
    /// The advertised definition.
    pub tool: Option<ToolDefinition>,
}

/// A tool result.
#[derive(Debug, Clone)]
pub struct ToolResult {
    /// The call.
    pub call: ToolCall,
    /// The result object.
    pub response: Value,
}

/// One event.
#[derive(Debug, Clone)]
pub enum Event {
    /// A tool definition.
    Tool(ToolDefinition),
    /// A call.
    Call(ToolCall),
    /// A result.
    Result(ToolResult),
}
