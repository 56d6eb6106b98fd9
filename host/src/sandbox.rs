//! What a policy runs in: the only imports it may have, the store that
//! holds one evaluation (host interface, session state, resource limits,
//! deadline), and how a failure inside it is described.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};

use crate::bindings::portcullis::policy::{host, types};
use crate::decision::PolicyFailure;
use crate::state::PolicyState;

/// The interfaces a policy may import: the host interface, and the types it uses.
pub(crate) const ALLOWED_IMPORTS: [&str; 2] = [
    "portcullis:policy/host@0.2.0",
    "portcullis:policy/types@0.2.0",
];

/// The package every policy interface belongs to.
const CONTRACT_PACKAGE: &str = "portcullis:policy/";

/// The first import of `component` from another version of the policy
/// contract: the sign of a component built with an older SDK or WIT.
pub(crate) fn other_contract_import(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name)
        .find(|name| name.starts_with(CONTRACT_PACKAGE) && !ALLOWED_IMPORTS.contains(name))
        .map(str::to_owned)
}

/// The first import of `component` that the sandbox does not provide.
pub(crate) fn forbidden_import(engine: &wasmtime::Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name)
        .find(|name| !ALLOWED_IMPORTS.contains(name))
        .map(str::to_owned)
}

/// The size of a WebAssembly page, the unit memories grow by.
pub(crate) const PAGE: usize = 64 << 10;

/// The most core instances, memories and tables one policy instance may have.
///
/// A component made by `wit-component` from one core module has three or
/// four core instances (the module, its shims), one memory and two tables.
/// Other toolchains need more: componentize-py's component instantiates 38
/// core modules (one adapter per stubbed WASI interface), componentize-qjs's
/// has three memories (the script, the QuickJS runtime, its loader).
pub(crate) const MAX_CORE_INSTANCES: u32 = 64;
/// See [`MAX_CORE_INSTANCES`].
pub(crate) const MAX_MEMORIES: u32 = 4;
/// See [`MAX_CORE_INSTANCES`].
pub(crate) const MAX_TABLES: u32 = 8;
/// The most elements one table of a policy may have.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 10_000;

/// The data of the store one evaluation runs in.
pub(crate) struct HostState {
    policy: Arc<str>,
    state: Option<PolicyState>,
    settings: Arc<str>,
    /// The labels this call added to the session, in the order it added them.
    added_labels: Vec<String>,
    limits: Limits,
}

/// What one store lets a policy see: its name, its state in the session
/// (`None` while loading: `metadata` and `configure` have no session) and
/// its settings.
pub(crate) struct StoreScope {
    pub(crate) policy: Arc<str>,
    pub(crate) state: Option<PolicyState>,
    pub(crate) settings: Arc<str>,
}

/// Creates the store for one call into a policy, with `timeout_ticks` epoch
/// ticks to run.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    scope: StoreScope,
    memory_limit: usize,
    timeout_ticks: u64,
) -> Store<HostState> {
    let mut store = Store::new(
        engine,
        HostState {
            policy: scope.policy,
            state: scope.state,
            settings: scope.settings,
            added_labels: Vec::new(),
            limits: Limits::new(memory_limit),
        },
    );
    store.limiter(|host| &mut host.limits);
    store.set_epoch_deadline(timeout_ticks);
    store
}

impl HostState {
    /// Gives a warm instance the state and settings of the session of its
    /// next call, or takes them away (`None`, with empty settings).
    pub(crate) fn set_scope(&mut self, state: Option<PolicyState>, settings: Arc<str>) {
        self.state = state;
        self.settings = settings;
    }

    /// The labels added to the session since the last call of this function.
    pub(crate) fn take_added_labels(&mut self) -> Vec<String> {
        std::mem::take(&mut self.added_labels)
    }

    /// The bytes of linear memory the policy's memories have grown to, together.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.limits.memory_bytes
    }
}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) {
        let policy = &*self.policy;
        match level {
            host::Level::Debug => tracing::debug!(policy, "{message}"),
            host::Level::Info => tracing::info!(policy, "{message}"),
            host::Level::Warn => tracing::warn!(policy, "{message}"),
            host::Level::Error => tracing::error!(policy, "{message}"),
        }
    }

    fn state_get(&mut self, key: String) -> Option<String> {
        self.state.as_ref().and_then(|state| state.get(&key))
    }

    fn state_set(&mut self, key: String, value: String) -> Result<(), String> {
        match &self.state {
            Some(state) => state.set(key, value),
            None => Err("there is no session state while the policy is being loaded".into()),
        }
    }

    fn state_delete(&mut self, key: String) {
        if let Some(state) = &self.state {
            state.delete(&key);
        }
    }

    fn settings(&mut self) -> String {
        self.settings.to_string()
    }

    fn add_label(&mut self, label: String) -> Result<(), String> {
        let Some(state) = &self.state else {
            return Err("there are no session labels while the policy is being loaded".into());
        };
        if state.add_label(label.clone())? {
            self.added_labels.push(label);
        }
        Ok(())
    }

    fn labels(&mut self) -> Vec<String> {
        self.state
            .as_ref()
            .map_or_else(Vec::new, PolicyState::labels)
    }
}

