//! Policy instances: one instantiated policy in a store of its own, and the
//! opt-in pool that keeps instances warm between evaluations.
//!
//! By default every evaluation instantiates each policy afresh and drops
//! the instance afterwards, so nothing a policy did in one evaluation can
//! reach the next. Some toolchains make instantiation slow (a Python policy
//! takes milliseconds), so an engine may opt in to [`InstanceReuse`]: a
//! policy set then keeps instances of those policies warm and reuses them.

use crate::slots::Slot;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::Store;

use crate::bindings;
use crate::sandbox::HostState;
use crate::state::PolicyState;

/// Opt-in reuse of policy instances across evaluations, for policies that
/// are slow to instantiate.
///
/// A reused instance runs many evaluations, one at a time, of any session:
/// each call sees the state of the session being evaluated, and only while
/// it runs. What a policy keeps in its own globals and memory, however,
/// survives from one call to the next, across sessions. Reuse is therefore
/// only for policies that keep their state in the host's session state
/// (`state-get`/`state-set`), never in guest variables; name them in
/// [`policies`](InstanceReuse::policies) when a set mixes both kinds.
///
/// An instance is dropped, and replaced by a fresh one on the next
/// evaluation, after [`max_calls`](InstanceReuse::max_calls) calls, after
/// any failure (trap, timeout, memory or table limit, invalid outcome), and
/// when its memories have grown past
/// [`max_memory`](InstanceReuse::max_memory). Idle instances hold slots of
/// the engine's instance pool, so at most half of
/// [`max_instances`](crate::EngineConfig::max_instances) are kept idle,
/// engine-wide; beyond that, instances are dropped after use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceReuse {
    /// How many calls an instance serves before it is dropped. Default: 1000.
    pub max_calls: u32,
    /// How many bytes of linear memory (all of an instance's memories
    /// together) an instance may have grown to and still be reused.
    /// Default: 16 MiB.
    pub max_memory: usize,
    /// The names of the policies whose instances are reused; `None` for
    /// every policy. Names that match no loaded policy are ignored.
    /// Default: `None`.
    pub policies: Option<Vec<String>>,
}

impl Default for InstanceReuse {
    fn default() -> Self {
        InstanceReuse {
            max_calls: 1000,
            max_memory: 16 << 20,
            policies: None,
        }
    }
}

impl InstanceReuse {
    /// Whether the instances of the policy named `policy` are reused.
    pub(crate) fn applies_to(&self, policy: &str) -> bool {
        self.policies
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == policy))
    }
}

/// An instantiated policy, in its own store.
pub(crate) struct PolicyInstance {
    /// The store, whose data is the host side of the instance.
    pub(crate) store: Store<HostState>,
    /// The policy's exports.
    pub(crate) exports: bindings::Policy,
    /// How many calls it has served.
    calls: u32,
    /// Its place in the instance pool. Fields drop in order: this one goes
    /// after the store, once the pool has freed the instance.
    _slot: Option<Slot>,
}

impl PolicyInstance {
    /// An instance that has served no call yet, holding `slot`.
    pub(crate) fn new(
        store: Store<HostState>,
        exports: bindings::Policy,
        slot: Option<Slot>,
    ) -> PolicyInstance {
        PolicyInstance {
            store,
            exports,
            calls: 0,
            _slot: slot,
        }
    }

    /// Prepares a warm instance for a call: the session state and settings
    /// it may use and a fresh deadline of `timeout_ticks` epoch ticks.
    pub(crate) fn prepare(&mut self, state: PolicyState, settings: Arc<str>, timeout_ticks: u64) {
        self.store.data_mut().set_scope(Some(state), settings);
        self.store.set_epoch_deadline(timeout_ticks);
    }
}

/// The idle warm instances of one policy in one policy set.
pub(crate) struct WarmInstances {
    reuse: InstanceReuse,
    idle: Mutex<Vec<(PolicyInstance, IdleSlot)>>,
    budget: Arc<IdleBudget>,
}

impl WarmInstances {
    /// An empty pool under `reuse`, whose idle instances count against `budget`.
    pub(crate) fn new(reuse: InstanceReuse, budget: Arc<IdleBudget>) -> WarmInstances {
        WarmInstances {
            reuse,
            idle: Mutex::default(),
            budget,
        }
    }

    /// An idle instance, if there is one.
    pub(crate) fn take(&self) -> Option<PolicyInstance> {
        self.lock().pop().map(|(instance, _slot)| instance)
    }

    /// Takes back `instance` after a successful call, unless it has served
    /// its calls, grown too much, or the engine has enough idle instances;
    /// then it is dropped. Either way it no longer sees the session or its
    /// settings.
    pub(crate) fn give_back(&self, mut instance: PolicyInstance) {
        instance.store.data_mut().set_scope(None, Arc::from("{}"));
        instance.calls += 1;
        if instance.calls >= self.reuse.max_calls
            || instance.store.data().memory_bytes() > self.reuse.max_memory
        {
            return;
        }
        if let Some(slot) = IdleSlot::reserve(&self.budget) {
            self.lock().push((instance, slot));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(PolicyInstance, IdleSlot)>> {
        // A push or a pop cannot leave the list half-changed.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How many warm instances may be idle at once, engine-wide.
#[derive(Debug)]
pub(crate) struct IdleBudget {
    idle: AtomicUsize,
    max: usize,
}

impl IdleBudget {
    /// A budget of `max` idle instances.
    pub(crate) fn new(max: usize) -> IdleBudget {
        IdleBudget {
            idle: AtomicUsize::new(0),
            max,
        }
    }
}

/// One idle instance's share of the [`IdleBudget`], given back when dropped.
struct IdleSlot(Arc<IdleBudget>);

impl IdleSlot {
    fn reserve(budget: &Arc<IdleBudget>) -> Option<IdleSlot> {
        budget
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |idle| {
                (idle < budget.max).then_some(idle + 1)
            })
            .ok()
            .map(|_| IdleSlot(Arc::clone(budget)))
    }
}

impl Drop for IdleSlot {
    fn drop(&mut self) {
        self.0.idle.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_applies_to_the_named_policies_or_to_all() {
        let all = InstanceReuse::default();
        assert!(all.applies_to("anything"));
        let some = InstanceReuse {
            policies: Some(vec!["lethal-trifecta".into()]),
            ..InstanceReuse::default()
        };
        assert!(some.applies_to("lethal-trifecta"));
        assert!(!some.applies_to("command-injection"));
    }

    #[test]
    fn the_idle_budget_is_never_exceeded_and_slots_come_back() {
        let budget = Arc::new(IdleBudget::new(2));
        let first = IdleSlot::reserve(&budget).unwrap();
        let second = IdleSlot::reserve(&budget).unwrap();
        assert!(IdleSlot::reserve(&budget).is_none());
        drop(first);
        let third = IdleSlot::reserve(&budget).unwrap();
        assert!(IdleSlot::reserve(&budget).is_none());
        drop((second, third));
        assert_eq!(budget.idle.load(Ordering::Acquire), 0);
    }
}
