//! The state of one proxied MCP connection and what the proxy does with each
//! message, free of I/O: a message in, the messages to send out.
//!
//! Enforcement, by message:
//! - `initialize` (client): remembers whether the client can answer
//!   `elicitation/create`, and the client's name for the policies' context.
//! - `tools/list` result (server): each tool is checked; denied tools are
//!   removed from the list; escalated tools stay listed and every call to
//!   them is escalated. The digest of each approved tool is pinned at its
//!   first listing: a later listing with another digest is a rug pull and is
//!   denied whatever the policies say.
//! - `tools/call` (client): deny answers with a tool error carrying the
//!   reasons; escalate asks the human through `elicitation/create` when the
//!   client can be asked, else answers with a tool error carrying an
//!   approval id.
//! - a `tools/call` result (server): deny replaces it with a tool error;
//!   escalate holds it and asks the human like a call (or withholds it with an
//!   approval id).
//! - `notifications/tools/list_changed` (server): the proxy lists the tools
//!   itself (rug-pull check), then passes the notification on.
//! - a `tools/call` before any listing was checked waits while the proxy
//!   lists the tools itself; a call to a tool the server did not list is
//!   denied.
//! - every other answer, server request and server notification is checked
//!   as a tool result is ([`channels`]).
//! - a call or result held for a human is dropped when the client cancels
//!   the request, and refused when no human answers in time.
//!
//! What passes unchanged passes byte for byte.

mod approval;
mod catalogue;
mod channels;
mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::framing::{
    Frame, INVALID_PARAMS, INVALID_REQUEST, InvalidFrame, Message, MessageKind, RequestId,
    error_response,
};
pub use approval::DEFAULT_APPROVAL_TIMEOUT;
use approval::{Held, HeldKind};
use catalogue::CatalogueEntry;
pub use channels::INSTRUCTIONS;
use wire::{CLIENT_CAPABILITIES_META, FIRST_MODERN_REVISION, PROTOCOL_VERSION_META, to_line};
pub use wire::{POLICY_REFUSAL, explain};

use portcullis::Decider;
use portcullis::audit::{AuditEntry, AuditLog};
use portcullis::{
    Client, Context, Decision, Event, Principal, Reason, SessionState, ToolCall, ToolResult,
    Verdict,
};

/// The requests whose contents the proxy inspects.
const INSPECTED_REQUESTS: [&str; 3] = ["tools/call", "tools/list", "initialize"];

/// The inspected request that `method` imitates without being it: the same
/// name once case, compatibility forms, invisible characters, white space
/// and slash look-alikes are folded away (`Tools/Call`, `tools/call `,
/// `tools\u{2215}call`). Strict servers reject such names, but a lenient one
/// may run them, and then a call would run that no policy saw.
fn disguised(method: &str) -> Option<&'static str> {
    let folded: String = portcullis_text::normalize::normalize(method)
        .text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{2215}' | '\u{2044}' | '\u{29F8}' | '\u{FF0F}' | '\\' => '/',
            c => c,
        })
        .collect();
    INSPECTED_REQUESTS
        .into_iter()
        .find(|inspected| *inspected == folded && *inspected != method)
}

/// The JSON-RPC error code the proxy answers pending requests with when the
/// server is gone.
pub const SERVER_EXITED: i64 = -32603;

/// The policy name of decisions the proxy makes itself (rug pulls, malformed
/// tools, withheld tools, human approvals).
pub const HOST_POLICY: &str = "portcullis";

/// A message the proxy sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A line for the client (the agent).
    Client(Vec<u8>),
    /// A line for the server.
    Server(Vec<u8>),
}

/// A client request the server has not answered yet.
#[derive(Debug)]
enum Pending {
    /// `tools/list`: its tools are checked.
    ListTools,
    /// `tools/call`: its result is checked.
    CallTool(ToolCall),
    /// `initialize`: the server's instructions are checked.
    Initialize,
    /// Anything else: its answer is checked as the result of a call named
    /// after the method, with the request's params as arguments.
    Request(ToolCall),
}

