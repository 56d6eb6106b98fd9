//! One loaded policy: its component, compiled and linked once, and what its
//! metadata says about it.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use wasmtime::component::Component;

use crate::bindings::portcullis::policy::types as wit;
use crate::bindings::{PolicyPre, WitEvent};
use crate::engine::Runtime;
use crate::error::LoadError;
use crate::event::EventKind;
use crate::prefilter::{PatternSpec, Prefilter};
use crate::sandbox::{self, HostState, PolicyFailure};
use crate::state::SessionState;

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

/// A compiled, linked policy whose metadata has been read.
pub(crate) struct Policy {
    info: PolicyInfo,
    name: Arc<str>,
    patterns: Vec<PatternSpec>,
    pre: PolicyPre<HostState>,
}

impl Policy {
    /// Compiles `bytes`, checks its imports, links it and reads its metadata.
    /// `source` names the policy in errors until it has told its name.
    pub(crate) fn load(
        runtime: &Runtime,
        source: &str,
        bytes: &[u8],
        digest: String,
    ) -> Result<Policy, LoadError> {
        let component = Component::new(&runtime.engine, bytes).map_err(|error| {
            LoadError::InvalidComponent {
                policy: source.to_owned(),
                message: format!("{error:#}"),
            }
        })?;
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
            let mut store = runtime.store(Arc::from(source), None);
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
                    )
                    .to_string(),
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
            message: error.to_string(),
        })?;
        Ok(Policy {
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

    /// Calls the policy's check for `event` in a fresh instance, with its
    /// state in `session`.
    pub(crate) fn check(
        &self,
        runtime: &Runtime,
        session: &SessionState,
        ctx: &wit::Context,
        event: &WitEvent,
        findings: &[wit::Finding],
    ) -> Result<wit::Outcome, PolicyFailure> {
        let state = session.for_policy(Arc::clone(&self.name));
        let mut store = runtime.store(Arc::clone(&self.name), Some(state));
        let failure = |store: &wasmtime::Store<HostState>, error, instantiating| {
            PolicyFailure::classify(store, &error, instantiating, runtime.config.timeout)
        };
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|error| failure(&store, error, true))?;
        match event {
            WitEvent::Tool(tool) => instance.call_check_tool(&mut store, ctx, tool, findings),
            WitEvent::Call(call) => instance.call_check_call(&mut store, ctx, call, findings),
            WitEvent::Result(result) => {
                instance.call_check_result(&mut store, ctx, result, findings)
            }
        }
        .map_err(|error| failure(&store, error, false))
    }
}
