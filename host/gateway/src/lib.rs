//! The Portcullis MCP gateway (`portcullis gateway`): MCP Streamable HTTP
//! in front of MCP servers, with the stdio proxy's enforcement on every
//! message, and no anonymous access.
//!
//! ```text
//! client ──HTTPS──▶ guard (Host, Origin) ─▶ auth (JWT / API key) ─▶ /mcp/<server>
//!                                                                     │
//!                               one task per session: portcullis_mcp::Session
//!                                                                     │ stdio
//!                                                              the server's process
//! ```
//!
//! Each session is owned by the [`Identity`](auth::Identity) that opened it
//! (tenant and principal): another caller presenting its id gets 404. The
//! policies see the tenant and principal in every event, settings may
//! differ per tenant, and every audit record names both.
//!
//! What is enforced is what is forwarded: a request body is parsed once,
//! by the same strict framing as the stdio proxy, and the bytes checked are
//! the bytes written to the server.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod guard;
mod http;
pub mod limits;
mod sessions;
mod tls;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use portcullis::audit::AuditLog;
use portcullis::{Decider, StateQuota};

use auth::{Authenticator, Identity};
pub use config::GatewayConfig;
use config::ServerConfig;
use guard::OriginGuard;
use http::Refusal;
pub use http::{PROTOCOL_VERSION, SESSION_ID, SUPPORTED_VERSIONS};
use sessions::{OpenError, Registry, SessionHandle, SessionParts};

/// How often idle sessions are looked for.
const REAP_INTERVAL: Duration = Duration::from_secs(30);

/// How often the configuration file is looked at for changes.
const CONFIG_POLL: Duration = Duration::from_secs(1);

/// What one configuration makes of the gateway: swapped whole when the
/// configuration is reloaded, so a request sees one configuration from its
/// start to its end.
struct Generation {
    config: GatewayConfig,
    auth: Authenticator,
    guard: OriginGuard,
    /// The policies behind the configuration's rate limits.
    decider: Arc<dyn Decider>,
}

impl Generation {
    fn new(config: GatewayConfig, policies: &Arc<dyn Decider>) -> Generation {
        let decider: Arc<dyn Decider> = if config.rate_limits.is_empty() {
            Arc::clone(policies)
        } else {
            Arc::new(limits::RateLimited::new(
                Arc::clone(policies),
                config.rate_limits.clone(),
            ))
        };
        Generation {
            auth: Authenticator::new(&config),
            guard: OriginGuard::new(&config),
            decider,
            config,
        }
    }
}

/// A gateway: its configuration, who may call it, and its sessions.
pub struct Gateway {
    current: RwLock<Arc<Generation>>,
    policies: Arc<dyn Decider>,
    /// Where it listens, and its session limits: as first configured (a
    /// change needs a restart).
    listen: config::ListenConfig,
    sessions: Registry,
    state_quota: StateQuota,
    audit: Option<Arc<Mutex<AuditLog>>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("address", &self.listen.address)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway of `config` deciding with `policies` (a
    /// [`PolicyHandle`](portcullis::reload::PolicyHandle), for policies
    /// that hot-reload), each session's state bounded by `state_quota`,
    /// every decision appended to `audit`.
    pub fn new(
        config: GatewayConfig,
        policies: Arc<dyn Decider>,
        state_quota: StateQuota,
        audit: Option<AuditLog>,
    ) -> Gateway {
        // One process-wide TLS provider, for the issuer's keys and the
        // listener: ring, pure Rust and assembly, with no build-time tools.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Gateway {
            listen: config.listen.clone(),
            sessions: Registry::new(config.sessions.clone()),
            current: RwLock::new(Arc::new(Generation::new(config, &policies))),
            policies,
            state_quota,
            audit: audit.map(|log| Arc::new(Mutex::new(log))),
        }
    }

    fn current(&self) -> Arc<Generation> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Where the gateway listens.
    pub fn listen(&self) -> &config::ListenConfig {
        &self.listen
    }

    /// The names of the servers behind it now.
    pub fn server_names(&self) -> Vec<String> {
        self.current()
            .config
            .servers
            .iter()
            .map(|server| server.name.clone())
            .collect()
    }

