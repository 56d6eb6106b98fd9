//! End-to-end tests of the engine: real components, loaded and run by the
//! library as an MCP host would.

use std::time::Duration;

use anyhow::Result;
use portcullis::{
    Context, Decision, Engine, EngineConfig, Event, InstanceReuse, LoadError, POLICY_FAILURE_RULE,
    PolicyFailure, PolicySet, SessionState, ToolCall, Verdict,
};
use portcullis_tests::wat_policy::{
    CITE_ALL_FINDINGS, CITE_MISSING_FINDING, DENY, DENY_AFTER_FIRST_CALL,
    DENY_AFTER_FIRST_CALL_IN_INSTANCE, ESCALATE, GROW_MEMORY, GROW_ONE_MIB, LOOP_FOREVER, TARGET,
    TRAP_ON_SECOND_CALL_IN_INSTANCE, UNREACHABLE, WatPolicy,
};
use serde_json::json;

fn ctx(session: &str) -> Context {
    Context::new(session, "test-server")
}

fn call(tool: &str, arguments: serde_json::Value) -> Event {
    Event::Call(ToolCall {
        name: tool.into(),
        arguments,
        tool: None,
    })
}

fn load(engine: &Engine, policies: &[WatPolicy]) -> Result<PolicySet> {
    let components = policies
        .iter()
        .enumerate()
        .map(|(index, policy)| Ok((format!("policy-{index}.wasm"), policy.component()?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(engine.load_components(components)?)
}

/// Evaluates a call to [`TARGET`] in a fresh session.
fn call_target(engine: &Engine, policies: &PolicySet) -> Decision {
    let session = SessionState::new(engine.config().get_state_quota());
    policies.evaluate(&ctx("s"), &call(TARGET, json!({})), &session)
}

/// Checks that `decision` is `verdict` because `policy` failed, and returns
/// the failure's message.
fn failure_of(decision: &Decision, policy: &str, verdict: Verdict) -> String {
    assert_eq!(decision.verdict, verdict, "{decision:#?}");
    let reason = decision
        .reasons
        .iter()
        .find(|reason| reason.policy == policy)
        .unwrap_or_else(|| panic!("no reason from {policy}: {decision:#?}"));
    assert_eq!(reason.rule, POLICY_FAILURE_RULE);
    let report = decision
        .policies
        .iter()
        .find(|report| report.name == policy)
        .expect("a report of the policy");
    assert_eq!(report.verdict, verdict);
    assert!(report.failure.is_some(), "{report:#?}");
    reason.message.clone()
}

/// Checks that the engine still serves: a call to another tool is allowed
/// by the same policy set, with no failure.
fn assert_still_serves(engine: &Engine, policies: &PolicySet) {
    let session = SessionState::new(engine.config().get_state_quota());
    let decision = policies.evaluate(&ctx("s"), &call("other", json!({})), &session);
    assert_eq!(decision.verdict, Verdict::Allow, "{decision:#?}");
    assert!(decision.failed_policies().next().is_none());
    assert!(!decision.policies.is_empty());
}

#[test]
fn the_default_bundle_denies_command_injection() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let policies = engine.load_default_policies()?;
    assert!(
        policies
            .policies()
            .any(|info| info.name == "command-injection"),
        "{policies:?}"
    );
    let session = SessionState::new(engine.config().get_state_quota());

    let injected = call("run", json!({ "command": "ls; rm -rf /" }));
    let decision = policies.evaluate(&ctx("s"), &injected, &session);
    assert_eq!(decision.verdict, Verdict::Deny, "{decision:#?}");
    let reason = decision
        .reasons
        .iter()
        .find(|reason| reason.policy == "command-injection")
        .expect("a reason from command-injection");
    assert_ne!(reason.rule, POLICY_FAILURE_RULE);
    assert!(
        reason
            .findings
            .iter()
            .any(|finding| finding.field == "/arguments/command"),
        "{reason:#?}"
    );
    assert_eq!(decision.generation, policies.generation());

    let harmless = call("run", json!({ "command": "ls -l" }));
    let decision = policies.evaluate(&ctx("s"), &harmless, &session);
    assert_eq!(decision.verdict, Verdict::Allow, "{decision:#?}");
    assert!(decision.reasons.is_empty());
    Ok(())
}

#[test]
fn a_policy_that_loops_times_out_and_the_engine_goes_on() -> Result<()> {
    // A pool of one instance: a timed-out instance must give its slot back.
    let engine = Engine::new(
        EngineConfig::new()
            .timeout(Duration::from_millis(20))
            .max_instances(1),
    )?;
    let policies = load(&engine, &[WatPolicy::new("loops").on_target(LOOP_FOREVER)])?;
    for _ in 0..3 {
        let decision = call_target(&engine, &policies);
        let message = failure_of(&decision, "loops", Verdict::Deny);
        assert!(message.contains("timed out after 20 ms"), "{message}");
        // An embedder counts timeouts apart from traps by the typed failure.
        let failed: Vec<_> = decision.failed_policies().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0].failure,
            Some(PolicyFailure::TimedOut(Duration::from_millis(20)))
        );
    }
    assert_still_serves(&engine, &policies);
    Ok(())
}

