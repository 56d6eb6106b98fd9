//! Options shared by the subcommands that load policies.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use portcullis::audit::{AuditKey, AuditLog};
use portcullis::{Engine, EngineConfig, InstanceReuse, PolicySet, Settings, Verdict};

/// Where policies come from and how they run.
#[derive(Debug, Args)]
pub(crate) struct PolicyOptions {
    /// A directory of policy components (`*.wasm`) to use instead of the embedded defaults.
    #[arg(long, value_name = "DIR")]
    pub(crate) policies: Option<PathBuf>,

    /// The policies' settings, a JSON file:
    /// `{"policies": {"NAME": {...}}, "tenants": {"TENANT": {"NAME": {...}}}}`.
    /// Each policy checks its own when it is loaded.
    #[arg(long, value_name = "FILE")]
    pub(crate) settings: Option<PathBuf>,

    /// How long one policy may run for one event before it fails closed.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub(crate) timeout_ms: u64,

    /// The verdict a failing policy (trap, timeout, memory exhausted) contributes.
    #[arg(long, value_enum, default_value_t = FailVerdict::Deny)]
    pub(crate) fail: FailVerdict,

    /// Keep compiled policies in this directory, so that a policy is compiled
    /// once, not at every start (default: `portcullis` in the user's cache
    /// directory). It must belong to this user and be writable by this user
    /// only; it is created 0700.
    #[arg(long, value_name = "DIR", env = "PORTCULLIS_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,

    /// Compile the policies at every start instead of caching them.
    #[arg(long, conflicts_with = "cache_dir")]
    pub(crate) no_cache: bool,

    /// Keep policy instances warm and reuse them across decisions (for
    /// policies that are slow to start, e.g. Python or JavaScript). Only for
    /// policies that keep their state in the host's session state.
    #[arg(long)]
    pub(crate) reuse_instances: bool,

    /// Reuse only the instances of this policy (repeatable); implies
    /// `--reuse-instances`.
    #[arg(long, value_name = "POLICY")]
    pub(crate) reuse_policy: Vec<String>,

    /// How many decisions a reused instance serves before it is replaced.
    #[arg(long, value_name = "N", default_value_t = InstanceReuse::default().max_calls)]
    pub(crate) reuse_max_calls: u32,
}

/// The verdicts a failing policy may fall back to: never allow.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FailVerdict {
    /// Refuse.
    Deny,
    /// Ask a human.
    Escalate,
}

impl PolicyOptions {
    /// The cache directory: the one given, else the user's default, unless
    /// `--no-cache`. The second value says whether it is the default.
    fn cache(&self) -> (Option<PathBuf>, bool) {
        match (&self.cache_dir, self.no_cache) {
            (_, true) => (None, false),
            (Some(dir), false) => (Some(dir.clone()), false),
            (None, false) => (default_cache_dir(), true),
        }
    }

    /// The engine configuration these options ask for.
    pub(crate) fn engine_config(&self) -> EngineConfig {
        let reuse = self.reuse_instances || !self.reuse_policy.is_empty();
        EngineConfig::new()
            .timeout(Duration::from_millis(self.timeout_ms))
            .fail_verdict(match self.fail {
                FailVerdict::Deny => Verdict::Deny,
                FailVerdict::Escalate => Verdict::Escalate,
            })
            .cache_dir(self.cache().0)
            .instance_reuse(reuse.then(|| InstanceReuse {
                max_calls: self.reuse_max_calls,
                policies: (!self.reuse_policy.is_empty()).then(|| self.reuse_policy.clone()),
                ..InstanceReuse::default()
            }))
    }

    /// Creates the engine and loads the policies these options name.
    pub(crate) fn load(&self) -> anyhow::Result<(Engine, PolicySet)> {
        let engine = match Engine::new(self.engine_config()) {
            // The default cache is a convenience: when it cannot be used
            // (someone else's, or shared), run without it and say why.
            Err(error @ portcullis::EngineError::CacheDir { .. }) if self.cache().1 => {
                tracing::warn!(%error, "running without the default cache");
                Engine::new(self.engine_config().cache_dir(None))
            }
            engine => engine,
        }
        .context("cannot start the policy engine")?
        .with_settings(self.settings()?);
        let policies = match &self.policies {
            Some(dir) => engine
                .load_dir(dir)
                .with_context(|| format!("cannot load the policies in {}", dir.display()))?,
            None => engine
                .load_default_policies()
                .context("cannot load the embedded default policies")?,
        };
        Ok((engine, policies))
    }

    /// The settings of `--settings`, or none.
    fn settings(&self) -> anyhow::Result<Settings> {
        let Some(path) = &self.settings else {
            return Ok(Settings::new());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the settings file {}", path.display()))?;
        Settings::from_json(&text)
            .with_context(|| format!("{} is not a valid settings file", path.display()))
    }
}

/// Where decisions are recorded.
#[derive(Debug, Args)]
pub(crate) struct AuditOptions {
    /// Append a hash-chained record of every decision to this JSONL file
    /// (created 0600; its head goes to `FILE.head`). A decision that cannot
    /// be recorded is refused.
    #[arg(long, value_name = "FILE")]
    pub(crate) audit: Option<PathBuf>,
    /// Key the audit chain with the secret in this file (32 bytes or more),
    /// so that whoever can edit the log cannot rewrite it undetected.
    #[arg(long, value_name = "FILE", env = "PORTCULLIS_AUDIT_KEY_FILE")]
    audit_key: Option<PathBuf>,
}

impl AuditOptions {
    /// Opens the audit log these options name, if any.
    pub(crate) fn open(&self) -> anyhow::Result<Option<AuditLog>> {
        let key = self
            .audit_key
            .as_deref()
            .map(AuditKey::from_file)
            .transpose()?;
        self.audit
            .as_deref()
            .map(|path| {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
                tracing::info!(audit = %path.display(), "writing the audit log");
                // A missing directory is made, for its owner only.
                if let Some(dir) = path.parent().filter(|dir| !dir.exists()) {
                    portcullis_serve::create_private_dir(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                anyhow::Ok(AuditLog::open_with(&path, key, None)?)
            })
            .transpose()
            .context("cannot open the audit log")
    }
}

/// `portcullis` in the user's cache directory.
fn default_cache_dir() -> Option<PathBuf> {
    Some(portcullis_serve::user_cache_dir()?.join("portcullis"))
}
