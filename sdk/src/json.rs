//! JSON views of the fields that cross the boundary as JSON text.

use serde_json::Value;

use crate::{Tool, ToolCall, ToolResult};

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl Tool {
    /// The input schema, parsed; `Null` if the host sent something that is not JSON.
    pub fn input_schema_json(&self) -> Value {
        parse(&self.input_schema)
    }

    /// The annotations, parsed; `Null` if the host sent something that is not JSON.
    pub fn annotations_json(&self) -> Value {
        parse(&self.annotations)
    }

    /// The boolean annotation `hint` (such as `destructiveHint`), if the tool sets it.
    pub fn hint(&self, hint: &str) -> Option<bool> {
        self.annotations_json().get(hint).and_then(Value::as_bool)
    }
}

impl ToolCall {
    /// The arguments, parsed; `Null` if the host sent something that is not JSON.
    pub fn arguments_json(&self) -> Value {
        parse(&self.arguments)
    }
}

impl ToolResult {
    /// The response, parsed; `Null` if the host sent something that is not JSON.
    pub fn response_json(&self) -> Value {
        parse(&self.response)
    }
}
