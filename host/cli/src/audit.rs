//! `portcullis audit`: audit log tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use portcullis::audit::{AuditError, AuditKey, verify};

/// Audit log subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain of an audit log and its end against its head
    /// file; exits 1 and names the first bad line when a record was edited,
    /// removed, inserted or reordered, or records are missing at the end.
    Verify {
        /// The audit log (JSONL).
        file: PathBuf,
        /// The key the log was written with (`run --audit-key`): needed to
        /// verify a keyed log, and it makes a rewritten chain detectable.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// The head file, when it is not `<FILE>.head`.
        #[arg(long, value_name = "FILE")]
        head: Option<PathBuf>,
    },
}

/// Runs an audit subcommand.
pub(crate) fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify { file, key, head } => {
            let key = key.as_deref().map(AuditKey::from_file).transpose()?;
            match verify(&file, key.as_ref(), head.as_deref()) {
                Ok(verified) => {
                    let keyed = if verified.keyed { ", keyed" } else { "" };
                    println!(
                        "{}: {} records, chain intact{keyed}",
                        file.display(),
                        verified.records
                    );
                    if !verified.head_checked {
                        eprintln!(
                            "portcullis: warning: no head file, so records removed from the end could not be detected"
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error @ (AuditError::Invalid { .. } | AuditError::Truncated { .. })) => {
                    eprintln!("portcullis: {error}");
                    Ok(ExitCode::FAILURE)
                }
                Err(error) => Err(error.into()),
            }
        }
    }
}
