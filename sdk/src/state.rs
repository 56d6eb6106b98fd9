//! Session-scoped state.
//!
//! Each policy has its own key-value store per session: one session never
//! sees another's values, and one policy never sees another's. The host caps
//! how much a policy may store per session; [`set`] fails past the cap.
//!
//! Off `wasm32` these functions use a thread-local map, so that a policy's
//! logic can be unit-tested natively.

#[cfg(target_arch = "wasm32")]
use crate::bindings::portcullis::policy::host;

/// Reads a value stored earlier in this session.
pub fn get(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    return host::state_get(key);
    #[cfg(not(target_arch = "wasm32"))]
    return native::with(|map| map.get(key).cloned());
}

/// Stores a value for the rest of this session.
///
/// # Errors
/// The host's message when the policy's state quota would be exceeded.
pub fn set(key: &str, value: &str) -> Result<(), String> {
    #[cfg(target_arch = "wasm32")]
    return host::state_set(key, value);
    #[cfg(not(target_arch = "wasm32"))]
    return native::with(|map| {
        map.insert(key.to_owned(), value.to_owned());
        Ok(())
    });
}

/// Forgets a value.
pub fn delete(key: &str) {
    #[cfg(target_arch = "wasm32")]
    host::state_delete(key);
    #[cfg(not(target_arch = "wasm32"))]
    native::with(|map| map.remove(key));
}

/// Forgets every value: on native targets only, for tests that simulate a new session.
#[cfg(not(target_arch = "wasm32"))]
pub fn clear() {
    native::with(|map| map.clear());
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        static STATE: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
    }

    pub(super) fn with<T>(f: impl FnOnce(&mut HashMap<String, String>) -> T) -> T {
        STATE.with(|state| f(&mut state.borrow_mut()))
    }
}
