//! `portcullis`: decide whether MCP tools and tool calls are allowed, denied
//! or escalated, with WebAssembly policies.
//!
//! A thin layer over the `portcullis` library: each subcommand is a module.

mod audit;
mod case;
mod check;
mod clients;
mod gateway;
mod hook;
mod install;
mod options;
mod policy;
mod report;
mod run;
mod scan;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Portcullis: a WebAssembly policy engine for MCP tools and tool calls.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide a JSONL batch of tool descriptions and tool calls; print one JSON decision per line.
    Check(check::Args),
    /// Measure detection and false positives over labelled JSONL files.
    Report(report::Args),
    /// Create, build and test policies.
    Policy(policy::Args),
    /// Run an MCP server (stdio) behind the policy proxy.
    Run(run::RunArgs),
    /// Answer an agent runtime's tool hook (Claude Code, Cursor, Codex,
    /// Gemini CLI): reads the hook's JSON on stdin, prints the runtime's
    /// decision. Uses `portcullis serve` when it runs, for session state.
    Hook(hook::HookArgs),
    /// Start every stdio server the MCP clients here are configured with
    /// (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf), list its
    /// tools and decide each; exits 1 when one is denied or escalated.
    Scan(scan::ScanArgs),
    /// Put every stdio server a client is configured with behind
    /// `portcullis run`, and add the hooks for clients that run them;
    /// shows the change and asks first, and keeps the originals.
    Install(install::InstallArgs),
    /// Restore the configuration `install` changed, byte for byte.
    Uninstall(install::UninstallArgs),
    /// Serve decisions locally, for hooks and other clients, keeping each
    /// session's state: a Unix socket, and optionally loopback HTTP.
    Serve(serve::ServeArgs),
    /// Serve MCP Streamable HTTP in front of MCP servers, with mandatory
    /// authentication (OAuth access tokens or API keys) and every session
    /// kept apart per tenant and principal.
    Gateway(gateway::GatewayArgs),
    /// Work with audit logs.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Clients write a server's stderr to log files and panes: colour
        // codes only for a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Report(args) => report::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Run(args) => run::run(args),
        Command::Hook(args) => hook::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Gateway(args) => gateway::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Install(args) => install::install(args),
        Command::Uninstall(args) => install::uninstall(args),
        Command::Audit(command) => audit::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("portcullis: {}", explain(&error));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once: an error whose message already
/// quotes its cause (as `cannot start …: No such file or directory`) does not
/// get the cause repeated after it.
pub(crate) fn explain(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}
