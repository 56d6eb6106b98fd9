//! Portcullis: a WebAssembly policy engine for MCP.

pub mod audit;
mod bindings;
mod bundle;
pub mod decision;
pub mod engine;
pub mod event;
pub mod policy_set;
pub mod proxy;
pub mod reload;
pub mod state;

/// Names of the embedded default policies.
pub fn default_policy_names() -> impl Iterator<Item = &'static str> {
    bundle::DEFAULT_POLICIES.iter().map(|(name, _)| *name)
}
