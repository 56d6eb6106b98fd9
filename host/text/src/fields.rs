//! The text fields of an event: what the prefilter scans.
//!
//! A field is named by its path: `name` and `description` for a tool's own
//! strings, and an RFC 6901 JSON pointer (`/inputSchema/properties/path/description`,
//! `/arguments/command`, `/response/content/0/text`) for every string leaf of
//! a JSON value. Every object key is a field too, named by its member's
//! pointer followed by [`KEY_SUFFIX`] (`/arguments/x; rm -rf ~1~key`): the
//! model reads keys as it reads values (an argument's name, a schema's
//! property names), and a server may act on them. Values nested deeper than
//! [`MAX_DEPTH`] are not visited, so hostile JSON cannot overflow the stack.

use serde_json::{Map, Value};

/// How deep into a JSON value string leaves are collected: the value itself
/// is at depth 0, its members at depth 1. Equal to `serde_json`'s own
/// recursion limit, so every value parsed from the wire is covered whole.
pub const MAX_DEPTH: usize = 128;

/// What follows a member's JSON pointer to name the member's key as a
/// field. In a pointer every `~` is followed by `0` or `1`, so a field that
/// ends in `~key` is never the pointer of a value.
pub const KEY_SUFFIX: &str = "~key";

/// The key that `field` names, when it names one (see [`KEY_SUFFIX`]):
/// the member's pointer and the key, unescaped.
pub fn key_field(field: &str) -> Option<(&str, String)> {
    let member = field.strip_suffix(KEY_SUFFIX)?;
    let token = &member[member.rfind('/')? + 1..];
    Some((member, token.replace("~1", "/").replace("~0", "~")))
}

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
    /// Every other member of the tool object as the server listed it
    /// (`title`, `outputSchema`, `icons`, `_meta`…): scanned and pinned like
    /// the rest, since clients show them to the model and the human.
    pub other: &'a Map<String, Value>,
}

/// The text fields of a tool definition: its name, its description and every
/// string leaf and key of its input schema (`/inputSchema/...`), its
/// annotations (`/annotations/...`) and its other members (`/title`,
/// `/outputSchema/...`).
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
    for (key, member) in tool.other {
        let mut prefix = String::from("/");
        push_escaped(&mut prefix, key);
        string_leaves(member, &prefix, &mut fields);
    }
    fields
}

/// The text fields of a tool call: every string leaf and key of its
/// arguments (`/arguments/...`).
pub fn call_fields(arguments: &Value) -> Vec<TextField<'_>> {
    let mut fields = Vec::new();
    string_leaves(arguments, "/arguments", &mut fields);
    fields
}

/// The text fields of a tool result: every string leaf and key of the
/// server's response (`/response/...`, such as `/response/content/0/text`).
pub fn result_fields(response: &Value) -> Vec<TextField<'_>> {
    let mut fields = Vec::new();
    string_leaves(response, "/response", &mut fields);
    fields
}

/// Appends every string leaf and key of `value` to `fields`, each named by
/// `prefix` followed by its JSON pointer inside `value`.
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
                fields.push(TextField {
                    path: format!("{path}{KEY_SUFFIX}"),
                    text: key,
                });
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
        let annotations = json!({"readOnlyHint": true});
        let other = json!({"title": "Read", "_meta": {"note": "n"}});
        let tool = ToolText {
            name: "read_file",
            description: "Reads a file.",
            input_schema: &input_schema,
            annotations: &annotations,
            other: other.as_object().unwrap(),
        };
        assert_eq!(
            paths(&tool_fields(&tool)),
            [
                pair("name", "read_file"),
                pair("description", "Reads a file."),
                pair("/inputSchema/properties~key", "properties"),
                pair("/inputSchema/properties/path~key", "path"),
                pair(
                    "/inputSchema/properties/path/description~key",
                    "description"
                ),
                pair("/inputSchema/properties/path/description", "Which file"),
                pair("/inputSchema/properties/path/maxLength~key", "maxLength"),
                pair("/inputSchema/properties/path/type~key", "type"),
                pair("/inputSchema/properties/path/type", "string"),
                pair("/inputSchema/required~key", "required"),
                pair("/inputSchema/required/0", "path"),
                pair("/inputSchema/type~key", "type"),
                pair("/inputSchema/type", "object"),
                pair("/annotations/readOnlyHint~key", "readOnlyHint"),
                pair("/_meta/note~key", "note"),
                pair("/_meta/note", "n"),
                pair("/title", "Read"),
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
                pair("/arguments/command~key", "command"),
                pair("/arguments/command", "ls; rm -rf /"),
                pair("/arguments/dry_run~key", "dry_run"),
                pair("/arguments/env~key", "env"),
                pair("/arguments/env/0/name~key", "name"),
                pair("/arguments/env/0/name", "X"),
                pair("/arguments/env/0/value~key", "value"),
                pair("/arguments/note~key", "note"),
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
                pair("/response/content~key", "content"),
                pair("/response/content/0/text~key", "text"),
                pair("/response/content/0/text", "hello"),
                pair("/response/content/0/type~key", "type"),
                pair("/response/content/0/type", "text"),
                pair("/response/isError~key", "isError"),
            ]
        );
    }

    #[test]
    fn keys_are_fields_named_apart_from_any_value() {
        let call = json!({"a/b": {"m~n": "v"}, "x; rm -rf / #": 1});
        let fields = paths(&call_fields(&call));
        assert_eq!(
            fields,
            [
                pair("/arguments/a~1b~key", "a/b"),
                pair("/arguments/a~1b/m~0n~key", "m~n"),
                pair("/arguments/a~1b/m~0n", "v"),
                pair("/arguments/x; rm -rf ~1 #~key", "x; rm -rf / #"),
            ]
        );
        for (path, text) in &fields {
            let named = key_field(path).map(|(_, key)| key);
            assert_eq!(
                named.as_deref() == Some(text.as_str()),
                path.ends_with("~key")
            );
        }
        assert_eq!(key_field("/arguments/a~1b"), None);
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
