//! End-to-end tests of `portcullis scan`: real servers, configured as the
//! clients configure them under a scratch home directory, started, listed
//! and decided.

use std::path::Path;

use serde_json::{Value, json};

use portcullis_tests::binary::portcullis;
use portcullis_tests::mcp::{filesystem_server, peers_dir, python};

fn write(path: &Path, config: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(config).unwrap()).unwrap();
}

fn scan(home: &Path, options: &[&str]) -> std::process::Output {
    portcullis()
        .arg("scan")
        .args(options)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .current_dir(home)
        .output()
        .expect("portcullis scan runs")
}

#[test]
fn a_poisoned_tool_among_the_configured_servers_is_found() {
    let home = tempfile::tempdir().unwrap();
    let served = home.path().join("data");
    std::fs::create_dir(&served).unwrap();
    let filesystem = filesystem_server(&served);
    let strings = |words: &[std::ffi::OsString]| -> Vec<String> {
        words
            .iter()
            .map(|word| word.to_string_lossy().into_owned())
            .collect()
    };
    let filesystem = strings(&filesystem);
    write(
        &home.path().join(".cursor/mcp.json"),
        &json!({ "mcpServers": {
            "files": { "command": filesystem[0], "args": filesystem[1..] },
            "docs": { "url": "https://docs.example.com/mcp" },
        }}),
    );
    write(
        &home.path().join(".codeium/windsurf/mcp_config.json"),
        &json!({ "mcpServers": {
            "billing": { "command": python(), "args": [peers_dir().join("poisoned_server.py")] },
        }}),
    );

    let output = scan(home.path(), &["--json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a flagged tool makes the exit status 1"
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let verdict = |server: &str, tool: &str| {
        lines
            .iter()
            .find(|line| line["server"] == server && line["tool"] == tool)
            .map(|line| line["verdict"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        verdict("billing", "lookup_invoice").as_deref(),
        Some("deny"),
        "{lines:?}"
    );
    assert_eq!(
        verdict("billing", "convert_units").as_deref(),
        Some("allow")
    );
    let file_tools = lines
        .iter()
        .filter(|line| line["server"] == "files" && line["verdict"] == "allow")
        .count();
    assert!(
        file_tools > 5,
        "the filesystem server's tools are listed and allowed: {lines:?}"
    );
    let docs = lines.iter().find(|line| line["server"] == "docs").unwrap();
    assert!(
        docs["skipped"].as_str().unwrap().contains("remote"),
        "{docs}"
    );

    // Only the clients asked for.
    let cursor_only = scan(home.path(), &["--json", "--client", "cursor"]);
    assert_eq!(cursor_only.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&cursor_only.stdout).contains("billing"));
}

#[test]
fn a_server_that_does_not_start_is_reported_and_the_report_reads_well() {
    let home = tempfile::tempdir().unwrap();
    write(
        &home.path().join(".mcp.json"),
        &json!({ "mcpServers": {
            "gone": { "command": "/nonexistent/mcp-server" },
            "billing": { "command": python(), "args": [peers_dir().join("poisoned_server.py")] },
        }}),
    );
    let output = scan(home.path(), &["--client", "claude-code"]);
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("gone: could not be scanned: cannot start"),
        "{report}"
    );
    assert!(report.contains("deny     lookup_invoice"), "{report}");
    assert!(report.contains("description-poisoning/"), "{report}");
}
