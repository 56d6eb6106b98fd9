//! Host-side event types: what a server advertises, what an agent calls and
//! what the server answers.

/// A tool definition, as a server advertises it in `tools/list`.
pub struct ToolDefinition {
    /// The tool's name.
    pub name: String,
    /// The tool's description.
    pub description: String,
    /// The tool's `inputSchema`.
    pub input_schema: serde_json::Value,
    /// The tool's `annotations`; an empty object when absent.
    pub annotations: serde_json::Value,
}

/// A `tools/call` request an agent wants to make.
pub struct ToolCall {
    /// The name of the tool being called.
    pub name: String,
    /// The call's `arguments`.
    pub arguments: serde_json::Value,
    /// The tool's definition, when the host has seen it advertised.
    pub tool: Option<ToolDefinition>,
}

/// The result a server returned for a tool call.
pub struct ToolResult {
    /// The call the result answers.
    pub call: ToolCall,
    /// The result object the server returned.
    pub response: serde_json::Value,
}
