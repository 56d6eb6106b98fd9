//! The MCP stdio proxy: a transparent newline-delimited JSON-RPC relay
//! between a client (on the proxy's stdin/stdout) and the server it spawns,
//! which enforces the policy decisions on tools, calls and results.

pub mod framing;
pub mod relay;
pub mod session;

use crate::{Context, Decision, Event, SessionState};

/// Where the proxy gets its decisions from: the policy generation in force
/// ([`crate::reload::PolicyHandle`]).
pub trait Decider: Send + Sync {
    /// Decides one event of `session`.
    fn decide(&self, context: &Context, event: &Event, session: &SessionState) -> Decision;

    /// The generation that decides now; the proxy stamps it on the decisions
    /// it makes itself (rug pulls, human approvals).
    fn generation(&self) -> u64;
}
