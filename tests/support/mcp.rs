//! Helpers for the proxy's end-to-end tests: the real peers installed in
//! `tests/peers/` (see its README), a raw JSON-RPC client that drives
//! `portcullis run` line by line, and the real `mcp` Python client.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::binary::binary as portcullis;

/// How long to wait for a peer before the test fails as hung. A guard against
/// hanging forever, not a timing assertion.
/// Generous: a debug build compiles every policy when it starts, on a
/// machine the tests share.
pub const HANG_GUARD: Duration = Duration::from_secs(300);

/// `tests/peers/`.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

const INSTALL_NODE: &str = "npm ci --prefix tests/peers";
const INSTALL_PYTHON: &str = "python3 -m venv tests/peers/.venv && tests/peers/.venv/bin/pip install -r tests/peers/requirements.txt";

fn require(path: PathBuf, install: &str) -> PathBuf {
    assert!(
        path.exists(),
        "test peer {} is not installed; install the peers from the repository root with: {install}",
        path.display()
    );
    path
}

/// The filesystem server, serving `root`.
pub fn filesystem_server(root: &Path) -> Vec<OsString> {
    let server = require(
        peers_dir().join("node_modules/.bin/mcp-server-filesystem"),
        INSTALL_NODE,
    );
    vec![server.into(), root.into()]
}

/// The "everything" reference server (stdio).
pub fn everything_server() -> Vec<OsString> {
    let server = require(
        peers_dir().join("node_modules/.bin/mcp-server-everything"),
        INSTALL_NODE,
    );
    vec![server.into(), "stdio".into()]
}

/// The Python interpreter of the peers' virtualenv (which has `mcp`).
pub fn python() -> PathBuf {
    require(peers_dir().join(".venv/bin/python"), INSTALL_PYTHON)
}

/// The rug-pull test server.
pub fn rug_pull_server() -> Vec<OsString> {
    vec![
        python().into(),
        peers_dir().join("rug_pull_server.py").into(),
    ]
}

/// The `portcullis run` command line for `server`.
pub fn run_command(options: &[&str], server: &[OsString]) -> Vec<OsString> {
    let mut command: Vec<OsString> = vec![portcullis().into(), "run".into()];
    command.extend(options.iter().map(OsString::from));
    command.push("--".into());
    command.extend(server.iter().cloned());
    command
}

/// A scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portcullis-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the real MCP client (`tests/peers/client.py`) against `command` and
/// returns the JSON line it printed for each step.
pub fn python_client(steps: &Value, approve: Option<&str>, command: &[OsString]) -> Vec<Value> {
    let mut client = Command::new(python());
    client.arg(peers_dir().join("client.py"));
    if let Some(action) = approve {
        client.args(["--approve", action]);
    }
    client.arg(steps.to_string()).arg("--").args(command);
    client_lines(client)
}

/// How the client authenticates to an HTTP server.
#[derive(Debug, Clone, Copy)]
pub enum HttpAuth<'a> {
    /// A bearer token (an API key).
    Bearer(&'a str),
    /// An access token the client gets itself through the client
    /// credentials grant, from the authorization server it discovers.
    OAuth {
        /// The issuer the client's credentials belong to.
        issuer: &'a str,
        /// The client id.
        client_id: &'a str,
        /// The client secret.
        secret: &'a str,
    },
}

/// Runs the real MCP client against `url` over Streamable HTTP, and returns
/// the JSON line it printed for each step.
pub fn python_http_client(steps: &Value, url: &str, auth: HttpAuth<'_>) -> Vec<Value> {
    let mut client = Command::new(python());
    client
        .arg(peers_dir().join("client.py"))
        .args(["--url", url]);
    match auth {
        HttpAuth::Bearer(token) => client.args(["--bearer", token]),
        HttpAuth::OAuth {
            issuer,
            client_id,
            secret,
        } => client.args(["--oauth", issuer, client_id, secret]),
    };
    client.arg(steps.to_string());
    client_lines(client)
}

