//! The engine: one WebAssembly runtime that compiles, sandboxes and runs
//! policies, and loads them into policy sets.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use crate::bindings;
use crate::cache::ComponentCache;
use crate::decision::Verdict;
use crate::error::{EngineError, LoadError};
use crate::instance::{IdleBudget, InstanceReuse};
use crate::policy::Policy;
use crate::policy_set::PolicySet;
use crate::sandbox::{self, HostState};
use crate::state::{PolicyState, StateQuota};
use crate::ticker::{EpochTicker, TICK};
use portcullis_text::digest::sha256_hex;

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
    /// finds the pool exhausted fails. Default: 32.
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

/// The size of a WebAssembly page, the unit memories grow by.
const PAGE: usize = 64 << 10;

impl EngineConfig {
    fn validate(&self) -> Result<(), EngineError> {
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

/// The policy engine: compiles, sandboxes and runs policies.
///
/// An engine owns one WebAssembly runtime with a fixed pool of instances
/// and a thread that enforces timeouts; create one per process and clone it
/// (clones share everything). It keeps every policy it compiled, keyed by
/// the SHA-256 of its component, as long as a loaded [`PolicySet`] uses
/// it, so reloading an unchanged policy costs nothing. The timeout thread
/// stops when the last clone, and the last policy set loaded by any of
/// them, is dropped.
#[derive(Clone)]
pub struct Engine {
    runtime: Arc<Runtime>,
}

/// What every clone of an [`Engine`], and every policy set it loaded, shares.
pub(crate) struct Runtime {
    /// The WebAssembly engine.
    pub(crate) engine: wasmtime::Engine,
    /// The linker that provides the host interface, and nothing else.
    pub(crate) linker: Linker<HostState>,
    /// The configuration.
    pub(crate) config: EngineConfig,
    /// The timeout, in epoch ticks.
    pub(crate) timeout_ticks: u64,
    /// How many warm instances may be idle, engine-wide.
    pub(crate) idle_budget: Arc<IdleBudget>,
    compiled: Mutex<HashMap<String, Arc<Policy>>>,
    cache: Option<ComponentCache>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// A fresh store for one call into `policy`.
    pub(crate) fn store(&self, policy: Arc<str>, state: Option<PolicyState>) -> Store<HostState> {
        sandbox::new_store(
            &self.engine,
            policy,
            state,
            self.config.memory_limit,
            self.timeout_ticks,
        )
    }

    /// The component whose bytes are `bytes` (SHA-256 `digest`): from the
    /// on-disk cache when it has it, else compiled (and then cached).
    /// `source` names the policy in errors.
    pub(crate) fn component(
        &self,
        source: &str,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Component, LoadError> {
        if let Some(component) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.load(&self.engine, digest))
        {
            return Ok(component);
        }
        let component =
            Component::new(&self.engine, bytes).map_err(|error| LoadError::InvalidComponent {
                policy: source.to_owned(),
                message: format!("{error:#}"),
            })?;
        if let Some(cache) = &self.cache {
            cache.store(digest, &component);
        }
        Ok(component)
    }
}

impl Engine {
    /// Creates an engine.
    ///
    /// # Errors
    /// When the configuration is out of range, or the runtime cannot reserve
    /// its instance pool or start its timeout thread.
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        config.validate()?;
        let instances = config.max_instances;
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_component_instances(instances)
            .total_core_instances(instances * sandbox::MAX_CORE_INSTANCES)
            .total_memories(instances * sandbox::MAX_MEMORIES)
            .total_tables(instances * sandbox::MAX_TABLES)
            .max_core_instances_per_component(sandbox::MAX_CORE_INSTANCES)
            .max_memories_per_component(sandbox::MAX_MEMORIES)
            .max_tables_per_component(sandbox::MAX_TABLES)
            .table_elements(sandbox::MAX_TABLE_ELEMENTS)
            // The pool reserves whole pages; the store limits enforce the exact limit.
            .max_memory_size(config.memory_limit.next_multiple_of(PAGE));
        let mut wasm = wasmtime::Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        let runtime_error = |error: wasmtime::Error| EngineError::Runtime {
            message: format!("{error:#}"),
        };
        let engine = wasmtime::Engine::new(&wasm).map_err(runtime_error)?;
        let mut linker = Linker::new(&engine);
        bindings::Policy::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |host| host)
            .map_err(runtime_error)?;
        let cache = config
            .cache_dir
            .as_deref()
            .map(|dir| ComponentCache::open(dir, &engine))
            .transpose()?;
        let ticker = EpochTicker::start(engine.clone()).map_err(EngineError::Ticker)?;
        let timeout_ticks = config.timeout.as_nanos().div_ceil(TICK.as_nanos());
        Ok(Engine {
            runtime: Arc::new(Runtime {
                engine,
                linker,
                timeout_ticks: u64::try_from(timeout_ticks).unwrap_or(u64::MAX),
                idle_budget: Arc::new(IdleBudget::new(usize::try_from(instances / 2).unwrap_or(0))),
                config,
                compiled: Mutex::default(),
                cache,
                _ticker: ticker,
            }),
        })
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.runtime.config
    }

