//! The downstream sessions: each is a task that owns a proxy [`Session`]
//! and its server's process, so the session needs no locks and one slow
//! session holds up no other. HTTP requests reach it through a channel;
//! what the session says to send goes to the server, or to the HTTP
//! response stream waiting for it.
//!
//! A session belongs to the identity that opened it: presented by any
//! other tenant or principal, its id is unknown (404), as if it never
//! existed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis::audit::AuditLog;
use portcullis::{Decider, SessionState, StateQuota};
use portcullis_mcp::framing::{Frame, RequestId};
use portcullis_mcp::session::{Outbound, Session, SessionOptions};
use tokio::sync::mpsc;

use crate::auth::Identity;
use crate::config::{ServerConfig, SessionLimits};
use crate::upstream::{FromServer, Upstream};

/// How often a session is told the time (approvals and request timeouts).
const TICK: Duration = Duration::from_secs(1);

/// How many messages for the client are kept while no stream is open to
/// carry them; beyond, the oldest is dropped (and logged).
const MAX_BACKLOG: usize = 1024;

/// How many messages one response stream may hold unread before the
/// session waits for its reader.
const STREAM_BUFFER: usize = 32;

/// What the HTTP side asks of a session.
#[derive(Debug)]
pub(crate) enum Input {
    /// A message from the client; a request's answer (and the messages
    /// the server sends meanwhile) go to `reply`.
    Client {
        frame: Frame,
        reply: Option<(RequestId, StreamSender)>,
    },
    /// A `GET` stream for messages no request waits for; with the
    /// `Last-Event-ID` of a stream the client lost, it resumes that one.
    Listen(StreamSender, Option<String>),
    /// The client deleted the session.
    Close,
}

/// One session, as the registry keeps it.
#[derive(Debug)]
pub(crate) struct SessionHandle {
    owner: Identity,
    /// The server of the caller's 2026-07-28 requests, for the session
    /// they share; `None` for a session opened by `initialize`.
    shared_with: Option<String>,
    input: mpsc::Sender<Input>,
    last_used: Mutex<Instant>,
    ended: Arc<AtomicBool>,
}

impl SessionHandle {
    /// Hands `input` to the session; false when it has ended.
    pub(crate) async fn send(&self, input: Input) -> bool {
        *self
            .last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        self.input.send(input).await.is_ok()
    }

    /// A channel for one response stream.
    pub(crate) fn stream() -> (StreamSender, mpsc::Receiver<Event>) {
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        (StreamSender(sender), receiver)
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("the gateway has as many sessions as it keeps ({0}); try again later")]
    Full(usize),
    #[error("this principal has as many sessions as one may have ({0}); delete one first")]
    PrincipalFull(usize),
    #[error("the MCP server could not be reached: {0}")]
    Connect(std::io::Error),
}

/// Everything a new session is made of.
pub(crate) struct SessionParts {
    pub(crate) decider: Arc<dyn Decider>,
    pub(crate) state_quota: StateQuota,
    pub(crate) audit: Option<Arc<Mutex<AuditLog>>>,
}

