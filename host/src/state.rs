//! Session-scoped policy state: what the host interface's `state-get`,
//! `state-set` and `state-delete` read and write.
//!
//! One [`SessionState`] belongs to one session, so one session never sees
//! another's values. Inside it every policy has a namespace of its own, so
//! one policy never sees another's values, and a [`StateQuota`] caps what
//! each policy may store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How much state one policy may keep in one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateQuota {
    /// The most keys a policy may store.
    pub max_keys: usize,
    /// The most bytes, keys and values together, a policy may store.
    pub max_bytes: usize,
}

impl Default for StateQuota {
    /// 64 keys and 64 KiB per policy per session.
    fn default() -> Self {
        StateQuota {
            max_keys: 64,
            max_bytes: 64 * 1024,
        }
    }
}

/// The policy state of one session.
///
/// Create one per session and pass it to every
/// [`PolicySet::evaluate`](crate::PolicySet::evaluate) for that session;
/// drop it when the session ends.
#[derive(Debug)]
pub struct SessionState {
    namespaces: Arc<Mutex<HashMap<String, Namespace>>>,
    quota: StateQuota,
}

impl SessionState {
    /// Empty state for a new session, with `quota` per policy.
    pub fn new(quota: StateQuota) -> SessionState {
        SessionState {
            namespaces: Arc::default(),
            quota,
        }
    }

    /// The namespace of `policy` in this session, as a handle a store can own.
    pub(crate) fn for_policy(&self, policy: Arc<str>) -> PolicyState {
        PolicyState {
            namespaces: Arc::clone(&self.namespaces),
            quota: self.quota,
            policy,
        }
    }
}

/// The values one policy stored in one session.
#[derive(Debug, Default)]
struct Namespace {
    values: HashMap<String, String>,
    bytes: usize,
}

/// One policy's view of one session's state.
#[derive(Debug)]
pub(crate) struct PolicyState {
    namespaces: Arc<Mutex<HashMap<String, Namespace>>>,
    quota: StateQuota,
    policy: Arc<str>,
}

impl PolicyState {
    /// The value stored under `key`, if any.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.lock()
            .get(&*self.policy)
            .and_then(|namespace| namespace.values.get(key).cloned())
    }

    /// Stores `value` under `key`, unless that would exceed the quota.
    pub(crate) fn set(&self, key: String, value: String) -> Result<(), String> {
        let mut namespaces = self.lock();
        let namespace = namespaces.entry(self.policy.to_string()).or_default();
        let replaced = namespace.values.get(&key).map(|old| key.len() + old.len());
        let keys = namespace.values.len() + usize::from(replaced.is_none());
        if keys > self.quota.max_keys {
            return Err(format!(
                "state quota exceeded: a policy may store at most {} keys per session",
                self.quota.max_keys
            ));
        }
        let bytes = namespace.bytes - replaced.unwrap_or(0) + key.len() + value.len();
        if bytes > self.quota.max_bytes {
            return Err(format!(
                "state quota exceeded: storing `{key}` would take this policy's state to {bytes} bytes, over the limit of {} bytes per session",
                self.quota.max_bytes
            ));
        }
        namespace.bytes = bytes;
        namespace.values.insert(key, value);
        Ok(())
    }

    /// Forgets the value stored under `key`.
    pub(crate) fn delete(&self, key: &str) {
        let mut namespaces = self.lock();
        if let Some(namespace) = namespaces.get_mut(&*self.policy)
            && let Some(old) = namespace.values.remove(key)
        {
            namespace.bytes -= key.len() + old.len();
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Namespace>> {
        // The map is consistent after every statement that changes it, so a
        // panic elsewhere while holding the lock leaves nothing half-done.
        self.namespaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(session: &SessionState, policy: &str) -> PolicyState {
        session.for_policy(policy.into())
    }

    #[test]
    fn policies_do_not_see_each_others_values() {
        let session = SessionState::new(StateQuota::default());
        state(&session, "a")
            .set("k".into(), "from a".into())
            .unwrap();
        state(&session, "b")
            .set("k".into(), "from b".into())
            .unwrap();
        assert_eq!(state(&session, "a").get("k").as_deref(), Some("from a"));
        assert_eq!(state(&session, "b").get("k").as_deref(), Some("from b"));
        state(&session, "b").delete("k");
        assert_eq!(state(&session, "a").get("k").as_deref(), Some("from a"));
        assert_eq!(state(&session, "b").get("k"), None);
    }

    #[test]
    fn sessions_do_not_see_each_others_values() {
        let first = SessionState::new(StateQuota::default());
        let second = SessionState::new(StateQuota::default());
        state(&first, "a").set("k".into(), "v".into()).unwrap();
        assert_eq!(state(&second, "a").get("k"), None);
        assert_eq!(state(&first, "a").get("k").as_deref(), Some("v"));
    }

    #[test]
    fn the_key_quota_counts_new_keys_only() {
        let session = SessionState::new(StateQuota {
            max_keys: 2,
            max_bytes: 1024,
        });
        let a = state(&session, "a");
        a.set("one".into(), "1".into()).unwrap();
        a.set("two".into(), "2".into()).unwrap();
        a.set("two".into(), "22".into()).unwrap();
        let error = a.set("three".into(), "3".into()).unwrap_err();
        assert!(error.starts_with("state quota exceeded"), "{error}");
        assert_eq!(a.get("three"), None);
        // Another policy has a quota of its own.
        state(&session, "b")
            .set("three".into(), "3".into())
            .unwrap();
        a.delete("one");
        a.set("three".into(), "3".into()).unwrap();
    }

    #[test]
    fn the_byte_quota_counts_keys_and_values_and_frees_on_delete() {
        let session = SessionState::new(StateQuota {
            max_keys: 10,
            max_bytes: 10,
        });
        let a = state(&session, "a");
        a.set("k".into(), "123456789".into()).unwrap();
        let error = a.set("x".into(), String::new()).unwrap_err();
        assert!(error.contains("11 bytes"), "{error}");
        // Replacing a value counts the new value instead of the old one.
        a.set("k".into(), "12345".into()).unwrap();
        a.set("x".into(), "123".into()).unwrap();
        a.delete("k");
        a.set("y".into(), "12345".into()).unwrap();
        assert_eq!(a.get("x").as_deref(), Some("123"));
    }
}
