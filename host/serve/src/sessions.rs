//! The sessions a server keeps: bounded, the one idle longest dropped first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use portcullis::{SessionState, StateQuota};

/// Whose session: the runtime or API that asked, the tenant, the session
/// id. Two runtimes, or two tenants, that use the same id get two sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SessionKey {
    origin: &'static str,
    tenant: Option<String>,
    session: String,
}

impl SessionKey {
    pub(crate) fn new(origin: &'static str, tenant: Option<&str>, session: &str) -> SessionKey {
        SessionKey {
            origin,
            tenant: tenant.map(str::to_owned),
            session: session.to_owned(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Sessions {
    table: Mutex<Table>,
    max: usize,
    quota: StateQuota,
}

#[derive(Debug, Default)]
struct Table {
    /// Each session's state, and when it was last used (a counter).
    states: HashMap<SessionKey, (Arc<SessionState>, u64)>,
    clock: u64,
}

impl Sessions {
    pub(crate) fn new(max: usize, quota: StateQuota) -> Sessions {
        Sessions {
            table: Mutex::default(),
            max: max.max(1),
            quota,
        }
    }

    /// The state of the session `key` names, made on first use.
    pub(crate) fn get(&self, key: SessionKey) -> Arc<SessionState> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.clock += 1;
        let now = table.clock;
        if let Some((state, used)) = table.states.get_mut(&key) {
            *used = now;
            return Arc::clone(state);
        }
        if table.states.len() >= self.max {
            let idlest = table
                .states
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone());
            if let Some(idlest) = idlest {
                tracing::debug!(?idlest, "dropping the session idle longest");
                table.states.remove(&idlest);
            }
        }
        let state = Arc::new(SessionState::new(self.quota));
        table.states.insert(key, (Arc::clone(&state), now));
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_keeps_its_state_and_others_get_their_own() {
        let sessions = Sessions::new(8, StateQuota::default());
        let a = sessions.get(SessionKey::new("cursor", None, "s1"));
        assert!(Arc::ptr_eq(
            &a,
            &sessions.get(SessionKey::new("cursor", None, "s1"))
        ));
        let other_runtime = sessions.get(SessionKey::new("codex", None, "s1"));
        let other_tenant = sessions.get(SessionKey::new("api", Some("acme"), "s1"));
        assert!(!Arc::ptr_eq(&a, &other_runtime));
        assert!(!Arc::ptr_eq(&other_runtime, &other_tenant));
    }

    #[test]
    fn the_session_idle_longest_makes_way() {
        let sessions = Sessions::new(2, StateQuota::default());
        let first = sessions.get(SessionKey::new("api", None, "1"));
        let second = sessions.get(SessionKey::new("api", None, "2"));
        // Using the first again makes the second the idlest.
        sessions.get(SessionKey::new("api", None, "1"));
        sessions.get(SessionKey::new("api", None, "3"));
        assert!(Arc::ptr_eq(
            &first,
            &sessions.get(SessionKey::new("api", None, "1"))
        ));
        assert!(!Arc::ptr_eq(
            &second,
            &sessions.get(SessionKey::new("api", None, "2"))
        ));
    }
}
