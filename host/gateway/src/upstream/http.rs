//! A remote MCP server speaking Streamable HTTP: the gateway is its client.
//! Messages are POSTed in the order the session sends them (one at a time
//! until the server has answered with its headers), and each answer, JSON
//! or an SSE stream, is read on a task of its own, so a slow answer holds up
//! no other. The server's session id and protocol version are echoed as the
//! transport requires; the gateway's own credentials for the server (its
//! configured headers) go with every request, never the client's.
//!
//! What the server sends is framed exactly as a stdio server's lines: each
//! JSON body or SSE event becomes one [`Frame`], bounded in size, and what
//! cannot be read becomes an invalid frame the session answers for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_mcp::framing::{Frame, Message, MessageKind, error_response};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::FromServer;
use crate::config::ServerConfig;
use crate::http::{PROTOCOL_VERSION, SESSION_ID};

/// How many messages may wait to be POSTed.
const SEND_QUEUE: usize = 16;

/// How long the server may take to answer with its headers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The JSON-RPC code of an answer the gateway makes for a server that
/// failed to give one.
const UPSTREAM_FAILED: i64 = -32603;

/// One session's connection to a remote server.
#[derive(Debug)]
pub(crate) struct HttpUpstream {
    queue: mpsc::Sender<Vec<u8>>,
    shared: Arc<Shared>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

#[derive(Debug)]
struct Shared {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    frames: mpsc::Sender<FromServer>,
    max_frame_bytes: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    session_id: Option<String>,
    protocol_version: Option<String>,
    listening: bool,
    ended: Option<String>,
}

impl HttpUpstream {
    pub(super) fn new(
        config: &ServerConfig,
        url: &str,
        max_frame_bytes: usize,
    ) -> std::io::Result<(HttpUpstream, mpsc::Receiver<FromServer>)> {
        let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|error| invalid(format!("header {name:?}: {error}")))?;
            let mut value = HeaderValue::try_from(value.as_str())
                .map_err(|error| invalid(format!("header {name}: {error}")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| invalid(error.to_string()))?;
        let (frames, received) = mpsc::channel(SEND_QUEUE);
        let shared = Arc::new(Shared {
            client,
            url: url.to_owned(),
            headers,
            frames,
            max_frame_bytes,
            state: Mutex::new(State::default()),
        });
        let (queue, mut lines) = mpsc::channel::<Vec<u8>>(SEND_QUEUE);
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let writer = (Arc::clone(&shared), Arc::clone(&tasks));
        lock(&tasks).spawn(async move {
            let (shared, tasks) = writer;
            while let Some(line) = lines.recv().await {
                shared.post(line, &tasks).await;
            }
        });
        Ok((
            HttpUpstream {
                queue,
                shared,
                tasks,
            },
            received,
        ))
    }

    /// Queues one message; false once the server's session has ended.
    pub(super) fn send(&self, line: Vec<u8>) -> bool {
        if lock(&self.shared.state).ended.is_some() {
            return false;
        }
        match self.queue.try_send(line) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(line)) => {
                // The session waits rather than drop a message: spawn the
                // wait, in order behind the queue.
                let queue = self.queue.clone();
                lock(&self.tasks).spawn(async move {
                    let _ = queue.send(line).await;
                });
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Why the connection ended, once it has.
    pub(super) fn ending(&self) -> Option<String> {
        lock(&self.shared.state).ended.clone()
    }
}

impl Drop for HttpUpstream {
    /// Stops every request in flight and ends the server's session.
    fn drop(&mut self) {
        lock(&self.tasks).abort_all();
        let session = lock(&self.shared.state).session_id.take();
        if let (Some(session), Ok(runtime)) = (session, tokio::runtime::Handle::try_current()) {
            let request = self
                .shared
                .client
                .delete(&self.shared.url)
                .headers(self.shared.headers.clone())
                .header(SESSION_ID, session);
            runtime.spawn(async move {
                let _ = request.send().await;
            });
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// POSTs one message and, once the server has answered with its
    /// headers, reads the answer on a task of its own.
    async fn post(self: &Arc<Self>, line: Vec<u8>, tasks: &Arc<Mutex<JoinSet<()>>>) {
        // The message's id is read only where an answer must be made up
        // for it: the session parsed the message already.
        let line = bytes::Bytes::from(line);
        let request_id = || match Frame::from_body(&line) {
            Frame::Message(Message {
                kind: MessageKind::Request { id, .. },
                ..
            }) => Some(id.to_value()),
            _ => None,
        };
        let (session, version) = {
            let state = lock(&self.state);
            (state.session_id.clone(), state.protocol_version.clone())
        };
        let mut request = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(line.clone());
        if let Some(session) = &session {
            request = request.header(SESSION_ID, session);
        }
        if let Some(version) = version {
            request = request.header(PROTOCOL_VERSION, version);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(%error, url = self.url, "the remote MCP server cannot be reached");
                self.fail(
                    request_id(),
                    &format!("the MCP server cannot be reached: {error}"),
                )
                .await;
                return;
            }
        };
        let status = response.status();
        if session.is_none()
            && let Some(given) = response
                .headers()
                .get(SESSION_ID)
                .and_then(|v| v.to_str().ok())
        {
            lock(&self.state).session_id = Some(given.to_owned());
        }
        if status == reqwest::StatusCode::NOT_FOUND && session.is_some() {
            self.end("the MCP server ended the session").await;
            return;
        }
        if !status.is_success() {
            self.fail(
                request_id(),
                &format!("the MCP server answered HTTP {status}"),
            )
            .await;
            return;
        }
        let event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|kind| kind.starts_with("text/event-stream"));
        let reader = Arc::clone(self);
        let mut tasks = lock(tasks);
        if status == reqwest::StatusCode::ACCEPTED || !event_stream && request_id().is_none() {
            // A notification or response: nothing comes back.
        } else if event_stream {
            tasks.spawn(async move { reader.read_events(response).await });
        } else {
            tasks.spawn(async move { reader.read_body(response).await });
        }
        self.listen_once(&mut tasks);
    }

