//! Hook round trip: what a runtime waits for per tool call, from starting
//! `portcullis hook` to reading its answer, through a running
//! `portcullis serve` and deciding in the hook's own process, beside the
//! cost of starting any process at all (`true`) in the same run.
//!
//! `cargo bench -p portcullis-cli --bench hook` (`-- --runs N` to change
//! the number of round trips per case; 200 by default).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_portcullis");

/// A Claude Code `PreToolUse` payload the default policies allow: every
/// policy runs to its end.
const PAYLOAD: &str = r#"{"session_id":"bench","hook_event_name":"PreToolUse","cwd":"/home/dev/shop","tool_name":"Bash","tool_input":{"command":"cargo test --workspace","description":"Run the tests"},"tool_use_id":"toolu_bench"}"#;

fn main() {
    let runs = std::env::args()
        .skip_while(|arg| arg != "--runs")
        .nth(1)
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("a scratch directory");
    let socket = dir.path().join("run/s.sock");
    let cache = dir.path().join("cache");
    let mut server = Command::new(BINARY)
        .args(["serve", "--socket"])
        .arg(&socket)
        .stderr(Stdio::piped())
        .spawn()
        .expect("portcullis serve starts");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    lines.next().expect("the server listens").expect("text");

    let mut true_process = Command::new("true");
    let baseline = measure("process start (`true`)", runs, &mut true_process, None);
    let mut through_server = hook(&["--socket", socket.to_str().expect("a UTF-8 path")]);
    let served = measure(
        "hook through `serve`",
        runs,
        &mut through_server,
        Some(PAYLOAD),
    );
    let mut stateless = hook(&["--stateless", "--cache-dir", cache.to_str().expect("UTF-8")]);
    let alone = measure(
        "hook deciding alone",
        runs.min(50),
        &mut stateless,
        Some(PAYLOAD),
    );

    println!();
    println!("| case | p50 | p99 | p50 / process start |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, (p50, p99)) in [
        ("process start (`true`)", baseline),
        ("hook through `serve`", served),
        ("hook deciding alone (cached compiled policies)", alone),
    ] {
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.1}x |",
            ms(p50),
            ms(p99),
            p50.as_secs_f64() / baseline.0.as_secs_f64()
        );
    }
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
}

fn hook(options: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.args(["hook", "claude-code"]).args(options);
    command
}

/// p50 and p99 of `runs` round trips of `command`, `stdin` written to it.
fn measure(
    name: &str,
    runs: usize,
    command: &mut Command,
    stdin: Option<&str>,
) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs + 2 {
        let started = Instant::now();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the command starts");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("written");
        }
        let output = child.wait_with_output().expect("the command ends");
        times.push(started.elapsed());
        assert!(output.status.success(), "{name}: {output:?}");
    }
    // The first two warm the page cache and the compiled-policy cache.
    times.drain(..2);
    times.sort();
    let p50 = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    eprintln!("{name}: p50 {:.2} ms, p99 {:.2} ms", ms(p50), ms(p99));
    (p50, p99)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
