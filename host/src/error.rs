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
        "policy `{policy}` imports `{import}`, which the sandbox does not provide; a policy may import only `portcullis:policy/host@0.1.0` (build it for a target without WASI, such as wasm32-unknown-unknown)"
    )]
    ForbiddenImport {
        /// The policy.
        policy: String,
        /// The import it asked for.
        import: String,
    },
    /// The component does not implement the `portcullis:policy/policy` world.
    #[error(
        "policy `{policy}` does not implement the world `portcullis:policy/policy@0.1.0`: {message}; rebuild it against this version of the WIT"
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
}