    /// Loads the default policies embedded in the library.
    ///
    /// # Errors
    /// As [`Engine::load_components`].
    #[cfg(feature = "default-policies")]
    pub fn load_default_policies(&self) -> Result<PolicySet, LoadError> {
        self.load(crate::default_policies().map(|(name, bytes)| (name.to_owned(), bytes)))
    }

    /// Loads every `*.wasm` file in `dir`, in the order of their names.
    ///
    /// # Errors
    /// When `dir` or a file in it cannot be read, `dir` holds no `*.wasm`
    /// file, or as [`Engine::load_components`].
    pub fn load_dir(&self, dir: &Path) -> Result<PolicySet, LoadError> {
        let io_error = |source| LoadError::Io {
            path: dir.to_owned(),
            source,
        };
        let root = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
            .map_err(io_error)?;
        let mut files: Vec<OsString> = Vec::new();
        for entry in root.entries().map_err(io_error)? {
            let name = entry.map_err(io_error)?.file_name();
            if Path::new(&name)
                .extension()
                .is_some_and(|ext| ext == "wasm")
            {
                files.push(name);
            }
        }
        if files.is_empty() {
            return Err(LoadError::NoPolicies {
                path: dir.to_owned(),
            });
        }
        files.sort();
        let components = files
            .into_iter()
            .map(|name| {
                let bytes = root.read(&name).map_err(|source| LoadError::Io {
                    path: dir.join(&name),
                    source,
                })?;
                Ok((name.to_string_lossy().into_owned(), bytes))
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        self.load(components)
    }

    /// Loads components given as (source name, bytes). The source name (a
    /// file name, say) identifies a policy in errors until its metadata has
    /// named it.
    ///
    /// # Errors
    /// The first policy that is not a valid component, imports anything but
    /// the host interface, does not implement the `policy` world, fails or
    /// gives invalid metadata (an invalid pattern among others), or shares
    /// its name with another.
    pub fn load_components(
        &self,
        components: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Result<PolicySet, LoadError> {
        self.load(components)
    }

    fn load<B: AsRef<[u8]>>(
        &self,
        components: impl IntoIterator<Item = (String, B)>,
    ) -> Result<PolicySet, LoadError> {
        let policies = components
            .into_iter()
            .map(|(source, bytes)| {
                let policy = self.compiled(&source, bytes.as_ref())?;
                Ok((source, policy))
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let set = PolicySet::new(self.clone(), policies)?;
        // Forget the policies that no policy set uses any more.
        self.lock_compiled()
            .retain(|_, policy| Arc::strong_count(policy) > 1);
        Ok(set)
    }

    /// The policy compiled from `bytes`, from the cache when it is there.
    fn compiled(&self, source: &str, bytes: &[u8]) -> Result<Arc<Policy>, LoadError> {
        let digest = sha256_hex(bytes);
        if let Some(policy) = self.lock_compiled().get(&digest) {
            return Ok(Arc::clone(policy));
        }
        // Compile without holding the lock: other loads can go on meanwhile.
        let policy = Arc::new(Policy::load(&self.runtime, source, bytes, digest.clone())?);
        Ok(Arc::clone(
            self.lock_compiled().entry(digest).or_insert(policy),
        ))
    }

    fn lock_compiled(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Policy>>> {
        // The map is consistent after every statement that changes it.
        self.runtime
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// What evaluations share.
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.runtime.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_out_of_range_are_refused() {
        for config in [
            EngineConfig {
                timeout: Duration::ZERO,
                ..EngineConfig::default()
            },
            EngineConfig {
                memory_limit: 1024,
                ..EngineConfig::default()
            },
            EngineConfig {
                max_instances: 0,
                ..EngineConfig::default()
            },
            EngineConfig {
                instance_reuse: Some(InstanceReuse {
                    max_calls: 0,
                    ..InstanceReuse::default()
                }),
                ..EngineConfig::default()
            },
        ] {
            assert!(matches!(
                Engine::new(config),
                Err(EngineError::InvalidConfig { .. })
            ));
        }
    }

    #[test]
    fn unchanged_policies_are_compiled_once() {
        let engine = Engine::new(EngineConfig::new()).unwrap();
        let first = engine.load_default_policies().unwrap();
        let second = engine.load_default_policies().unwrap();
        assert!(first.policies().count() > 0);
        assert_ne!(first.generation(), second.generation());
        for (a, b) in first.loaded().zip(second.loaded()) {
            assert!(Arc::ptr_eq(a, b), "{} was compiled twice", a.info().name);
        }
        drop((first, second));
        // A load that no longer uses a policy evicts it.
        engine.load_components([]).unwrap();
        assert!(engine.lock_compiled().is_empty());
    }
}
