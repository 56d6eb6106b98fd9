//! Decision latency: one event through the prefilter and the policies, as
//! p50/p99 over many runs, for one policy and for the whole default bundle,
//! for 1, 5 and all the embedded policies and for each policy written in
//! another language (C, JavaScript, Python), with a fresh instance per
//! decision and with warm instance reuse, beside an equivalent Rego policy
//! evaluated by regorus in the same run.
//!
//! `cargo bench -p portcullis --bench decision` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use portcullis::{
    Context, Engine, EngineConfig, Event, InstanceReuse, PolicySet, SessionState, StateQuota,
    ToolCall, Verdict,
};
use serde_json::json;

/// The Rego twin of the `command-injection` policy's core rule.
const REGO: &str = r#"
package portcullis.command_injection

import rego.v1

patterns := [
    `[;&|]\s*(rm|nc|curl|wget|bash|sh)\b`,
    `\$\(`,
    `\.\./`,
]

deny contains message if {
    some key, value in input.arguments
    is_string(value)
    some pattern in patterns
    regex.match(pattern, value)
    message := sprintf("argument %s matches %s", [key, pattern])
}
"#;

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn measure(iterations: usize, mut run: impl FnMut()) -> Stats {
    for _ in 0..iterations / 10 {
        run();
    }
    let mut samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    samples.sort();
    let total: Duration = samples.iter().sum();
    Stats {
        p50: samples[samples.len() / 2],
        p99: samples[samples.len() * 99 / 100],
        mean: total / samples.len() as u32,
    }
}

fn print_row(name: &str, stats: &Stats) {
    println!(
        "| {name} | {:.1} | {:.1} | {:.1} |",
        stats.p50.as_secs_f64() * 1e6,
        stats.p99.as_secs_f64() * 1e6,
        stats.mean.as_secs_f64() * 1e6,
    );
}

/// The embedded policies named in `only`, or all of them.
fn embedded(engine: &Engine, only: Option<&[&str]>) -> PolicySet {
    let components = portcullis::default_policies()
        .filter(|(name, _)| only.is_none_or(|only| only.contains(name)))
        .map(|(name, bytes)| (name.to_owned(), bytes.to_vec()));
    engine
        .load_components(components)
        .expect("the default policies load")
}

/// The policy written in another language, built by `.ci/prepare` into
/// `policies/<name>/target/<name>.wasm`, if it has been built.
fn polyglot(engine: &Engine, name: &str) -> Option<PolicySet> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(name)
        .join("target")
        .join(format!("{name}.wasm"));
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!(
            "skipping {name}: {} is not built (run .ci/prepare)",
            path.display()
        );
        return None;
    };
    Some(
        engine
            .load_components([(name.to_owned(), bytes)])
            .expect("the polyglot policy loads"),
    )
}

/// The policies of the 5-policy case: those that judge tool-call arguments.
const FIVE: [&str; 5] = [
    "command-injection",
    "path-traversal",
    "sql-injection",
    "markup-injection",
    "prompt-injection",
];

/// The policies in other languages, with the verdict each gives the benign call.
const POLYGLOT: [(&str, Verdict); 3] = [
    ("c-secrets", Verdict::Allow),
    ("js-tool-allowlist", Verdict::Allow),
    ("py-trifecta", Verdict::Allow),
];

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let iterations = if quick { 500 } else { 5_000 };
    let context = Context::new("bench", "bench");
    let session = SessionState::new(StateQuota::default());
    let benign = Event::Call(ToolCall {
        name: "read_log".into(),
        arguments: json!({"path": "logs/app.log", "lines": 50}),
        tool: None,
    });
    let hostile = Event::Call(ToolCall {
        name: "read_log".into(),
        arguments: json!({"path": "app.log; rm -rf / #"}),
        tool: None,
    });
    let bench = |name: &str, set: &PolicySet, event: &Event, expected: Verdict| {
        // Measure the real decision, not a failure path.
        let decision = set.evaluate(&context, event, &session);
        assert_eq!(decision.verdict, expected, "{name}: {decision:?}");
        assert!(
            decision.failed_policies().next().is_none(),
            "{name}: {decision:?}"
        );
        let stats = measure(iterations, || {
            black_box(set.evaluate(&context, black_box(event), &session));
        });
        print_row(name, &stats);
    };

    println!("{iterations} decisions each; microseconds\n");
    println!("| case | p50 µs | p99 µs | mean µs |");
    println!("| --- | ---: | ---: | ---: |");
    for (reuse_name, reuse) in [
        ("fresh instance", None),
        ("reused instance", Some(InstanceReuse::default())),
    ] {
        let engine =
            Engine::new(EngineConfig::new().instance_reuse(reuse)).expect("the engine starts");
        // One set at a time, each dropped before the next is loaded: the
        // engine's idle-instance budget is shared, and a set still alive
        // would keep warm instances the next one then cannot have.
        for only in [Some(&FIVE[..1]), Some(&FIVE[..]), None] {
            let set = embedded(&engine, only);
            let set_name = match set.policies().count() {
                1 => "1 policy".to_owned(),
                count => format!("{count} policies"),
            };
            for (event_name, event, expected) in [
                ("benign call", &benign, Verdict::Allow),
                ("hostile call", &hostile, Verdict::Deny),
            ] {
                bench(
                    &format!("{set_name}, {reuse_name}, {event_name}"),
                    &set,
                    event,
                    expected,
                );
            }
        }
        for (name, expected) in POLYGLOT {
            if let Some(set) = polyglot(&engine, name) {
                bench(
                    &format!("{name}, {reuse_name}, benign call"),
                    &set,
                    &benign,
                    expected,
                );
            }
        }
    }

    for (event_name, arguments) in [
        ("benign call", json!({"path": "logs/app.log", "lines": 50})),
        ("hostile call", json!({"path": "app.log; rm -rf / #"})),
    ] {
        let mut rego = regorus::Engine::new();
        rego.add_policy("command_injection.rego".into(), REGO.into())
            .expect("the Rego policy parses");
        let input = json!({"name": "read_log", "arguments": arguments}).to_string();
        rego.set_input(regorus::Value::from_json_str(&input).expect("input is JSON"));
        let denials = rego
            .eval_rule("data.portcullis.command_injection.deny".into())
            .expect("the rule evaluates");
        let denied = !denials.as_set().expect("`deny` is a set").is_empty();
        assert_eq!(denied, event_name == "hostile call", "{denials}");
        let stats = measure(iterations, || {
            rego.set_input(regorus::Value::from_json_str(&input).expect("input is JSON"));
            black_box(
                rego.eval_rule("data.portcullis.command_injection.deny".into())
                    .expect("the rule evaluates"),
            );
        });
        print_row(&format!("regorus, 1 Rego policy, {event_name}"), &stats);
    }
}
