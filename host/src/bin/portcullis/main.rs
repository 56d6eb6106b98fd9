//! The `portcullis` command-line program.

mod audit;
mod run;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Portcullis: allow, deny or escalate every MCP tool, call and result with
/// WebAssembly policies.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum CliCommand {
    /// Run an MCP server (stdio) behind the policy proxy.
    Run(run::RunArgs),
    /// Work with audit logs.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

fn main() -> ExitCode {
    // Logs go to stderr: stdout carries the protocol.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        CliCommand::Run(args) => run::run(args),
        CliCommand::Audit(command) => audit::run(command),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("portcullis: {error:#}");
        ExitCode::FAILURE
    })
}
