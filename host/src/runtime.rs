//! The WebAssembly runtime under the engine: one `wasmtime::Engine` with a
//! pooling allocator, the linker that provides only the host interface, the
//! compiled-component cache and the epoch ticker that enforces timeouts.

use std::sync::Arc;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{InstanceAllocationStrategy, PoolingAllocationConfig, Store};

use crate::bindings;
use crate::cache::ComponentCache;
use crate::config::EngineConfig;
use crate::error::{EngineError, LoadError};
use crate::instance::IdleBudget;
use crate::sandbox::{self, HostState, StoreScope};
use crate::slots::{InstanceSlots, Slot};
use crate::ticker::{EpochTicker, TICK};

/// What every clone of an [`Engine`](crate::Engine), and every policy set it
/// loaded, shares: the WebAssembly engine with its instance pool, the
/// linker, the compiled-component cache and the timeout thread. It knows
/// nothing of policies: they are built on it.
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
    /// The instance pool's free places.
    slots: Arc<InstanceSlots>,
    cache: Option<ComponentCache>,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Sets up the runtime for an already validated `config`.
    pub(crate) fn new(config: EngineConfig) -> Result<Runtime, EngineError> {
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
            .max_memory_size(config.memory_limit.next_multiple_of(sandbox::PAGE));
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
        Ok(Runtime {
            engine,
            linker,
            timeout_ticks: u64::try_from(timeout_ticks).unwrap_or(u64::MAX),
            idle_budget: Arc::new(IdleBudget::new(usize::try_from(instances / 2).unwrap_or(0))),
            slots: InstanceSlots::new(instances),
            config,
            cache,
            _ticker: ticker,
        })
    }

    /// A place in the instance pool for one store, waiting up to the
    /// policy timeout when the pool is full; `None` when none came (the
    /// instantiation then fails closed). Keep it until after the store is
    /// dropped: the pool frees the instance only then, so declare it first.
    pub(crate) fn slot(&self) -> Option<Slot> {
        let slot = self.slots.acquire(self.config.timeout);
        if slot.is_none() {
            tracing::warn!(
                "every instance of the pool stayed taken for the policy timeout; this evaluation fails closed"
            );
        }
        slot
    }

    /// A fresh store for one call into a policy; take its [`slot`](Self::slot) first.
    pub(crate) fn store(&self, scope: StoreScope) -> Store<HostState> {
        sandbox::new_store(
            &self.engine,
            scope,
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
