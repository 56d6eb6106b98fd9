//! Decision latency: one event through the prefilter and the policies, as
//! p50/p99 over many runs, for one policy and for the whole default bundle,
//! each policy in a fresh instance per decision.
//!
//! `cargo bench -p portcullis --bench decision` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use portcullis::{
    Context, Engine, EngineConfig, Event, PolicySet, SessionState, StateQuota, ToolCall,
};
use serde_json::json;

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

fn policies(engine: &Engine, only: Option<&str>) -> PolicySet {
    let components = portcullis::default_policies()
        .filter(|(name, _)| only.is_none_or(|only| only == *name))
        .map(|(name, bytes)| (name.to_owned(), bytes.to_vec()));
    engine
        .load_components(components)
        .expect("the default policies load")
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let iterations = if quick { 500 } else { 5_000 };
    let context = Context {
        session: "bench".into(),
        server: "bench".into(),
    };
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

    println!("{iterations} decisions each; microseconds\n");
    println!("| case | p50 µs | p99 µs | mean µs |");
    println!("| --- | ---: | ---: | ---: |");
    let engine = Engine::new(EngineConfig::default()).expect("the engine starts");
    let one = policies(&engine, Some("command-injection"));
    let all = policies(&engine, None);
    let count = all.policies().count();
    for (set_name, set) in [("1 policy", &one), (&*format!("{count} policies"), &all)] {
        for (event_name, event) in [("benign call", &benign), ("hostile call", &hostile)] {
            let stats = measure(iterations, || {
                black_box(set.evaluate(&context, black_box(event), &session));
            });
            print_row(&format!("{set_name}, {event_name}"), &stats);
        }
    }
}
