//! Where MCP clients keep their server configuration, and the servers in
//! it: Claude Desktop, Claude Code, Cursor, VS Code and Windsurf.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::ValueEnum;
use serde_json::Value;

/// An MCP client whose configuration Portcullis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClientName {
    /// Claude Desktop (`claude_desktop_config.json`).
    ClaudeDesktop,
    /// Claude Code (`~/.claude.json` and a project's `.mcp.json`).
    ClaudeCode,
    /// Cursor (`~/.cursor/mcp.json` and a project's `.cursor/mcp.json`).
    Cursor,
    /// VS Code (the user's `mcp.json` and a project's `.vscode/mcp.json`).
    Vscode,
    /// Windsurf (`~/.codeium/windsurf/mcp_config.json`).
    Windsurf,
}

impl ClientName {
    pub(crate) const ALL: [ClientName; 5] = [
        ClientName::ClaudeDesktop,
        ClientName::ClaudeCode,
        ClientName::Cursor,
        ClientName::Vscode,
        ClientName::Windsurf,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ClientName::ClaudeDesktop => "claude-desktop",
            ClientName::ClaudeCode => "claude-code",
            ClientName::Cursor => "cursor",
            ClientName::Vscode => "vscode",
            ClientName::Windsurf => "windsurf",
        }
    }

    /// The member of the configuration that holds the servers: VS Code
    /// calls it `servers`, the others `mcpServers`.
    pub(crate) fn servers_key(self) -> &'static str {
        match self {
            ClientName::Vscode => "servers",
            _ => "mcpServers",
        }
    }

    /// The client's configuration files on this system, for a user whose
    /// home is `home`, working in the project `project`; those that exist.
    pub(crate) fn config_files(self, home: &Path, project: &Path) -> Vec<PathBuf> {
        self.config_candidates(home, project)
            .into_iter()
            .filter(|path| path.is_file())
            .collect()
    }

    /// Where the client looks for its configuration, whether or not the
    /// files are there.
    pub(crate) fn config_candidates(self, home: &Path, project: &Path) -> Vec<PathBuf> {
        let config_dir = config_dir(home);
        let mut candidates = match self {
            ClientName::ClaudeDesktop => vec![config_dir.join("Claude/claude_desktop_config.json")],
            ClientName::ClaudeCode => vec![home.join(".claude.json"), project.join(".mcp.json")],
            ClientName::Cursor => vec![
                home.join(".cursor/mcp.json"),
                project.join(".cursor/mcp.json"),
            ],
            ClientName::Vscode => vec![
                config_dir.join("Code/User/mcp.json"),
                project.join(".vscode/mcp.json"),
            ],
            ClientName::Windsurf => vec![home.join(".codeium/windsurf/mcp_config.json")],
        };
        // A project in the home directory has the home's files.
        candidates.dedup();
        candidates
    }

    /// The servers configured in `path`.
    ///
    /// # Errors
    /// When the file cannot be read or is not JSON (comments and trailing
    /// commas, which VS Code allows, are read).
    pub(crate) fn servers(self, path: &Path) -> anyhow::Result<Vec<ServerEntry>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON (comments are not read)", path.display()))?;
        let mut tables: Vec<&Value> = config.get(self.servers_key()).into_iter().collect();
        // Claude Code keeps servers per project too, in `~/.claude.json`.
        if self == ClientName::ClaudeCode {
            let projects = config.get("projects").and_then(Value::as_object);
            tables.extend(
                projects
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, project)| project.get(self.servers_key())),
            );
        }
        let servers = tables
            .into_iter()
            .filter_map(Value::as_object)
            .flatten()
            .map(|(name, entry)| ServerEntry::read(name, entry))
            .collect();
        Ok(servers)
    }
}

/// Where a client keeps its hooks, and in which format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookFormat {
    /// Claude Code's `settings.json`: `hooks.PreToolUse[]` of matcher groups.
    ClaudeCode,
    /// Cursor's `hooks.json`: `version` and `hooks.beforeShellExecution[]`…
    Cursor,
}

