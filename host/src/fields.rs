//! The text fields of an event, as the prefilter searches them.

use serde_json::Value;

use crate::event::{ToolCall, ToolDefinition, ToolResult};
use crate::prefilter::TextField;

/// `name`, `description`, and every string leaf of the input schema
/// (`/inputSchema/...`) and the annotations (`/annotations/...`).
pub fn tool_fields(tool: &ToolDefinition) -> Vec<TextField<'_>> {
    let mut fields = vec![
        TextField {
            path: "name".into(),
            text: &tool.name,
        },
        TextField {
            path: "description".into(),
            text: &tool.description,
        },
    ];
    string_leaves(&tool.input_schema, "/inputSchema".into(), &mut fields);
    string_leaves(&tool.annotations, "/annotations".into(), &mut fields);
    fields
}

/// Every string leaf of the arguments (`/arguments/...`).
pub fn call_fields(call: &ToolCall) -> Vec<TextField<'_>> {
    let mut fields = Vec::new();
    string_leaves(&call.arguments, "/arguments".into(), &mut fields);
    fields
}

/// Every string leaf of the response (`/response/...`).
pub fn result_fields(result: &ToolResult) -> Vec<TextField<'_>> {
    let mut fields = Vec::new();
    string_leaves(&result.response, "/response".into(), &mut fields);
    fields
}

fn string_leaves<'a>(value: &'a Value, path: String, fields: &mut Vec<TextField<'a>>) {
    match value {
        Value::String(text) => fields.push(TextField { path, text }),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                string_leaves(item, format!("{path}/{index}"), fields);
            }
        }
        Value::Object(object) => {
            for (key, item) in object {
                let key = key.replace('~', "~0").replace('/', "~1");
                string_leaves(item, format!("{path}/{key}"), fields);
            }
        }
        _ => {}
    }
}
