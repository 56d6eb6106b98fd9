//! Where a finding matched: the key that holds the text, and the text itself.
//!
//! A finding's `field` is `name` or `description` for a tool's own strings,
//! and otherwise a JSON pointer whose first segment names the document it
//! points into: `/inputSchema/…`, `/annotations/…`, `/arguments/…` or
//! `/response/…`.

use serde_json::Value;

use crate::{Finding, Tool, ToolCall, ToolResult};

impl Finding {
    /// The name of the object member that holds the matched text: `command`
    /// for `/arguments/command`, `options` for `/arguments/options/0`,
    /// `contents` for `/arguments/notes/0/contents/1`.
    ///
    /// `None` for the plain fields `name` and `description`, and for a
    /// pointer with no member name below its document (`/arguments/0`).
    pub fn key(&self) -> Option<String> {
        pointer_segments(&self.field)?
            .skip(1)
            .filter(|segment| !segment.is_empty() && !segment.bytes().all(|b| b.is_ascii_digit()))
            .last()
            .map(unescape)
    }

    /// The top-level member of the document the field points into: `path`
    /// for `/arguments/path`, `observations` for
    /// `/arguments/observations/0/contents/0`, `properties` for
    /// `/inputSchema/properties/path/description`.
    pub fn argument(&self) -> Option<String> {
        pointer_segments(&self.field)?.nth(1).map(unescape)
    }
}

/// The segments of a JSON pointer, still escaped; `None` if `field` is not one.
fn pointer_segments(field: &str) -> Option<std::str::Split<'_, char>> {
    field.strip_prefix('/').map(|rest| rest.split('/'))
}

/// Undoes JSON pointer escaping (`~1` is `/`, `~0` is `~`).
fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Splits an identifier into its lowercase words: `shellCommand`,
/// `shell_command`, `shell-command` and `SHELL_COMMAND` all give
/// `["shell", "command"]`.
pub fn words(identifier: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in identifier.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The string at `pointer` below `document`, if there is one.
/// The string `pointer` names in `document`: a value, or a key when the
/// pointer ends in [`KEY_SUFFIX`].
fn string_at(document: &Value, pointer: &str) -> Option<String> {
    if let Some(member) = pointer.strip_suffix(KEY_SUFFIX) {
        document.pointer(member)?;
        let token = &member[member.rfind('/')? + 1..];
        return Some(unescape(token));
    }
    document.pointer(pointer)?.as_str().map(str::to_owned)
}

/// What follows a member's JSON pointer in a field that names the member's
/// key rather than its value (`/arguments/to~key`). The host scans keys as
/// it scans values, since the model reads both; a pointer's `~` is always
/// followed by `0` or `1`, so such a field never names a value.
pub const KEY_SUFFIX: &str = "~key";

impl Tool {
    /// The original (not normalised) text of one of the tool's fields, as
    /// named in a finding: `name`, `description`, `/inputSchema/…` or
    /// `/annotations/…`.
    pub fn field_text(&self, field: &str) -> Option<String> {
        match field {
            "name" => Some(self.name.clone()),
            "description" => Some(self.description.clone()),
            _ => {
                if let Some(pointer) = field.strip_prefix("/inputSchema") {
                    string_at(&self.input_schema_json(), pointer)
                } else if let Some(pointer) = field.strip_prefix("/annotations") {
                    string_at(&self.annotations_json(), pointer)
                } else {
                    None
                }
            }
        }
    }

    /// The `description` the input schema gives the property named `key`,
    /// searching nested objects too; `None` if there is no such property or
    /// it has no description. Parses the schema: a policy that asks about
    /// many keys parses it once and calls [`schema_property_description`].
    pub fn property_description(&self, key: &str) -> Option<String> {
        schema_property_description(&self.input_schema_json(), key).map(str::to_owned)
    }
}

/// The `description` that `schema` (a parsed input schema) gives the
/// property named `key`: the first property of that name with a
/// description, searching nested objects and array items too.
pub fn schema_property_description<'a>(schema: &'a Value, key: &str) -> Option<&'a str> {
    let object = schema.as_object()?;
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        if let Some(description) = properties
            .get(key)
            .and_then(|property| property.get("description"))
            .and_then(Value::as_str)
        {
            return Some(description);
        }
        if let Some(found) = properties
            .values()
            .find_map(|nested| schema_property_description(nested, key))
        {
            return Some(found);
        }
    }
    object
        .get("items")
        .and_then(|items| schema_property_description(items, key))
}

/// One string in a call's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentText<'a> {
    /// Its JSON pointer, as findings name fields: `/arguments/url`,
    /// `/arguments/files/0`.
    pub field: String,
    /// The object member it sits under (an array's items take their
    /// array's name); `None` at the top of a non-object.
    pub key: Option<&'a str>,
    /// The text itself, as the agent sent it (not normalised).
    pub text: &'a str,
}

/// Every string and key in `arguments` (a call's parsed arguments), depth first, for
/// policies that judge values themselves rather than through findings.
pub fn argument_texts(arguments: &Value) -> Vec<ArgumentText<'_>> {
    json_texts(arguments, "/arguments")
}

