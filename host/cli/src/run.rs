//! `portcullis run`: the MCP stdio proxy.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use portcullis::SessionState;
use portcullis::reload::{PolicyHandle, PolicyWatcher};
use portcullis_mcp::session::{
    DEFAULT_APPROVAL_TIMEOUT, DEFAULT_MAX_LISTED_TOOLS, Session, SessionOptions,
};
use portcullis_mcp::transport::stdio::{self as relay, Ending, RelayOptions};

use crate::options::{AuditOptions, PolicyOptions};

/// How long the policy directory must be quiet after a change before it is reloaded.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);

/// How long the server may take to exit once the client is gone.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Arguments of `portcullis run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The policies and how they run; a `--policies` directory is watched
    /// and reloaded on change.
    #[command(flatten)]
    policy: PolicyOptions,
    #[command(flatten)]
    audit: AuditOptions,
    /// The server's name in decisions, approval questions and audit
    /// records (default: the package the command runs, such as
    /// `server-filesystem` for `npx -y @modelcontextprotocol/server-filesystem`).
    #[arg(long, alias = "server-name", value_name = "NAME")]
    name: Option<String>,
    /// How long a call or result waits for a human's approval before it is
    /// refused, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_APPROVAL_TIMEOUT.as_secs())]
    approval_timeout: u64,
    /// Answer a request with an error, and cancel it, when the server has not
    /// answered it within this many seconds (default: wait as the client does).
    #[arg(long, value_name = "SECONDS")]
    request_timeout: Option<u64>,
    /// Refuse a listing of more tools than this, rather than hold every other
    /// message back while each is checked.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_LISTED_TOOLS)]
    max_tools: usize,
    /// The longest message accepted from either side, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    max_frame_bytes: usize,
    /// The MCP server command and its arguments: after `--`, or from the
    /// first argument that is not one of these options (everything from
    /// there on belongs to the server).
    #[arg(trailing_var_arg = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Runs the proxy until the client or the server goes away.
pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let (engine, policies) = args.policy.load()?;
    let state_quota = engine.config().get_state_quota();
    tracing::info!(generation = policies.generation(), "policies loaded");
    let handle = Arc::new(PolicyHandle::new(policies));
    let _watcher = args
        .policy
        .policies
        .map(|dir| PolicyWatcher::spawn(engine.clone(), dir, Arc::clone(&handle), RELOAD_DEBOUNCE))
        .transpose()?;
    let audit = args.audit.open()?;
    let server_name = args.name.unwrap_or_else(|| command_name(&args.command));
    let session = Session::new(
        SessionOptions::new(server_name)
            .with_approval_timeout(Duration::from_secs(args.approval_timeout))
            .with_request_timeout(args.request_timeout.map(Duration::from_secs))
            .with_max_listed_tools(args.max_tools),
        handle,
        SessionState::new(state_quota),
        audit.map(|log| Arc::new(std::sync::Mutex::new(log))),
    );
    let options = RelayOptions {
        command: args.command,
        max_frame_bytes: args.max_frame_bytes,
        shutdown_grace: SHUTDOWN_GRACE,
    };
    match relay::run(
        &options,
        session,
        std::io::stdin(),
        std::io::stdout().lock(),
    )? {
        Ending::ClientClosed { .. } => Ok(ExitCode::SUCCESS),
        Ending::ServerExited { server } if server.success() => Ok(ExitCode::SUCCESS),
        Ending::ServerExited { server } => {
            eprintln!("portcullis: the MCP server exited unexpectedly ({server})");
            Ok(exit_code_of(server))
        }
        // As a shell reports a process ended by a signal.
        Ending::Stopped { signal, .. } => Ok(ExitCode::from(
            u8::try_from(128 + signal).unwrap_or(u8::MAX),
        )),
    }
}

/// The server's exit code, passed on; 128 + the signal's number when a
/// signal ended it; 1 when neither can be told.
fn exit_code_of(status: std::process::ExitStatus) -> ExitCode {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    let code = status
        .code()
        .or(signal.map(|signal| 128 + signal))
        .and_then(|code| u8::try_from(code).ok())
        .filter(|code| *code != 0)
        .unwrap_or(1);
    ExitCode::from(code)
}

/// Programs that launch a server rather than being one: the server's name
/// is the package or script they are given.
const LAUNCHERS: [&str; 12] = [
    "npx", "node", "bunx", "bun", "deno", "uvx", "uv", "pipx", "python", "python3", "env", "docker",
];

/// A name for the server the command runs: the package a launcher such as
/// `npx` or `uvx` is given (without its scope or version), the script's
/// name for an interpreter, else the program's file name.
fn command_name(command: &[OsString]) -> String {
    let base = |text: &str| {
        let text = text.trim_start_matches('@');
        let text = text.rsplit('/').next().unwrap_or(text);
        let text = text.split('@').next().unwrap_or(text);
        text.strip_suffix(".py")
            .or_else(|| text.strip_suffix(".js"))
            .unwrap_or(text)
            .to_owned()
    };
    let words: Vec<String> = command
        .iter()
        .map(|word| word.to_string_lossy().into_owned())
        .collect();
    let Some(program) = words.first() else {
        return "server".to_owned();
    };
    let program = base(program);
    if !LAUNCHERS.contains(&program.as_str()) {
        return program;
    }
    words[1..]
        .iter()
        .filter(|word| {
            !word.starts_with('-') && !word.contains('=') && !LAUNCHERS.contains(&word.as_str())
        })
        .find(|word| !matches!(word.as_str(), "run" | "tool" | "exec"))
        .map(|word| base(word))
        .filter(|name| !name.is_empty())
        .unwrap_or(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(command: &str) -> String {
        let words: Vec<OsString> = command.split(' ').map(OsString::from).collect();
        command_name(&words)
    }

    #[test]
    fn the_default_name_is_the_package_a_launcher_runs() {
        assert_eq!(
            name("npx -y @modelcontextprotocol/server-filesystem /tmp"),
            "server-filesystem"
        );
        assert_eq!(
            name("uvx mcp-server-git@1.2 --repository ."),
            "mcp-server-git"
        );
        assert_eq!(
            name("python3 -u tests/peers/alias_server.py"),
            "alias_server"
        );
        assert_eq!(
            name("/usr/local/bin/github-mcp-server stdio"),
            "github-mcp-server"
        );
        assert_eq!(name("node"), "node");
    }
}