/// A request the proxy itself sent.
#[derive(Debug)]
enum ProxyRequest {
    /// `tools/list` to the server, on the proxy's own account: after
    /// `notifications/tools/list_changed` (the notification goes on to the
    /// client once the list is checked), or before a call that came before
    /// any listing.
    Refresh { notification: Option<Vec<u8>> },
    /// `elicitation/create` to the client.
    Approval {
        approval_id: String,
        held: Box<Held>,
    },
}

/// Who the session is, and how long it waits for a human.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionOptions {
    /// The session id, unique per connection.
    pub session_id: String,
    /// The server's name, as the operator named it.
    pub server_name: String,
    /// The tenant the session belongs to, in a multi-tenant host.
    pub tenant: Option<String>,
    /// Who authenticated the session, when the transport knows.
    pub principal: Option<Principal>,
    /// How long a call or result waits for a human's approval before it is
    /// refused ([`DEFAULT_APPROVAL_TIMEOUT`]).
    pub approval_timeout: Duration,
    /// How long the server may take to answer a request before the proxy
    /// answers it with an error and cancels it; `None` (the default) waits
    /// as long as the client does.
    pub request_timeout: Option<Duration>,
    /// The most tools one listing may hold ([`DEFAULT_MAX_LISTED_TOOLS`]).
    /// A longer one is refused rather than decided tool by tool, which
    /// would hold every other message back for as long.
    pub max_listed_tools: usize,
}

/// The default [`SessionOptions::max_listed_tools`]: ten times the largest
/// real servers (about a hundred tools), and checked in well under a second.
pub const DEFAULT_MAX_LISTED_TOOLS: usize = 1000;

impl SessionOptions {
    /// Options for a new session with a fresh id of 128 bits from the
    /// operating system's random source, and the default approval timeout.
    pub fn new(server_name: impl Into<String>) -> SessionOptions {
        SessionOptions {
            session_id: approval::random_id(),
            server_name: server_name.into(),
            tenant: None,
            principal: None,
            approval_timeout: DEFAULT_APPROVAL_TIMEOUT,
            request_timeout: None,
            max_listed_tools: DEFAULT_MAX_LISTED_TOOLS,
        }
    }

    /// The same options, answering for a server that has not answered a
    /// request within `timeout`.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Option<Duration>) -> SessionOptions {
        self.request_timeout = timeout;
        self
    }

    /// The same options, refusing listings of more than `max` tools.
    #[must_use]
    pub fn with_max_listed_tools(mut self, max: usize) -> SessionOptions {
        self.max_listed_tools = max;
        self
    }

    /// The same options, with the session id `session_id`.
    #[must_use]
    pub fn with_session_id(mut self, session_id: impl Into<String>) -> SessionOptions {
        self.session_id = session_id.into();
        self
    }

    /// The same options, for a session of `tenant` opened by `principal`:
    /// policies see both in every event's context.
    #[must_use]
    pub fn with_owner(mut self, tenant: impl Into<String>, principal: Principal) -> SessionOptions {
        self.tenant = Some(tenant.into());
        self.principal = Some(principal);
        self
    }

    /// The same options, waiting `timeout` for a human's approval.
    #[must_use]
    pub fn with_approval_timeout(mut self, timeout: Duration) -> SessionOptions {
        self.approval_timeout = timeout;
        self
    }
}

