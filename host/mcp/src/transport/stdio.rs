//! The I/O around a [`Session`]: spawns the server, reads both peers on their
//! own threads, and writes what the session says to send, on one thread that
//! owns the session (so the session needs no locks).

use std::ffi::OsString;
use std::io::{self, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use crate::framing::{Frame, FrameReader};
use crate::session::{Outbound, Session};

/// How often the session is told the time, to refuse what waited for a
/// human too long.
const TICK: Duration = Duration::from_secs(1);

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The server command and its arguments.
    pub command: Vec<OsString>,
    /// The longest line accepted from either peer, in bytes.
    pub max_frame_bytes: usize,
    /// How long the server may take to exit after the client went away and
    /// its stdin was closed, before it is killed.
    pub shutdown_grace: Duration,
}

/// How a relay ended.
#[derive(Debug)]
pub enum Ending {
    /// The client closed its side; the server was then stopped.
    ClientClosed {
        /// How the server exited.
        server: ExitStatus,
    },
    /// The server exited while the client was still connected; the client was
    /// told, and its pending requests were answered with errors.
    ServerExited {
        /// How the server exited.
        server: ExitStatus,
    },
    /// The proxy was told to stop by `signal`; the server's group was
    /// stopped.
    Stopped {
        /// The signal's number.
        signal: i32,
        /// How the server exited.
        server: ExitStatus,
    },
}

/// Why the relay could not run.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// No server command was given.
    #[error("no MCP server command given")]
    NoCommand,
    /// The server could not be started.
    #[error("cannot start the MCP server {command:?}: {source}")]
    Spawn {
        /// The program.
        command: OsString,
        /// Why.
        source: io::Error,
    },
    /// Waiting for the server failed.
    #[error("cannot wait for the MCP server: {0}")]
    Wait(io::Error),
    /// A reader thread could not be started.
    #[error("cannot start a relay thread: {0}")]
    Thread(io::Error),
}

/// What the reader threads and the signal thread report.
#[derive(Debug)]
enum Input {
    Client(Frame),
    ClientClosed,
    Server(Frame),
    ServerClosed,
    /// The proxy was told to stop (SIGTERM, SIGINT or SIGHUP).
    Stop(i32),
}

/// How many frames a reader may have read ahead of the relay. A peer that
/// writes faster than the other side reads fills this and then waits in its
/// own write: memory stays bounded whatever the peers do.
const READ_AHEAD_FRAMES: usize = 16;

/// Runs `session` between the client (`client_in`, `client_out`) and the
/// server started from `options.command`, until one side goes away or the
/// proxy is told to stop.
///
/// The server runs in a process group of its own, and the whole group is
/// stopped when the relay ends (SIGTERM, then SIGKILL after
/// `shutdown_grace`), so that nothing it started outlives the proxy.
pub fn run(
    options: &RelayOptions,
    mut session: Session,
    client_in: impl Read + Send + 'static,
    mut client_out: impl Write,
) -> Result<Ending, RelayError> {
    let (program, arguments) = options.command.split_first().ok_or(RelayError::NoCommand)?;
    let mut command = Command::new(program);
    command
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(|source| RelayError::Spawn {
        command: program.clone(),
        source,
    })?;
    tracing::info!(pid = child.id(), command = ?options.command, "MCP server started");
    let mut server_in = child.stdin.take();
    let server_out = child.stdout.take().expect("the server's stdout is piped");

    let (inputs, received) = mpsc::sync_channel(READ_AHEAD_FRAMES);
    spawn_signal_listener(inputs.clone()).map_err(RelayError::Thread)?;
    spawn_reader(
        "portcullis-client-reader",
        client_in,
        options.max_frame_bytes,
        inputs.clone(),
        Input::Client,
        Input::ClientClosed,
    )
    .map_err(RelayError::Thread)?;
    spawn_reader(
        "portcullis-server-reader",
        server_out,
        options.max_frame_bytes,
        inputs,
        Input::Server,
        Input::ServerClosed,
    )
    .map_err(RelayError::Thread)?;

    let mut client_gone: Option<Instant> = None;
    let mut last_tick = Instant::now();
    loop {
        let mut exited = false;
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            let expired = session.on_tick(last_tick);
            send(expired, &mut client_out, &mut server_in);
            // Once a tick, not per message: the server's exit is noticed
            // even while a process it started keeps its stdout open.
            exited = child.try_wait().map_err(RelayError::Wait)?.is_some();
        }
        let input = if exited {
            Some(Input::ServerClosed)
        } else {
            let wait = match client_gone {
                None => TICK,
                Some(since) => options
                    .shutdown_grace
                    .saturating_sub(since.elapsed())
                    .min(TICK),
            };
            match received.recv_timeout(wait) {
                Ok(input) => Some(input),
                Err(RecvTimeoutError::Timeout) => match client_gone {
                    Some(since) if since.elapsed() >= options.shutdown_grace => {
                        tracing::warn!(
                            "the MCP server did not exit after its input closed; killing it"
                        );
                        stop_group(&mut child, Duration::ZERO)?;
                        None
                    }
                    _ => continue,
                },
                Err(RecvTimeoutError::Disconnected) => None,
            }
        };
        let outbound = match input {
            Some(Input::Client(frame)) => session.on_client_frame(frame),
            Some(Input::Server(frame)) => session.on_server_frame(frame),
            Some(Input::ClientClosed) => {
                tracing::info!("the client closed its input; stopping the MCP server");
                client_gone.get_or_insert_with(Instant::now);
                server_in = None;
                continue;
            }
            Some(Input::Stop(signal)) => {
                tracing::info!(signal, "told to stop; stopping the MCP server");
                drop(server_in.take());
                let server = stop_group(&mut child, options.shutdown_grace)?;
                return Ok(Ending::Stopped { signal, server });
            }
            Some(Input::ServerClosed) | None => {
                let server = wait(&mut child)?;
                // Whatever the server started goes with it.
                kill_group(&child, Signal::Kill);
                if client_gone.is_some() {
                    return Ok(Ending::ClientClosed { server });
                }
                tracing::error!(%server, "the MCP server exited while the client was connected");
                let outbound = session.on_server_exit(&server.to_string());
                send(outbound, &mut client_out, &mut None);
                return Ok(Ending::ServerExited { server });
            }
        };
        if !send(outbound, &mut client_out, &mut server_in) && client_gone.is_none() {
            tracing::info!("the client stopped reading; stopping the MCP server");
            client_gone = Some(Instant::now());
            server_in = None;
        }
    }
}

