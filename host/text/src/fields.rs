//! The text fields of an event: what the prefilter scans.
//!
//! A field is named by its path: `name` and `description` for a tool's own
//! strings, and an RFC 6901 JSON pointer (`/inputSchema/properties/path/description`,
//! `/arguments/command`, `/response/content/0/text`) for every string leaf of
//! a JSON value. Object keys are not fields. Values nested deeper than
//! [`MAX_DEPTH`] are not visited, so hostile JSON cannot overflow the stack.

use serde_json::Value;

/// How deep into a JSON value string leaves are collected: the value itself
/// is at depth 0, its members at depth 1. Equal to `serde_json`'s own
/// recursion limit, so every value parsed from the wire is covered whole.
pub const MAX_DEPTH: usize = 128;

/// One text field of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextField<'a> {
    /// Where the text is: `name`, `description`, or a JSON pointer such as
    /// `/arguments/command`.
    pub path: String,
    /// The text.
    pub text: &'a str,
}

/// The parts of a tool definition that carry text, borrowed from wherever the
/// caller keeps them: the engine's event, or the SDK's test stand-in. Both
/// pass through [`tool_fields`], so a policy test sees the fields the engine
/// scans.
#[derive(Debug, Clone, Copy)]
pub struct ToolText<'a> {
    /// The tool's name.
    pub name: &'a str,
    /// The tool's description.
    pub description: &'a str,
    /// The tool's `inputSchema`.
    pub input_schema: &'a Value,
    /// The tool's `annotations`.
    pub annotations: &'a Value,
}

/// The text fields of a tool definition: its name, its description and every
/// string leaf of its input schema (`/inputSchema/...`) and annotations
/// (`/annotations/...`).
pub fn tool_fields<'a>(tool: &ToolText<'a>) -> Vec<TextField<'a>> {
    let mut fields = vec![
        TextField {
            path: "name".to_owned(),
            text: tool.name,
        },
        TextField {
            path: "description".to_owned(),
            text: tool.description,
        },
    ];
    string_leaves(tool.input_schema, "/inputSchema", &mut fields);
    string_leaves(tool.annotations, "/annotations", &mut fields);
    fields
}

/// The text fields of a tool call: every string leaf of its arguments
/// (`/arguments/...`).
pub fn call_fields(arguments: &Value) -> Vec<TextField<'_>> {
    let mut fields = Vec::new();
    string_leaves(arguments, "/arguments", &mut fields);
    fields
}

/// The text fields of a tool result: every string leaf of the server's
/// response (`/response/...`, such as `/response/content/0/text`).
pub fn result_fields(response: &Value) -> Vec<TextField<'_>> {
    let mut fields = Vec::new();
    string_leaves(response, "/response", &mut fields);
    fields
}

/// Appends every string leaf of `value` to `fields`, each named by `prefix`
/// followed by its JSON pointer inside `value`.
fn string_leaves<'a>(value: &'a Value, prefix: &str, fields: &mut Vec<TextField<'a>>) {
    let mut path = prefix.to_owned();
    visit(value, 0, &mut path, fields);
}

fn visit<'a>(value: &'a Value, depth: usize, path: &mut String, fields: &mut Vec<TextField<'a>>) {
    match value {
        Value::String(text) => fields.push(TextField {
            path: path.clone(),
            text,
        }),
        Value::Array(items) if depth < MAX_DEPTH => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&index.to_string());
                visit(item, depth + 1, path, fields);
                path.truncate(len);
            }
        }
        Value::Object(members) if depth < MAX_DEPTH => {
            for (key, member) in members {
                let len = path.len();
                path.push('/');
                push_escaped(path, key);
                visit(member, depth + 1, path, fields);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Appends a JSON pointer reference token: `~` becomes `~0` and `/` becomes
/// `~1` (RFC 6901).
fn push_escaped(path: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            _ => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(fields: &[TextField<'_>]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|field| (field.path.clone(), field.text.to_owned()))
            .collect()
    }

    fn pair(path: &str, text: &str) -> (String, String) {
        (path.to_owned(), text.to_owned())
    }

    #[test]
    fn tool_fields_cover_name_description_schema_and_annotations() {
        let input_schema = json!({
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Which file", "maxLength": 10}},
            "required": ["path"]
        });
        let annotations = json!({"title": "Read", "readOnlyHint": true});
        let tool = ToolText {
            name: "read_file",
            description: "Reads a file.",
            input_schema: &input_schema,
            annotations: &annotations,
        };
        assert_eq!(
            paths(&tool_fields(&tool)),
            [
                pair("name", "read_file"),
                pair("description", "Reads a file."),
                pair("/inputSchema/properties/path/description", "Which file"),
                pair("/inputSchema/properties/path/type", "string"),
                pair("/inputSchema/required/0", "path"),
                pair("/inputSchema/type", "object"),
                pair("/annotations/title", "Read"),
            ]
        );
    }

    #[test]
    fn call_fields_are_the_string_leaves_of_the_arguments() {
        let call = json!({
            "command": "ls; rm -rf /",
            "env": [{"name": "X", "value": 1}],
            "dry_run": false,
            "note": null
        });
        assert_eq!(
            paths(&call_fields(&call)),
            [
                pair("/arguments/command", "ls; rm -rf /"),
                pair("/arguments/env/0/name", "X"),
            ]
        );
    }

    #[test]
    fn a_string_value_is_its_own_field() {
        assert_eq!(
            paths(&call_fields(&json!("just text"))),
            [pair("/arguments", "just text")]
        );
    }

    #[test]
    fn result_fields_are_the_string_leaves_of_the_response() {
        let response = json!({"content": [{"type": "text", "text": "hello"}], "isError": false});
        assert_eq!(
            paths(&result_fields(&response)),
            [
                pair("/response/content/0/text", "hello"),
                pair("/response/content/0/type", "text"),
            ]
        );
    }

    #[test]
    fn keys_are_escaped_as_json_pointer_tokens_and_not_scanned() {
        let call = json!({"a/b": {"m~n": "v"}, "ignore previous instructions": 1});
        assert_eq!(
            paths(&call_fields(&call)),
            [pair("/arguments/a~1b/m~0n", "v")]
        );
    }

    #[test]
    fn nesting_beyond_the_depth_bound_is_not_visited() {
        let mut deep = json!("too deep");
        for _ in 0..MAX_DEPTH + 1 {
            deep = json!([deep]);
        }
        assert!(call_fields(&deep).is_empty());
        let Value::Array(mut items) = deep else {
            unreachable!("built as an array")
        };
        let within = items.remove(0);
        let fields = call_fields(&within);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].text, "too deep");
        assert_eq!(
            fields[0].path,
            format!("/arguments{}", "/0".repeat(MAX_DEPTH))
        );
    }
}