#[test]
fn a_policy_that_exhausts_memory_fails() -> Result<()> {
    let engine = Engine::new(EngineConfig::new().memory_limit(1 << 20).max_instances(1))?;
    let policies = load(&engine, &[WatPolicy::new("grows").on_target(GROW_MEMORY)])?;
    for _ in 0..3 {
        let message = failure_of(&call_target(&engine, &policies), "grows", Verdict::Deny);
        assert!(
            message.contains("exceeded memory limit of 1 MiB"),
            "{message}"
        );
    }
    assert_still_serves(&engine, &policies);
    Ok(())
}

#[test]
fn a_policy_that_traps_fails() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let policies = load(&engine, &[WatPolicy::new("traps").on_target(UNREACHABLE)])?;
    let message = failure_of(&call_target(&engine, &policies), "traps", Verdict::Deny);
    assert!(message.contains("trap"), "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert_still_serves(&engine, &policies);
    Ok(())
}

#[test]
fn a_policy_that_cites_a_finding_it_was_not_given_fails() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let policies = load(
        &engine,
        &[WatPolicy::new("cites").on_target(CITE_MISSING_FINDING)],
    )?;
    let message = failure_of(&call_target(&engine, &policies), "cites", Verdict::Deny);
    assert!(message.contains("cites finding 5"), "{message}");
    Ok(())
}

#[test]
fn the_configured_fail_verdict_is_honoured() -> Result<()> {
    let engine = Engine::new(
        EngineConfig::new()
            .timeout(Duration::from_millis(20))
            .fail_verdict(Verdict::Escalate),
    )?;
    let policies = load(
        &engine,
        &[
            WatPolicy::new("traps").on_target(UNREACHABLE),
            WatPolicy::new("loops").on_target(LOOP_FOREVER),
        ],
    )?;
    let decision = call_target(&engine, &policies);
    failure_of(&decision, "traps", Verdict::Escalate);
    failure_of(&decision, "loops", Verdict::Escalate);
    Ok(())
}

#[test]
fn the_strictest_verdict_wins_and_every_policy_reports() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let allows = WatPolicy::new("allows");
    let escalates = WatPolicy::new("escalates").on_target(ESCALATE);
    let denies = WatPolicy::new("denies").on_target(DENY);

    let policies = load(&engine, &[allows.clone(), escalates.clone()])?;
    let decision = call_target(&engine, &policies);
    assert_eq!(decision.verdict, Verdict::Escalate, "{decision:#?}");
    assert_eq!(decision.reasons.len(), 1);
    assert_eq!(decision.reasons[0].policy, "escalates");
    assert_eq!(decision.reasons[0].rule, "seen-before");

    let policies = load(&engine, &[denies, allows, escalates])?;
    let decision = call_target(&engine, &policies);
    assert_eq!(decision.verdict, Verdict::Deny, "{decision:#?}");
    let verdicts: Vec<(&str, Verdict)> = decision
        .policies
        .iter()
        .map(|report| (report.name.as_str(), report.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("denies", Verdict::Deny),
            ("allows", Verdict::Allow),
            ("escalates", Verdict::Escalate)
        ]
    );
    Ok(())
}