/// The open sessions, by id.
pub(crate) struct Registry {
    sessions: Mutex<HashMap<String, Arc<SessionHandle>>>,
    limits: SessionLimits,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sessions", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub(crate) fn new(limits: SessionLimits) -> Registry {
        Registry {
            sessions: Mutex::new(HashMap::new()),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SessionHandle>>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a session of `owner` with `server`, and returns its id.
    pub(crate) fn open(
        &self,
        owner: &Identity,
        server: &ServerConfig,
        parts: &SessionParts,
    ) -> Result<(String, Arc<SessionHandle>), OpenError> {
        Registry::open_in(&mut self.lock(), &self.limits, owner, server, parts, None)
    }

    /// The session `owner`'s 2026-07-28 requests to `server` share (that
    /// revision has no sessions of its own), opened at the first.
    pub(crate) fn shared(
        &self,
        owner: &Identity,
        server: &ServerConfig,
        parts: &SessionParts,
    ) -> Result<Arc<SessionHandle>, OpenError> {
        let mut sessions = self.lock();
        let found = sessions.values().find(|handle| {
            handle.owner.same_owner(owner)
                && handle.shared_with.as_deref() == Some(server.name.as_str())
                && !handle.ended.load(Ordering::Acquire)
        });
        if let Some(handle) = found {
            return Ok(Arc::clone(handle));
        }
        let shared_with = Some(server.name.clone());
        Registry::open_in(
            &mut sessions,
            &self.limits,
            owner,
            server,
            parts,
            shared_with,
        )
        .map(|(_, handle)| handle)
    }

    /// Opens a session in `sessions` (the registry's, locked), within `limits`.
    fn open_in(
        sessions: &mut HashMap<String, Arc<SessionHandle>>,
        limits: &SessionLimits,
        owner: &Identity,
        server: &ServerConfig,
        parts: &SessionParts,
        shared_with: Option<String>,
    ) -> Result<(String, Arc<SessionHandle>), OpenError> {
        sessions.retain(|_, handle| !handle.ended.load(Ordering::Acquire));
        if sessions.len() >= limits.max_sessions {
            return Err(OpenError::Full(limits.max_sessions));
        }
        let owned = sessions
            .values()
            .filter(|handle| handle.owner.same_owner(owner))
            .count();
        if owned >= limits.max_per_principal {
            return Err(OpenError::PrincipalFull(limits.max_per_principal));
        }
        let (upstream, from_server) =
            Upstream::connect(server, limits.max_body_bytes).map_err(OpenError::Connect)?;
        let options = SessionOptions::new(server.name.clone())
            .with_owner(owner.tenant.clone(), owner.principal.clone());
        let id = options.session_id.clone();
        let session = Session::new(
            options,
            Arc::clone(&parts.decider),
            SessionState::new(parts.state_quota),
            parts.audit.clone(),
        );
        let (input, inputs) = mpsc::channel(STREAM_BUFFER);
        let ended = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(SessionHandle {
            owner: owner.clone(),
            shared_with,
            input,
            last_used: Mutex::new(Instant::now()),
            ended: Arc::clone(&ended),
        });
        tokio::spawn(run(session, upstream, from_server, inputs, ended));
        sessions.insert(id.clone(), Arc::clone(&handle));
        tracing::info!(
            session = id,
            tenant = owner.tenant,
            principal = owner.principal.subject,
            server = server.name,
            "session opened"
        );
        Ok((id, handle))
    }

    /// The session `id`, if `owner` opened it and it is still going.
    pub(crate) fn get(&self, id: &str, owner: &Identity) -> Option<Arc<SessionHandle>> {
        self.lock()
            .get(id)
            .filter(|handle| {
                handle.owner.same_owner(owner) && !handle.ended.load(Ordering::Acquire)
            })
            .cloned()
    }

    /// Forgets the session `id` of `owner`, and returns it to be closed.
    pub(crate) fn remove(&self, id: &str, owner: &Identity) -> Option<Arc<SessionHandle>> {
        let mut sessions = self.lock();
        let owned = sessions
            .get(id)
            .is_some_and(|handle| handle.owner.same_owner(owner));
        if owned { sessions.remove(id) } else { None }
    }

    /// Closes the sessions idle for longer than the limit, and forgets the
    /// ended ones.
    pub(crate) fn reap(&self) {
        let idle = Duration::from_secs(self.limits.idle_secs);
        let mut closed = Vec::new();
        self.lock().retain(|id, handle| {
            let used = *handle
                .last_used
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let keep = !handle.ended.load(Ordering::Acquire) && used.elapsed() < idle;
            if !keep {
                closed.push((id.clone(), Arc::clone(handle)));
            }
            keep
        });
        for (id, handle) in closed {
            tracing::info!(session = id, "idle session closed");
            let _ = handle.input.try_send(Input::Close);
        }
    }
}

/// One event for a response stream: its SSE id (`<stream>:<seq>`, which a
/// client resumes from with `Last-Event-ID`) and the message.
pub(crate) type Event = (String, Vec<u8>);

/// The sending half of one response stream.
#[derive(Debug)]
pub(crate) struct StreamSender(mpsc::Sender<Event>);

/// An open stream, numbered in its session.
struct Stream {
    number: u64,
    sent: u64,
    sender: mpsc::Sender<Event>,
}

/// Where the messages for the client go.
#[derive(Default)]
struct Streams {
    /// The response stream of each request still waiting for its answer,
    /// most recent last.
    waiting: Vec<(RequestId, Stream)>,
    /// The `GET` stream.
    listener: Option<Stream>,
    /// What no stream could take yet.
    backlog: VecDeque<Vec<u8>>,
    /// The streams opened so far.
    opened: u64,
    /// What was sent lately, by stream and sequence number, for a client
    /// that resumes a stream it lost; at most [`MAX_HISTORY_BYTES`].
    history: VecDeque<(u64, u64, Vec<u8>)>,
    history_bytes: usize,
}

/// How much of what was sent is kept for resumption.
const MAX_HISTORY_BYTES: usize = 4 * 1024 * 1024;

impl Streams {
    fn open(&mut self, sender: StreamSender) -> Stream {
        self.opened += 1;
        Stream {
            number: self.opened,
            sent: 0,
            sender: sender.0,
        }
    }

    /// Sends `message` on `stream`, keeping it for resumption; gives it back
    /// when the stream's reader is gone.
    async fn send(&mut self, stream: &mut Stream, message: Vec<u8>) -> Result<(), Vec<u8>> {
        let sent = stream.sent + 1;
        let id = format!("{}:{sent}", stream.number);
        stream
            .sender
            .send((id, message.clone()))
            .await
            .map_err(|returned| returned.0.1)?;
        // Only what reached the stream is kept: what did not goes to
        // another stream, and is not replayed twice.
        stream.sent = sent;
        self.history_bytes += message.len();
        self.history.push_back((stream.number, sent, message));
        while self.history_bytes > MAX_HISTORY_BYTES {
            match self.history.pop_front() {
                Some((_, _, old)) => self.history_bytes -= old.len(),
                None => break,
            }
        }
        Ok(())
    }

