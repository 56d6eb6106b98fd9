//! Logging to the host.
//!
//! Messages go to the host's log, tagged with the policy's name; off `wasm32`
//! they go to standard error.

pub use crate::bindings::portcullis::policy::host::Level;

/// Logs a message at the given level.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::portcullis::policy::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{level:?}: {message}");
}

/// Logs a debugging message.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs an informational message.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs a warning.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
