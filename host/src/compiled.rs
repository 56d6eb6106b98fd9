//! One loaded policy: its component, compiled and linked once, and what its
//! metadata says about it.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use wasmtime::Store;

use crate::bindings::portcullis::policy::types as wit;
use crate::bindings::{PolicyPre, WitEvent};
use crate::decision::PolicyFailure;
use crate::error::LoadError;
use crate::event::EventKind;
use crate::instance::{PolicyInstance, WarmInstances};
use crate::runtime::Runtime;
use crate::sandbox::{self, HostState, StoreScope};
use crate::state::{PolicyState, SessionState};
use portcullis_text::prefilter::{PatternSpec, Prefilter};

/// What the engine knows about a loaded policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    /// The policy's name, from its metadata.
    pub name: String,
    /// The policy's version, from its metadata.
    pub version: String,
    /// The SHA-256 of the policy's component, lowercase hex.
    pub digest: String,
    /// The events the policy subscribed to.
    pub events: Vec<EventKind>,
}

/// What one check is about.
pub(crate) struct CheckInput<'a> {
    /// The context of the event.
    pub(crate) ctx: &'a wit::Context,
    /// The event.
    pub(crate) event: &'a WitEvent,
    /// The prefilter's findings for the policy's own patterns.
    pub(crate) findings: &'a [wit::Finding],
    /// The policy's settings for the session's tenant.
    pub(crate) settings: &'a Arc<str>,
}

/// What a policy's check gave: the outcome, as read, and the labels the
/// policy added to the session.
pub(crate) struct Checked<T> {
    pub(crate) outcome: T,
    pub(crate) labels: Vec<String>,
}

/// Why a policy did not accept its settings.
pub(crate) enum ConfigureError {
    /// The policy said the settings are invalid.
    Invalid(wit::SettingError),
    /// The policy failed while checking them.
    Failed(PolicyFailure),
}

/// A compiled, linked policy whose metadata has been read.
pub(crate) struct CompiledPolicy {
    info: PolicyInfo,
    name: Arc<str>,
    patterns: Vec<PatternSpec>,
    pre: PolicyPre<HostState>,
}

impl CompiledPolicy {
    /// Compiles `bytes`, checks its imports, links it and reads its metadata.
    /// `source` names the policy in errors until it has told its name.
    pub(crate) fn load(
        runtime: &Runtime,
        source: &str,
        bytes: &[u8],
        digest: String,
    ) -> Result<CompiledPolicy, LoadError> {
        let component = runtime.component(source, bytes, &digest)?;
        if let Some(import) = sandbox::other_contract_import(&runtime.engine, &component) {
            return Err(LoadError::OtherContract {
                policy: source.to_owned(),
                import,
            });
        }
        if let Some(import) = sandbox::forbidden_import(&runtime.engine, &component) {
            return Err(LoadError::ForbiddenImport {
                policy: source.to_owned(),
                import,
            });
        }
        let incompatible = |error: wasmtime::Error| LoadError::IncompatibleWorld {
            policy: source.to_owned(),
            message: format!("{error:#}"),
        };
        let pre = runtime
            .linker
            .instantiate_pre(&component)
            .and_then(PolicyPre::new)
            .map_err(incompatible)?;

        let metadata = {
            let _slot = runtime.slot();
            let mut store = runtime.store(StoreScope {
                policy: Arc::from(source),
                state: None,
                settings: Arc::from("{}"),
            });
            pre.instantiate(&mut store)
                .map_err(|error| (error, true))
                .and_then(|instance| {
                    instance
                        .call_metadata(&mut store)
                        .map_err(|error| (error, false))
                })
                .map_err(|(error, instantiating)| LoadError::MetadataFailed {
                    policy: source.to_owned(),
                    cause: PolicyFailure::classify(
                        &store,
                        &error,
                        instantiating,
                        runtime.config.timeout,
                    ),
                })?
        };
        let bad_metadata = |reason: String| LoadError::BadMetadata {
            policy: source.to_owned(),
            reason,
        };
        if metadata.name.trim().is_empty() {
            return Err(bad_metadata("the name is empty".into()));
        }
        let mut ids = HashSet::new();
        if let Some(pattern) = metadata.patterns.iter().find(|p| !ids.insert(&p.id)) {
            return Err(bad_metadata(format!(
                "two patterns have the id `{}`",
                pattern.id
            )));
        }
        let patterns: Vec<PatternSpec> = metadata
            .patterns
            .into_iter()
            .map(|pattern| PatternSpec {
                id: pattern.id,
                matcher: pattern.matcher.into(),
            })
            .collect();
        Prefilter::new(&patterns).map_err(|error| LoadError::InvalidPattern {
            policy: source.to_owned(),
            source: error,
        })?;
        Ok(CompiledPolicy {
            name: Arc::from(metadata.name.as_str()),
            info: PolicyInfo {
                name: metadata.name,
                version: metadata.version,
                digest,
                events: metadata.events.into_iter().map(EventKind::from).collect(),
            },
            patterns,
            pre,
        })
    }

