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
                |client| json!({"id": client.id, "secret": client.secret, "tenant": client.tenant}),
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
