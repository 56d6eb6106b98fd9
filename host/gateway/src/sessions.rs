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
        reply: Option<(RequestId, mpsc::Sender<Vec<u8>>)>,
    },
    /// A `GET` stream for messages no request waits for.
    Listen(mpsc::Sender<Vec<u8>>),
    /// The client deleted the session.
    Close,
}

/// One session, as the registry keeps it.
#[derive(Debug)]
pub(crate) struct SessionHandle {
    owner: Identity,
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
    pub(crate) fn stream() -> (mpsc::Sender<Vec<u8>>, mpsc::Receiver<Vec<u8>>) {
        mpsc::channel(STREAM_BUFFER)
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
        let mut sessions = self.lock();
        sessions.retain(|_, handle| !handle.ended.load(Ordering::Acquire));
        if sessions.len() >= self.limits.max_sessions {
            return Err(OpenError::Full(self.limits.max_sessions));
        }
        let owned = sessions
            .values()
            .filter(|handle| handle.owner.same_owner(owner))
            .count();
        if owned >= self.limits.max_per_principal {
            return Err(OpenError::PrincipalFull(self.limits.max_per_principal));
        }
        let (upstream, from_server) =
            Upstream::connect(server, self.limits.max_body_bytes).map_err(OpenError::Connect)?;
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

/// Where the messages for the client go.
#[derive(Default)]
struct Streams {
    /// The response stream of each request still waiting for its answer,
    /// most recent last.
    waiting: Vec<(RequestId, mpsc::Sender<Vec<u8>>)>,
    /// The `GET` stream.
    listener: Option<mpsc::Sender<Vec<u8>>>,
    /// What no stream could take yet.
    backlog: VecDeque<Vec<u8>>,
}

impl Streams {
    /// Sends one message to the client: an answer to the stream of its
    /// request (which it then ends); anything else to the most recent
    /// request stream still open, else the `GET` stream, else the backlog.
    async fn deliver(&mut self, message: Vec<u8>) {
        if let Some(id) = response_id(&message)
            && let Some(at) = self.waiting.iter().position(|(waiting, _)| *waiting == id)
        {
            let (_, stream) = self.waiting.remove(at);
            if stream.send(message).await.is_err() {
                tracing::debug!(%id, "the client stopped waiting for its answer");
            }
            return;
        }
        let mut message = message;
        while let Some((_, stream)) = self.waiting.last() {
            match stream.send(message).await {
                Ok(()) => return,
                Err(returned) => {
                    message = returned.0;
                    self.waiting.pop();
                }
            }
        }
        if let Some(listener) = &self.listener {
            match listener.send(message).await {
                Ok(()) => return,
                Err(returned) => {
                    message = returned.0;
                    self.listener = None;
                }
            }
        }
        if self.backlog.len() == MAX_BACKLOG {
            self.backlog.pop_front();
            tracing::warn!("a message for the client was dropped: no stream took it in time");
        }
        self.backlog.push_back(message);
    }

    /// Makes `listener` the `GET` stream, and hands it the backlog.
    async fn listen(&mut self, listener: mpsc::Sender<Vec<u8>>) {
        while let Some(message) = self.backlog.pop_front() {
            if let Err(returned) = listener.send(message).await {
                self.backlog.push_front(returned.0);
                return;
            }
        }
        self.listener = Some(listener);
    }
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
                    if let Some(reply) = reply {
                        streams.waiting.push(reply);
                    }
                    session.on_client_frame(frame)
                }
                Some(Input::Listen(listener)) => {
                    streams.listen(listener).await;
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