/// One MCP connection between a client and a server.
pub struct Session {
    context: Context,
    decider: Arc<dyn Decider>,
    state: SessionState,
    audit: Option<Arc<Mutex<AuditLog>>>,
    client_elicitation: bool,
    pending: HashMap<RequestId, Pending>,
    server_requests: HashSet<RequestId>,
    proxy_requests: HashMap<RequestId, ProxyRequest>,
    next_id: u64,
    /// Random, and not the session id: the proxy's request ids are seen by
    /// both peers, and the session id is nobody's business but the host's.
    proxy_id_prefix: String,
    approval_timeout: Duration,
    request_timeout: Option<Duration>,
    /// When each pending request stops waiting, with a request timeout.
    /// Entries of answered requests are dropped at the next tick.
    deadlines: HashMap<RequestId, Instant>,
    max_listed_tools: usize,
    /// Whether a listing of the server's tools has been checked.
    listed: bool,
    /// Calls that came before any listing, waiting for the proxy's own.
    early_calls: Vec<(RequestId, Message)>,
    /// Under the 2026-07-28 protocol, the version and client capabilities
    /// the client's requests carry in `_meta`: the proxy's own requests
    /// carry them too, and its own results say their `resultType`.
    modern_meta: Option<serde_json::Map<String, Value>>,
    /// Calls and results held for a human under the 2026-07-28 protocol,
    /// by the `requestState` the client echoes when it retries.
    input_required: HashMap<String, (String, Held)>,
    catalogue: HashMap<String, CatalogueEntry>,
    pins: HashMap<String, String>,
    withheld: HashMap<String, String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("context", &self.context)
            .field("client_elicitation", &self.client_elicitation)
            .field("pending", &self.pending.len())
            .field("catalogue", &self.catalogue.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session that asks `decider` about every event and records each
    /// decision in `audit`, which sessions may share (a gateway's do).
    pub fn new(
        options: SessionOptions,
        decider: Arc<dyn Decider>,
        state: SessionState,
        audit: Option<Arc<Mutex<AuditLog>>>,
    ) -> Session {
        Session {
            context: {
                let mut context = Context::new(options.session_id, options.server_name);
                if let Some(tenant) = options.tenant {
                    context = context.with_tenant(tenant);
                }
                if let Some(principal) = options.principal {
                    context = context.with_principal(principal);
                }
                context
            },
            decider,
            state,
            audit,
            client_elicitation: false,
            pending: HashMap::new(),
            server_requests: HashSet::new(),
            proxy_requests: HashMap::new(),
            next_id: 0,
            proxy_id_prefix: approval::random_id()[..12].to_owned(),
            approval_timeout: options.approval_timeout,
            request_timeout: options.request_timeout,
            deadlines: HashMap::new(),
            max_listed_tools: options.max_listed_tools,
            listed: false,
            early_calls: Vec::new(),
            modern_meta: None,
            input_required: HashMap::new(),
            catalogue: HashMap::new(),
            pins: HashMap::new(),
            withheld: HashMap::new(),
        }
    }

    /// Handles one line from the client.
    pub fn on_client_frame(&mut self, frame: Frame) -> Vec<Outbound> {
        let message = match frame {
            Frame::Message(message) => message,
            Frame::Invalid(error) => {
                tracing::warn!(%error, "invalid message from the client");
                return vec![Outbound::Client(error.to_response())];
            }
        };
        match message.kind.clone() {
            MessageKind::Request { id, .. } if self.proxy_requests.contains_key(&id) => {
                vec![Outbound::Client(error_response(
                    &id.to_value(),
                    INVALID_REQUEST,
                    "Portcullis: this request id is reserved by the proxy",
                ))]
            }
            MessageKind::Request { id, method } if disguised(&method).is_some() => {
                tracing::warn!(%id, method, "a look-alike of an inspected method was refused");
                vec![Outbound::Client(error_response(
                    &id.to_value(),
                    INVALID_REQUEST,
                    &format!(
                        "Portcullis: {method:?} is not {:?}; method names are exact, and a look-alike of a method the proxy inspects is refused",
                        disguised(&method).unwrap_or_default()
                    ),
                ))]
            }
            MessageKind::Notification { method }
                if INSPECTED_REQUESTS.contains(&method.as_str())
                    || disguised(&method).is_some() =>
            {
                // A request sent without an id cannot be answered, and a
                // lenient server might still run it: it goes nowhere.
                tracing::warn!(method, "a request sent as a notification was dropped");
                Vec::new()
            }
            MessageKind::Request { id, method } => match method.as_str() {
                "tools/call" => {
                    self.note_protocol(&message);
                    self.on_call(id, message)
                }
                "tools/list" => {
                    self.await_answer(id, Pending::ListTools);
                    vec![Outbound::Server(message.raw)]
                }
                "initialize" => {
                    let params = message.params();
                    self.client_elicitation = params
                        .pointer("/capabilities/elicitation")
                        .is_some_and(|capability| !capability.is_null());
                    if let Some(name) = params.pointer("/clientInfo/name").and_then(Value::as_str) {
                        let version = params
                            .pointer("/clientInfo/version")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        self.context.client = Some(Client::new(name, version));
                    }
                    self.await_answer(id, Pending::Initialize);
                    vec![Outbound::Server(message.raw)]
                }
                _ => {
                    self.note_protocol(&message);
                    let request = ToolCall {
                        name: method,
                        arguments: message.params().clone(),
                        tool: None,
                    };
                    self.await_answer(id, Pending::Request(request));
                    vec![Outbound::Server(message.raw)]
                }
            },
            MessageKind::Notification { method } if method == "notifications/cancelled" => {
                self.on_cancelled(message)
            }
            MessageKind::Notification { .. } => vec![Outbound::Server(message.raw)],
            MessageKind::Response { id } => match self.proxy_requests.remove(&id) {
                Some(ProxyRequest::Approval { approval_id, held }) => {
                    self.on_approval(&approval_id, *held, &message)
                }
                Some(refresh @ ProxyRequest::Refresh { .. }) => {
                    tracing::warn!(%id, "the client answered a request the proxy sent to the server");
                    self.proxy_requests.insert(id, refresh);
                    Vec::new()
                }
                None if self.server_requests.remove(&id) => vec![Outbound::Server(message.raw)],
                None => {
                    // A late answer to a withdrawn question, or to nothing.
                    tracing::warn!(%id, "a client response to no pending request was dropped");
                    Vec::new()
                }
            },
        }
    }

    /// Handles one line from the server.
    pub fn on_server_frame(&mut self, frame: Frame) -> Vec<Outbound> {
        let message = match frame {
            Frame::Message(message) => message,
            Frame::Invalid(invalid) => return self.on_invalid_server_frame(&invalid),
        };
        match message.kind.clone() {
            MessageKind::Request { id, .. } if self.proxy_requests.contains_key(&id) => {
                vec![Outbound::Server(error_response(
                    &id.to_value(),
                    INVALID_REQUEST,
                    "Portcullis: this request id is reserved by the proxy",
                ))]
            }
            MessageKind::Request { id, method } => self.on_server_request(id, &method, message),
            MessageKind::Notification { method }
                if method == "notifications/tools/list_changed" =>
            {
                self.refresh_tools(Some(message.raw), None)
            }
            MessageKind::Notification { method } => self.on_server_notification(&method, message),
            MessageKind::Response { id } => {
                if let Some(ProxyRequest::Refresh { notification }) = self.proxy_requests.get(&id) {
                    let notification = notification.clone();
                    self.proxy_requests.remove(&id);
                    return self.on_refresh(notification, &message);
                }
                match self.pending.remove(&id) {
                    Some(Pending::ListTools) => self.on_list(&id, message),
                    Some(Pending::CallTool(call)) => self.on_call_result(id, message, call),
                    Some(Pending::Initialize) => self.on_initialized(message),
                    Some(Pending::Request(request)) => self.on_answer(id, message, request),
                    None => self.on_unmatched_response(&id),
                }
            }
        }
    }

    /// A server line that is not a message: never relayed. Each pending
    /// request it seems to answer gets an error instead, so that the client
    /// does not wait for an answer that was dropped.
    fn on_invalid_server_frame(&mut self, invalid: &InvalidFrame) -> Vec<Outbound> {
        tracing::warn!(error = %invalid, "invalid message from the server dropped");
        invalid
            .ids
            .iter()
            .filter_map(|id| self.take_pending(id))
            .map(|pending| {
                Outbound::Client(error_response(
                    &pending.to_value(),
                    INVALID_REQUEST,
                    &format!(
                        "Portcullis: the server's answer could not be read ({invalid}); it was refused unchecked"
                    ),
                ))
            })
            .collect()
    }

    /// Removes the pending request `id` names, exactly or as another
    /// spelling, and returns its id.
    fn take_pending(&mut self, id: &RequestId) -> Option<RequestId> {
        let key = if self.pending.contains_key(id) {
            id.clone()
        } else {
            self.pending
                .keys()
                .find(|pending| id.aliases(pending))?
                .clone()
        };
        self.pending.remove(&key);
        Some(key)
    }

    /// A server response whose id is no pending request's. It is never
    /// relayed: checks are keyed on the exact id, so a response under
    /// another spelling of a pending id (`2.0` for `2`) would reach a client
    /// that reads it as that request's answer, unchecked. That request is
    /// answered with an error instead; a response that aliases nothing is
    /// dropped.
    fn on_unmatched_response(&mut self, id: &RequestId) -> Vec<Outbound> {
        let alias = self
            .pending
            .keys()
            .find(|pending| id.aliases(pending))
            .cloned();
        match alias {
            Some(pending) => {
                self.pending.remove(&pending);
                tracing::warn!(%id, request = %pending, "the server answered a request under another spelling of its id; refused");
                vec![Outbound::Client(error_response(
                    &pending.to_value(),
                    INVALID_REQUEST,
                    &format!(
                        "Portcullis: the server answered this request under the id {id} instead of {pending}; the answer was refused unchecked"
                    ),
                ))]
            }
            None => {
                tracing::warn!(%id, "a server response to no pending request was dropped");
                Vec::new()
            }
        }
    }

    /// The server is gone: every request it will never answer gets an error,
    /// and the client is told why.
    pub fn on_server_exit(&mut self, status: &str) -> Vec<Outbound> {
        let text = format!("Portcullis: the MCP server exited ({status}) before answering");
        let mut out: Vec<Outbound> = self
            .pending
            .drain()
            .map(|(id, _)| id)
            .chain(
                self.proxy_requests
                    .drain()
                    .filter_map(|(_, request)| match request {
                        ProxyRequest::Approval { held, .. } => Some(held.id),
                        ProxyRequest::Refresh { .. } => None,
                    }),
            )
            .chain(self.early_calls.drain(..).map(|(id, _)| id))
            .map(|id| Outbound::Client(error_response(&id.to_value(), SERVER_EXITED, &text)))
            .collect();
        out.push(Outbound::Client(to_line(&json!({
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {
                "level": "error",
                "logger": "portcullis",
                "data": format!("Portcullis: the MCP server exited ({status})"),
            },
        }))));
        out
    }

    fn on_call(&mut self, id: RequestId, message: Message) -> Vec<Outbound> {
        let params = message.params();
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return vec![Outbound::Client(error_response(
                &id.to_value(),
                INVALID_PARAMS,
                "Portcullis: tools/call needs `params.name`, a string",
            ))];
        };
        let arguments = params
            .get("arguments")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if !arguments.is_object() {
            return vec![Outbound::Client(error_response(
                &id.to_value(),
                INVALID_PARAMS,
                "Portcullis: `params.arguments` of tools/call must be an object",
            ))];
        }
        if let Some(state) = params.get("requestState").and_then(Value::as_str)
            && let Some(retry) = self.on_input_response(&id, state, &message)
        {
            return retry;
        }
        if !self.listed {
            // Without a listing there is no definition to check, no
            // escalation to apply and no withheld tool to refuse: the call
            // waits while the proxy lists the tools itself.
            self.early_calls.push((id, message));
            let listing = self
                .proxy_requests
                .values()
                .any(|request| matches!(request, ProxyRequest::Refresh { .. }));
            return if listing {
                Vec::new()
            } else {
                self.refresh_tools(None, None)
            };
        }
        let entry = self.catalogue.get(name);
        let call = ToolCall {
            name: name.to_owned(),
            arguments,
            tool: entry.map(|entry| entry.definition.clone()),
        };
        let escalation = entry
            .map(|entry| entry.escalation.clone())
            .unwrap_or_default();
        let event = Event::Call(call);
        let mut decision = match (self.withheld.get(name), entry) {
            (Some(why), _) => self.host_decision(
                Verdict::Deny,
                "withheld-tool",
                format!("the tool was withheld from the listing: {why}"),
            ),
            (None, None) => self.host_decision(
                Verdict::Deny,
                "unlisted-tool",
                "the server did not list this tool in this session, so its definition was never checked"
                    .to_owned(),
            ),
            (None, Some(_)) => self.decider.decide(&self.context, &event, &self.state),
        };
        if !escalation.is_empty() && decision.verdict < Verdict::Escalate {
            decision.verdict = Verdict::Escalate;
            decision.reasons.extend(escalation);
        }
        let approval_id = self.approval_id_for(&decision);
        self.record(&event, &mut decision, approval_id.as_deref());
        let Event::Call(call) = event else {
            unreachable!("the event was built as a call")
        };
        match decision.verdict {
            Verdict::Allow => {
                self.await_answer(id, Pending::CallTool(call));
                vec![Outbound::Server(message.raw)]
            }
            Verdict::Deny => vec![Outbound::Client(self.tool_error(
                &id,
                &format!(
                    "Portcullis denied the call to `{}`: {}",
                    call.name,
                    explain(&decision.reasons)
                ),
            ))],
            Verdict::Escalate => {
                let held = Held::new(HeldKind::Call, id, message.raw, call, self.approval_timeout);
                self.escalate(
                    approval_id.expect("an escalation has an approval id"),
                    held,
                    &decision,
                )
            }
        }
    }