#[test]
fn each_policy_gets_the_findings_of_its_own_patterns_only() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let policies = load(
        &engine,
        &[
            WatPolicy::new("alpha")
                .literal("alpha-word", "ALPHA")
                .on_target(CITE_ALL_FINDINGS),
            WatPolicy::new("beta")
                .regex("beta-word", r"bet+a")
                .on_target(CITE_ALL_FINDINGS),
            WatPolicy::new("none").on_target(CITE_ALL_FINDINGS),
        ],
    )?;
    let session = SessionState::new(engine.config().get_state_quota());
    let arguments = json!({ "text": "alpha betta, alpha", "other": ["beta"] });
    let decision = policies.evaluate(&ctx("s"), &call(TARGET, arguments), &session);
    let cited = |policy: &str| -> Vec<(String, String, String)> {
        let reason = decision
            .reasons
            .iter()
            .find(|reason| reason.policy == policy)
            .unwrap_or_else(|| panic!("no reason from {policy}: {decision:#?}"));
        let mut cited: Vec<_> = reason
            .findings
            .iter()
            .map(|f| (f.pattern.clone(), f.field.clone(), f.matched.clone()))
            .collect();
        cited.sort();
        cited
    };
    let finding = |pattern: &str, field: &str, matched: &str| {
        (pattern.to_owned(), field.to_owned(), matched.to_owned())
    };
    assert_eq!(
        cited("alpha"),
        [
            finding("alpha-word", "/arguments/text", "alpha"),
            finding("alpha-word", "/arguments/text", "alpha"),
        ]
    );
    assert_eq!(
        cited("beta"),
        [
            finding("beta-word", "/arguments/other/0", "beta"),
            finding("beta-word", "/arguments/text", "betta"),
        ]
    );
    assert_eq!(cited("none"), []);
    Ok(())
}

#[test]
fn a_policy_with_an_invalid_pattern_is_refused() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let component = WatPolicy::new("unbalanced")
        .regex("open", "(")
        .component()?;
    let error = engine
        .load_components([("unbalanced.wasm".to_owned(), component)])
        .unwrap_err();
    match &error {
        LoadError::InvalidPattern { policy, source } => {
            assert_eq!(policy, "unbalanced.wasm");
            assert!(source.to_string().contains("open"), "{source}");
            // The prefilter's error is kept as the cause, not flattened.
            assert!(std::error::Error::source(&error).is_some());
        }
        other => panic!("expected an invalid pattern, got {other:?}"),
    }
    Ok(())
}

#[test]
fn a_set_without_subscribed_policies_allows() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let empty = engine.load_components([])?;
    let decision = call_target(&engine, &empty);
    assert_eq!(decision.verdict, Verdict::Allow);
    assert!(decision.policies.is_empty());

    // The WAT policies subscribe to tool calls only.
    let policies = load(&engine, &[WatPolicy::new("denies").on_target(DENY)])?;
    let session = SessionState::new(engine.config().get_state_quota());
    let result = Event::Result(portcullis::ToolResult {
        call: ToolCall {
            name: TARGET.into(),
            arguments: json!({}),
            tool: None,
        },
        response: json!({ "content": [] }),
    });
    let decision = policies.evaluate(&ctx("s"), &result, &session);
    assert_eq!(decision.verdict, Verdict::Allow);
    assert!(decision.policies.is_empty());
    Ok(())
}

#[test]
fn sessions_keep_separate_state() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let policies = load(
        &engine,
        &[WatPolicy::new("once").on_target(DENY_AFTER_FIRST_CALL)],
    )?;
    let first = SessionState::new(engine.config().get_state_quota());
    let second = SessionState::new(engine.config().get_state_quota());
    let target = call(TARGET, json!({}));
    let verdict = |ctx: &Context, session: &SessionState| {
        let decision = policies.evaluate(ctx, &target, session);
        assert!(decision.failed_policies().next().is_none());
        decision.verdict
    };

    assert_eq!(verdict(&ctx("first"), &first), Verdict::Allow);
    assert_eq!(verdict(&ctx("first"), &first), Verdict::Deny);
    assert_eq!(verdict(&ctx("second"), &second), Verdict::Allow);
    assert_eq!(verdict(&ctx("second"), &second), Verdict::Deny);
    Ok(())
}

