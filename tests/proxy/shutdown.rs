//! Nothing the server started outlives the proxy (conformance 5.6, red-team
//! finding 16): SIGTERM to the proxy stops the server's whole process
//! group, and a server that exits while a process it started still holds
//! its stdout is noticed at once, its exit code passed on.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use portcullis_tests::mcp::{Proxy, peers_dir, scratch};
use serde_json::json;

/// Whether process `pid` still runs (a zombie waiting for a reaper that a
/// container may lack does not run).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.rsplit(") ").next().unwrap_or("").starts_with('Z'))
}

fn eventually_stopped(pid: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if !running(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A shell that starts `sleep 300` in the background, writes its pid to
/// `pid_file`, and then runs `then`.
fn server_with_a_grandchild(pid_file: &Path, then: &str) -> Vec<OsString> {
    let script = format!("sleep 300 & echo $! > '{}'; {then}", pid_file.display());
    vec!["sh".into(), "-c".into(), script.into()]
}

fn read_pid(pid_file: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(pid) = std::fs::read_to_string(pid_file)
            && !pid.trim().is_empty()
        {
            return pid.trim().to_owned();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_to_the_proxy_stops_the_servers_whole_group() {
    let dir = scratch("shutdown-term");
    let pid_file = dir.join("grandchild.pid");
    let lenient = peers_dir().join("lenient_server.py");
    let then = format!("exec python3 '{}'", lenient.display());
    let mut proxy = Proxy::start(&[], &server_with_a_grandchild(&pid_file, &then));
    proxy.initialize(json!({}));
    let grandchild = read_pid(&pid_file);
    assert!(running(&grandchild));

    let status = Command::new("kill")
        .args(["-TERM", &proxy.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(proxy.wait().code(), Some(128 + 15));
    assert!(
        eventually_stopped(&grandchild),
        "the server's child outlived the proxy"
    );
}

#[test]
fn a_server_that_exits_while_its_child_holds_stdout_is_noticed() {
    let dir = scratch("shutdown-orphan");
    let pid_file = dir.join("grandchild.pid");
    let mut proxy = Proxy::start(
        &[],
        &server_with_a_grandchild(&pid_file, "read line; exit 4"),
    );
    let grandchild = read_pid(&pid_file);
    let id = proxy.next_id();
    proxy.send(&json!({"jsonrpc": "2.0", "id": id, "method": "ping"}));
    let answer = proxy.response(id);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("exited"),
        "{answer}"
    );
    assert_eq!(proxy.wait().code(), Some(4));
    assert!(
        eventually_stopped(&grandchild),
        "the server's child outlived the proxy"
    );
}

/// The proxy's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

/// Red-team finding 10: a server that never reads its input stalls the
/// direction towards it; the proxy's memory does not grow with what the
/// client keeps writing.
#[test]
fn a_server_that_does_not_read_stalls_its_direction_not_the_proxys_memory() {
    use std::io::Write;

    let never_reads: Vec<OsString> = ["sh", "-c", "exec sleep 300"].map(OsString::from).to_vec();
    let mut proxy = Proxy::start(&[], &never_reads);
    let mut stdin = proxy.take_stdin();
    let pid = proxy.pid();
    // Let the proxy load its policies and start the server.
    std::thread::sleep(Duration::from_secs(2));
    let before = rss_kib(pid);
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&written);
    std::thread::spawn(move || {
        let line = format!(
            "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"data\":\"{}\"}}}}\n",
            "x".repeat(1000)
        );
        while counter.load(std::sync::atomic::Ordering::Relaxed) < 100 << 20 {
            if stdin.write_all(line.as_bytes()).is_err() {
                return;
            }
            counter.fetch_add(line.len(), std::sync::atomic::Ordering::Relaxed);
        }
    });
    std::thread::sleep(Duration::from_secs(4));
    let after = rss_kib(pid);
    let sent = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent < 100 << 20,
        "the proxy read all 100 MiB ahead ({sent} bytes)"
    );
    assert!(
        after < before + 32 * 1024,
        "the proxy grew from {before} KiB to {after} KiB while the client wrote {sent} bytes"
    );
}

/// Red-team finding 10: a listing of 100,000 tools is refused at once (over
/// `--max-tools`) instead of being decided tool by tool while every other
/// message waits; a ping sent right after it is answered promptly.
#[test]
fn a_huge_listing_does_not_hold_other_traffic_back() {
    let server = vec![
        "python3".into(),
        peers_dir().join("big_listing_server.py").into(),
    ];
    let mut proxy = Proxy::start(&[], &server);
    proxy.initialize(json!({}));
    let listing = proxy.next_id();
    proxy.send(&json!({"jsonrpc": "2.0", "id": listing, "method": "tools/list"}));
    let start = Instant::now();
    let pong = proxy.request("ping", json!({}));
    assert!(pong.get("result").is_some(), "{pong}");
    let waited = start.elapsed();
    // The refusal came first, while the request waited for the ping.
    let refused = proxy
        .received
        .iter()
        .find(|message| message["id"] == listing)
        .cloned()
        .unwrap_or_else(|| proxy.response(listing));
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("more than the limit"),
        "{refused}"
    );
    assert!(
        waited < Duration::from_secs(10),
        "the ping waited {waited:?}"
    );
}
