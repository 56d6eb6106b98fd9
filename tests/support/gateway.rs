//! `portcullis gateway` and a real OpenID provider (`oidc-provider` from
//! npm, `tests/peers/oidc_provider.mjs`), each started for a test and
//! stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::binary::portcullis;
use crate::http::{Reply, request};
use crate::mcp::peers_dir;

/// An OAuth client of the provider, and the tenant its tokens name.
#[derive(Debug, Clone, Copy)]
pub struct OAuthClient {
    /// The client id: the tokens' subject.
    pub id: &'static str,
    /// Its secret.
    pub secret: &'static str,
    /// The `tenant` claim of its tokens.
    pub tenant: &'static str,
    /// The `roles` claim of its tokens.
    pub roles: &'static [&'static str],
}

/// A running OpenID provider.
pub struct OpenIdProvider {
    child: Child,
    /// Its issuer URL.
    pub issuer: String,
}

impl OpenIdProvider {
    /// Starts the provider with `clients`, and waits until it listens.
    pub fn start(clients: &[OAuthClient]) -> OpenIdProvider {
        let clients: Vec<Value> = clients
            .iter()
            .map(
                |client| json!({"id": client.id, "secret": client.secret, "tenant": client.tenant, "roles": client.roles}),
            )
            .collect();
        let module = peers_dir().join("oidc_provider.mjs");
        assert!(
            peers_dir().join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: npm ci --prefix tests/peers"
        );
        let mut child = Command::new("node")
            .arg(module)
            .arg(Value::from(clients).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the provider says where it listens");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("the provider did not start ({error}): {line:?}"));
        OpenIdProvider {
            child,
            issuer: ready["issuer"].as_str().expect("an issuer").to_owned(),
        }
    }

    /// An access token for `client`, for the resource `resource`, through
    /// the client credentials grant.
    pub fn token(&self, client: OAuthClient, resource: &str) -> String {
        let address = self.issuer.trim_start_matches("http://");
        let basic = base64(&format!("{}:{}", client.id, client.secret));
        let form = format!(
            "grant_type=client_credentials&scope=mcp&resource={}",
            percent_encode(resource)
        );
        let reply = request(
            address,
            "POST",
            "/token",
            &[
                ("Authorization", &format!("Basic {basic}")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &form,
        );
        assert_eq!(
            reply.status, 200,
            "the provider refused a token: {}",
            reply.body
        );
        let body: Value = serde_json::from_str(&reply.body).expect("a token response");
        body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running gateway.
pub struct Gateway {
    child: Child,
    /// Its `host:port`.
    pub address: String,
    /// Its configuration file.
    pub config: PathBuf,
}

impl Gateway {
    /// Writes `config` (TOML, where `{address}` stands for a free loopback
    /// address) to `dir/gateway.toml`, starts the gateway on it and waits
    /// until it listens.
    pub fn start(dir: &Path, config: &str) -> Gateway {
        let address = free_address();
        let path = dir.join("gateway.toml");
        std::fs::write(&path, config.replace("{address}", &address)).expect("config written");
        let mut child = portcullis()
            .arg("gateway")
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portcullis gateway starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut said = String::new();
        loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("the gateway exited before it listened:\n{said}");
            };
            said.push_str(&line);
            said.push('\n');
            if line.starts_with("portcullis: gateway on ") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Gateway {
            child,
            address,
            config: path,
        }
    }

    /// Starts a gateway in `dir` in front of `server` (as `everything`),
    /// with the rest of its configuration in `config` (TOML tables:
    /// authentication, limits, `[listen.tls]`…).
    pub fn in_front_of(dir: &Path, server: &HttpServer, config: &str) -> Gateway {
        let config = format!(
            "[listen]\naddress = \"{{address}}\"\n[[servers]]\nname = \"everything\"\nurl = \"{}\"\n{config}",
            server.url
        );
        Gateway::start(dir, &config)
    }

    /// The URL of the server `name` behind the gateway.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/mcp/{name}", self.address)
    }

    /// The gateway's own URL: the resource its tokens are for.
    pub fn resource(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A JSON-RPC `message` POSTed to `/mcp/<server>` with `headers` (and
    /// the Accept and Content-Type every client sends).
    pub fn post(&self, server: &str, headers: &[(&str, &str)], message: &Value) -> Reply {
        let mut all = vec![
            ("Accept", "application/json, text/event-stream"),
            ("Content-Type", "application/json"),
        ];
        all.extend_from_slice(headers);
        request(
            &self.address,
            "POST",
            &format!("/mcp/{server}"),
            &all,
            &message.to_string(),
        )
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// An MCP server of the test's own, serving Streamable HTTP on a free
/// loopback port; stopped when dropped.
pub struct HttpServer {
    child: Child,
    /// Its MCP endpoint.
    pub url: String,
}

impl HttpServer {
    /// `tests/peers/remote_server.py`: `echo`, and `seen_authorization`,
    /// which answers the Authorization header its request carried.
    pub fn remote() -> HttpServer {
        let address = free_address();
        let port = address.rsplit(':').next().expect("a port").to_owned();
        let mut command = Command::new(crate::mcp::python());
        command.arg(peers_dir().join("remote_server.py")).arg(port);
        HttpServer::start(command, &address)
    }

    /// `@modelcontextprotocol/server-everything` in its Streamable HTTP mode.
    pub fn everything() -> HttpServer {
        let address = free_address();
        let port = address.rsplit(':').next().expect("a port").to_owned();
        let mut command = Command::new(peers_dir().join("node_modules/.bin/mcp-server-everything"));
        command.arg("streamableHttp").env("PORT", port);
        HttpServer::start(command, &address)
    }

    fn start(mut command: Command, address: &str) -> HttpServer {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let deadline = std::time::Instant::now() + crate::mcp::HANG_GUARD;
        while std::net::TcpStream::connect(address).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the server never listened on {address}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        HttpServer {
            child,
            url: format!("http://{address}/mcp"),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a load of concurrent sessions saw.
#[derive(Debug, Default)]
pub struct Load {
    /// The latency of every call that was answered, in microseconds.
    pub latencies: Vec<u64>,
    /// Calls that got no answer.
    pub lost: usize,
    /// Calls answered with another call's id or text.
    pub misrouted: usize,
}

impl Load {
    /// The `quantile` (0 to 1) of the latencies, in milliseconds.
    pub fn quantile_ms(&mut self, quantile: f64) -> f64 {
        self.latencies.sort_unstable();
        let Some(last) = self.latencies.len().checked_sub(1) else {
            return f64::NAN;
        };
        let at = ((last as f64) * quantile).round() as usize;
        self.latencies[at] as f64 / 1000.0
    }
}

/// Runs `sessions` MCP sessions at once against `url`, each on a
/// keep-alive connection of its own, initializing and then calling `echo`
/// `calls` times in turn with a message of its own; checks every answer
/// against its call. `headers` go with every request (credentials).
pub fn load(url: &str, headers: &[(&str, &str)], sessions: usize, calls: usize) -> Load {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut base = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        base.insert(
            reqwest::header::HeaderName::try_from(*name).expect("a header name"),
            reqwest::header::HeaderValue::try_from(*value).expect("a header value"),
        );
    }
    base.insert(
        "accept",
        "application/json, text/event-stream"
            .parse()
            .expect("a value"),
    );
    base.insert("content-type", "application/json".parse().expect("a value"));
    let threads: Vec<_> = (0..sessions)
        .map(|session| {
            let (url, mut headers) = (url.to_owned(), base.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let (_, session_id) = exchange(
                    &client,
                    &url,
                    &headers,
                    &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                        "protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": {"name": "load", "version": "1"}}}),
                );
                headers.insert(
                    "mcp-session-id",
                    session_id.expect("a session id").parse().expect("a value"),
                );
                headers.insert(
                    "mcp-protocol-version",
                    "2025-11-25".parse().expect("a value"),
                );
                exchange(
                    &client,
                    &url,
                    &headers,
                    &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                );
                let mut load = Load::default();
                for call in 1..=calls {
                    let text = format!("session {session} call {call}");
                    let started = std::time::Instant::now();
                    let (answer, _) = exchange(
                        &client,
                        &url,
                        &headers,
                        &json!({"jsonrpc": "2.0", "id": call, "method": "tools/call",
                            "params": {"name": "echo", "arguments": {"message": text}}}),
                    );
                    let elapsed = started.elapsed();
                    match answer {
                        None => load.lost += 1,
                        Some(answer) => {
                            let echoed = answer["result"]["content"][0]["text"]
                                .as_str()
                                .unwrap_or("");
                            if answer["id"] != call || !echoed.ends_with(&text) {
                                load.misrouted += 1;
                            }
                            load.latencies
                                .push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
                        }
                    }
                }
                let _ = client.delete(&url).headers(headers).send();
                load
            })
        })
        .collect();
    let mut total = Load::default();
    for thread in threads {
        let load = thread.join().expect("a session thread");
        total.latencies.extend(load.latencies);
        total.lost += load.lost;
        total.misrouted += load.misrouted;
    }
    total
}

/// POSTs `message`; the answer (the first message with an id and a result
/// or error, from a JSON body or an SSE stream, read no further) and the
/// session id the response carried.
fn exchange(
    client: &reqwest::blocking::Client,
    url: &str,
    headers: &reqwest::header::HeaderMap,
    message: &Value,
) -> (Option<Value>, Option<String>) {
    let Ok(response) = client
        .post(url)
        .headers(headers.clone())
        .body(message.to_string())
        .send()
    else {
        return (None, None);
    };
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if !response.status().is_success() {
        return (None, session);
    }
    let event_stream = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("text/event-stream"));
    let is_answer = |value: &Value| value.get("id").is_some() && value.get("method").is_none();
    if !event_stream {
        let answer = response.json::<Value>().ok().filter(is_answer);
        return (answer, session);
    }
    for line in BufReader::new(response).lines() {
        let Ok(line) = line else { break };
        let Some(data) = line.strip_prefix("data:").map(str::trim) else {
            continue;
        };
        if let Ok(value) = serde_json::from_str::<Value>(data)
            && is_answer(&value)
        {
            return (Some(value), session);
        }
    }
    (None, session)
}

/// Makes a self-signed certificate for `localhost`, writes it and its key
/// as `cert.pem` and `key.pem` in `dir`, and returns the certificate (PEM).
pub fn self_signed_certificate(dir: &Path) -> String {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let certificate = certified.cert.pem();
    std::fs::write(dir.join("cert.pem"), &certificate).expect("written");
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).expect("written");
    certificate
}

/// An HTTPS client that trusts `certificate` (PEM) alone, or, without one,
/// the system's roots.
pub fn https_client(certificate: Option<&str>) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::blocking::Client::builder();
    match certificate {
        Some(pem) => builder.tls_certs_only([
            reqwest::Certificate::from_pem(pem.as_bytes()).expect("a PEM certificate")
        ]),
        None => builder,
    }
    .build()
    .expect("a client")
}

/// A loopback address nothing listens on.
fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").to_string()
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_pads_as_rfc_4648_says() {
        assert_eq!(super::base64("a:b"), "YTpi");
        assert_eq!(super::base64("ab"), "YWI=");
        assert_eq!(super::base64("a"), "YQ==");
    }
}