/// The signals a process group is stopped with.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Sends `signal` to the server's process group (its descendants too).
fn kill_group(child: &Child, signal: Signal) {
    #[cfg(unix)]
    {
        use rustix::process::{Pid, Signal as Sig, kill_process_group};
        let signal = match signal {
            Signal::Term => Sig::TERM,
            Signal::Kill => Sig::KILL,
        };
        if let Some(group) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) {
            // The group may be gone already: nothing to do then.
            let _ = kill_process_group(group, signal);
        }
    }
    #[cfg(not(unix))]
    let _ = (child, signal);
}

/// Stops a server started in a process group of its own (as [`run`] and
/// the gateway start them), with everything it started: SIGTERM to the
/// group, then SIGKILL when the server has not exited within `grace`.
/// Returns how the server exited; blocks for up to `grace`.
///
/// # Errors
/// [`RelayError::Wait`] when the server cannot be waited for.
pub fn stop_group(child: &mut Child, grace: Duration) -> Result<ExitStatus, RelayError> {
    kill_group(child, Signal::Term);
    let since = Instant::now();
    while since.elapsed() < grace {
        if let Some(status) = child.try_wait().map_err(RelayError::Wait)? {
            kill_group(child, Signal::Kill);
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_group(child, Signal::Kill);
    let _ = child.kill();
    wait(child)
}

/// Reports SIGTERM, SIGINT and SIGHUP to the relay, which then stops the
/// server's group: the server, in a group of its own, does not get the
/// terminal's signals itself.
fn spawn_signal_listener(inputs: SyncSender<Input>) -> io::Result<()> {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        std::thread::Builder::new()
            .name("portcullis-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    let _ = inputs.send(Input::Stop(signal));
                }
            })
            .map(drop)
    }
    #[cfg(not(unix))]
    {
        let _ = inputs;
        Ok(())
    }
}

/// Writes each message as one line. Returns false when the client can no
/// longer be written to.
fn send(
    outbound: Vec<Outbound>,
    client_out: &mut impl Write,
    server_in: &mut Option<ChildStdin>,
) -> bool {
    let mut client_ok = true;
    for message in outbound {
        match message {
            Outbound::Client(mut line) => {
                line.push(b'\n');
                if let Err(error) = client_out
                    .write_all(&line)
                    .and_then(|()| client_out.flush())
                {
                    tracing::debug!(%error, "cannot write to the client");
                    client_ok = false;
                }
            }
            Outbound::Server(mut line) => {
                line.push(b'\n');
                let Some(input) = server_in else {
                    tracing::debug!("message for the server dropped: its input is closed");
                    continue;
                };
                if let Err(error) = input.write_all(&line).and_then(|()| input.flush()) {
                    // The server's exit, which follows, is what gets reported.
                    tracing::debug!(%error, "cannot write to the MCP server");
                }
            }
        }
    }
    client_ok
}

fn wait(child: &mut Child) -> Result<ExitStatus, RelayError> {
    child.wait().map_err(RelayError::Wait)
}

/// Reads frames from `input` on a thread of its own and reports them.
fn spawn_reader(
    name: &str,
    input: impl Read + Send + 'static,
    max_frame_bytes: usize,
    inputs: SyncSender<Input>,
    frame: fn(Frame) -> Input,
    closed: Input,
) -> io::Result<()> {
    let who = name.to_owned();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let mut reader =
                FrameReader::new(BufReader::with_capacity(1 << 16, input), max_frame_bytes);
            loop {
                match reader.next_frame() {
                    Ok(Some(next)) => {
                        if inputs.send(frame(next)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(reader = who, %error, "read failed");
                        break;
                    }
                }
            }
            let _ = inputs.send(closed);
        })
        .map(drop)
}