#[test]
fn threads_share_one_policy_set() -> Result<()> {
    for instance_reuse in [None, Some(InstanceReuse::default())] {
        let engine = Engine::new(EngineConfig::new().instance_reuse(instance_reuse))?;
        evaluate_from_threads(&engine)?;
    }
    Ok(())
}

/// Four threads, each with a session of its own, evaluate calls to a
/// policy that remembers the first call of each session.
fn evaluate_from_threads(engine: &Engine) -> Result<()> {
    let policies = load(
        engine,
        &[WatPolicy::new("once").on_target(DENY_AFTER_FIRST_CALL)],
    )?;
    let target = call(TARGET, json!({}));
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|thread| {
                let (policies, target) = (&policies, &target);
                scope.spawn(move || {
                    let session = SessionState::new(engine.config().get_state_quota());
                    let ctx = ctx(&format!("session-{thread}"));
                    (0..3)
                        .map(|_| policies.evaluate(&ctx, target, &session).verdict)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for thread in threads {
            let verdicts = thread.join().expect("the thread does not panic");
            assert_eq!(verdicts, [Verdict::Allow, Verdict::Deny, Verdict::Deny]);
        }
    });
    Ok(())
}

#[test]
fn a_policy_that_imports_wasi_is_refused() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let component = WatPolicy::new("snoops").import_environment().component()?;
    let error = engine
        .load_components([("snoops.wasm".to_owned(), component)])
        .unwrap_err();
    match &error {
        LoadError::ForbiddenImport { policy, import } => {
            assert_eq!(policy, "snoops.wasm");
            assert_eq!(import, "wasi:cli/environment@0.2.0");
        }
        other => panic!("expected a forbidden import, got {other:?}"),
    }
    assert!(error.to_string().contains("wasi:cli/environment@0.2.0"));
    Ok(())
}

