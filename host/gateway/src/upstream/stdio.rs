//! A stdio MCP server: one process per session, in a
//! process group of its own that is stopped with the session. Its output is
//! read in frames on a thread, with the stdio proxy's size bound; its input
//! is written on another, so a server that stops reading stalls its own
//! session only.

use std::io::{self, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portcullis_mcp::framing::FrameReader;
use tokio::sync::mpsc;

use super::FromServer;
use crate::config::ServerConfig;

/// The variables of the gateway's environment a server inherits: what a
/// program needs to run, nothing that could hold the gateway's secrets.
/// Anything else a server needs is configured for it (`env`).
const INHERITED_ENV: [&str; 8] = [
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TZ",
    "USER",
    "NODE_PATH",
];

/// How many frames of the server's are read ahead of the session.
const READ_AHEAD_FRAMES: usize = 16;

/// How long a stopped server may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// A running server.
#[derive(Debug)]
pub(crate) struct StdioUpstream {
    child: Child,
    input: Option<mpsc::Sender<Vec<u8>>>,
}

impl StdioUpstream {
    /// Starts the server of `config`; what it writes arrives on the
    /// returned receiver.
    pub(super) fn spawn(
        config: &ServerConfig,
        command: &[String],
        max_frame_bytes: usize,
    ) -> io::Result<(StdioUpstream, mpsc::Receiver<FromServer>)> {
        let (program, arguments) = command
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        let mut command = Command::new(program);
        command
            .args(arguments)
            .env_clear()
            .envs(
                INHERITED_ENV
                    .iter()
                    .filter_map(|name| Some((name, std::env::var_os(name)?))),
            )
            .envs(&config.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn()?;
        tracing::info!(pid = child.id(), server = config.name, "MCP server started");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stdin = child.stdin.take().expect("stdin is piped");

        let (frames, received) = mpsc::channel(READ_AHEAD_FRAMES);
        std::thread::Builder::new()
            .name("portcullis-upstream-reader".into())
            .spawn(move || {
                let mut reader =
                    FrameReader::new(BufReader::with_capacity(1 << 16, stdout), max_frame_bytes);
                while let Ok(Some(frame)) = reader.next_frame() {
                    if frames.blocking_send(FromServer::Frame(frame)).is_err() {
                        return;
                    }
                }
                let _ = frames.blocking_send(FromServer::Closed);
            })?;
        let (input, mut lines) = mpsc::channel::<Vec<u8>>(READ_AHEAD_FRAMES);
        std::thread::Builder::new()
            .name("portcullis-upstream-writer".into())
            .spawn(move || {
                while let Some(mut line) = lines.blocking_recv() {
                    line.push(b'\n');
                    if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
                        return;
                    }
                }
            })?;
        Ok((
            StdioUpstream {
                child,
                input: Some(input),
            },
            received,
        ))
    }

    /// Writes one line to the server; false once its input is closed.
    pub(super) async fn send(&self, line: Vec<u8>) -> bool {
        match &self.input {
            Some(input) => input.send(line).await.is_ok(),
            None => false,
        }
    }

    /// How the server exited, once it has.
    pub(super) fn exit_status(&mut self) -> Option<String> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|status| status.to_string())
    }
}

impl Drop for StdioUpstream {
    /// Closes the server's input and stops its group, as the stdio proxy
    /// does. This blocks for up to [`STOP_GRACE`]: drop a server off the
    /// async runtime's threads.
    fn drop(&mut self) {
        self.input = None;
        let pid = self.child.id();
        match portcullis_mcp::transport::stdio::stop_group(&mut self.child, STOP_GRACE) {
            Ok(status) => tracing::info!(pid, %status, "MCP server stopped"),
            Err(error) => tracing::warn!(pid, %error, "MCP server stopped"),
        }
    }
}
