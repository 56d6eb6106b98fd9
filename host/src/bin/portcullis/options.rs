//! Options shared by the subcommands that load policies.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use portcullis::{Engine, EngineConfig, PolicySet, Verdict};

/// Where policies come from and how they run.
#[derive(Debug, Args)]
pub struct PolicyOptions {
    /// A directory of policy components (`*.wasm`) to use instead of the embedded defaults.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,

    /// How long one policy may run for one event before it fails closed.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub timeout_ms: u64,

    /// The verdict a failing policy (trap, timeout, memory exhausted) contributes.
    #[arg(long, value_enum, default_value_t = FailVerdict::Deny)]
    pub fail: FailVerdict,
}

/// The verdicts a failing policy may fall back to: never allow.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FailVerdict {
    /// Refuse.
    Deny,
    /// Ask a human.
    Escalate,
}

impl PolicyOptions {
    /// Creates the engine and loads the policies these options name.
    pub fn load(&self) -> anyhow::Result<(Engine, PolicySet)> {
        let config = EngineConfig {
            timeout: Duration::from_millis(self.timeout_ms),
            fail_verdict: match self.fail {
                FailVerdict::Deny => Verdict::Deny,
                FailVerdict::Escalate => Verdict::Escalate,
            },
            ..EngineConfig::default()
        };
        let engine = Engine::new(config).context("starting the policy engine")?;
        let policies = match &self.policies {
            Some(dir) => engine
                .load_dir(dir)
                .with_context(|| format!("loading policies from {}", dir.display()))?,
            None => engine
                .load_default_policies()
                .context("loading the embedded default policies")?,
        };
        Ok((engine, policies))
    }
}
