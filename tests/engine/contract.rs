//! End-to-end tests of what contract `portcullis:policy@0.2.0` adds: the
//! refusal of 0.1 components, operator settings checked at load time, the
//! context's sequence number, and session state bound to one tenant and
//! session.

use anyhow::Result;
use portcullis::{
    Context, Engine, EngineConfig, Event, LoadError, SESSION_MISMATCH_RULE, SessionState, Settings,
    ToolCall, Verdict,
};
use portcullis_tests::wat_policy::{DENY_AFTER_FIRST_EVENT, TARGET, WatPolicy};
use serde_json::json;

fn call_target() -> Event {
    Event::Call(ToolCall {
        name: TARGET.into(),
        arguments: json!({}),
        tool: None,
    })
}

fn components(policies: &[WatPolicy]) -> Result<Vec<(String, Vec<u8>)>> {
    policies
        .iter()
        .map(|policy| Ok((format!("{}.wasm", policy.name()), policy.component()?)))
        .collect()
}

#[test]
fn a_component_built_for_contract_0_1_is_refused_with_what_to_do() -> Result<()> {
    let engine = Engine::new(EngineConfig::new())?;
    let error = engine
        .load_components(components(&[WatPolicy::new("old").contract_0_1()])?)
        .unwrap_err();
    match &error {
        LoadError::OtherContract { policy, import } => {
            assert_eq!(policy, "old.wasm");
            assert!(import.ends_with("@0.1.0"), "{import}");
        }
        other => panic!("expected a refusal of the old contract, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("rebuild it with portcullis-sdk 0.2"),
        "{message}"
    );
    Ok(())
}

#[test]
fn settings_a_policy_refuses_fail_the_load_naming_policy_tenant_and_field() -> Result<()> {
    let policies = components(&[
        WatPolicy::new("strict").refuse_settings("/allowed-hosts/0", "not a host name")
    ])?;
    // With no settings the policy is still asked, about `{}`, and refuses it.
    let error = Engine::new(EngineConfig::new())?
        .load_components(policies.clone())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the settings of policy `strict` are invalid at `/allowed-hosts/0`: not a host name"
    );
    let engine = Engine::new(EngineConfig::new())?.with_settings(Settings::new().tenant(
        "acme",
        "strict",
        json!({"x": 1}),
    ));
    match engine.load_components(policies).unwrap_err() {
        LoadError::InvalidSettings {
            policy,
            tenant,
            field,
            ..
        } => {
            assert_eq!(policy, "strict");
            assert!(
                matches!(tenant.as_deref(), None | Some("acme")),
                "{tenant:?}"
            );
            assert_eq!(field, "/allowed-hosts/0");
        }
        other => panic!("expected invalid settings, got {other:?}"),
    }
    Ok(())
}

#[test]
fn settings_for_a_policy_the_set_does_not_load_are_refused() -> Result<()> {
    let engine = Engine::new(EngineConfig::new())?
        .with_settings(Settings::new().policy("tool-alowlist", json!({})));
    let error = engine
        .load_components(components(&[WatPolicy::new("tool-allowlist")])?)
        .unwrap_err();
    assert!(
        matches!(&error, LoadError::SettingsForUnknownPolicy { policy, .. } if policy == "tool-alowlist"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("the loaded policies are: tool-allowlist"),
        "{error}"
    );
    // A policy that takes no settings accepts the empty ones it is offered.
    Engine::new(EngineConfig::new())?.load_components(components(&[WatPolicy::new("plain")])?)?;
    Ok(())
}

#[test]
fn the_context_numbers_the_events_of_each_session() -> Result<()> {
    let engine = Engine::new(EngineConfig::new())?;
    let policies = engine.load_components(components(&[
        WatPolicy::new("first-only").on_target(DENY_AFTER_FIRST_EVENT)
    ])?)?;
    let quota = engine.config().get_state_quota();
    let (one, two) = (SessionState::new(quota), SessionState::new(quota));
    let ctx = Context::new("one", "server");
    assert_eq!(
        policies.evaluate(&ctx, &call_target(), &one).verdict,
        Verdict::Allow
    );
    assert_eq!(
        policies.evaluate(&ctx, &call_target(), &one).verdict,
        Verdict::Deny
    );
    let ctx = Context::new("two", "server");
    assert_eq!(
        policies.evaluate(&ctx, &call_target(), &two).verdict,
        Verdict::Allow
    );
    assert_eq!(one.events(), 2);
    Ok(())
}

#[test]
fn session_state_passed_for_another_tenant_is_never_shown_to_a_policy() -> Result<()> {
    let engine = Engine::new(EngineConfig::new())?;
    let policies = engine.load_components(components(&[WatPolicy::new("allows")])?)?;
    let state = SessionState::new(engine.config().get_state_quota());
    let acme = Context::new("s-1", "server").with_tenant("acme");
    assert_eq!(
        policies.evaluate(&acme, &call_target(), &state).verdict,
        Verdict::Allow
    );
    let globex = Context::new("s-1", "server").with_tenant("globex");
    let decision = policies.evaluate(&globex, &call_target(), &state);
    assert_eq!(decision.verdict, Verdict::Deny, "{decision:#?}");
    assert_eq!(decision.reasons[0].rule, SESSION_MISMATCH_RULE);
    assert!(decision.policies.is_empty(), "a policy ran: {decision:#?}");
    Ok(())
}
