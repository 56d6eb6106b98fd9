//! `portcullis policy`: tools for policy authors.
//!
//! - `new` scaffolds a Rust policy crate with a test file;
//! - `build` builds a Rust policy crate into a component;
//! - `test` runs a component against JSONL cases that say what they expect,
//!   like `opa test`.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use portcullis::Verdict;

use crate::case::read_cases;
use crate::options::PolicyOptions;

/// Arguments of `portcullis policy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Create a Rust policy crate in DIR, with a first rule and test cases.
    New {
        /// The directory to create; its name is the policy's name.
        dir: PathBuf,
        /// Where `portcullis-sdk` is (default: the SDK this binary was built
        /// from; the SDK is not on crates.io yet).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Build the Rust policy crate in DIR into a component.
    Build {
        /// The policy crate.
        dir: PathBuf,
        /// Where to write the component (default: DIR/target/<package>.wasm).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Run policies against JSONL cases; each case names its `expect`ed verdict
    /// and, optionally, an `expect_rule` that must be among the reasons.
    Test {
        /// The JSONL cases.
        cases: PathBuf,
        #[command(flatten)]
        policies: PolicyOptions,
    },
}

/// Runs a `policy` subcommand.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::New { dir, sdk } => new(&dir, sdk.as_deref()),
        PolicyCommand::Build { dir, output } => build(&dir, output.as_deref()),
        PolicyCommand::Test { cases, policies } => test(&cases, &policies),
    }
}

fn new(dir: &Path, sdk: Option<&Path>) -> anyhow::Result<ExitCode> {
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .context("the directory needs a UTF-8 name: it becomes the policy's name")?;
    if dir.exists() {
        bail!("{} exists already; choose a new directory", dir.display());
    }
    let built_from = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk"));
    let sdk = match sdk {
        Some(path) => path,
        None if built_from.join("Cargo.toml").is_file() => built_from,
        None => bail!(
            "portcullis-sdk is not on crates.io yet, and the SDK this binary was built from is not at {}; \
             give --sdk PATH, the sdk/ directory of a Portcullis checkout",
            built_from.display()
        ),
    };
    let sdk = std::fs::canonicalize(sdk)
        .with_context(|| format!("finding the SDK at {}", sdk.display()))?;
    let sdk = format!("{{ path = {:?} }}", sdk.display().to_string());
    let files = [
        (
            "Cargo.toml",
            templates::CARGO_TOML
                .replace("{name}", name)
                .replace("{sdk}", &sdk),
        ),
        ("src/lib.rs", templates::LIB_RS.replace("{name}", name)),
        ("cases.jsonl", templates::CASES.to_owned()),
    ];
    for (file, contents) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("a file in the crate"))
            .with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "created {dir}; next: portcullis policy build {dir} && portcullis policy test {dir}/cases.jsonl --policies {dir}/target",
        dir = dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn build(dir: &Path, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "reading {}: is {} a Rust policy crate?",
            manifest.display(),
            dir.display()
        )
    })?;
    let package = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("name = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .with_context(|| format!("{} has no package name", manifest.display()))?
        .to_owned();
    let target_dir = dir.join("target");
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let built = portcullis_componentize::build_policies(
        &cargo,
        dir,
        std::slice::from_ref(&package),
        &target_dir,
        &target_dir,
    )?;
    let component = &built[0].component;
    if let Some(output) = output {
        std::fs::copy(component, output)
            .with_context(|| format!("copying the component to {}", output.display()))?;
        println!("{}", output.display());
    } else {
        println!("{}", component.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn test(cases: &Path, options: &PolicyOptions) -> anyhow::Result<ExitCode> {
    let (_engine, policies) = options.load()?;
    let file =
        std::fs::File::open(cases).with_context(|| format!("opening {}", cases.display()))?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for (line, case) in read_cases(BufReader::new(file)) {
        let case = case.with_context(|| format!("{}:{line}", cases.display()))?;
        let expect: Verdict = case
            .expect
            .with_context(|| format!("{}:{line}: the case needs `expect`", cases.display()))?;
        let decision = case.decide(&policies)?;
        let rule_ok = case
            .expect_rule
            .as_ref()
            .is_none_or(|rule| decision.reasons.iter().any(|reason| &reason.rule == rule));
        if decision.verdict == expect && rule_ok {
            passed += 1;
        } else {
            failed += 1;
            let rules: Vec<String> = decision
                .reasons
                .iter()
                .map(|reason| format!("{}/{}", reason.policy, reason.rule))
                .collect();
            println!(
                "FAIL {} (line {line}): expected {expect}{}, got {} [{}]",
                case.display_id(),
                case.expect_rule
                    .as_deref()
                    .map(|rule| format!(" by {rule}"))
                    .unwrap_or_default(),
                decision.verdict,
                rules.join(", ")
            );
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The files `policy new` writes.
mod templates {
    pub(crate) const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
portcullis-sdk = {sdk}

[profile.policy]
inherits = "release"
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

[workspace]
"#;

    pub(crate) const LIB_RS: &str = r#"//! The `{name}` policy.

use portcullis_sdk::{
    export_policy, matches, Context, EventKind, Finding, Metadata, Outcome, Pattern, Policy,
    ToolCall, Verdict,
};

/// Denies tool calls whose arguments mention a private key.
pub(crate) struct Rule;

impl Policy for Rule {
    fn metadata() -> Metadata {
        Metadata::new("{name}", env!("CARGO_PKG_VERSION"))
            .on(EventKind::ToolCall)
            .pattern(Pattern::literal("private-key", "-----BEGIN"))
    }

    fn check_call(_ctx: &Context, _call: &ToolCall, findings: &[Finding]) -> Outcome {
        let mut outcome = Outcome::allow();
        for (index, finding) in matches(findings, "private-key") {
            outcome.add(
                Verdict::Deny,
                "private-key",
                format!("{} carries a private key", finding.field),
                [index],
            );
        }
        outcome
    }
}

export_policy!(Rule);
"#;

    pub(crate) const CASES: &str = r#"{"id": "plain call", "kind": "tool_call", "call": {"name": "echo", "arguments": {"text": "hello"}}, "expect": "allow"}
{"id": "key in arguments", "kind": "tool_call", "call": {"name": "echo", "arguments": {"text": "-----BEGIN OPENSSH PRIVATE KEY-----"}}, "expect": "deny", "expect_rule": "private-key"}
"#;
}
