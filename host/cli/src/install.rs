//! `portcullis install <client>` and `uninstall`: put every stdio server a
//! client is configured with behind `portcullis run`, and add Portcullis's
//! hooks for clients that run hooks; then take it all back, byte for byte.
//!
//! Files are edited in place through a concrete syntax tree, so comments,
//! key order and layout stay as the user wrote them. Each file changed
//! keeps its original beside it (`FILE.portcullis-backup`, 0600, since
//! configurations hold tokens); a file the install created gets a
//! `FILE.portcullis-created` marker instead. Uninstall restores the
//! original only while the file is still what the install made of it, so
//! that a change made since is not lost silently.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};

use crate::clients::{ClientName, HookFormat};

/// Arguments of `portcullis install`.
#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// The client to configure.
    #[arg(value_enum)]
    client: ClientName,
    /// Apply the changes without showing them and asking.
    #[arg(long)]
    yes: bool,
    /// The project whose own configuration is changed too (default: the
    /// current directory).
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
}

/// Arguments of `portcullis uninstall`.
#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    /// The client to restore.
    #[arg(value_enum)]
    client: ClientName,
    /// Restore the originals even where a file changed since the install
    /// (those changes are lost).
    #[arg(long)]
    force: bool,
    /// The project given at install.
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
}

/// One file's change.
struct Change {
    path: PathBuf,
    /// The file's text before; `None` when the install creates it.
    before: Option<String>,
    after: String,
}

/// What a file is to Portcullis.
#[derive(Clone, Copy)]
enum Role {
    Servers(ClientName),
    Hooks(HookFormat),
}