    /// Opens the server's GET stream once it has given a session id.
    fn listen_once(self: &Arc<Self>, tasks: &mut JoinSet<()>) {
        let session = {
            let mut state = lock(&self.state);
            if state.listening || state.session_id.is_none() {
                return;
            }
            state.listening = true;
            state.session_id.clone()
        };
        let shared = Arc::clone(self);
        tasks.spawn(async move {
            let mut request = shared
                .client
                .get(&shared.url)
                .headers(shared.headers.clone())
                .header(ACCEPT, "text/event-stream");
            if let Some(session) = session {
                request = request.header(SESSION_ID, session);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    shared.read_events(response).await
                }
                // 405: the server has no GET stream, which it may.
                Ok(_) | Err(_) => {}
            }
        });
    }

    /// A JSON answer: one message.
    async fn read_body(&self, mut response: reqwest::Response) {
        let mut body = Vec::new();
        let mut oversize = false;
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = self.max_frame_bytes.saturating_sub(body.len());
            oversize |= chunk.len() > room;
            body.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
        if oversize {
            tracing::warn!("an answer of the MCP server was cut at the size limit");
        }
        self.deliver(&body).await;
    }

    /// An SSE stream: one message per event, in order.
    async fn read_events(&self, mut response: reqwest::Response) {
        let mut pending = Vec::new();
        let mut data = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = pending.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    if !data.is_empty() {
                        self.deliver(&std::mem::take(&mut data)).await;
                    }
                } else if let Some(value) = line.strip_prefix(b"data:") {
                    let value = value.strip_prefix(b" ").unwrap_or(value);
                    if !data.is_empty() {
                        data.push(b'\n');
                    }
                    // Past the limit the event is kept cut, and delivered
                    // as the invalid frame it then is.
                    let room = self.max_frame_bytes.saturating_sub(data.len());
                    data.extend_from_slice(&value[..room.min(value.len())]);
                }
            }
            if pending.len() > self.max_frame_bytes {
                pending.clear();
            }
        }
        if !data.is_empty() {
            self.deliver(&data).await;
        }
    }

    /// Hands one message of the server's to the session, noting the
    /// protocol version its `initialize` answer agrees on.
    async fn deliver(&self, body: &[u8]) {
        let frame = Frame::from_body(body);
        if let Frame::Message(message) = &frame
            && let Some(version) = message.value["result"]["protocolVersion"].as_str()
            && message.value["result"].get("serverInfo").is_some()
        {
            lock(&self.state).protocol_version = Some(version.to_owned());
        }
        let _ = self.frames.send(FromServer::Frame(frame)).await;
    }

    /// Answers the request `id` (if the message was one) with an error:
    /// the server gave no answer the session could check.
    async fn fail(&self, id: Option<serde_json::Value>, message: &str) {
        if let Some(id) = id {
            self.deliver(&error_response(&id, UPSTREAM_FAILED, message))
                .await;
        }
    }

    async fn end(&self, why: &str) {
        lock(&self.state).ended = Some(why.to_owned());
        let _ = self.frames.send(FromServer::Closed).await;
    }
}