    /// What the engine knows about the policy.
    pub(crate) fn info(&self) -> &PolicyInfo {
        &self.info
    }

    /// The prefilter patterns the policy asked for.
    pub(crate) fn patterns(&self) -> &[PatternSpec] {
        &self.patterns
    }

    /// Whether the policy subscribed to events of `kind`.
    pub(crate) fn wants(&self, kind: EventKind) -> bool {
        self.info.events.contains(&kind)
    }

    /// Asks the policy, in a fresh instance, whether it accepts `settings`.
    pub(crate) fn configure(
        &self,
        runtime: &Runtime,
        settings: &Arc<str>,
    ) -> Result<(), ConfigureError> {
        let _slot = runtime.slot();
        let mut store = runtime.store(StoreScope {
            policy: Arc::clone(&self.name),
            state: None,
            settings: Arc::clone(settings),
        });
        let failed = |store: &Store<HostState>, error, instantiating| {
            ConfigureError::Failed(PolicyFailure::classify(
                store,
                &error,
                instantiating,
                runtime.config.timeout,
            ))
        };
        let exports = match self.pre.instantiate(&mut store) {
            Ok(exports) => exports,
            Err(error) => return Err(failed(&store, error, true)),
        };
        match exports.call_configure(&mut store, settings) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(invalid)) => Err(ConfigureError::Invalid(invalid)),
            Err(error) => Err(failed(&store, error, false)),
        }
    }

    /// Calls the policy's check for `event`, with its state in `session`,
    /// and reads the outcome with `read`. The instance is a warm one from
    /// `warm` when there is one, else a fresh one; after the call it goes
    /// back to `warm` (if given) unless the call or `read` failed.
    pub(crate) fn check<T>(
        &self,
        runtime: &Runtime,
        warm: Option<&WarmInstances>,
        session: &SessionState,
        input: &CheckInput<'_>,
        read: impl FnOnce(wit::Outcome) -> Result<T, PolicyFailure>,
    ) -> Result<Checked<T>, PolicyFailure> {
        let state = session.for_policy(Arc::clone(&self.name));
        let CheckInput {
            ctx,
            event,
            findings,
            settings,
        } = *input;
        let mut instance = match warm.and_then(WarmInstances::take) {
            Some(mut instance) => {
                instance.prepare(state, Arc::clone(settings), runtime.timeout_ticks);
                instance
            }
            None => self.instantiate(runtime, state, settings)?,
        };
        let (exports, store) = (&instance.exports, &mut instance.store);
        let outcome = match event {
            WitEvent::Tool(tool) => exports.call_check_tool(&mut *store, ctx, tool, findings),
            WitEvent::Call(call) => exports.call_check_call(&mut *store, ctx, call, findings),
            WitEvent::Result(result) => {
                exports.call_check_result(&mut *store, ctx, result, findings)
            }
        }
        .map_err(|error| PolicyFailure::classify(store, &error, false, runtime.config.timeout))?;
        let labels = store.data_mut().take_added_labels();
        let outcome = read(outcome)?;
        if let Some(warm) = warm {
            warm.give_back(instance);
        }
        Ok(Checked { outcome, labels })
    }

    /// A fresh instance of the policy, with `state` and `settings` to use.
    fn instantiate(
        &self,
        runtime: &Runtime,
        state: PolicyState,
        settings: &Arc<str>,
    ) -> Result<PolicyInstance, PolicyFailure> {
        let slot = runtime.slot();
        let mut store = runtime.store(StoreScope {
            policy: Arc::clone(&self.name),
            state: Some(state),
            settings: Arc::clone(settings),
        });
        match self.pre.instantiate(&mut store) {
            Ok(exports) => Ok(PolicyInstance::new(store, exports, slot)),
            Err(error) => Err(PolicyFailure::classify(
                &store,
                &error,
                true,
                runtime.config.timeout,
            )),
        }
    }
}