pub(crate) fn install(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let places = Places::new(args.project.as_deref())?;
    let portcullis = portcullis_command()?;
    let mut changes = Vec::new();
    for (path, role) in places.files(args.client) {
        let before = read_if_present(&path)?;
        if before.is_none() && matches!(role, Role::Servers(_)) {
            continue;
        }
        if backup_of(&path).exists() || created_marker(&path).exists() {
            bail!(
                "{} is already installed (its original is kept beside it); run `portcullis uninstall {}` first",
                path.display(),
                args.client.name()
            );
        }
        let after = transform(role, before.as_deref().unwrap_or_default(), &portcullis)
            .with_context(|| format!("cannot edit {}", path.display()))?;
        if before.as_deref() != Some(after.as_str()) {
            changes.push(Change {
                path,
                before,
                after,
            });
        }
    }
    if changes.is_empty() {
        println!(
            "portcullis: nothing to change for {}: no stdio server outside Portcullis",
            args.client.name()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        show(&changes)?;
        if !confirm()? {
            println!("portcullis: nothing changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    for change in &changes {
        match &change.before {
            Some(before) => write_private(&backup_of(&change.path), before)?,
            None => write_private(&created_marker(&change.path), "")?,
        }
        replace(&change.path, &change.after)?;
        println!("portcullis: changed {}", change.path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn uninstall(args: UninstallArgs) -> anyhow::Result<ExitCode> {
    let places = Places::new(args.project.as_deref())?;
    let portcullis = portcullis_command()?;
    let mut restored = 0;
    let mut refused = Vec::new();
    for (path, role) in places.files(args.client) {
        let backup = backup_of(&path);
        let marker = created_marker(&path);
        let original = if backup.exists() {
            Some(
                std::fs::read_to_string(&backup)
                    .with_context(|| format!("cannot read {}", backup.display()))?,
            )
        } else if marker.exists() {
            None
        } else {
            continue;
        };
        let installed = transform(role, original.as_deref().unwrap_or_default(), &portcullis)?;
        let current = read_if_present(&path)?;
        if current.as_deref() != Some(installed.as_str()) && !args.force {
            refused.push(path);
            continue;
        }
        match original {
            Some(original) => {
                replace(&path, &original)?;
                std::fs::remove_file(&backup)?;
            }
            None => {
                if current.is_some() {
                    std::fs::remove_file(&path)?;
                }
                std::fs::remove_file(&marker)?;
            }
        }
        restored += 1;
        println!("portcullis: restored {}", path.display());
    }
    if !refused.is_empty() {
        let list: Vec<String> = refused
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        bail!(
            "{} changed since the install; restore anyway (losing those changes) with --force: {}",
            if list.len() == 1 {
                "this file"
            } else {
                "these files"
            },
            list.join(", ")
        );
    }
    if restored == 0 {
        println!("portcullis: nothing to restore for {}", args.client.name());
    }
    Ok(ExitCode::SUCCESS)
}

/// The user's home and the project, where clients keep their files.
struct Places {
    home: PathBuf,
    project: PathBuf,
}

impl Places {
    fn new(project: Option<&Path>) -> anyhow::Result<Places> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .context("HOME is not set: cannot find the client's configuration")?;
        let project = match project {
            Some(dir) => dir.to_owned(),
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        Ok(Places { home, project })
    }

    /// The client's server configurations (present or not) and its hook file.
    fn files(&self, client: ClientName) -> Vec<(PathBuf, Role)> {
        let mut files: Vec<(PathBuf, Role)> = client
            .config_candidates(&self.home, &self.project)
            .into_iter()
            .map(|path| (path, Role::Servers(client)))
            .collect();
        if let Some((path, format)) = client.hook_file(&self.home) {
            files.push((path, Role::Hooks(format)));
        }
        files
    }
}

/// The command line that runs this Portcullis, quoted for a shell.
fn portcullis_command() -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot tell where this portcullis is")?;
    Ok(exe.to_string_lossy().into_owned())
}

fn shell_quote(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The file's text with Portcullis installed.
fn transform(role: Role, text: &str, portcullis: &str) -> anyhow::Result<String> {
    let root = CstRootNode::parse(text, &ParseOptions::default())
        .map_err(|error| anyhow::anyhow!("not JSON: {error}"))?;
    match role {
        Role::Servers(client) => wrap_servers(&root, client, portcullis)?,
        Role::Hooks(format) => add_hooks(&root, format, portcullis),
    }
    let mut text = root.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Every stdio server not yet behind Portcullis: `command` becomes
/// Portcullis, `args` become `run --name <entry> -- <command> <args>…`.
/// Claude Code keeps servers per project too (`projects.<path>.mcpServers`
/// in `~/.claude.json`): those are wrapped as well.
fn wrap_servers(root: &CstRootNode, client: ClientName, portcullis: &str) -> anyhow::Result<()> {
    let Some(config) = root.object_value() else {
        return Ok(());
    };
    let mut tables: Vec<CstObject> = config
        .object_value(client.servers_key())
        .into_iter()
        .collect();
    if client == ClientName::ClaudeCode
        && let Some(projects) = config.object_value("projects")
    {
        tables.extend(
            projects
                .properties()
                .into_iter()
                .filter_map(|project| project.object_value()?.object_value(client.servers_key())),
        );
    }
    for servers in tables {
        wrap_table(&servers, portcullis);
    }
    Ok(())
}

/// Wraps the stdio servers of one table of servers.
fn wrap_table(servers: &CstObject, portcullis: &str) {
    for server in servers.properties() {
        let (Some(name), Some(entry)) = (server.decoded_name(), server.object_value()) else {
            continue;
        };
        let Some(command) = string_member(&entry, "command") else {
            continue;
        };
        let args: Vec<String> = entry
            .array_value("args")
            .map(|args| {
                args.elements()
                    .iter()
                    .filter_map(|arg| arg.as_string_lit()?.decoded_value().ok())
                    .collect()
            })
            .unwrap_or_default();
        // Already behind this or another Portcullis.
        let wrapped_already = command == portcullis
            || (command.ends_with("portcullis") && args.first().map(String::as_str) == Some("run"));
        if wrapped_already {
            continue;
        }
        let mut wrapped: Vec<CstInputValue> = ["run", "--name", &name, "--", &command]
            .into_iter()
            .map(CstInputValue::from)
            .collect();
        wrapped.extend(args.into_iter().map(CstInputValue::from));
        if let Some(prop) = entry.get("command") {
            prop.set_value(portcullis.into());
        }
        match entry.get("args") {
            Some(prop) => prop.set_value(CstInputValue::Array(wrapped)),
            None => {
                entry.append("args", CstInputValue::Array(wrapped));
            }
        }
    }
}

fn string_member(object: &CstObject, name: &str) -> Option<String> {
    object
        .get(name)?
        .value()?
        .as_string_lit()?
        .decoded_value()
        .ok()
}

/// Portcullis's hook entries, for the events it answers, after those there.
fn add_hooks(root: &CstRootNode, format: HookFormat, portcullis: &str) {
    let config = root.object_value_or_set();
    let quoted = shell_quote(portcullis);
    match format {
        HookFormat::ClaudeCode => {
            let hooks = config.object_value_or_set("hooks");
            let command = format!("{quoted} hook claude-code");
            for event in ["PreToolUse", "PostToolUse"] {
                hooks
                    .array_value_or_set(event)
                    .append(CstInputValue::Object(vec![
                        ("matcher".into(), "*".into()),
                        (
                            "hooks".into(),
                            CstInputValue::Array(vec![CstInputValue::Object(vec![
                                ("type".into(), "command".into()),
                                ("command".into(), command.as_str().into()),
                            ])]),
                        ),
                    ]));
            }
        }
        HookFormat::Cursor => {
            if config.get("version").is_none() {
                config.append("version", 1u32.into());
            }
            let hooks = config.object_value_or_set("hooks");
            let command = format!("{quoted} hook cursor");
            for (event, fail_closed) in [
                ("beforeShellExecution", true),
                ("beforeMCPExecution", true),
                ("beforeReadFile", true),
                ("afterMCPExecution", false),
            ] {
                let mut entry = vec![("command".to_owned(), CstInputValue::from(command.as_str()))];
                if fail_closed {
                    entry.push(("failClosed".into(), true.into()));
                }
                hooks
                    .array_value_or_set(event)
                    .append(CstInputValue::Object(entry));
            }
        }
    }
}

/// Prints each change as a unified diff.
fn show(changes: &[Change]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for change in changes {
        let before = change.before.as_deref().unwrap_or_default();
        let name = change.path.display().to_string();
        let header = if change.before.is_some() {
            (name.clone(), name)
        } else {
            ("/dev/null".to_owned(), name)
        };
        let diff = similar::TextDiff::from_lines(before, &change.after);
        write!(
            stdout,
            "{}",
            diff.unified_diff().header(&header.0, &header.1)
        )?;
    }
    Ok(())
}

/// Asks on the terminal; refuses when there is none to ask on.
fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("standard input is not a terminal to ask on: review the change and pass --yes");
    }
    print!("Apply these changes? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn read_if_present(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn backup_of(path: &Path) -> PathBuf {
    sibling(path, ".portcullis-backup")
}

fn created_marker(path: &Path) -> PathBuf {
    sibling(path, ".portcullis-created")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Replaces `path` with `text` in one rename, keeping its permissions, so a
/// client reading it never sees half a file.
fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let staged = sibling(path, ".portcullis-new");
    let _ = std::fs::remove_file(&staged);
    write_private(&staged, text)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        std::fs::set_permissions(&staged, metadata.permissions())?;
    }
    std::fs::rename(&staged, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTCULLIS: &str = "/opt/portcullis/bin/portcullis";

    #[test]
    fn servers_are_wrapped_in_place_and_nothing_else_moves() {
        let text = r#"{
  // the team's servers
  "mcpServers": {
    "files": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv"], "env": { "DEBUG": "1" } },
    "docs": { "url": "https://docs.example/mcp" },
    "git": { "command": "uvx", "args": ["mcp-server-git"], }
  },
  "theme": "dark"
}
"#;
        let after = transform(Role::Servers(ClientName::Cursor), text, PORTCULLIS).unwrap();
        assert!(after.contains("// the team's servers"), "{after}");
        let value: serde_json::Value =
            jsonc_parser::parse_to_serde_value(&after, &Default::default()).unwrap();
        let files = &value["mcpServers"]["files"];
        assert_eq!(files["command"], PORTCULLIS);
        assert_eq!(
            files["args"],
            serde_json::json!([
                "run",
                "--name",
                "files",
                "--",
                "npx",
                "-y",
                "@modelcontextprotocol/server-filesystem",
                "/srv"
            ])
        );
        assert_eq!(files["env"]["DEBUG"], "1");
        assert_eq!(
            value["mcpServers"]["docs"],
            serde_json::json!({ "url": "https://docs.example/mcp" })
        );
        assert_eq!(value["mcpServers"]["git"]["args"][4], "uvx");
        assert_eq!(value["theme"], "dark");
        // Wrapping twice changes nothing.
        let again = transform(Role::Servers(ClientName::Cursor), &after, PORTCULLIS).unwrap();
        assert_eq!(again, after);
    }

    #[test]
    fn claude_codes_servers_of_each_project_are_wrapped_too() {
        let text = r#"{
  "mcpServers": { "files": { "command": "npx", "args": ["server-filesystem"] } },
  "projects": {
    "/home/dev/shop": {
      "allowedTools": [],
      "mcpServers": { "db": { "command": "uvx", "args": ["mcp-server-sqlite"] } }
    },
    "/home/dev/empty": { "allowedTools": [] }
  }
}
"#;
        let after = transform(Role::Servers(ClientName::ClaudeCode), text, PORTCULLIS).unwrap();
        let value: serde_json::Value =
            jsonc_parser::parse_to_serde_value(&after, &Default::default()).unwrap();
        assert_eq!(value["mcpServers"]["files"]["command"], PORTCULLIS);
        let db = &value["projects"]["/home/dev/shop"]["mcpServers"]["db"];
        assert_eq!(db["command"], PORTCULLIS);
        assert_eq!(
            db["args"],
            serde_json::json!(["run", "--name", "db", "--", "uvx", "mcp-server-sqlite"])
        );
        assert_eq!(
            value["projects"]["/home/dev/empty"],
            serde_json::json!({ "allowedTools": [] })
        );
        // Another client's file keeps a `projects` member as it is.
        let cursor = transform(Role::Servers(ClientName::Cursor), text, PORTCULLIS).unwrap();
        assert!(cursor.contains(r#""command": "uvx""#), "{cursor}");
    }

    #[test]
    fn hooks_are_added_after_the_users_own() {
        let text = r#"{ "hooks": { "PreToolUse": [{ "matcher": "Bash", "hooks": [{ "type": "command", "command": "lint.sh" }] }] } }"#;
        let after = transform(
            Role::Hooks(HookFormat::ClaudeCode),
            text,
            "/home/a b/portcullis",
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&after).unwrap();
        let pre = value["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre[0]["hooks"][0]["command"], "lint.sh");
        assert_eq!(
            pre[1]["hooks"][0]["command"],
            "'/home/a b/portcullis' hook claude-code"
        );
        assert_eq!(value["hooks"]["PostToolUse"][0]["matcher"], "*");

        let cursor = transform(Role::Hooks(HookFormat::Cursor), "", PORTCULLIS).unwrap();
        let value: serde_json::Value = serde_json::from_str(&cursor).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["hooks"]["beforeReadFile"][0]["failClosed"], true);
        assert_eq!(
            value["hooks"]["afterMCPExecution"][0].get("failClosed"),
            None
        );
    }
}