/// Every string and key in `document`, depth first, with fields named below
/// `root` (a key's field ends in [`KEY_SUFFIX`]):
/// `json_texts(&result.response_json(), "/response")` for a result, as the
/// host names a result's fields in findings.
pub fn json_texts<'a>(document: &'a Value, root: &str) -> Vec<ArgumentText<'a>> {
    fn walk<'a>(
        value: &'a Value,
        field: String,
        key: Option<&'a str>,
        out: &mut Vec<ArgumentText<'a>>,
    ) {
        match value {
            Value::String(text) => out.push(ArgumentText { field, key, text }),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, format!("{field}/{index}"), key, out);
                }
            }
            Value::Object(map) => {
                for (name, item) in map {
                    let segment = escape_pointer_segment(name);
                    let member = format!("{field}/{segment}");
                    out.push(ArgumentText {
                        field: format!("{member}{KEY_SUFFIX}"),
                        key: Some(name),
                        text: name,
                    });
                    walk(item, member, Some(name), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(document, root.to_owned(), None, &mut out);
    out
}

/// Escapes an object member's name for a JSON pointer (`~` is `~0`, `/` is
/// `~1`), the inverse of the unescaping pointers get when they are read.
pub fn escape_pointer_segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl ToolCall {
    /// The original (not normalised) text of an argument, as named in a
    /// finding (`/arguments/command`).
    pub fn field_text(&self, field: &str) -> Option<String> {
        string_at(&self.arguments_json(), field.strip_prefix("/arguments")?)
    }
}

impl ToolResult {
    /// The original (not normalised) text of a part of the response, as named
    /// in a finding (`/response/content/0/text`).
    pub fn field_text(&self, field: &str) -> Option<String> {
        string_at(&self.response_json(), field.strip_prefix("/response")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_texts_name_each_string_by_pointer_and_key() {
        let arguments =
            serde_json::json!({ "a/b": "x", "files": ["one", { "path": "two" }], "n": 1 });
        let texts: Vec<(String, Option<&str>, &str)> = argument_texts(&arguments)
            .into_iter()
            .map(|text| (text.field, text.key, text.text))
            .collect();
        assert_eq!(
            texts,
            [
                ("/arguments/a~1b~key".to_owned(), Some("a/b"), "a/b"),
                ("/arguments/a~1b".to_owned(), Some("a/b"), "x"),
                ("/arguments/files~key".to_owned(), Some("files"), "files"),
                ("/arguments/files/0".to_owned(), Some("files"), "one"),
                (
                    "/arguments/files/1/path~key".to_owned(),
                    Some("path"),
                    "path"
                ),
                ("/arguments/files/1/path".to_owned(), Some("path"), "two"),
                ("/arguments/n~key".to_owned(), Some("n"), "n"),
            ]
        );
    }

    fn finding(field: &str) -> Finding {
        Finding {
            pattern: "p".into(),
            field: field.into(),
            start: 0,
            end: 1,
            matched: "x".into(),
        }
    }

    #[test]
    fn key_is_the_nearest_member_name() {
        assert_eq!(
            finding("/arguments/command").key().as_deref(),
            Some("command")
        );
        assert_eq!(
            finding("/arguments/options/0").key().as_deref(),
            Some("options")
        );
        assert_eq!(
            finding("/arguments/notes/0/contents/1").key().as_deref(),
            Some("contents")
        );
        assert_eq!(finding("/arguments/a~1b").key().as_deref(), Some("a/b"));
        assert_eq!(finding("/arguments/0").key(), None);
        assert_eq!(finding("description").key(), None);
    }

    #[test]
    fn argument_is_the_top_level_member() {
        assert_eq!(
            finding("/arguments/notes/0/contents/1")
                .argument()
                .as_deref(),
            Some("notes")
        );
        assert_eq!(finding("name").argument(), None);
    }

    #[test]
    fn words_split_every_identifier_style() {
        for identifier in [
            "shellCommand",
            "shell_command",
            "shell-command",
            "SHELL_COMMAND",
        ] {
            assert_eq!(words(identifier), ["shell", "command"], "{identifier}");
        }
        assert_eq!(words("filePath2"), ["file", "path2"]);
    }

    #[test]
    fn field_text_resolves_pointers_in_each_document() {
        let tool = Tool {
            name: "run".into(),
            description: "Runs".into(),
            input_schema: r#"{"properties":{"cmd":{"type":"string","description":"Shell line"}}}"#
                .into(),
            annotations: r#"{"title":"Run it"}"#.into(),
            digest: String::new(),
        };
        assert_eq!(tool.field_text("name").as_deref(), Some("run"));
        assert_eq!(
            tool.field_text("/inputSchema/properties/cmd/description")
                .as_deref(),
            Some("Shell line")
        );
        assert_eq!(
            tool.field_text("/annotations/title").as_deref(),
            Some("Run it")
        );
        assert_eq!(
            tool.property_description("cmd").as_deref(),
            Some("Shell line")
        );
        assert_eq!(tool.property_description("other"), None);

        let call = ToolCall {
            name: "run".into(),
            arguments: r#"{"cmd":"ls","opts":["-l"]}"#.into(),
            tool: Some(tool),
        };
        assert_eq!(call.field_text("/arguments/opts/0").as_deref(), Some("-l"));
        assert_eq!(call.field_text("description"), None);

        let result = ToolResult {
            call,
            response: r#"{"content":[{"type":"text","text":"done"}]}"#.into(),
        };
        assert_eq!(
            result.field_text("/response/content/0/text").as_deref(),
            Some("done")
        );
    }
}
