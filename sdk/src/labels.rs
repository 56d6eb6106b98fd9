//! Session labels: what one policy tells every other policy of the set
//! about the session.
//!
//! A policy that sees untrusted content, private data or a secret adds a
//! label (`untrusted-content`, `private-data`, `secret-seen`); a policy that
//! judges an outbound action reads them. The lethal trifecta is then
//! composed from several policies' findings instead of one policy detecting
//! everything again. Labels belong to one session of one tenant; the host
//! caps how many a session may have.
//!
//! Off `wasm32` the labels are a thread-local set, so that a policy's logic
//! can be unit-tested natively; [`clear`] starts a new session.

#[cfg(target_arch = "wasm32")]
use crate::bindings::portcullis::policy::host;

/// The session has seen content from outside the user's control: a web
/// page, an email, a ticket, a shared document.
pub const UNTRUSTED_CONTENT: &str = "untrusted-content";
/// The session has read private data: files, mail, a database.
pub const PRIVATE_DATA: &str = "private-data";
/// A secret (a credential, a private key) has appeared in the session.
pub const SECRET_SEEN: &str = "secret-seen";

/// Adds `label` to the session.
///
/// A label is 1 to 64 characters of `a-z`, `0-9`, `-`, `.` and `:`.
///
/// # Errors
/// The host's message when `label` is invalid or the session has as many
/// labels as the host allows.
pub fn add(label: &str) -> Result<(), String> {
    #[cfg(target_arch = "wasm32")]
    return host::add_label(label);
    #[cfg(not(target_arch = "wasm32"))]
    return native::with(|labels| {
        labels.insert(label.to_owned());
        Ok(())
    });
}

/// The session's labels, sorted.
pub fn all() -> Vec<String> {
    #[cfg(target_arch = "wasm32")]
    return host::labels();
    #[cfg(not(target_arch = "wasm32"))]
    return native::with(|labels| labels.iter().cloned().collect());
}

/// Whether the session has `label`.
pub fn has(label: &str) -> bool {
    all().iter().any(|have| have == label)
}

/// Forgets every label: on native targets only, for tests that simulate a new session.
#[cfg(not(target_arch = "wasm32"))]
pub fn clear() {
    native::with(std::collections::BTreeSet::clear);
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    thread_local! {
        static LABELS: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
    }

    pub(super) fn with<T>(f: impl FnOnce(&mut BTreeSet<String>) -> T) -> T {
        LABELS.with(|labels| f(&mut labels.borrow_mut()))
    }
}