#[test]
fn a_policy_whose_metadata_fails_is_refused() -> Result<()> {
    let engine = Engine::new(EngineConfig::new().timeout(Duration::from_millis(20)))?;
    for (body, cause, timed_out) in [
        (UNREACHABLE, "unreachable", false),
        (LOOP_FOREVER, "timed out", true),
    ] {
        let component = WatPolicy::new("broken").metadata(body).component()?;
        let error = engine
            .load_components([("broken.wasm".to_owned(), component)])
            .unwrap_err();
        match error {
            LoadError::MetadataFailed { policy, cause: got } => {
                assert_eq!(policy, "broken.wasm");
                assert!(got.to_string().contains(cause), "{got}");
                assert_eq!(
                    matches!(got, PolicyFailure::TimedOut(_)),
                    timed_out,
                    "{got:?}"
                );
            }
            other => panic!("expected a metadata failure, got {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn policy_names_must_be_unique() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let error = load(
        &engine,
        &[
            WatPolicy::new("twin"),
            WatPolicy::new("twin").on_target(DENY),
        ],
    )
    .unwrap_err();
    match error.downcast_ref::<LoadError>() {
        Some(LoadError::DuplicatePolicy {
            name,
            first,
            second,
        }) => {
            assert_eq!(name, "twin");
            assert_eq!(
                (first.as_str(), second.as_str()),
                ("policy-0.wasm", "policy-1.wasm")
            );
        }
        other => panic!("expected a duplicate policy, got {other:?}"),
    }
    Ok(())
}

#[test]
fn a_directory_of_components_loads_in_name_order() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let dir = std::env::temp_dir().join(format!("portcullis-load-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("b.wasm"), WatPolicy::new("second").component()?)?;
    std::fs::write(dir.join("a.wasm"), WatPolicy::new("first").component()?)?;
    std::fs::write(dir.join("notes.txt"), "not a policy")?;
    let loaded = engine.load_dir(&dir);
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty)?;
    let refused = engine.load_dir(&empty);
    std::fs::remove_dir_all(&dir)?;

    let names: Vec<String> = loaded?.policies().map(|info| info.name.clone()).collect();
    assert_eq!(names, ["first", "second"]);
    assert!(matches!(refused, Err(LoadError::NoPolicies { .. })));
    Ok(())
}

/// An engine that reuses instances under `reuse`.
fn reusing(reuse: InstanceReuse) -> Result<Engine> {
    Ok(Engine::new(
        EngineConfig::new().instance_reuse(Some(reuse)),
    )?)
}

/// The verdicts of `count` calls to [`TARGET`], each in a fresh session.
fn verdicts(engine: &Engine, policies: &PolicySet, count: usize) -> Vec<Verdict> {
    (0..count)
        .map(|_| call_target(engine, policies).verdict)
        .collect()
}

#[test]
fn fresh_instances_keep_nothing_between_evaluations() -> Result<()> {
    let engine = Engine::new(EngineConfig::default())?;
    let policies = load(
        &engine,
        &[WatPolicy::new("counts").on_target(DENY_AFTER_FIRST_CALL_IN_INSTANCE)],
    )?;
    assert_eq!(verdicts(&engine, &policies, 3), [Verdict::Allow; 3]);
    Ok(())
}

#[test]
fn a_reused_instance_is_dropped_after_max_calls() -> Result<()> {
    let engine = reusing(InstanceReuse {
        max_calls: 2,
        ..InstanceReuse::default()
    })?;
    let policies = load(
        &engine,
        &[WatPolicy::new("counts").on_target(DENY_AFTER_FIRST_CALL_IN_INSTANCE)],
    )?;
    // The guest global survives in a reused instance (which is why reuse is
    // only for policies that keep their state in host state), until the
    // instance has served two calls.
    assert_eq!(
        verdicts(&engine, &policies, 4),
        [Verdict::Allow, Verdict::Deny, Verdict::Allow, Verdict::Deny]
    );
    Ok(())
}

#[test]
fn a_reused_instance_that_fails_is_dropped() -> Result<()> {
    let engine = reusing(InstanceReuse::default())?;
    let policies = load(
        &engine,
        &[WatPolicy::new("traps").on_target(TRAP_ON_SECOND_CALL_IN_INSTANCE)],
    )?;
    for _ in 0..2 {
        assert_eq!(call_target(&engine, &policies).verdict, Verdict::Allow);
        let message = failure_of(&call_target(&engine, &policies), "traps", Verdict::Deny);
        assert!(message.contains("unreachable"), "{message}");
    }
    Ok(())
}

#[test]
fn a_reused_instance_that_grew_past_max_memory_is_dropped() -> Result<()> {
    let grows = WatPolicy::new("grows").on_target(&format!(
        "{GROW_ONE_MIB} {DENY_AFTER_FIRST_CALL_IN_INSTANCE}"
    ));
    // The policy starts with 128 KiB and grows by 1 MiB per call.
    let small = reusing(InstanceReuse {
        max_memory: 1 << 20,
        ..InstanceReuse::default()
    })?;
    let policies = load(&small, std::slice::from_ref(&grows))?;
    assert_eq!(verdicts(&small, &policies, 3), [Verdict::Allow; 3]);

    let large = reusing(InstanceReuse {
        max_memory: 4 << 20,
        ..InstanceReuse::default()
    })?;
    let policies = load(&large, &[grows])?;
    assert_eq!(
        verdicts(&large, &policies, 2),
        [Verdict::Allow, Verdict::Deny]
    );
    Ok(())
}

#[test]
fn a_reused_instance_gets_a_new_deadline_for_each_call() -> Result<()> {
    let engine = Engine::new(
        EngineConfig::new()
            .timeout(Duration::from_millis(10))
            .instance_reuse(Some(InstanceReuse::default())),
    )?;
    let policies = load(
        &engine,
        &[WatPolicy::new("counts").on_target(DENY_AFTER_FIRST_CALL_IN_INSTANCE)],
    )?;
    assert_eq!(call_target(&engine, &policies).verdict, Verdict::Allow);
    // Long past the first call's deadline, the reused instance still runs.
    std::thread::sleep(Duration::from_millis(50));
    let decision = call_target(&engine, &policies);
    assert_eq!(decision.verdict, Verdict::Deny, "{decision:#?}");
    assert_eq!(decision.reasons[0].rule, "seen-before", "{decision:#?}");
    Ok(())
}

#[test]
fn reuse_applies_only_to_the_policies_named() -> Result<()> {
    let engine = reusing(InstanceReuse {
        policies: Some(vec!["reused".into()]),
        ..InstanceReuse::default()
    })?;
    let policies = load(
        &engine,
        &[
            WatPolicy::new("reused").on_target(DENY_AFTER_FIRST_CALL_IN_INSTANCE),
            WatPolicy::new("fresh").on_target(DENY_AFTER_FIRST_CALL_IN_INSTANCE),
        ],
    )?;
    call_target(&engine, &policies);
    let decision = call_target(&engine, &policies);
    let verdicts: Vec<(&str, Verdict)> = decision
        .policies
        .iter()
        .map(|report| (report.name.as_str(), report.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [("reused", Verdict::Deny), ("fresh", Verdict::Allow)]
    );
    Ok(())
}

#[test]
fn a_reused_instance_sees_only_the_session_being_evaluated() -> Result<()> {
    let engine = reusing(InstanceReuse::default())?;
    // `remembers` keeps its state in the session; `counts` shows that the
    // instance is indeed reused.
    let policies = load(
        &engine,
        &[
            WatPolicy::new("remembers").on_target(DENY_AFTER_FIRST_CALL),
            WatPolicy::new("counts").on_target(DENY_AFTER_FIRST_CALL_IN_INSTANCE),
        ],
    )?;
    let (first, second) = (
        SessionState::new(engine.config().get_state_quota()),
        SessionState::new(engine.config().get_state_quota()),
    );
    let target = call(TARGET, json!({}));
    let verdicts = |ctx: &Context, session: &SessionState| -> Vec<(String, Verdict)> {
        policies
            .evaluate(ctx, &target, session)
            .policies
            .into_iter()
            .map(|report| (report.name, report.verdict))
            .collect()
    };
    let expected = |remembers, counts| {
        vec![
            ("remembers".to_owned(), remembers),
            ("counts".to_owned(), counts),
        ]
    };
    assert_eq!(
        verdicts(&ctx("first"), &first),
        expected(Verdict::Allow, Verdict::Allow)
    );
    assert_eq!(
        verdicts(&ctx("second"), &second),
        expected(Verdict::Allow, Verdict::Deny)
    );
    assert_eq!(
        verdicts(&ctx("first"), &first),
        expected(Verdict::Deny, Verdict::Deny)
    );
    Ok(())
}

#[test]
fn idle_instances_never_exhaust_the_instance_pool() -> Result<()> {
    // Three reused policies and a pool of two instances: were every policy
    // to keep an idle instance, the third could never be instantiated.
    let engine = Engine::new(
        EngineConfig::new()
            .max_instances(2)
            .instance_reuse(Some(InstanceReuse::default())),
    )?;
    let policies = load(
        &engine,
        &[
            WatPolicy::new("a"),
            WatPolicy::new("b"),
            WatPolicy::new("c"),
        ],
    )?;
    for _ in 0..3 {
        assert_still_serves(&engine, &policies);
    }
    Ok(())
}

/// Red-team review, pool exhaustion: four times as many evaluations at once
/// as the pool has instances are all decided; none fails for want of an
/// instance, since an evaluation waits for a place (up to its timeout).
#[test]
fn more_evaluations_at_once_than_instances_all_wait_and_are_decided() -> Result<()> {
    let instances = 2;
    let engine = Engine::new(
        EngineConfig::new()
            .max_instances(instances)
            .timeout(Duration::from_secs(5)),
    )?;
    let policies = std::sync::Arc::new(engine.load_default_policies()?);
    let threads: Vec<_> = (0..4 * instances)
        .map(|index| {
            let (engine, policies) = (engine.clone(), std::sync::Arc::clone(&policies));
            std::thread::spawn(move || {
                let session = SessionState::new(engine.config().get_state_quota());
                let event = call("run", json!({"command": format!("ls; rm -rf / #{index}")}));
                (0..3)
                    .map(|_| policies.evaluate(&ctx("pool"), &event, &session))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for thread in threads {
        for decision in thread.join().expect("an evaluating thread") {
            assert_eq!(decision.verdict, Verdict::Deny, "{decision:#?}");
            assert!(decision.failed_policies().next().is_none(), "{decision:#?}");
        }
    }
    Ok(())
}
