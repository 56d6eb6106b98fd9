//! Stand-in for the engine's `state` module; replaced by the engine branch at merge.

/// Quota.
#[derive(Debug, Clone, Copy, Default)]
pub struct StateQuota;

/// Per-session policy state.
#[derive(Debug, Default)]
pub struct SessionState;

impl SessionState {
    /// New empty state.
    pub fn new(_quota: StateQuota) -> SessionState {
        SessionState
    }
}
