//! End-to-end tests of `portcullis install` and `uninstall` on a scratch
//! home directory per client: servers wrapped and hooks added in place,
//! the installed configuration working through the proxy, and uninstall
//! leaving every file byte for byte as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use portcullis_tests::binary::{binary, portcullis};
use portcullis_tests::mcp::{peers_dir, python};

fn run(home: &Path, args: &[&str]) -> Output {
    portcullis()
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .current_dir(home.join("project"))
        .output()
        .expect("portcullis runs")
}

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn put(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read_json(path: &Path) -> Value {
    jsonc_free(&std::fs::read_to_string(path).unwrap())
}

/// The JSON of a file whose comments are only whole `//` lines.
fn jsonc_free(text: &str) -> Value {
    let text: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// A configuration with a stdio server, a remote one, a comment and a
/// trailing comma, under `key`.
fn config(key: &str) -> String {
    format!(
        "{{\n  // servers of this machine\n  \"{key}\": {{\n    \"notes\": {{ \"command\": \"npx\", \"args\": [\"-y\", \"notes-mcp\"], \"env\": {{ \"NOTES_DIR\": \"/srv/notes\" }} }},\n    \"docs\": {{ \"url\": \"https://docs.example.com/mcp\" }},\n  }},\n  \"editor.fontSize\": 13\n}}\n"
    )
}

#[test]
fn install_then_uninstall_leaves_every_client_byte_for_byte_as_it_was() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
            "mcpServers",
        ),
        ("claude-code", "project/.mcp.json", "mcpServers"),
        ("cursor", ".cursor/mcp.json", "mcpServers"),
        ("vscode", ".config/Code/User/mcp.json", "servers"),
        (
            "windsurf",
            ".codeium/windsurf/mcp_config.json",
            "mcpServers",
        ),
    ];
    for (client, file, key) in cases {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("project")).unwrap();
        let path = home.path().join(file);
        put(&path, &config(key));
        if client == "claude-code" {
            put(
                &home.path().join(".claude/settings.json"),
                "{\n  \"hooks\": { \"PreToolUse\": [{ \"matcher\": \"Bash\", \"hooks\": [{ \"type\": \"command\", \"command\": \"audit.sh\" }] }] }\n}\n",
            );
        }
        let before = snapshot(home.path());

        let installed = run(home.path(), &["install", client, "--yes"]);
        assert!(installed.status.success(), "{client}: {installed:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("// servers of this machine"),
            "{client} keeps comments: {text}"
        );
        let value = jsonc_free(&text.replace(",\n  },", "\n  },"));
        let notes = &value[key]["notes"];
        assert_eq!(
            notes["command"],
            binary().to_str().unwrap(),
            "{client}: {text}"
        );
        assert_eq!(
            notes["args"],
            json!(["run", "--name", "notes", "--", "npx", "-y", "notes-mcp"]),
            "{client}"
        );
        assert_eq!(notes["env"]["NOTES_DIR"], "/srv/notes");
        assert_eq!(
            value[key]["docs"],
            json!({ "url": "https://docs.example.com/mcp" })
        );
        match client {
            "claude-code" => {
                let settings = read_json(&home.path().join(".claude/settings.json"));
                let pre = settings["hooks"]["PreToolUse"].as_array().unwrap();
                assert_eq!(pre[0]["hooks"][0]["command"], "audit.sh");
                assert!(
                    pre[1]["hooks"][0]["command"]
                        .as_str()
                        .unwrap()
                        .ends_with("hook claude-code")
                );
                assert_eq!(settings["hooks"]["PostToolUse"][0]["matcher"], "*");
            }
            "cursor" => {
                let hooks = read_json(&home.path().join(".cursor/hooks.json"));
                assert_eq!(hooks["version"], 1);
                assert!(
                    hooks["hooks"]["beforeMCPExecution"][0]["command"]
                        .as_str()
                        .unwrap()
                        .ends_with("hook cursor")
                );
            }
            _ => {}
        }

        let again = run(home.path(), &["install", client, "--yes"]);
        assert!(
            !again.status.success(),
            "{client}: a second install is refused"
        );
        assert!(String::from_utf8_lossy(&again.stderr).contains("already installed"));

        let uninstalled = run(home.path(), &["uninstall", client]);
        assert!(uninstalled.status.success(), "{client}: {uninstalled:?}");
        assert_eq!(
            snapshot(home.path()),
            before,
            "{client}: every file as it was, and nothing left over"
        );
    }
}

#[test]
fn the_installed_configuration_runs_its_servers_through_the_proxy() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("project")).unwrap();
    let config = json!({ "mcpServers": {
        "billing": { "command": python(), "args": [peers_dir().join("poisoned_server.py")] },
    }});
    put(&home.path().join(".cursor/mcp.json"), &config.to_string());

    let scan = |home: &Path| {
        let output = run(home, &["scan", "--client", "cursor", "--json"]);
        let tools: Vec<(String, String)> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .map(|line| {
                (
                    line["tool"].as_str().unwrap().to_owned(),
                    line["verdict"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        tools
    };
    assert!(scan(home.path()).contains(&("lookup_invoice".to_owned(), "deny".to_owned())));
    assert!(
        run(home.path(), &["install", "cursor", "--yes"])
            .status
            .success()
    );
    // Through the proxy the poisoned tool is no longer listed at all.
    assert_eq!(
        scan(home.path()),
        [("convert_units".to_owned(), "allow".to_owned())]
    );
}

#[test]
fn a_file_changed_since_the_install_is_restored_only_when_forced() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("project")).unwrap();
    let path = home.path().join(".codeium/windsurf/mcp_config.json");
    let original = config("mcpServers");
    put(&path, &original);
    assert!(
        run(home.path(), &["install", "windsurf", "--yes"])
            .status
            .success()
    );
    let edited = std::fs::read_to_string(&path).unwrap().replace("13", "14");
    std::fs::write(&path, &edited).unwrap();

    let refused = run(home.path(), &["uninstall", "windsurf"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);

    assert!(
        run(home.path(), &["uninstall", "windsurf", "--force"])
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
}

#[test]
fn install_shows_the_change_and_does_nothing_without_a_yes() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("project")).unwrap();
    let path = home.path().join(".cursor/mcp.json");
    put(&path, &config("mcpServers"));
    let before = snapshot(home.path());
    let output = run(home.path(), &["install", "cursor"]);
    assert!(!output.status.success());
    let diff = String::from_utf8_lossy(&output.stdout);
    assert!(
        diff.contains("\"run\", \"--name\", \"notes\", \"--\", \"npx\""),
        "{diff}"
    );
    assert!(
        diff.contains("--- /dev/null"),
        "the hook file to be created: {diff}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("--yes"));
    assert_eq!(snapshot(home.path()), before);
}
