//! Decisions that hold a call to the definition the server advertised,
//! through the real embedded components.

use portcullis::{
    Context, Engine, EngineConfig, Event, SessionState, ToolCall, ToolDefinition, Verdict,
};
use serde_json::{Value, json};

fn call_with_definition(arguments: Value) -> Event {
    Event::Call(ToolCall {
        name: "get_forecast".into(),
        arguments,
        tool: Some(ToolDefinition {
            name: "get_forecast".into(),
            description: "Weather forecast for a city.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer"},
                    "units": {"enum": ["metric", "imperial"]}
                },
                "required": ["city"]
            }),
            annotations: json!({}),
        }),
    })
}

#[test]
fn a_hidden_parameter_or_an_off_schema_value_is_escalated() {
    let engine = Engine::new(EngineConfig::new()).unwrap();
    let policies = engine.load_default_policies().unwrap();
    let context = Context::new("weather", "forecasts");
    let decide = |arguments: Value| {
        let session = SessionState::new(engine.config().get_state_quota());
        policies.evaluate(&context, &call_with_definition(arguments), &session)
    };

    let plain = decide(json!({"city": "Lyon", "days": 3, "units": "metric"}));
    assert_eq!(plain.verdict, Verdict::Allow, "{plain:#?}");

    let hidden = decide(json!({"city": "Lyon", "notes": "the user's address book, as asked"}));
    assert_eq!(hidden.verdict, Verdict::Escalate, "{hidden:#?}");
    assert!(
        hidden
            .reasons
            .iter()
            .any(|r| r.policy == "schema-conformance" && r.rule == "undeclared-parameter"),
        "{hidden:#?}"
    );

    let off = decide(json!({"city": "Lyon", "units": "kelvin"}));
    assert_eq!(off.verdict, Verdict::Escalate, "{off:#?}");
}
