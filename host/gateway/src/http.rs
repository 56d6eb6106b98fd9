//! MCP Streamable HTTP, as the gateway serves it at `/mcp/<server>`:
//!
//! - `POST` carries one JSON-RPC message. A request is answered with an
//!   SSE stream that carries what the server sends meanwhile and ends with
//!   the answer; a notification or response is accepted with 202.
//! - `initialize` opens a session, whose id comes back as `Mcp-Session-Id`;
//!   every later request carries it (400 without, 404 for an id that is
//!   not the caller's).
//! - `GET` opens the stream for messages no request waits for. Every event
//!   has an id; a `GET` with the `Last-Event-ID` of a stream the client
//!   lost gets again what that stream was sent after it, and an answer
//!   whose stream is gone goes to the next stream rather than nowhere.
//! - `DELETE` ends the session and stops its server.
//! - Under the 2026-07-28 revision, which has no sessions, the requests of
//!   one caller to one server share one session, so that what the policies
//!   learnt from a call still holds for the next.
//!
//! Every request first passes the [`OriginGuard`](crate::guard::OriginGuard)
//! (403) and authentication (401 with `WWW-Authenticate`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use portcullis_mcp::framing::{Frame, MessageKind, error_response};
use serde_json::Value;

use crate::Gateway;
use crate::auth::Identity;
use crate::config::ServerConfig;
use crate::sessions::{Input, SessionHandle};

/// The session header.
pub const SESSION_ID: &str = "mcp-session-id";

/// The protocol version header.
pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";

/// The header a client resumes a lost stream with.
const LAST_EVENT_ID: &str = "last-event-id";

/// The revisions of MCP the gateway speaks over HTTP.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-03-26", "2025-06-18", "2025-11-25", MODERN];

/// The first revision without sessions.
const MODERN: &str = "2026-07-28";

/// The `_meta` key of a 2026-07-28 request's protocol version.
const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";

/// An HTTP error with a JSON-RPC error body naming the request it refuses.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    id: Value,
    message: String,
    /// The `WWW-Authenticate` of a 401.
    challenge: Option<HeaderValue>,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            id: Value::Null,
            message: message.into(),
            challenge: None,
        }
    }

    /// The same refusal, of the request `id`.
    fn of(mut self, id: &Value) -> Refusal {
        self.id = id.clone();
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let code = if self.status == StatusCode::SERVICE_UNAVAILABLE
            || self.status == StatusCode::BAD_GATEWAY
        {
            INTERNAL_ERROR
        } else {
            portcullis_mcp::framing::INVALID_REQUEST
        };
        let body = error_response(&self.id, code, &self.message);
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(challenge) = self.challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// The JSON-RPC code of an error of the gateway's own.
const INTERNAL_ERROR: i64 = -32603;

/// The checks every MCP request passes: the guard, then who it is.
async fn admit(gateway: &Gateway, headers: &HeaderMap) -> Result<Identity, Refusal> {
    let current = gateway.current();
    if let Err(why) = current.guard.check(headers) {
        tracing::warn!(why, "request refused");
        return Err(Refusal::new(StatusCode::FORBIDDEN, why));
    }
    current.auth.authenticate(headers).await.map_err(|error| {
        tracing::info!(%error, "unauthenticated request");
        Refusal {
            challenge: Some(current.auth.challenge(&error)),
            ..Refusal::new(StatusCode::UNAUTHORIZED, error.to_string())
        }
    })
}

/// The server `name`, as configured now.
fn server(gateway: &Gateway, name: &str) -> Result<ServerConfig, Refusal> {
    gateway
        .current()
        .config
        .servers
        .iter()
        .find(|server| server.name == name)
        .cloned()
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                format!("no MCP server {name:?} behind this gateway"),
            )
        })
}

fn accepts(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.split(';').next().unwrap_or("").trim())
        .any(|item| item.eq_ignore_ascii_case(media) || item == "*/*")
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The session the request names, or the caller's 2026-07-28 session.
enum Target {
    Named(String, Arc<SessionHandle>),
    Stateless(Arc<SessionHandle>),
}

impl Target {
    fn handle(&self) -> &SessionHandle {
        match self {
            Target::Named(_, handle) | Target::Stateless(handle) => handle,
        }
    }
}