    /// Puts `config` in force for every request from now on: its
    /// authentication, servers, origins and rate limits. Sessions already
    /// open keep their server. `[listen]` and `[sessions]` stay as they
    /// were (they need a restart), and rate limits start full again.
    pub fn reload(&self, config: GatewayConfig) {
        if config.listen.address != self.listen.address
            || config.listen.tls.as_ref().map(|tls| (&tls.cert, &tls.key))
                != self.listen.tls.as_ref().map(|tls| (&tls.cert, &tls.key))
        {
            tracing::warn!("the address and TLS files change only with a restart");
        }
        let generation = Arc::new(Generation::new(config, &self.policies));
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = generation;
        tracing::info!("configuration reloaded");
    }

    /// Watches the configuration file at `path` and reloads it when it
    /// changes. One that does not load (or fails its checks) is reported,
    /// and the last good one stays in force.
    pub fn watch(self: &Arc<Self>, path: PathBuf) {
        let gateway = Arc::downgrade(self);
        tokio::spawn(async move {
            let stamp = |path: &PathBuf| {
                std::fs::metadata(path)
                    .ok()
                    .map(|meta| (meta.modified().ok(), meta.len()))
            };
            let mut seen = stamp(&path);
            let mut interval = tokio::time::interval(CONFIG_POLL);
            loop {
                interval.tick().await;
                let Some(gateway) = gateway.upgrade() else {
                    return;
                };
                let now = stamp(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                match GatewayConfig::load(&path) {
                    Ok(config) => gateway.reload(config),
                    Err(error) => tracing::error!(
                        error = %anyhow::Error::from(error),
                        "the changed configuration is refused; the last good one stays"
                    ),
                }
            }
        });
    }

    /// The routes: `/mcp/{server}`, the protected resource metadata, and
    /// `/healthz`.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(
                "/mcp/{server}",
                get(http::get).post(http::post).delete(http::delete),
            )
            .route(
                "/.well-known/oauth-protected-resource",
                get(http::resource_metadata),
            )
            .route(
                "/.well-known/oauth-protected-resource/{*resource}",
                get(http::resource_metadata),
            )
            .route("/healthz", get(|| async { "ok" }))
            .layer(DefaultBodyLimit::max(
                self.current().config.sessions.max_body_bytes,
            ))
            .with_state(Arc::clone(self))
    }

    /// Serves on the configured address until `shutdown` completes: TLS
    /// when configured, else plain HTTP (which the configuration allows on
    /// loopback only). `ready` gets the bound address.
    ///
    /// # Errors
    /// When the address cannot be bound or the TLS files cannot be read.
    pub async fn serve(
        self: Arc<Self>,
        ready: impl FnOnce(SocketAddr),
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.listen.address).await?;
        let address = listener.local_addr()?;
        let reaper = Arc::clone(&self);
        let reaping = tokio::spawn(async move {
            let mut interval = tokio::time::interval(REAP_INTERVAL);
            loop {
                interval.tick().await;
                reaper.sessions.reap();
            }
        });
        let router = self.router();
        let served = match &self.listen.tls {
            Some(tls) => {
                let listener = tls::TlsListener::new(listener, tls::server_config(tls)?);
                ready(address);
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            None => {
                ready(address);
                // Without TCP_NODELAY, an SSE event and the end of its
                // stream wait on the peer's delayed ACK: 40 ms per answer.
                let listener = listener.tap_io(|stream| {
                    let _ = stream.set_nodelay(true);
                });
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        reaping.abort();
        Ok(served?)
    }

    /// What a session opened now is made of.
    fn parts(&self) -> SessionParts {
        SessionParts {
            decider: Arc::clone(&self.current().decider),
            state_quota: self.state_quota,
            audit: self.audit.clone(),
        }
    }

    /// Opens a session of `identity` with `server`.
    fn open(
        &self,
        identity: &Identity,
        server: &ServerConfig,
    ) -> Result<(String, Arc<SessionHandle>), Refusal> {
        self.sessions
            .open(identity, server, &self.parts())
            .map_err(refusal)
    }

    /// The session `identity`'s 2026-07-28 requests to `server` share,
    /// opened at the first.
    fn shared(
        &self,
        identity: &Identity,
        server: &ServerConfig,
    ) -> Result<Arc<SessionHandle>, Refusal> {
        self.sessions
            .shared(identity, server, &self.parts())
            .map_err(refusal)
    }
}

/// The answer to a session that could not be opened.
fn refusal(error: OpenError) -> Refusal {
    tracing::warn!(%error, "session refused");
    let status = match error {
        OpenError::Full(_) => StatusCode::SERVICE_UNAVAILABLE,
        OpenError::PrincipalFull(_) => StatusCode::TOO_MANY_REQUESTS,
        OpenError::Connect(_) => StatusCode::BAD_GATEWAY,
    };
    Refusal::new(status, error.to_string())
}
