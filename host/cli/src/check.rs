//! `portcullis check`: decide a JSONL batch.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use crate::case::read_cases;
use crate::options::PolicyOptions;

/// Arguments of `portcullis check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// JSONL input (`-` or nothing for standard input). Each line is
    /// `{"id", "kind": "tool_description", "tool": {...}}` or
    /// `{"id", "kind": "tool_call", "call": {"name", "arguments"}}`.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,

    /// Also print each policy's verdict and time.
    #[arg(long)]
    explain: bool,

    #[command(flatten)]
    policies: PolicyOptions,
}

/// Prints one decision per input line; exits 1 if a line could not be decided.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (_engine, policies) = args.policies.load()?;
    let input: Box<dyn BufRead> = match &args.input {
        None => Box::new(std::io::stdin().lock()),
        Some(path) if path.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
    };
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0usize;
    for (line, case) in read_cases(input) {
        let output = match case.and_then(|case| Ok((case.decide(&policies)?, case))) {
            Ok((decision, case)) => {
                let mut output = json!({
                    "id": case.id,
                    "verdict": decision.verdict,
                    "reasons": decision.reasons,
                });
                if args.explain {
                    output["policies"] = json!(decision.policies);
                    output["generation"] = json!(decision.generation);
                }
                output
            }
            Err(error) => {
                failed += 1;
                json!({ "line": line, "error": format!("{error:#}") })
            }
        };
        writeln!(stdout, "{output}").context("writing to standard output")?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
