//! Portcullis: a WebAssembly policy engine for MCP.

mod bindings;
mod bundle;
pub mod event;
pub mod normalize;

/// Names of the embedded default policies.
pub fn default_policy_names() -> impl Iterator<Item = &'static str> {
    bundle::DEFAULT_POLICIES.iter().map(|(name, _)| *name)
}
