//! `portcullis serve`, started for a test and stopped (SIGTERM, as a user's
//! service manager would) when dropped; and the hook command that talks to
//! it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::binary::{portcullis, run_with_stdin};

/// A running decision server.
pub struct Server {
    child: Child,
    /// Its Unix socket.
    pub socket: PathBuf,
    /// Its loopback HTTP address, when started with `--listen`.
    pub http: Option<String>,
}

impl Server {
    /// Starts `portcullis serve --socket <dir>/run/s.sock` with `options`, and
    /// waits until it listens.
    pub fn start(dir: &Path, options: &[&str]) -> Server {
        // The server makes the socket's directory itself, private.
        let socket = dir.join("run").join("s.sock");
        let mut child = portcullis()
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portcullis serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut http = None;
        let expected = 1 + usize::from(options.contains(&"--listen"));
        let mut listening = 0;
        let mut said = String::new();
        while listening < expected {
            let Some(line) = lines.next() else {
                panic!("the server exited before it listened: {said}");
            };
            let line = line.expect("stderr is text");
            said.push_str(&line);
            said.push('\n');
            if let Some(rest) = line.strip_prefix("portcullis: serving HTTP on ") {
                http = rest.split(';').next().map(str::to_owned);
                listening += 1;
            } else if line.starts_with("portcullis: serving decisions on ") {
                listening += 1;
            }
        }
        // Keep draining, so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            socket,
            http,
        }
    }

    /// Runs `portcullis hook <runtime>` against this server with `payload`
    /// on standard input.
    pub fn hook(&self, runtime: &str, payload: &str) -> Output {
        let mut command = portcullis();
        command
            .args(["hook", runtime, "--socket"])
            .arg(&self.socket);
        run_with_stdin(command, payload)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `address`, as `localhost`; the status and the body.
pub fn http(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("Host", "localhost"), ("Content-Type", "application/json")];
    if let Some(authorization) = &authorization {
        headers.push(("Authorization", authorization));
    }
    let reply = crate::http::request(address, method, path, &headers, body);
    (reply.status, reply.body)
}
