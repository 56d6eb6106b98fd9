//! The errors of the library: creating an engine, loading policies, and
//! reading events.

use std::path::PathBuf;

use portcullis_text::prefilter::PrefilterError;
use thiserror::Error;

use crate::decision::PolicyFailure;

/// The engine could not be created.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A configuration value is out of range.
    #[error("invalid engine configuration: {reason}")]
    InvalidConfig {
        /// What is wrong, and what would be right.
        reason: String,
    },
    /// Wasmtime refused the configuration or could not set up its pools.
    #[error(
        "the WebAssembly runtime could not start: {message}; lower `max_instances` or `memory_limit` if the machine is short of address space"
    )]
    Runtime {
        /// Wasmtime's message.
        message: String,
    },
    /// The cache directory of compiled policies could not be created or opened.
    #[error("cannot use {} as the cache of compiled policies: {source}", path.display())]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The thread that enforces policy timeouts could not be started.
    #[error("the policy timeout thread could not be started: {0}")]
    Ticker(#[source] std::io::Error),
}

/// A policy set could not be loaded. Each variant names the policy (its
/// source: file name or bundle name) it is about.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A policy directory or file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A policy directory holds no `*.wasm` file.
    #[error(
        "{} holds no policy (`*.wasm` file); point the engine at the directory that holds the policy components",
        path.display()
    )]
    NoPolicies {
        /// The directory.
        path: PathBuf,
    },
    /// The bytes are not a valid WebAssembly component.
    #[error(
        "policy `{policy}` is not a valid WebAssembly component: {message}; build it with `portcullis-componentize` (or `wasm-tools component new`)"
    )]
    InvalidComponent {
        /// The policy.
        policy: String,
        /// Why Wasmtime refused it.
        message: String,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "policy `{policy}` imports `{import}`, which the sandbox does not provide; a policy may import only `portcullis:policy/host@0.2.0` (build it for a target without WASI, such as wasm32-unknown-unknown)"
    )]
    ForbiddenImport {
        /// The policy.
        policy: String,
        /// The import it asked for.
        import: String,
    },
    /// The component was built for another version of the policy contract.
    #[error(
        "policy `{policy}` was built for another version of the policy contract (it imports `{import}`); this host runs `portcullis:policy@0.2.0` policies: rebuild it with portcullis-sdk 0.2, or against the WIT of this release"
    )]
    OtherContract {
        /// The policy.
        policy: String,
        /// The import that shows its contract version.
        import: String,
    },
    /// The component does not implement the `portcullis:policy/policy` world.
    #[error(
        "policy `{policy}` does not implement the world `portcullis:policy/policy@0.2.0`: {message}; rebuild it against this version of the WIT"
    )]
    IncompatibleWorld {
        /// The policy.
        policy: String,
        /// What does not match.
        message: String,
    },
    /// The policy's `metadata` function failed.
    #[error(
        "policy `{policy}` failed while describing itself (`metadata`): {cause}; `metadata` must return a constant record quickly"
    )]
    MetadataFailed {
        /// The policy.
        policy: String,
        /// What happened: a trap, a timeout, running out of memory.
        cause: PolicyFailure,
    },
    /// The policy's metadata is unusable.
    #[error("policy `{policy}` has invalid metadata: {reason}")]
    BadMetadata {
        /// The policy.
        policy: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One of the policy's prefilter patterns is invalid.
    #[error("policy `{policy}` has an invalid pattern: {source}")]
    InvalidPattern {
        /// The policy.
        policy: String,
        /// Which pattern, and why the prefilter refused it.
        #[source]
        source: PrefilterError,
    },
    /// The operator's settings for a policy are invalid, as the policy's
    /// `configure` says.
    #[error(
        "the settings of policy `{policy}`{} are invalid{}: {message}",
        tenant.as_ref().map(|tenant| format!(" for tenant `{tenant}`")).unwrap_or_default(),
        if field.is_empty() { String::new() } else { format!(" at `{field}`") }
    )]
    InvalidSettings {
        /// The policy.
        policy: String,
        /// The tenant the settings are for; `None` for the defaults.
        tenant: Option<String>,
        /// Where in the settings, as a JSON pointer; empty for the whole.
        field: String,
        /// What the policy says is wrong.
        message: String,
    },
    /// The policy's `configure` failed instead of answering.
    #[error("policy `{policy}` failed while checking its settings (`configure`): {cause}")]
    ConfigureFailed {
        /// The policy.
        policy: String,
        /// What happened: a trap, a timeout, running out of memory.
        cause: PolicyFailure,
    },
    /// The settings name a policy that the set does not load.
    #[error(
        "there are settings for policy `{policy}`{}, but no policy of that name is loaded; the loaded policies are: {loaded}",
        tenant.as_ref().map(|tenant| format!(" (tenant `{tenant}`)")).unwrap_or_default()
    )]
    SettingsForUnknownPolicy {
        /// The name the settings give.
        policy: String,
        /// The tenant whose settings name it; `None` for the defaults.
        tenant: Option<String>,
        /// The names of the loaded policies, comma-separated.
        loaded: String,
    },
    /// Two policies have the same name.
    #[error(
        "policies `{first}` and `{second}` are both named `{name}`; policy names must be unique in a policy set"
    )]
    DuplicatePolicy {
        /// The name they share.
        name: String,
        /// The first policy's source.
        first: String,
        /// The second policy's source.
        second: String,
    },
    /// The patterns of the set as a whole could not be compiled.
    #[error("the policies' patterns could not be combined: {source}")]
    Prefilter {
        /// Why the prefilter could not be built.
        #[source]
        source: PrefilterError,
    },
}

/// A JSON value is not a valid MCP event.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// A tool definition is not a JSON object.
    #[error("a tool definition must be a JSON object")]
    NotAnObject,
    /// A tool definition has no `name`.
    #[error("a tool definition must have a string `name`")]
    MissingName,
    /// A field has the wrong JSON type.
    #[error("the tool definition's `{field}` must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
    /// An event record lacks the member its kind needs (`tool`, `call`,
    /// `result`).
    #[error("the event needs `{0}`")]
    MissingMember(&'static str),
    /// An event record's `kind` is none of the three.
    #[error("unknown kind {0:?}: expected tool_description, tool_call or tool_result")]
    UnknownKind(String),
}
