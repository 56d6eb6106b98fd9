//! Session-scoped policy state: what the host interface's `state-get`,
//! `state-set` and `state-delete` read and write, the labels of `add-label`
//! and `labels`, and the sequence number of the session's events.
//!
//! One [`SessionState`] belongs to one session of one tenant, so one session
//! never sees another's values or labels. Inside it every policy has a
//! namespace of its own, so one policy never sees another's values, and a
//! [`StateQuota`] caps what each policy may store. Labels, by contrast, are
//! shared by every policy of the session: they are how policies tell each
//! other what the session has seen.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

/// How much state one policy may keep in one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateQuota {
    /// The most keys a policy may store.
    pub max_keys: usize,
    /// The most bytes, keys and values together, a policy may store.
    pub max_bytes: usize,
    /// The most labels a session may have, all policies together.
    pub max_labels: usize,
}

impl Default for StateQuota {
    /// 64 keys and 64 KiB per policy per session, and 32 labels per session:
    /// enough for taint tracking and counters, and small enough that 10,000
    /// sessions of state fit in well under a gigabyte at worst.
    fn default() -> Self {
        StateQuota {
            max_keys: 64,
            max_bytes: 64 * 1024,
            max_labels: 32,
        }
    }
}

/// The longest label, in bytes.
pub(crate) const MAX_LABEL_LEN: usize = 64;

/// Why `label` is not a valid label, if it is not.
fn invalid_label(label: &str) -> Option<String> {
    if label.is_empty() || label.len() > MAX_LABEL_LEN {
        return Some(format!(
            "a label has 1 to {MAX_LABEL_LEN} characters, and `{}` has {}",
            label.escape_debug(),
            label.chars().count()
        ));
    }
    label
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '.' | ':'))
        .map(|c| {
            format!(
                "label `{}` has the character `{}`; a label is made of a-z, 0-9, `-`, `.` and `:`",
                label.escape_debug(),
                c.escape_debug()
            )
        })
}

/// The policy state of one session.
///
/// Create one per session and pass it to every
/// [`PolicySet::evaluate`](crate::PolicySet::evaluate) for that session;
/// drop it when the session ends.
///
/// The first evaluation binds the state to its context's tenant and
/// session; an evaluation for another tenant or session is then decided
/// fail-closed, so that a host that mixes up its sessions cannot leak one
/// tenant's state into another's decisions.
#[derive(Debug)]
pub struct SessionState {
    namespaces: Arc<Mutex<HashMap<String, Namespace>>>,
    labels: Arc<Mutex<BTreeSet<String>>>,
    quota: StateQuota,
    sequence: AtomicU64,
    owner: OnceLock<Owner>,
}

/// The tenant and session a [`SessionState`] belongs to.
#[derive(Debug, PartialEq, Eq)]
struct Owner {
    tenant: Option<String>,
    session: String,
}

impl SessionState {
    /// Empty state for a new session, with `quota` per policy.
    pub fn new(quota: StateQuota) -> SessionState {
        SessionState {
            namespaces: Arc::default(),
            labels: Arc::default(),
            quota,
            sequence: AtomicU64::new(0),
            owner: OnceLock::new(),
        }
    }

    /// The labels policies have added to the session, sorted.
    pub fn labels(&self) -> Vec<String> {
        lock(&self.labels).iter().cloned().collect()
    }

    /// How many events of this session have been evaluated.
    pub fn events(&self) -> u64 {
        self.sequence.load(Ordering::Acquire)
    }

    /// Binds the state to `tenant` and `session` on first use, and checks
    /// that later uses are for the same; then numbers the event.
    pub(crate) fn enter(&self, tenant: Option<&str>, session: &str) -> Result<u64, String> {
        let owner = self.owner.get_or_init(|| Owner {
            tenant: tenant.map(str::to_owned),
            session: session.to_owned(),
        });
        if owner.tenant.as_deref() != tenant || owner.session != session {
            return Err(format!(
                "the session state of session `{}` (tenant {}) was passed for session `{session}` (tenant {}); each session needs a SessionState of its own",
                owner.session,
                owner.tenant.as_deref().unwrap_or("none"),
                tenant.unwrap_or("none"),
            ));
        }
        Ok(self.sequence.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// The namespace of `policy` in this session, as a handle a store can own.
    pub(crate) fn for_policy(&self, policy: Arc<str>) -> PolicyState {
        PolicyState {
            namespaces: Arc::clone(&self.namespaces),
            labels: Arc::clone(&self.labels),
            quota: self.quota,
            policy,
        }
    }
}

/// Locks `mutex`. Every map and set here is consistent after each
/// statement that changes it, so a panic elsewhere while holding the lock
/// leaves nothing half-done.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
    labels: Arc<Mutex<BTreeSet<String>>>,
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

    /// Adds `label` to the session; `Ok(true)` when the session did not have it.
    pub(crate) fn add_label(&self, label: String) -> Result<bool, String> {
        if let Some(reason) = invalid_label(&label) {
            return Err(reason);
        }
        let mut labels = lock(&self.labels);
        if labels.contains(&label) {
            return Ok(false);
        }
        if labels.len() >= self.quota.max_labels {
            return Err(format!(
                "label quota exceeded: a session may have at most {} labels",
                self.quota.max_labels
            ));
        }
        Ok(labels.insert(label))
    }

    /// The session's labels, sorted.
    pub(crate) fn labels(&self) -> Vec<String> {
        lock(&self.labels).iter().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Namespace>> {
        lock(&self.namespaces)
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
            ..StateQuota::default()
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
            ..StateQuota::default()
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

    #[test]
    fn labels_are_shared_by_the_policies_of_a_session_and_only_them() {
        let session = SessionState::new(StateQuota::default());
        assert_eq!(
            state(&session, "a").add_label("untrusted-content".into()),
            Ok(true)
        );
        assert_eq!(
            state(&session, "b").add_label("untrusted-content".into()),
            Ok(false)
        );
        state(&session, "b")
            .add_label("secret-seen".into())
            .unwrap();
        assert_eq!(
            state(&session, "a").labels(),
            ["secret-seen", "untrusted-content"]
        );
        assert_eq!(session.labels(), ["secret-seen", "untrusted-content"]);
        let other = SessionState::new(StateQuota::default());
        assert!(state(&other, "a").labels().is_empty());
    }

    #[test]
    fn labels_are_validated_and_capped() {
        let session = SessionState::new(StateQuota {
            max_labels: 2,
            ..StateQuota::default()
        });
        let a = state(&session, "a");
        for bad in [
            "",
            "Untrusted",
            "private data",
            "x\u{200b}",
            &"x".repeat(65),
        ] {
            assert!(a.add_label(bad.into()).is_err(), "{bad:?} was accepted");
        }
        a.add_label("one".into()).unwrap();
        a.add_label("tenant:acme".into()).unwrap();
        let error = a.add_label("three".into()).unwrap_err();
        assert!(error.starts_with("label quota exceeded"), "{error}");
        // A label the session has is not a new one.
        assert_eq!(a.add_label("one".into()), Ok(false));
    }

    #[test]
    fn a_session_state_serves_one_tenant_and_session_and_numbers_its_events() {
        let session = SessionState::new(StateQuota::default());
        assert_eq!(session.enter(Some("acme"), "s-1"), Ok(1));
        assert_eq!(session.enter(Some("acme"), "s-1"), Ok(2));
        assert!(session.enter(Some("globex"), "s-1").is_err());
        assert!(session.enter(None, "s-1").is_err());
        assert!(session.enter(Some("acme"), "s-2").is_err());
        assert_eq!(session.events(), 2);
    }
}