impl types::Host for HostState {}

/// A limit a policy ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exceeded {
    Memory(usize),
    Table(usize),
}

/// Wasmtime's [`StoreLimits`], plus a record of the limit that stopped the
/// policy so that the failure can say so. Growing past a limit traps: a
/// policy cannot carry on with less memory than it asked for.
struct Limits {
    limits: StoreLimits,
    memory_limit: usize,
    /// The size of all the store's memories together.
    memory_bytes: usize,
    exceeded: Option<Exceeded>,
}

impl Limits {
    fn new(memory_limit: usize) -> Limits {
        Limits {
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_limit)
                .table_elements(MAX_TABLE_ELEMENTS)
                .instances(MAX_CORE_INSTANCES as usize)
                .memories(MAX_MEMORIES as usize)
                .tables(MAX_TABLES as usize)
                .build(),
            memory_limit,
            memory_bytes: 0,
            exceeded: None,
        }
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.limits.memory_growing(current, desired, maximum)? {
            // Creating a memory counts as growing it from nothing.
            self.memory_bytes += desired.saturating_sub(current);
            return Ok(true);
        }
        self.exceeded = Some(Exceeded::Memory(self.memory_limit));
        wasmtime::bail!("memory limit of {} bytes exceeded", self.memory_limit)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.limits.table_growing(current, desired, maximum)? {
            return Ok(true);
        }
        self.exceeded = Some(Exceeded::Table(MAX_TABLE_ELEMENTS));
        wasmtime::bail!("table limit of {MAX_TABLE_ELEMENTS} elements exceeded")
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl PolicyFailure {
    /// A trap, described without wasmtime's `wasm trap: ` prefix (the
    /// message already says it is a trap).
    fn trap(trap: Trap) -> PolicyFailure {
        PolicyFailure::Trap(
            trap.to_string()
                .trim_start_matches("wasm trap: ")
                .to_owned(),
        )
    }

    /// Describes `error`, raised while instantiating (`instantiating`) or
    /// calling a policy in `store`, which had `timeout` to run.
    pub(crate) fn classify(
        store: &Store<HostState>,
        error: &wasmtime::Error,
        instantiating: bool,
        timeout: Duration,
    ) -> PolicyFailure {
        match store.data().limits.exceeded {
            Some(Exceeded::Memory(limit)) => return PolicyFailure::MemoryExceeded(limit),
            Some(Exceeded::Table(limit)) => return PolicyFailure::TableExceeded(limit),
            None => {}
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => PolicyFailure::TimedOut(timeout),
            Some(trap) => PolicyFailure::trap(*trap),
            None if instantiating => PolicyFailure::Instantiation(format!("{error:#}")),
            None => PolicyFailure::Runtime(format!("{error:#}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(engine: &wasmtime::Engine, wat: &str) -> Component {
        Component::new(engine, wat::parse_str(wat).unwrap()).unwrap()
    }

    #[test]
    fn only_the_portcullis_interfaces_may_be_imported() {
        let engine = wasmtime::Engine::default();
        let allowed = component(
            &engine,
            r#"(component
                (import "portcullis:policy/types@0.2.0" (instance))
                (import "portcullis:policy/host@0.2.0" (instance
                    (export "state-delete" (func (param "key" string))))))"#,
        );
        assert_eq!(forbidden_import(&engine, &allowed), None);
        assert_eq!(other_contract_import(&engine, &allowed), None);

        let old = component(
            &engine,
            r#"(component
                (import "portcullis:policy/types@0.1.0" (instance))
                (import "portcullis:policy/host@0.1.0" (instance)))"#,
        );
        assert_eq!(
            other_contract_import(&engine, &old).as_deref(),
            Some("portcullis:policy/types@0.1.0")
        );

        let environment = component(
            &engine,
            r#"(component
                (import "portcullis:policy/host@0.2.0" (instance))
                (import "wasi:cli/environment@0.2.0" (instance
                    (export "get-environment" (func (result (list (tuple string string))))))))"#,
        );
        assert_eq!(
            forbidden_import(&engine, &environment).as_deref(),
            Some("wasi:cli/environment@0.2.0")
        );

        assert_eq!(other_contract_import(&engine, &environment), None);

        let plain_function = component(&engine, r#"(component (import "f" (func)))"#);
        assert_eq!(
            forbidden_import(&engine, &plain_function).as_deref(),
            Some("f")
        );
    }

    #[test]
    fn failures_name_their_cause() {
        assert_eq!(
            PolicyFailure::TimedOut(Duration::from_millis(50)).to_string(),
            "timed out after 50 ms"
        );
        assert_eq!(
            PolicyFailure::MemoryExceeded(32 << 20).to_string(),
            "exceeded memory limit of 32 MiB"
        );
        assert_eq!(
            PolicyFailure::trap(Trap::UnreachableCodeReached).to_string(),
            "trap: wasm `unreachable` instruction executed"
        );
    }
}
