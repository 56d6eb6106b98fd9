//! Holds a call to the tool's own `inputSchema`: an argument the schema
//! does not declare, a value of the wrong type, or one outside an `enum`
//! or `const`.
//!
//! A hidden extra parameter (`sidenote`, `debug`, `context`) is the
//! classic exfiltration channel: a poisoned description asks the model to
//! put the user's data there, the server logs or forwards it, and nothing
//! in the visible arguments looks wrong. The host gives the policy the
//! definition the server advertised in this session, so the check needs
//! no list of names: whatever the schema does not declare is undeclared.
//!
//! | rule | what it finds | verdict |
//! |------|---------------|---------|
//! | `undeclared-parameter` | an argument that is not in `properties`, where the schema does not allow others (`additionalProperties` absent or `false`, no `patternProperties`) | escalate |
//! | `schema-violation` | a value whose JSON type is not the schema's `type`, or outside its `enum` or `const`, at any depth | escalate |
//!
//! Escalate, not deny: a schema can be stricter than the server that
//! wrote it. Without a known definition (a call the host has not seen
//! advertised) the policy has nothing to hold the call to and allows it;
//! calls to unlisted tools are the proxy's business.
//!
//! The subset is deliberate: `jsonschema` does not build for the
//! component's `wasm32-unknown-unknown` target (its hasher needs an
//! entropy source), and type, enum, const and the declared set of
//! properties are the parts that carry the attack.

use portcullis_sdk::serde_json::Value;
use portcullis_sdk::{
    Context, EventKind, Finding, Metadata, Outcome, Policy, ToolCall, Verdict, export_policy,
};

/// The policy.
pub struct SchemaConformance;

impl Policy for SchemaConformance {
    fn metadata() -> Metadata {
        Metadata::new("schema-conformance", env!("CARGO_PKG_VERSION")).on(EventKind::ToolCall)
    }

    fn check_call(_ctx: &Context, call: &ToolCall, _findings: &[Finding]) -> Outcome {
        let mut outcome = Outcome::allow();
        let Some(tool) = &call.tool else {
            return outcome;
        };
        let schema = tool.input_schema_json();
        let mut problems = Vec::new();
        check(&call.arguments_json(), &schema, "/arguments", &mut problems);
        for (rule, message) in problems {
            outcome.add(Verdict::Escalate, rule, message, []);
        }
        outcome
    }
}

export_policy!(SchemaConformance);

/// JSON's type names, with `integer` for whole numbers.
fn type_matches(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        // A type this subset does not know is not held against the call.
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `value` against `schema`, collecting (rule, message) at
/// `pointer`.
fn check(value: &Value, schema: &Value, pointer: &str, out: &mut Vec<(&'static str, String)>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|name| type_matches(value, name)) {
        out.push((
            "schema-violation",
            format!(
                "{pointer} is {} where the schema wants {}",
                type_name(value),
                types.join(" or ")
            ),
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push((
            "schema-violation",
            format!(
                "{pointer} is not one of the schema's {} allowed values",
                allowed.len()
            ),
        ));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        out.push((
            "schema-violation",
            format!("{pointer} is not the schema's constant value"),
        ));
    }
    match value {
        Value::Object(members) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let open = schema.contains_key("patternProperties")
                || !matches!(
                    schema.get("additionalProperties"),
                    None | Some(Value::Bool(false))
                );
            for (key, member) in members {
                let field = format!("{pointer}/{}", portcullis_sdk::escape_pointer_segment(key));
                match properties.and_then(|properties| properties.get(key)) {
                    Some(property) => check(member, property, &field, out),
                    None if properties.is_some() && !open => out.push((
                        "undeclared-parameter",
                        format!("{field} is not a parameter the tool declares; an undeclared argument is a channel the server may log or forward"),
                    )),
                    None => {
                        if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                            check(member, additional, &field, out);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|items| items.is_object()) {
                for (index, item) in items.iter().enumerate() {
                    check(item, item_schema, &format!("{pointer}/{index}"), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use portcullis_sdk::serde_json::json;
    use portcullis_sdk::testing::{self, rules};

    use super::*;

    #[test]
    fn cases() {
        testing::check_cases::<SchemaConformance>(include_str!("../cases.jsonl"));
    }

    fn decide(schema: Value, arguments: Value) -> Outcome {
        let mut call = testing::call("add", arguments);
        call.tool = Some(testing::tool("add", "Sums a and b.", schema, json!({})));
        SchemaConformance::check_call(&testing::context(), &call, &[])
    }

    fn add_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer"},
                "b": {"type": "integer"},
                "mode": {"enum": ["fast", "exact"]},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["a", "b"]
        })
    }

    #[test]
    fn a_hidden_extra_parameter_is_escalated() {
        let outcome = decide(
            add_schema(),
            json!({"a": 1, "b": 2, "sidenote": "contents of ~/.ssh/id_rsa"}),
        );
        assert_eq!(outcome.verdict, Verdict::Escalate);
        assert_eq!(rules(&outcome), ["undeclared-parameter"]);
        assert!(
            outcome.reasons[0]
                .message
                .starts_with("/arguments/sidenote ")
        );
        assert!(
            !outcome.reasons[0].message.contains("id_rsa"),
            "the value is not echoed"
        );
    }

    #[test]
    fn types_enums_and_items_are_held_to_the_schema() {
        assert_eq!(
            decide(
                add_schema(),
                json!({"a": 1, "b": 2, "mode": "fast", "tags": ["x"]})
            )
            .verdict,
            Verdict::Allow
        );
        assert_eq!(
            rules(&decide(add_schema(), json!({"a": "1; rm -rf /", "b": 2}))),
            ["schema-violation"]
        );
        assert_eq!(
            rules(&decide(add_schema(), json!({"a": 1.5, "b": 2}))),
            ["schema-violation"]
        );
        assert_eq!(
            rules(&decide(
                add_schema(),
                json!({"a": 1, "b": 2, "mode": "turbo"})
            )),
            ["schema-violation"]
        );
        assert_eq!(
            rules(&decide(
                add_schema(),
                json!({"a": 1, "b": 2, "tags": ["x", 3]})
            )),
            ["schema-violation"]
        );
    }

    #[test]
    fn schemas_that_invite_more_are_respected() {
        let open = json!({"type": "object", "properties": {"a": {}}, "additionalProperties": true});
        assert_eq!(
            decide(open, json!({"a": 1, "anything": 2})).verdict,
            Verdict::Allow
        );
        let typed =
            json!({"type": "object", "properties": {}, "additionalProperties": {"type": "string"}});
        assert_eq!(
            decide(typed.clone(), json!({"x": "y"})).verdict,
            Verdict::Allow
        );
        assert_eq!(rules(&decide(typed, json!({"x": 1}))), ["schema-violation"]);
        // No properties at all says nothing about which are declared.
        assert_eq!(
            decide(json!({"type": "object"}), json!({"x": 1})).verdict,
            Verdict::Allow
        );
    }

    #[test]
    fn calls_without_a_known_definition_are_not_judged() {
        let call = testing::call("add", json!({"sidenote": "x"}));
        assert_eq!(
            SchemaConformance::check_call(&testing::context(), &call, &[]).verdict,
            Verdict::Allow
        );
    }
}
