//! The servers behind the gateway, one connection per downstream session:
//! a process speaking stdio, or a remote server speaking Streamable HTTP.
//! Either way the session writes lines to it and reads [`FromServer`]
//! frames from it.

mod http;
mod stdio;

use portcullis_mcp::framing::Frame;
use tokio::sync::mpsc;

use crate::config::{ServerConfig, Transport};
use http::HttpUpstream;
use stdio::StdioUpstream;

/// What a server connection reports.
#[derive(Debug)]
pub(crate) enum FromServer {
    /// A message the server sent.
    Frame(Frame),
    /// The connection is over: the process exited, or the remote server
    /// ended the session.
    Closed,
}

/// One session's connection to its server.
#[derive(Debug)]
pub(crate) enum Upstream {
    Stdio(StdioUpstream),
    Http(HttpUpstream),
}

impl Upstream {
    /// Connects to the server of `config`: starts its process, or prepares
    /// the HTTP client that will open a session at the first message.
    pub(crate) fn connect(
        config: &ServerConfig,
        max_frame_bytes: usize,
    ) -> std::io::Result<(Upstream, mpsc::Receiver<FromServer>)> {
        Ok(match config.transport() {
            Transport::Stdio(command) => {
                let (upstream, frames) = StdioUpstream::spawn(config, command, max_frame_bytes)?;
                (Upstream::Stdio(upstream), frames)
            }
            Transport::Http(url) => {
                let (upstream, frames) = HttpUpstream::new(config, url, max_frame_bytes)?;
                (Upstream::Http(upstream), frames)
            }
        })
    }

    /// Sends one message; false once the server can take no more.
    pub(crate) async fn send(&self, line: Vec<u8>) -> bool {
        match self {
            Upstream::Stdio(upstream) => upstream.send(line).await,
            Upstream::Http(upstream) => upstream.send(line),
        }
    }

    /// Why the connection ended, once it has.
    pub(crate) fn ending(&mut self) -> Option<String> {
        match self {
            Upstream::Stdio(upstream) => upstream.exit_status(),
            Upstream::Http(upstream) => upstream.ending(),
        }
    }
}