    /// Sends one message to the client: an answer to the stream of its
    /// request (which it then ends); anything else, or an answer whose
    /// stream is gone, to the most recent request stream still open, else
    /// the `GET` stream, else the backlog that the next `GET` stream gets.
    async fn deliver(&mut self, message: Vec<u8>) {
        let mut message = message;
        if let Some(id) = response_id(&message)
            && let Some(at) = self.waiting.iter().position(|(waiting, _)| *waiting == id)
        {
            let (_, mut stream) = self.waiting.remove(at);
            match self.send(&mut stream, message).await {
                Ok(()) => return,
                Err(returned) => {
                    tracing::debug!(%id, "the answer's stream is gone; it goes to another");
                    message = returned;
                }
            }
        }
        while let Some((id, mut stream)) = self.waiting.pop() {
            match self.send(&mut stream, message).await {
                Ok(()) => {
                    self.waiting.push((id, stream));
                    return;
                }
                Err(returned) => message = returned,
            }
        }
        if let Some(mut listener) = self.listener.take() {
            match self.send(&mut listener, message).await {
                Ok(()) => {
                    self.listener = Some(listener);
                    return;
                }
                Err(returned) => message = returned,
            }
        }
        if self.backlog.len() == MAX_BACKLOG {
            self.backlog.pop_front();
            tracing::warn!("a message for the client was dropped: no stream took it in time");
        }
        self.backlog.push_back(message);
    }

    /// Makes `sender` the `GET` stream. Resuming (`last_event` is the
    /// `Last-Event-ID` of a lost stream), it first gets again what that
    /// stream was sent after that event, under the same ids; then the
    /// backlog.
    async fn listen(&mut self, sender: StreamSender, last_event: Option<&str>) {
        let mut listener = self.open(sender);
        if let Some((number, seq)) = last_event.and_then(parse_event_id) {
            let again: Vec<(u64, Vec<u8>)> = self
                .history
                .iter()
                .filter(|(stream, sent, _)| *stream == number && *sent > seq)
                .map(|(_, sent, message)| (*sent, message.clone()))
                .collect();
            for (sent, message) in again {
                if listener
                    .sender
                    .send((format!("{number}:{sent}"), message))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        while let Some(message) = self.backlog.pop_front() {
            if let Err(returned) = self.send(&mut listener, message).await {
                self.backlog.push_front(returned);
                return;
            }
        }
        self.listener = Some(listener);
    }
}

/// The stream and sequence numbers of an event id (`3:17`).
fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (stream, seq) = id.trim().split_once(':')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

/// The id of `message` if it is an answer (it has an id and no method).
fn response_id(message: &[u8]) -> Option<RequestId> {
    let value: serde_json::Value = serde_json::from_slice(message).ok()?;
    if value.get("method").is_some() {
        return None;
    }
    RequestId::from_value(value.get("id")?)
}

/// Runs one session until the client deletes it, it idles out, or its
/// server exits.
async fn run(
    mut session: Session,
    upstream: Upstream,
    mut from_server: mpsc::Receiver<FromServer>,
    mut inputs: mpsc::Receiver<Input>,
    ended: Arc<AtomicBool>,
) {
    let mut upstream = upstream;
    let mut streams = Streams::default();
    let mut tick = tokio::time::interval(TICK);
    loop {
        let outbound = tokio::select! {
            input = inputs.recv() => match input {
                None | Some(Input::Close) => break,
                Some(Input::Client { frame, reply }) => {
                    if let Some((id, sender)) = reply {
                        let stream = streams.open(sender);
                        streams.waiting.push((id, stream));
                    }
                    session.on_client_frame(frame)
                }
                Some(Input::Listen(listener, last_event)) => {
                    streams.listen(listener, last_event.as_deref()).await;
                    continue;
                }
            },
            from = from_server.recv() => match from {
                Some(FromServer::Frame(frame)) => session.on_server_frame(frame),
                Some(FromServer::Closed) | None => {
                    let status = wait_exit(&mut upstream).await;
                    tracing::warn!(status, "the MCP server exited; the session ends");
                    for message in session.on_server_exit(&status) {
                        if let Outbound::Client(line) = message {
                            streams.deliver(line).await;
                        }
                    }
                    break;
                }
            },
            _ = tick.tick() => session.on_tick(Instant::now()),
        };
        for message in outbound {
            match message {
                Outbound::Client(line) => streams.deliver(line).await,
                Outbound::Server(line) => {
                    if !upstream.send(line).await {
                        tracing::debug!("message for the server dropped: its input is closed");
                    }
                }
            }
        }
    }
    ended.store(true, Ordering::Release);
    // Stopping the server waits for it: not on the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || drop(upstream)).await;
}

/// How the server exited, waiting a little for it to finish exiting.
async fn wait_exit(upstream: &mut Upstream) -> String {
    for _ in 0..50 {
        if let Some(status) = upstream.ending() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    "its output closed".to_owned()
}
