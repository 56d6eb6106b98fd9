//! `portcullis hook <runtime>`: answer an agent runtime's tool hook.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use portcullis::{SessionState, Verdict};
use portcullis_hooks::{HookAnswer, HookRequest, Runtime};

use crate::options::PolicyOptions;

/// The most bytes of a hook payload read.
const MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// Arguments of `portcullis hook`.
#[derive(Debug, Args)]
pub(crate) struct HookArgs {
    /// The runtime that runs the hook.
    #[arg(value_enum)]
    runtime: RuntimeName,
    /// The socket of `portcullis serve`; when a server listens there it
    /// decides, with the state of the runtime's session.
    #[arg(long, value_name = "PATH", env = "PORTCULLIS_SOCKET")]
    socket: Option<PathBuf>,
    /// Decide in this process, without session state, even when a server
    /// is running.
    #[arg(long)]
    stateless: bool,
    /// When no server listens on the socket, start one there (with this
    /// hook's `--policies` and `--settings`) for the calls that follow;
    /// this call is decided without state.
    #[arg(long, conflicts_with = "stateless")]
    start_server: bool,
    /// The verdict when Portcullis itself cannot decide (a payload it
    /// cannot read, a server that fails): refuse by default.
    #[arg(long, value_enum, default_value_t = Fallback::Deny)]
    on_error: Fallback,
    /// The policies for deciding in this process (a server uses its own).
    #[command(flatten)]
    policy: PolicyOptions,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RuntimeName {
    /// Claude Code (`PreToolUse`, `PostToolUse`).
    ClaudeCode,
    /// Cursor (`beforeShellExecution`, `beforeMCPExecution`, `beforeReadFile`, `afterMCPExecution`).
    Cursor,
    /// Codex (`PreToolUse`, `PostToolUse`).
    Codex,
    /// Gemini CLI (`BeforeTool`, `AfterTool`).
    Gemini,
}

impl From<RuntimeName> for Runtime {
    fn from(name: RuntimeName) -> Runtime {
        match name {
            RuntimeName::ClaudeCode => Runtime::ClaudeCode,
            RuntimeName::Cursor => Runtime::Cursor,
            RuntimeName::Codex => Runtime::Codex,
            RuntimeName::Gemini => Runtime::Gemini,
        }
    }
}

/// What to do when no decision can be made.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Fallback {
    /// Refuse the tool call or result.
    Deny,
    /// Ask the user, where the runtime can ask; refuse where it cannot.
    Ask,
    /// Let the tool run, and say why in the runtime's log.
    Allow,
}

impl From<Fallback> for Verdict {
    fn from(fallback: Fallback) -> Verdict {
        match fallback {
            Fallback::Deny => Verdict::Deny,
            Fallback::Ask => Verdict::Escalate,
            Fallback::Allow => Verdict::Allow,
        }
    }
}

/// Reads the hook payload on standard input, prints the runtime's answer
/// and exits as the runtime expects. Never fails itself: what goes wrong
/// is answered with the fallback.
pub(crate) fn run(args: HookArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::from(args.runtime);
    let answer = std::panic::catch_unwind(|| answer(&args, runtime))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("Portcullis failed unexpectedly")))
        .unwrap_or_else(|error| {
            portcullis_hooks::failure(runtime, &crate::explain(&error), args.on_error.into())
        });
    if let Some(message) = &answer.stderr {
        eprintln!("{message}");
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", answer.stdout).context("writing to standard output")?;
    Ok(ExitCode::from(answer.exit_code))
}

fn answer(args: &HookArgs, runtime: Runtime) -> anyhow::Result<HookAnswer> {
    let mut payload = Vec::new();
    std::io::stdin()
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut payload)
        .context("cannot read the hook payload")?;
    anyhow::ensure!(
        payload.len() as u64 <= MAX_PAYLOAD_BYTES,
        "the hook payload is larger than {MAX_PAYLOAD_BYTES} bytes"
    );
    if !args.stateless {
        let socket = args
            .socket
            .clone()
            .or_else(portcullis_serve::default_socket_path);
        if let Some(socket) = socket {
            if let Some(answer) = portcullis_serve::ask_hook(&socket, runtime, &payload)? {
                return Ok(answer);
            }
            if args.start_server {
                start_server(args, &socket);
            }
        }
    }
    let payload: serde_json::Value =
        serde_json::from_slice(&payload).context("the hook payload is not JSON")?;
    let request = HookRequest::read(runtime, &payload)?;
    let (engine, policies) = args.policy.load()?;
    let session = SessionState::new(engine.config().get_state_quota());
    Ok(request.answer(&request.decide(&policies, &session)))
}

/// Starts `portcullis serve` on `socket`, detached from the hook (its own
/// process group, no standard streams), for the hook calls that follow. A
/// server that cannot start (another hook started one first) only costs
/// this call its state.
fn start_server(args: &HookArgs, socket: &std::path::Path) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command.args(["serve", "--socket"]).arg(socket);
    if let Some(dir) = &args.policy.policies {
        command.arg("--policies").arg(dir);
    }
    if let Some(file) = &args.policy.settings {
        command.arg("--settings").arg(file);
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    match command.spawn() {
        Ok(server) => {
            tracing::info!(pid = server.id(), socket = %socket.display(), "started portcullis serve")
        }
        Err(error) => tracing::warn!(%error, "cannot start portcullis serve"),
    }
}