/// The JSON lines the client printed; panics with its stderr when it failed.
fn client_lines(mut client: Command) -> Vec<Value> {
    let output = client.output().expect("the Python client starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the MCP client failed ({}):\n{stderr}",
        output.status
    );
    String::from_utf8(output.stdout)
        .expect("the client prints UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

/// What a process wrote on its stderr so far, shared with the thread that collects it.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<String>>);

impl Log {
    /// The text so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `needle` was logged at least `count` times.
    pub fn wait_for(&self, needle: &str, count: usize) {
        let start = Instant::now();
        while self.text().matches(needle).count() < count {
            assert!(
                start.elapsed() < HANG_GUARD,
                "never logged {needle:?} {count} time(s); the log:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// An MCP server process (normally `portcullis run`) driven line by line.
pub struct Proxy {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Vec<u8>>,
    stderr: Log,
    next_id: u64,
    /// Notifications and requests received while waiting for responses.
    pub received: Vec<Value>,
}

impl Proxy {
    /// Starts `portcullis run <options> -- <server>`.
    pub fn start(options: &[&str], server: &[OsString]) -> Proxy {
        Proxy::spawn(&run_command(options, server))
    }

    /// Starts `command` (with no proxy in front unless it is one).
    pub fn spawn(command: &[OsString]) -> Proxy {
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            // The tests read the proxy's log (reloads are logged at info).
            .env("PORTCULLIS_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portcullis starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if sender.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let stderr = Log::default();
        let sink = Arc::clone(&stderr.0);
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read @ 1..) = pipe.read(&mut buffer) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        Proxy {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            next_id: 0,
            received: Vec::new(),
        }
    }

    /// Writes `bytes` and a newline.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends one message.
    pub fn send(&mut self, message: &Value) {
        self.send_raw(&serde_json::to_vec(message).unwrap());
    }

    /// The next line on the proxy's stdout, raw.
    pub fn recv_raw(&mut self) -> Vec<u8> {
        self.lines
            .recv_timeout(HANG_GUARD)
            .unwrap_or_else(|_| panic!("no message from portcullis; its log:\n{}", self.stderr()))
    }

    /// The next message on the proxy's stdout.
    pub fn recv(&mut self) -> Value {
        let line = self.recv_raw();
        serde_json::from_slice(&line).unwrap_or_else(|error| {
            panic!(
                "portcullis wrote a line that is not JSON ({error}): {}",
                String::from_utf8_lossy(&line)
            )
        })
    }

    /// Sends a request and returns its response; other messages are kept in `received`.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(id)
    }

    /// Sends a request and returns the exact line of its response.
    pub fn request_raw(&mut self, method: &str, params: Value) -> Vec<u8> {
        let id = self.next_id();
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let line = self.recv_raw();
            let message: Value = serde_json::from_slice(&line).unwrap();
            if message["id"] == id && message.get("method").is_none() {
                return line;
            }
            self.received.push(message);
        }
    }

    /// Waits for the response to request `id`.
    pub fn response(&mut self, id: u64) -> Value {
        loop {
            let message = self.recv();
            if message["id"] == id && message.get("method").is_none() {
                return message;
            }
            self.received.push(message);
        }
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The MCP handshake.
    pub fn initialize(&mut self, capabilities: Value) -> Value {
        let response = self.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": capabilities,
                "clientInfo": {"name": "portcullis-e2e", "version": "0"},
            }),
        );
        assert!(
            response.get("result").is_some(),
            "initialize failed: {response}"
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        response
    }

    /// Calls a tool and returns the `result`.
    pub fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        let response = self.request("tools/call", json!({"name": name, "arguments": arguments}));
        response
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("tools/call {name} got no result: {response}"))
    }

    /// What the process logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Takes the proxy's stdin, to write to it from another thread.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin is open")
    }

    /// The process id of the proxy.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's log, to watch from another thread.
    pub fn log(&self) -> Log {
        self.stderr.clone()
    }

    /// Closes the proxy's stdin and waits for it to exit.
    pub fn finish(mut self) -> ExitStatus {
        self.stdin = None;
        self.wait()
    }

    /// Waits for the proxy to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < HANG_GUARD, "portcullis did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proxy {
    /// Asks the proxy to stop (SIGTERM, so that it stops its server's
    /// group too), and kills it if it has not within two seconds.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(2) {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a tool result's content.
pub fn result_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect()
}
