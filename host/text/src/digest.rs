//! Canonical JSON and SHA-256 digests: the one way Portcullis fingerprints a
//! value, shared by tool pins, the compiled-policy cache and the audit log.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::fields::ToolText;

/// `value` as JSON with object keys sorted at every level and no
/// insignificant whitespace, so that equal values always give equal text.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(out, value);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// The SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The digest of a tool definition: the SHA-256, as lowercase hex, of a
/// canonical JSON text of its parts.
///
/// Key order and whitespace do not change it, so the same definition has the
/// same digest whatever order a server writes its keys in; a policy or the
/// proxy can pin it to notice a tool that changes under the agent's feet.
///
/// Every member counts: a changed `title`, `outputSchema`, `icons` or
/// `_meta` changes the digest as a changed description does.
pub fn tool_digest(tool: &ToolText<'_>) -> String {
    let mut whole = tool.other.clone();
    whole.insert("name".into(), tool.name.into());
    whole.insert("description".into(), tool.description.into());
    whole.insert("inputSchema".into(), tool.input_schema.clone());
    whole.insert("annotations".into(), tool.annotations.clone());
    sha256_hex(canonical_json(&Value::Object(whole)).as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "s"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":"s","y":[1,{"c":3,"d":2}]},"b":1}"#
        );
    }

    #[test]
    fn hex_is_lowercase_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
    }

    #[test]
    fn tool_digests_ignore_key_order_but_not_content() {
        let schema_ab = json!({"a": 1, "b": 2});
        let schema_ba: Value = serde_json::from_str(r#"{"b": 2, "a": 1}"#).unwrap();
        let empty = json!({});
        let none = serde_json::Map::new();
        let titled = json!({"title": "T"});
        let tool = |schema, other| ToolText {
            name: "t",
            description: "d",
            input_schema: schema,
            annotations: &empty,
            other,
        };
        assert_eq!(
            tool_digest(&tool(&schema_ab, &none)),
            tool_digest(&tool(&schema_ba, &none))
        );
        assert_ne!(
            tool_digest(&tool(&schema_ab, &none)),
            tool_digest(&tool(&empty, &none))
        );
        assert_ne!(
            tool_digest(&tool(&empty, &none)),
            tool_digest(&tool(&empty, titled.as_object().unwrap()))
        );
        assert_eq!(tool_digest(&tool(&empty, &none)).len(), 64);
    }
}
