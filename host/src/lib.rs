//! Portcullis: a WebAssembly policy engine for MCP.

mod bindings;
mod bundle;
pub mod event;
pub mod fields;
pub mod normalize;
pub mod prefilter;

/// Names of the embedded default policies.
pub fn default_policy_names() -> impl Iterator<Item = &'static str> {
    bundle::DEFAULT_POLICIES.iter().map(|(name, _)| *name)
}
