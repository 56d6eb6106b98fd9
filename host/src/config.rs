//! [`EngineConfig`]: how the engine runs policies, with the reason for each
//! default in `DESIGN.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::decision::Verdict;
use crate::error::EngineError;
use crate::instance::InstanceReuse;
use crate::sandbox::PAGE;
use crate::state::StateQuota;
use crate::ticker::TICK;

/// How the engine runs policies.
///
/// Built with setter methods from [`EngineConfig::new`], which has the
/// defaults (`DESIGN.md` gives the reason for each); new settings never break
/// a caller:
///
/// ```
/// use std::time::Duration;
/// use portcullis::{EngineConfig, Verdict};
///
/// let config = EngineConfig::new()
///     .timeout(Duration::from_millis(50))
///     .fail_verdict(Verdict::Escalate);
/// assert_eq!(config.get_timeout(), Duration::from_millis(50));
/// assert_eq!(config.get_max_instances(), 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub(crate) timeout: Duration,
    pub(crate) memory_limit: usize,
    pub(crate) fail_verdict: Verdict,
    pub(crate) state_quota: StateQuota,
    pub(crate) max_instances: u32,
    pub(crate) instance_reuse: Option<InstanceReuse>,
    pub(crate) cache_dir: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            timeout: Duration::from_millis(100),
            memory_limit: 32 << 20,
            fail_verdict: Verdict::Deny,
            state_quota: StateQuota::default(),
            max_instances: 32,
            instance_reuse: None,
            cache_dir: None,
        }
    }
}

/// Setters: each takes the configuration and returns it changed.
impl EngineConfig {
    /// The default configuration.
    pub fn new() -> EngineConfig {
        EngineConfig::default()
    }

    /// How long one policy may run on one event, instantiation included.
    /// A policy still running then fails. Default: 100 ms.
    pub fn timeout(mut self, timeout: Duration) -> EngineConfig {
        self.timeout = timeout;
        self
    }

    /// The most bytes one linear memory of a policy may grow to. A policy
    /// that grows past it fails. Default: 32 MiB.
    pub fn memory_limit(mut self, bytes: usize) -> EngineConfig {
        self.memory_limit = bytes;
        self
    }

    /// The verdict of a policy that fails (traps, times out, runs out of
    /// memory or returns invalid data). Default: [`Verdict::Deny`].
    pub fn fail_verdict(mut self, verdict: Verdict) -> EngineConfig {
        self.fail_verdict = verdict;
        self
    }

    /// How much state each policy may keep per session; use it for
    /// [`SessionState::new`](crate::SessionState::new).
    pub fn state_quota(mut self, quota: StateQuota) -> EngineConfig {
        self.state_quota = quota;
        self
    }

    /// How many policy instances may exist at once, across all threads that
    /// evaluate: the size of the engine's instance pool. An evaluation that
    /// finds the pool full waits for a place, up to the policy
    /// [`timeout`](Self::timeout), and fails closed only then. Default: 32.
    pub fn max_instances(mut self, instances: u32) -> EngineConfig {
        self.max_instances = instances;
        self
    }

    /// Whether policy instances are kept warm and reused across
    /// evaluations, and on what terms; read [`InstanceReuse`] before turning
    /// it on. Default: `None`, a fresh instance for every evaluation.
    pub fn instance_reuse(mut self, reuse: Option<InstanceReuse>) -> EngineConfig {
        self.instance_reuse = reuse;
        self
    }

    /// A directory where compiled policies are cached, so that a policy
    /// compiled once (by this process or an earlier one) is not compiled
    /// again. Created if missing. It must be writable only by the user the
    /// engine runs as (on Unix a directory writable by its group or others
    /// is refused): whoever can write to it can make the engine run native
    /// code. Default: `None`, no cache.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> EngineConfig {
        self.cache_dir = dir;
        self
    }
}

/// Getters, named after their setters.
impl EngineConfig {
    /// See [`EngineConfig::timeout`].
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// See [`EngineConfig::memory_limit`].
    pub fn get_memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// See [`EngineConfig::fail_verdict`].
    pub fn get_fail_verdict(&self) -> Verdict {
        self.fail_verdict
    }

    /// See [`EngineConfig::state_quota`].
    pub fn get_state_quota(&self) -> StateQuota {
        self.state_quota
    }

    /// See [`EngineConfig::max_instances`].
    pub fn get_max_instances(&self) -> u32 {
        self.max_instances
    }

    /// See [`EngineConfig::instance_reuse`].
    pub fn get_instance_reuse(&self) -> Option<&InstanceReuse> {
        self.instance_reuse.as_ref()
    }

    /// See [`EngineConfig::cache_dir`].
    pub fn get_cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }
}

impl EngineConfig {
    /// Checks that every value is in range.
    pub(crate) fn validate(&self) -> Result<(), EngineError> {
        const MAX_MEMORY: usize = 4 << 30;
        const MAX_INSTANCES: u32 = 10_000;
        let invalid = |reason: String| Err(EngineError::InvalidConfig { reason });
        if self.timeout < TICK {
            return invalid(format!(
                "`timeout` is {:?}; it must be at least {TICK:?}",
                self.timeout
            ));
        }
        if !(PAGE..=MAX_MEMORY).contains(&self.memory_limit) {
            return invalid(format!(
                "`memory_limit` is {} bytes; it must be between {PAGE} (one WebAssembly page) and {MAX_MEMORY}",
                self.memory_limit
            ));
        }
        if !(1..=MAX_INSTANCES).contains(&self.max_instances) {
            return invalid(format!(
                "`max_instances` is {}; it must be between 1 and {MAX_INSTANCES}",
                self.max_instances
            ));
        }
        if let Some(reuse) = &self.instance_reuse
            && reuse.max_calls == 0
        {
            return invalid(
                "`instance_reuse.max_calls` is 0; an instance serves at least one call".into(),
            );
        }
        Ok(())
    }
}
