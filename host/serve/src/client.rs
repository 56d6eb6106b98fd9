//! The hook's side of the server: one blocking request over the Unix
//! socket, with nothing but the standard library and an HTTP parser, since
//! a hook is a process per tool call and must start fast.

use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use portcullis_hooks::{HookAnswer, Runtime};

/// How long a hook waits for the server's answer: a policy's own timeout
/// is far shorter, so a server this slow is broken.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes of an answer read.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// Asks the server on `socket` to answer a hook `payload` of `runtime`.
/// `None` when no server listens there (no socket, or a stale one): the
/// caller decides by itself.
///
/// # Errors
/// When a server listens but its answer does not come or makes no sense.
pub fn ask_hook(
    socket: &Path,
    runtime: Runtime,
    payload: &[u8],
) -> anyhow::Result<Option<HookAnswer>> {
    #[cfg(unix)]
    {
        let mut stream = match std::os::unix::net::UnixStream::connect(socket) {
            Ok(stream) => stream,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot reach the server on {}", socket.display()));
            }
        };
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        write!(
            stream,
            "POST /v1/hooks/{} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            runtime.name(),
            payload.len()
        )?;
        stream.write_all(payload)?;
        let mut reply = Vec::new();
        stream
            .take(MAX_ANSWER_BYTES)
            .read_to_end(&mut reply)
            .context("the server did not answer")?;
        let body = response_body(&reply)?;
        serde_json::from_slice(body)
            .map(Some)
            .context("the server's answer is not a hook answer")
    }
    #[cfg(not(unix))]
    {
        let _ = (socket, runtime, payload);
        Ok(None)
    }
}

/// The body of a `200 OK` HTTP/1.1 response read to its end.
fn response_body(reply: &[u8]) -> anyhow::Result<&[u8]> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(length) = response
        .parse(reply)
        .context("the server's answer is not HTTP")?
    else {
        bail!("the server's answer ended early");
    };
    let chunked = response.headers.iter().any(|header| {
        header.name.eq_ignore_ascii_case("transfer-encoding")
            && !header.value.eq_ignore_ascii_case(b"identity")
    });
    if chunked {
        bail!("the server's answer is chunked, which this client does not read");
    }
    let body = &reply[length..];
    match response.code {
        Some(200) => Ok(body),
        code => bail!(
            "the server answered {}: {}",
            code.unwrap_or_default(),
            String::from_utf8_lossy(body)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_of_a_complete_answer_is_read_and_an_error_is_told() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(response_body(ok).unwrap(), b"{}");
        let refused = b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\nnope";
        assert!(
            response_body(refused)
                .unwrap_err()
                .to_string()
                .contains("404: nope")
        );
        assert!(response_body(b"HTTP/1.1 200 OK\r\ncontent-").is_err());
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert!(response_body(chunked).is_err());
    }
}
