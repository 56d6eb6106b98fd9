//! The Portcullis decision server (`portcullis serve`): one engine, its
//! policies hot-reloaded, and the state of every session, for the
//! enforcement points that cannot keep state themselves. An agent hook is a
//! process per tool call; through the server, what one call taught the
//! policies (a session that read untrusted text, a tool's pinned
//! definition) holds for the next.
//!
//! The API is JSON over HTTP/1.1, on a Unix socket (the default, guarded
//! by the file system: the socket is the user's alone) or on loopback TCP
//! (guarded by a bearer token kept in a 0600 file):
//!
//! | Route | |
//! |---|---|
//! | `POST /v1/hooks/{runtime}` | a hook payload, as the runtime sent it; answers the [`HookAnswer`](portcullis_hooks::HookAnswer) to print |
//! | `POST /v1/decide` | `{"session", "server", "tenant"?, "events": [...]}` (or one `"event"`); answers one decision per event |
//! | `GET /v1/policies` | the policies in force and their generation |
//! | `GET /healthz` | `ok` |
//!
//! Sessions are kept per runtime (or tenant) and session id, at most
//! [`ServerOptions::max_sessions`] of them: the one idle longest makes way.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod client;
mod listen;
mod sessions;

use std::sync::{Arc, Mutex};

use portcullis::audit::{AuditEntry, AuditLog};
use portcullis::reload::PolicyHandle;
use portcullis::{Context, Decider, Decision, Event, Reason, StateQuota, Verdict};
use portcullis_hooks::{HookAnswer, HookRequest, Runtime};

pub use api::router;
pub use client::ask_hook;
pub use listen::{
    Bound, Listener, TokenFile, create_private_dir, default_socket_path, user_cache_dir,
};
use sessions::{SessionKey, Sessions};

/// How many sessions the server keeps by default.
pub const DEFAULT_MAX_SESSIONS: usize = 4096;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How the server keeps sessions.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The most sessions kept at once; the one idle longest is dropped when
    /// a new one would exceed it.
    pub max_sessions: usize,
    /// The state quota of each session.
    pub state_quota: StateQuota,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            max_sessions: DEFAULT_MAX_SESSIONS,
            state_quota: StateQuota::default(),
        }
    }
}

/// The decisions a server makes: the policies, the sessions and the audit
/// log, behind the HTTP API of [`router`].
#[derive(Debug)]
pub struct DecisionServer {
    policies: Arc<PolicyHandle>,
    sessions: Sessions,
    audit: Option<Mutex<AuditLog>>,
}

impl DecisionServer {
    /// A server deciding with the generation in force behind `policies`,
    /// recording every decision in `audit` when given.
    pub fn new(
        policies: Arc<PolicyHandle>,
        options: ServerOptions,
        audit: Option<AuditLog>,
    ) -> DecisionServer {
        DecisionServer {
            policies,
            sessions: Sessions::new(options.max_sessions, options.state_quota),
            audit: audit.map(Mutex::new),
        }
    }

    /// The policies in force.
    pub fn policies(&self) -> &PolicyHandle {
        &self.policies
    }

    /// Answers one hook invocation of `runtime`: the payload is read,
    /// decided in its session and answered as the runtime expects. A
    /// payload that cannot be read, or a decision that cannot be recorded,
    /// is answered with a refusal.
    pub fn hook(&self, runtime: Runtime, payload: &serde_json::Value) -> HookAnswer {
        let request = match HookRequest::read(runtime, payload) {
            Ok(request) => request,
            Err(error) => {
                return portcullis_hooks::failure(runtime, &error.to_string(), Verdict::Deny);
            }
        };
        let key = SessionKey::new(runtime.name(), None, &request.session);
        let session = self.sessions.get(key);
        let decisions = request.decide_each(self.policies.as_ref(), &session);
        let context = request.context();
        for (event, decision) in request.events.iter().zip(&decisions) {
            if let Err(refusal) = self.record(&context, event, decision) {
                return portcullis_hooks::failure(runtime, &refusal.message, Verdict::Deny);
            }
        }
        let decision = portcullis_hooks::combine(decisions, self.policies.generation());
        request.answer(&decision)
    }

    /// Decides `events` in the session `context` names, in order, and
    /// records each decision. A decision that cannot be recorded becomes a
    /// refusal that says so.
    pub fn decide(&self, context: &Context, events: &[Event]) -> Vec<Decision> {
        let key = SessionKey::new("api", context.tenant.as_deref(), &context.session);
        let session = self.sessions.get(key);
        events
            .iter()
            .map(|event| {
                let decision = self.policies.decide(context, event, &session);
                match self.record(context, event, &decision) {
                    Ok(()) => decision,
                    Err(refusal) => {
                        Decision::new(Verdict::Deny, refusal, self.policies.generation())
                    }
                }
            })
            .collect()
    }

    /// Appends the decision to the audit log, if there is one; when it
    /// cannot, the reason a decision is refused instead.
    fn record(&self, context: &Context, event: &Event, decision: &Decision) -> Result<(), Reason> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        let mut log = audit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.append(&AuditEntry::for_event(context, event, decision))
            .map(drop)
            .map_err(|error| {
                tracing::error!(%error, "cannot write the audit log; refusing");
                Reason::new(
                    "portcullis",
                    "audit-unavailable",
                    "the decision could not be recorded in the audit log",
                )
            })
    }
}
