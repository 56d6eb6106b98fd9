//! `portcullis serve`: the local decision server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use portcullis::reload::{PolicyHandle, PolicyWatcher};
use portcullis_serve::{
    Bound, DEFAULT_MAX_SESSIONS, DecisionServer, Listener, ServerOptions, TokenFile,
    default_socket_path, router,
};

use crate::options::{AuditOptions, PolicyOptions};

/// How long the policy directory must be quiet after a change before it is reloaded.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);

/// Arguments of `portcullis serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The policies and how they run; a `--policies` directory is watched
    /// and reloaded on change.
    #[command(flatten)]
    policy: PolicyOptions,
    #[command(flatten)]
    audit: AuditOptions,
    /// The Unix socket to serve on (default: `portcullis/serve.sock` in
    /// `$XDG_RUNTIME_DIR`, else in the user's cache directory), where
    /// `portcullis hook` looks for it. Its directory is made 0700.
    #[arg(long, value_name = "PATH", env = "PORTCULLIS_SOCKET")]
    socket: Option<PathBuf>,
    /// Also serve HTTP on this loopback address (`127.0.0.1:7878`), for
    /// clients that cannot use a Unix socket. Requests need the bearer
    /// token from `--token-file`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The token for `--listen`, made at first start (default:
    /// `serve.token` beside the socket).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The most sessions kept; the one idle longest is dropped first.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SESSIONS)]
    max_sessions: usize,
}

/// Serves decisions until SIGINT or SIGTERM.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let socket = args
        .socket
        .clone()
        .or_else(default_socket_path)
        .context("no socket path: give --socket, or set HOME or XDG_RUNTIME_DIR")?;
    let (engine, policies) = args.policy.load()?;
    let options = ServerOptions {
        max_sessions: args.max_sessions,
        state_quota: engine.config().get_state_quota(),
    };
    let handle = Arc::new(PolicyHandle::new(policies));
    let _watcher = args
        .policy
        .policies
        .clone()
        .map(|dir| PolicyWatcher::spawn(engine.clone(), dir, Arc::clone(&handle), RELOAD_DEBOUNCE))
        .transpose()?;
    let server = Arc::new(DecisionServer::new(handle, options, args.audit.open()?));
    let mut listeners = vec![(
        Listener::Unix(socket.clone()),
        router(Arc::clone(&server), None),
    )];
    let mut token_path = None;
    if let Some(address) = args.listen {
        let path = args
            .token_file
            .unwrap_or_else(|| socket.with_file_name("serve.token"));
        let token = TokenFile::load_or_create(&path)?;
        token_path = Some(token.path);
        listeners.push((Listener::Tcp(address), router(server, Some(token.token))));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's threads")?;
    runtime.block_on(async move {
        let mut bound = Vec::with_capacity(listeners.len());
        for (listener, router) in listeners {
            bound.push((listener.bind().await?, router));
        }
        for (listener, _) in &bound {
            match (listener, &token_path) {
                (Bound::Tcp(..), Some(token)) => eprintln!(
                    "portcullis: serving HTTP on {}; its bearer token is in {}",
                    listener.address(),
                    token.display()
                ),
                _ => eprintln!("portcullis: serving decisions on {}", listener.address()),
            }
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop_signal().await;
            let _ = stop.send(true);
        });
        let mut servers = tokio::task::JoinSet::new();
        for (listener, router) in bound {
            let mut stopped = stopped.clone();
            servers.spawn(listener.serve(router, async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }));
        }
        while let Some(served) = servers.join_next().await {
            served.context("the server stopped unexpectedly")??;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM.
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
