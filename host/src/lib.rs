//! Portcullis: a WebAssembly policy engine for MCP.
//!
//! An MCP host asks Portcullis, for every tool a server advertises, every
//! tool call an agent makes and every result a tool returns, whether to
//! **allow** it, **deny** it or **escalate** it to a human. The rules are
//! policies: WebAssembly components, sandboxed, that see one event at a time
//! together with what a shared prefilter found in its text.
//!
//! The API is small:
//!
//! - an [`Engine`] compiles and runs policies (one per process);
//! - it loads a [`PolicySet`]: the embedded default policies, a directory of
//!   `*.wasm` components, or components you already have in memory;
//! - [`PolicySet::evaluate`] turns an [`Event`] into a [`Decision`]: a
//!   [`Verdict`] and the [`Reason`]s behind it, policy by policy;
//! - a [`SessionState`] per session holds what policies remember between
//!   events of that session, and the labels they give it;
//! - [`Settings`] configure policies, per tenant where needed
//!   ([`Engine::with_settings`]); each policy checks its own when loaded.
//!
//! ```
//! use portcullis::{Context, Engine, EngineConfig, Event, SessionState, ToolCall, Verdict};
//! use serde_json::json;
//!
//! let engine = Engine::new(EngineConfig::new())?;
//! let policies = engine.load_default_policies()?;
//!
//! let session = SessionState::new(engine.config().get_state_quota());
//! let ctx = Context::new("s-1", "shell");
//! let call = Event::Call(ToolCall {
//!     name: "run".into(),
//!     arguments: json!({ "command": "ls; rm -rf /" }),
//!     tool: None,
//! });
//!
//! let decision = policies.evaluate(&ctx, &call, &session);
//! assert_eq!(decision.verdict, Verdict::Deny);
//! for reason in &decision.reasons {
//!     println!("{} / {}: {}", reason.policy, reason.rule, reason.message);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Policies fail closed: one that traps, loops past its timeout, runs out of
//! memory or answers nonsense gets the configured
//! [`fail_verdict`](EngineConfig::fail_verdict) (deny by default) and a
//! reason whose rule is [`POLICY_FAILURE_RULE`], and the engine goes on
//! serving. A policy imports nothing but the Portcullis host interface: a
//! component that asks for anything else (files, network, environment,
//! clocks) is refused when it is loaded.
//!
//! Two opt-ins trade a little of that for speed, for policies that are slow
//! to compile or to start (Python, JavaScript):
//! [`cache_dir`](EngineConfig::cache_dir) keeps compiled policies on disk
//! so that they are compiled once, and
//! [`instance_reuse`](EngineConfig::instance_reuse) keeps policy instances
//! warm between evaluations (read [`InstanceReuse`] before turning it on).

#![warn(missing_docs)]

pub mod audit;
mod bindings;
mod cache;
mod compiled;
mod config;
mod decider;
mod decision;
mod engine;
mod error;
mod event;
mod instance;
mod policy_set;
pub mod reload;
mod runtime;
mod sandbox;
mod settings;
mod slots;
mod state;
mod ticker;
mod trust;

/// README.md's Rust examples, compiled and run as doc tests so that they stay
/// true.
#[cfg(all(doctest, feature = "default-policies"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

pub use compiled::PolicyInfo;
pub use config::EngineConfig;
pub use decider::Decider;
pub use decision::{
    Decision, FINDINGS_OVERFLOW_RULE, Finding, POLICY_FAILURE_RULE, PolicyFailure, PolicyReport,
    Reason, SESSION_MISMATCH_RULE, Verdict,
};
pub use engine::Engine;
pub use error::{EngineError, EventError, LoadError};
pub use event::{
    Client, Context, Event, EventKind, Principal, ToolCall, ToolDefinition, ToolResult,
};
pub use instance::InstanceReuse;
pub use policy_set::PolicySet;
pub use settings::Settings;
pub use state::{SessionState, StateQuota};

/// The embedded default policies, as (name, component bytes): what
/// [`Engine::load_default_policies`] loads. Useful to load a subset with
/// [`Engine::load_components`].
#[cfg(feature = "default-policies")]
pub fn default_policies() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    portcullis_bundle::DEFAULT_POLICIES.iter().copied()
}
