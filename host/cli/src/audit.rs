//! `portcullis audit`: audit log tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use portcullis::audit::{AuditError, verify};

/// Audit log subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain of an audit log; exits 1 and names the first bad
    /// line when a record was edited, removed, inserted or reordered.
    Verify {
        /// The audit log (JSONL).
        file: PathBuf,
    },
}

/// Runs an audit subcommand.
pub(crate) fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify { file } => match verify(&file) {
            Ok(count) => {
                println!("{}: {count} records, chain intact", file.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(error @ AuditError::Invalid { .. }) => {
                eprintln!("portcullis: {error}");
                Ok(ExitCode::FAILURE)
            }
            Err(error) => Err(error.into()),
        },
    }
}