    /// Remembers the protocol version and client capabilities a 2026-07-28
    /// request carries in `_meta`.
    fn note_protocol(&mut self, message: &Message) {
        let Some(meta) = message.params().get("_meta").and_then(Value::as_object) else {
            return;
        };
        let modern = meta
            .get(PROTOCOL_VERSION_META)
            .and_then(Value::as_str)
            .is_some_and(|version| version >= FIRST_MODERN_REVISION);
        if modern {
            let kept = [PROTOCOL_VERSION_META, CLIENT_CAPABILITIES_META]
                .into_iter()
                .filter_map(|key| Some((key.to_owned(), meta.get(key)?.clone())))
                .collect();
            self.modern_meta = Some(kept);
        }
    }

    /// Whether the client speaks the 2026-07-28 protocol (or later).
    fn modern(&self) -> bool {
        self.modern_meta.is_some()
    }

    /// Whether a 2026-07-28 client declared that it answers elicitations.
    fn modern_elicitation(&self) -> bool {
        self.modern_meta
            .as_ref()
            .and_then(|meta| meta.get(CLIENT_CAPABILITIES_META))
            .and_then(|capabilities| capabilities.get("elicitation"))
            .is_some_and(|elicitation| !elicitation.is_null())
    }

    /// A tool error in the client's protocol revision.
    fn tool_error(&self, id: &RequestId, text: &str) -> Vec<u8> {
        wire::tool_error(id, text, self.modern())
    }

