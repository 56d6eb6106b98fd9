//! The I/O around a [`Session`]: spawns the server, reads both peers on their
//! own threads, and writes what the session says to send, on one thread that
//! owns the session (so the session needs no locks).

use std::ffi::OsString;
use std::io::{self, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
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

/// What the reader threads report.
#[derive(Debug)]
enum Input {
    Client(Frame),
    ClientClosed,
    Server(Frame),
    ServerClosed,
}

/// Runs `session` between the client (`client_in`, `client_out`) and the
/// server started from `options.command`, until one side goes away.
pub fn run(
    options: &RelayOptions,
    mut session: Session,
    client_in: impl Read + Send + 'static,
    mut client_out: impl Write,
) -> Result<Ending, RelayError> {
    let (program, arguments) = options.command.split_first().ok_or(RelayError::NoCommand)?;
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| RelayError::Spawn {
            command: program.clone(),
            source,
        })?;
    tracing::info!(pid = child.id(), command = ?options.command, "MCP server started");
    let mut server_in = child.stdin.take();
    let server_out = child.stdout.take().expect("the server's stdout is piped");

    let (inputs, received) = mpsc::channel();
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
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            let expired = session.on_tick(last_tick);
            send(expired, &mut client_out, &mut server_in);
        }
        let input = match client_gone {
            None => match received.recv_timeout(TICK) {
                Ok(input) => Some(input),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => None,
            },
            Some(since) => {
                let left = options.shutdown_grace.saturating_sub(since.elapsed());
                match received.recv_timeout(left) {
                    Ok(input) => Some(input),
                    Err(RecvTimeoutError::Timeout) => {
                        tracing::warn!(
                            "the MCP server did not exit after its input closed; killing it"
                        );
                        // It may have exited just now; `wait` tells.
                        let _ = child.kill();
                        None
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                }
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
            Some(Input::ServerClosed) | None => {
                let server = wait(&mut child)?;
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
    inputs: Sender<Input>,
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