impl ClientName {
    /// The user's hook file of a client that runs hooks.
    pub(crate) fn hook_file(self, home: &Path) -> Option<(PathBuf, HookFormat)> {
        match self {
            ClientName::ClaudeCode => {
                Some((home.join(".claude/settings.json"), HookFormat::ClaudeCode))
            }
            ClientName::Cursor => Some((home.join(".cursor/hooks.json"), HookFormat::Cursor)),
            _ => None,
        }
    }
}

/// The platform's per-user configuration directory: `~/Library/Application
/// Support` on macOS, `%APPDATA%` on Windows, else `$XDG_CONFIG_HOME` or
/// `~/.config`.
fn config_dir(home: &Path) -> PathBuf {
    if cfg!(target_os = "macos") {
        return home.join("Library/Application Support");
    }
    if cfg!(windows)
        && let Some(appdata) = std::env::var_os("APPDATA")
    {
        return PathBuf::from(appdata);
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .unwrap_or_else(|| home.join(".config"))
}

/// One configured server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerEntry {
    /// Its name in the configuration.
    pub(crate) name: String,
    /// How it is reached.
    pub(crate) transport: Transport,
}

/// How a configured server is reached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transport {
    /// A command the client starts, with its arguments and environment.
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// A remote server at this URL.
    Remote(String),
    /// An entry with neither a command nor a URL.
    Unknown,
}

impl ServerEntry {
    fn read(name: &str, entry: &Value) -> ServerEntry {
        let strings = |value: Option<&Value>| -> Vec<String> {
            value
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        };
        let transport = if let Some(command) = entry.get("command").and_then(Value::as_str) {
            let env = entry
                .get("env")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                .collect();
            Transport::Stdio {
                command: command.to_owned(),
                args: strings(entry.get("args")),
                env,
            }
        } else if let Some(url) = entry
            .get("url")
            .or_else(|| entry.get("serverUrl"))
            .and_then(Value::as_str)
        {
            Transport::Remote(url.to_owned())
        } else {
            Transport::Unknown
        };
        ServerEntry {
            name: name.to_owned(),
            transport,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn entries_are_read_as_commands_urls_or_neither() {
        let stdio = ServerEntry::read(
            "files",
            &json!({ "command": "npx", "args": ["-y", "pkg", 3], "env": { "TOKEN": "t" } }),
        );
        assert_eq!(
            stdio.transport,
            Transport::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "pkg".into()],
                env: vec![("TOKEN".into(), "t".into())],
            }
        );
        let remote = ServerEntry::read("docs", &json!({ "serverUrl": "https://docs.example/mcp" }));
        assert_eq!(
            remote.transport,
            Transport::Remote("https://docs.example/mcp".into())
        );
        assert_eq!(
            ServerEntry::read("x", &json!({})).transport,
            Transport::Unknown
        );
    }

    #[test]
    fn claude_code_servers_of_every_project_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude.json");
        std::fs::write(
            &path,
            r#"{"mcpServers": {"a": {"command": "a"}},
                "projects": {"/p": {"mcpServers": {"b": {"command": "b"}}}, "/q": {}}}"#,
        )
        .unwrap();
        let names = |client: ClientName| -> Vec<String> {
            let servers = client.servers(&path).unwrap();
            servers.into_iter().map(|entry| entry.name).collect()
        };
        assert_eq!(names(ClientName::ClaudeCode), ["a", "b"]);
        assert_eq!(
            names(ClientName::Cursor),
            ["a"],
            "only Claude Code has projects"
        );
    }

    #[test]
    fn vs_code_keeps_its_servers_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp.json");
        std::fs::write(
            &path,
            r#"{"servers": {"a": {"command": "a"}}, "mcpServers": {"b": {"command": "b"}}}"#,
        )
        .unwrap();
        let names = |client: ClientName| -> Vec<String> {
            client
                .servers(&path)
                .unwrap()
                .into_iter()
                .map(|entry| entry.name)
                .collect()
        };
        assert_eq!(names(ClientName::Vscode), ["a"]);
        assert_eq!(names(ClientName::Cursor), ["b"]);
    }
}