    /// A listing was checked: the calls that came before it are decided now.
    fn release_early_calls(&mut self) -> Vec<Outbound> {
        self.listed = true;
        std::mem::take(&mut self.early_calls)
            .into_iter()
            .flat_map(|(id, message)| self.on_call(id, message))
            .collect()
    }

    /// The client cancelled a request: what is held or waiting for it is
    /// dropped and never sent; otherwise the server is told.
    fn on_cancelled(&mut self, message: Message) -> Vec<Outbound> {
        let Some(id) = message
            .params()
            .get("requestId")
            .and_then(RequestId::from_value)
        else {
            return vec![Outbound::Server(message.raw)];
        };
        if let Some(out) = self.cancel_held(&id) {
            return out;
        }
        let waiting = self.early_calls.len();
        self.early_calls.retain(|(early, _)| *early != id);
        if self.early_calls.len() < waiting {
            return Vec::new();
        }
        vec![Outbound::Server(message.raw)]
    }

    /// Time passed: what waited for a human past its deadline is refused,
    /// and so is a request the server left unanswered past the request
    /// timeout (the server is told to cancel it). The transport calls this
    /// about once a second.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Outbound> {
        let mut out = self.expire_held(now);
        let pending = &self.pending;
        self.deadlines.retain(|id, _| pending.contains_key(id));
        let late: Vec<RequestId> = self
            .deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            self.deadlines.remove(&id);
            self.pending.remove(&id);
            tracing::warn!(%id, "the server did not answer in time; the request was answered with an error");
            out.push(Outbound::Client(error_response(
                &id.to_value(),
                SERVER_EXITED,
                "Portcullis: the MCP server did not answer within the request timeout",
            )));
            out.push(Outbound::Server(to_line(&json!({
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": { "requestId": id.to_value(), "reason": "the request timed out" },
            }))));
        }
        out
    }

    /// Waits for the server's answer to request `id`.
    fn await_answer(&mut self, id: RequestId, pending: Pending) {
        if let Some(timeout) = self.request_timeout {
            self.deadlines.insert(id.clone(), Instant::now() + timeout);
        }
        self.pending.insert(id, pending);
    }

    fn on_call_result(&mut self, id: RequestId, message: Message, call: ToolCall) -> Vec<Outbound> {
        self.on_checked_answer(HeldKind::ToolResult, id, message, call)
    }

    /// Decides the server's answer to `call` (a tool call, or another
    /// request named by its method) and sends it on, refuses it in the shape
    /// `kind` answers with, or holds it for a human.
    fn on_checked_answer(
        &mut self,
        kind: HeldKind,
        id: RequestId,
        message: Message,
        call: ToolCall,
    ) -> Vec<Outbound> {
        let response = channels::answer_of(&message.value);
        let (decision, call, approval_id) = self.decide_result(call, response);
        match decision.verdict {
            Verdict::Allow => vec![Outbound::Client(message.raw)],
            Verdict::Deny => {
                let what = match kind {
                    HeldKind::Answer => "answer to",
                    HeldKind::Call | HeldKind::ToolResult => "result of",
                };
                let text = format!(
                    "Portcullis withheld the {what} `{}`: {}",
                    call.name,
                    explain(&decision.reasons)
                );
                vec![Outbound::Client(kind.refusal(&id, &text, self.modern()))]
            }
            Verdict::Escalate => {
                let held = Held::new(kind, id, message.raw, call, self.approval_timeout);
                self.escalate(
                    approval_id.expect("an escalation has an approval id"),
                    held,
                    &decision,
                )
            }
        }
    }

    /// Decides `response` as the result of `call` and records the decision;
    /// returns it, the call, and the approval id of an escalation.
    fn decide_result(
        &mut self,
        call: ToolCall,
        response: Value,
    ) -> (Decision, ToolCall, Option<String>) {
        let event = Event::Result(ToolResult { call, response });
        let mut decision = self.decider.decide(&self.context, &event, &self.state);
        let approval_id = self.approval_id_for(&decision);
        self.record(&event, &mut decision, approval_id.as_deref());
        let Event::Result(ToolResult { call, .. }) = event else {
            unreachable!("the event was built as a result")
        };
        (decision, call, approval_id)
    }

    /// Records `decision` in the audit log. What cannot be recorded is
    /// refused: when the write fails (a full disk, say), `decision` becomes
    /// a deny that says why.
    fn record(&mut self, event: &Event, decision: &mut Decision, approval_id: Option<&str>) {
        tracing::debug!(verdict = ?decision.verdict, "decision");
        let mut entry = AuditEntry::for_event(&self.context, event, decision);
        entry.approval_id = approval_id;
        if let Err(error) = self.append_audit(&entry) {
            tracing::error!(%error, "could not write the audit log; refusing what it could not record");
            *decision = self.unrecorded(&error);
        }
    }

    /// Appends `entry` to the audit log, if there is one.
    fn append_audit(&self, entry: &AuditEntry<'_>) -> Result<(), portcullis::audit::AuditError> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        audit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .append(entry)
            .map(drop)
    }

    /// The decision that replaces one the audit log could not record.
    fn unrecorded(&self, error: &portcullis::audit::AuditError) -> Decision {
        self.host_decision(
            Verdict::Deny,
            "audit-unavailable",
            format!("the decision could not be recorded in the audit log ({error}), and what cannot be recorded is refused"),
        )
    }

    fn host_decision(&self, verdict: Verdict, rule: &str, message: String) -> Decision {
        Decision::new(
            verdict,
            Reason::new(HOST_POLICY, rule, message),
            self.decider.generation(),
        )
    }

    /// An id for a request the proxy sends, distinct from every id the
    /// client or the server has outstanding (and a peer that later reuses it
    /// is refused), so that answers can never be mixed up.
    fn next_proxy_id(&mut self) -> RequestId {
        loop {
            self.next_id += 1;
            let id = RequestId::from_text(&format!(
                "portcullis-{}-{}",
                self.proxy_id_prefix, self.next_id
            ));
            if !self.pending.contains_key(&id) && !self.server_requests.contains(&id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests;
