//! Gateway load: many MCP sessions at once calling a remote server's `echo`,
//! directly and through `portcullis gateway` (API key, default policies, the
//! call and its result decided), in the same run. Every answer is checked
//! against its call: a lost or misrouted answer fails the bench.
//!
//! `cargo bench -p portcullis-cli --bench gateway` (`-- --sessions N
//! --calls M` to change the load; 50 sessions of 200 calls by default).
//! Each request is a fresh loopback connection, on both paths alike.

use portcullis_tests::gateway::{Gateway, HttpServer, load};

/// An API key and its SHA-256.
const API_KEY: &str = "pk-bench-gateway-41d2";

fn main() {
    let argument = |name: &str, default: usize| {
        std::env::args()
            .skip_while(|arg| arg != name)
            .nth(1)
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let sessions = argument("--sessions", 50);
    let calls = argument("--calls", 200);
    let dir = tempfile::tempdir().expect("a scratch directory");
    let everything = HttpServer::everything();
    let config = format!(
        "[[auth.api_keys]]\nname = \"bench\"\ntenant = \"bench\"\nsha256 = \"{}\"\n[sessions]\nmax_per_principal = {sessions}",
        sha256_hex(API_KEY)
    );
    let gateway = Gateway::in_front_of(dir.path(), &everything, &config);
    let bearer = format!("Bearer {API_KEY}");

    println!("| load | path | p50 | p99 | p50 / direct | p99 / direct |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    // One session alone shows what the gateway adds to a call; many at
    // once, what it does under load (every answer checked either way).
    for sessions in [1, sessions] {
        let mut direct = load(&everything.url, &[], sessions, calls);
        let mut through = load(
            &gateway.url("everything"),
            &[("Authorization", &bearer)],
            sessions,
            calls,
        );
        for (name, load) in [("direct", &direct), ("through the gateway", &through)] {
            assert_eq!(
                (load.lost, load.misrouted),
                (0, 0),
                "{name}: answers lost or misrouted"
            );
        }
        let (direct_p50, direct_p99) = (direct.quantile_ms(0.5), direct.quantile_ms(0.99));
        let (p50, p99) = (through.quantile_ms(0.5), through.quantile_ms(0.99));
        let load = format!("{sessions} x {calls} calls");
        println!(
            "| {load} | direct to the server | {direct_p50:.2} ms | {direct_p99:.2} ms | 1.0x | 1.0x |"
        );
        println!(
            "| {load} | through the gateway | {p50:.2} ms | {p99:.2} ms | {:.1}x | {:.1}x |",
            p50 / direct_p50,
            p99 / direct_p99
        );
    }
    println!();
    println!("every answer checked: 0 lost, 0 misrouted");
}

/// The SHA-256 of `text` in hex, by `sha256sum`.
fn sha256_hex(text: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("written");
    let output = child.wait_with_output().expect("sha256sum answers");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_owned()
}
