//! `portcullis run`: the MCP stdio proxy.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use portcullis::SessionState;
use portcullis::audit::AuditLog;
use portcullis::reload::{PolicyHandle, PolicyWatcher};
use portcullis_mcp::session::{Session, SessionOptions};
use portcullis_mcp::transport::stdio::{self as relay, Ending, RelayOptions};

use crate::options::PolicyOptions;

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
    /// Append a hash-chained record of every decision to this JSONL file.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// The server's name in decisions and audit records (default: the
    /// command's file name).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// The longest message accepted from either side, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    max_frame_bytes: usize,
    /// The MCP server command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
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
    let audit = args
        .audit
        .as_deref()
        .map(AuditLog::open)
        .transpose()
        .context("cannot open the audit log")?;
    let server_name = args
        .server_name
        .unwrap_or_else(|| command_name(&args.command));
    let session = Session::new(
        SessionOptions::new(server_name),
        handle,
        SessionState::new(state_quota),
        audit,
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
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The file name of the server program.
fn command_name(command: &[OsString]) -> String {
    command
        .first()
        .and_then(|program| Path::new(program).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "server".to_owned())
}