/// `POST /mcp/<server>`.
pub(crate) async fn post(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let identity = admit(&gateway, &headers).await?;
    let server = server(&gateway, &name)?;
    if !(accepts(&headers, "application/json") && accepts(&headers, "text/event-stream")) {
        return Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            "the client must accept both application/json and text/event-stream",
        ));
    }
    let version = header_text(&headers, PROTOCOL_VERSION);
    if let Some(version) = version
        && !SUPPORTED_VERSIONS.contains(&version)
    {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unsupported MCP-Protocol-Version {version:?}; this gateway speaks {SUPPORTED_VERSIONS:?}"
            ),
        ));
    }
    let message = match Frame::from_body(&body) {
        Frame::Message(message) => message,
        Frame::Invalid(invalid) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                invalid.to_response(),
            )
                .into_response());
        }
    };
    let id = match &message.kind {
        MessageKind::Request { id, .. } => Some(id.clone()),
        _ => None,
    };
    let id_value = id.as_ref().map_or(Value::Null, |id| id.to_value());
    let initialize =
        matches!(&message.kind, MessageKind::Request { method, .. } if method == "initialize");
    let modern = version == Some(MODERN)
        || message.params()["_meta"][PROTOCOL_VERSION_META].as_str() == Some(MODERN);
    let target = match header_text(&headers, SESSION_ID) {
        Some(_) if initialize => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "initialize opens a session: send it without Mcp-Session-Id",
            )
            .of(&id_value));
        }
        Some(session) => {
            let handle = gateway.sessions.get(session, &identity).ok_or_else(|| {
                Refusal::new(
                    StatusCode::NOT_FOUND,
                    "no such session: initialize a new one",
                )
                .of(&id_value)
            })?;
            Target::Named(session.to_owned(), handle)
        }
        None if initialize => {
            let (session, handle) = gateway.open(&identity, &server)?;
            Target::Named(session, handle)
        }
        None if modern => Target::Stateless(gateway.shared(&identity, &server)?),
        None => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "Mcp-Session-Id is required: initialize a session first",
            )
            .of(&id_value));
        }
    };
    let ended = || Refusal::new(StatusCode::NOT_FOUND, "the session has ended").of(&id_value);
    let frame = Frame::Message(message);
    let Some(id) = id else {
        if !target
            .handle()
            .send(Input::Client { frame, reply: None })
            .await
        {
            return Err(ended());
        }
        return Ok(StatusCode::ACCEPTED.into_response());
    };
    let (reply, replies) = SessionHandle::stream();
    let input = Input::Client {
        frame,
        reply: Some((id, reply)),
    };
    if !target.handle().send(input).await {
        return Err(ended());
    }
    let mut response = event_stream(replies);
    if let Target::Named(session, _) = &target
        && let Ok(value) = HeaderValue::from_str(session)
    {
        response.headers_mut().insert(SESSION_ID, value);
    }
    Ok(response)
}

/// `GET /mcp/<server>`: the stream of the session's other messages.
pub(crate) async fn get(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let identity = admit(&gateway, &headers).await?;
    server(&gateway, &name)?;
    if !accepts(&headers, "text/event-stream") {
        return Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            "the GET stream is text/event-stream",
        ));
    }
    let session = header_text(&headers, SESSION_ID).ok_or_else(|| {
        Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "a GET stream belongs to a session: send Mcp-Session-Id",
        )
    })?;
    let handle = gateway
        .sessions
        .get(session, &identity)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "no such session"))?;
    let (listener, messages) = SessionHandle::stream();
    let last_event = header_text(&headers, LAST_EVENT_ID).map(str::to_owned);
    if !handle.send(Input::Listen(listener, last_event)).await {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "the session has ended"));
    }
    Ok(event_stream(messages))
}

/// `DELETE /mcp/<server>`: ends the session.
pub(crate) async fn delete(
    State(gateway): State<Arc<Gateway>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Refusal> {
    let identity = admit(&gateway, &headers).await?;
    server(&gateway, &name)?;
    let session = header_text(&headers, SESSION_ID)
        .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "Mcp-Session-Id is required"))?;
    let handle = gateway
        .sessions
        .remove(session, &identity)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "no such session"))?;
    handle.send(Input::Close).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /.well-known/oauth-protected-resource[/…]` (RFC 9728).
pub(crate) async fn resource_metadata(State(gateway): State<Arc<Gateway>>) -> Response {
    Json(gateway.current().auth.metadata().clone()).into_response()
}

/// An SSE response of the messages `messages` carries, each one event
/// with its id.
fn event_stream(messages: tokio::sync::mpsc::Receiver<crate::sessions::Event>) -> Response {
    let events = stream::unfold(messages, |mut messages| async move {
        let (id, message) = messages.recv().await?;
        let event = Event::default()
            .event("message")
            .id(id)
            .data(String::from_utf8_lossy(&message));
        Some((Ok::<_, Infallible>(event), messages))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
