//! One HTTP/1.1 exchange over a fresh connection, read to its end: enough
//! for the tests to send what a client library would refuse to (a foreign
//! `Host`, a forged session id) and to read the status, headers and body.

use std::io::{Read, Write};
use std::net::TcpStream;

/// A response.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl Reply {
    /// The value of the header `name` (lowercase), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The JSON-RPC messages of an SSE body, or the JSON body itself.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        if self
            .header("content-type")
            .is_some_and(|kind| kind.starts_with("text/event-stream"))
        {
            self.body
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim)
                // Events without data prime a client's resumption.
                .filter(|data| !data.is_empty())
                .map(|data| {
                    serde_json::from_str(data).unwrap_or_else(|error| panic!("{error}: {data}"))
                })
                .collect()
        } else {
            vec![
                serde_json::from_str(&self.body)
                    .unwrap_or_else(|error| panic!("{error}: {}", self.body)),
            ]
        }
    }
}

/// Sends `method path` with `headers` and `body` to `address` (a
/// `host:port`), with `Connection: close`, and reads the whole response.
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = TcpStream::connect(address).expect("the server accepts");
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        head.push_str(&format!("Host: {address}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).expect("request written");
    stream.write_all(body.as_bytes()).expect("body written");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response read");
    let raw = String::from_utf8(raw).expect("a text response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The payload of a chunked body.
fn dechunk(mut body: &str) -> String {
    let mut payload = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        payload.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    payload
}
