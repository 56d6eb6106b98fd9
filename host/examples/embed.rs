//! Embedding Portcullis: load the default policies, decide one tool call,
//! print why.
//!
//! ```sh
//! cargo run -p portcullis --example embed
//! ```

use portcullis::{Context, Engine, EngineConfig, Event, SessionState, ToolCall};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One engine per process: it owns the WebAssembly runtime and the pool.
    let engine = Engine::new(EngineConfig::new())?;
    // A policy set is an immutable generation; clone it freely.
    let policies = engine.load_default_policies()?;

    // What policies remember between events lives in the session's state.
    let session = SessionState::new(engine.config().get_state_quota());
    let context = Context::new("example-session", "files");
    let call = Event::Call(ToolCall {
        name: "read_log".into(),
        arguments: json!({ "path": "app.log; rm -rf / #" }),
        tool: None,
    });

    let decision = policies.evaluate(&context, &call, &session);
    println!("verdict: {:?}", decision.verdict);
    for reason in &decision.reasons {
        println!("  {} / {}: {}", reason.policy, reason.rule, reason.message);
    }
    Ok(())
}
