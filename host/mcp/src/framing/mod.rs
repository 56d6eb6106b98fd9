//! Newline-delimited JSON-RPC framing (the MCP stdio transport).
//!
//! A [`FrameReader`] cuts a byte stream into lines, never holds more than
//! `max_frame_bytes` of one line in memory, and classifies each line as a
//! JSON-RPC [`Message`] or as a [`FrameError`] that the proxy answers with a
//! JSON-RPC error before it goes on with the next line.
//!
//! A message is read the one way every JSON parser reads it (see [`strict`]):
//! what the proxy decides on is what the peer will run. A line that is not
//! a message still gives the ids it seems to carry ([`InvalidFrame::ids`]),
//! so that the request it concerns is answered rather than left waiting.

mod recover;
mod strict;

use std::fmt;
use std::io::{self, BufRead};

use serde_json::{Value, json};

/// The JSON-RPC error code for text that is not valid JSON (or not UTF-8).
pub const PARSE_ERROR: i64 = -32700;
/// The JSON-RPC error code for JSON that is not a valid request.
pub const INVALID_REQUEST: i64 = -32600;
/// The JSON-RPC error code for a request whose parameters are wrong.
pub const INVALID_PARAMS: i64 = -32602;

/// The id of a JSON-RPC request, kept as its JSON text so that `1` and `"1"`
/// stay distinct and the id can key a map.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Reads an id: a string or a number (or `null`, which only an error
    /// response may carry).
    pub fn from_value(value: &Value) -> Option<RequestId> {
        match value {
            Value::String(_) | Value::Number(_) | Value::Null => Some(RequestId(value.to_string())),
            _ => None,
        }
    }

    /// A string id.
    pub fn from_text(text: &str) -> RequestId {
        RequestId(Value::from(text).to_string())
    }

    /// Whether a client could read `self` and `other`, spelled differently,
    /// as the same id: the TypeScript SDK matches `Number(response.id)`, and
    /// a lax parser reads `2.0` or `"2"` as `2`. A server that answers under
    /// such a spelling must not get an answer past the checks keyed on the
    /// exact id.
    pub fn aliases(&self, other: &RequestId) -> bool {
        self != other
            && match (self.numeric(), other.numeric()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
    }

    /// The number a client's `Number(id)` would read, if any: a JSON number,
    /// or a string holding a decimal, hexadecimal, octal or binary number
    /// (blank counts as zero, as in JavaScript).
    fn numeric(&self) -> Option<f64> {
        match serde_json::from_str::<Value>(&self.0).ok()? {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => {
                let text = text.trim();
                let radix = |prefix: &str, radix| {
                    let digits = text
                        .strip_prefix(prefix)
                        .or_else(|| text.strip_prefix(&prefix.to_uppercase()))?;
                    u64::from_str_radix(digits, radix).ok().map(|n| n as f64)
                };
                if text.is_empty() {
                    Some(0.0)
                } else {
                    radix("0x", 16)
                        .or_else(|| radix("0o", 8))
                        .or_else(|| radix("0b", 2))
                        .or_else(|| text.parse::<f64>().ok().filter(|n| n.is_finite()))
                }
            }
            _ => None,
        }
    }

    /// The id as a JSON value, to put into a message.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).expect("a request id is JSON text")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of JSON-RPC message a line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A request, which expects a response with the same id.
    Request {
        /// The request id.
        id: RequestId,
        /// The method, such as `tools/call`.
        method: String,
    },
    /// A notification, which expects no response.
    Notification {
        /// The method, such as `notifications/tools/list_changed`.
        method: String,
    },
    /// A response (a `result` or an `error`) to an earlier request.
    Response {
        /// The id of the request it answers.
        id: RequestId,
    },
}

/// One well-formed JSON-RPC message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The exact bytes of the line, without its line ending: what the proxy
    /// forwards when it does not change the message.
    pub raw: Vec<u8>,
    /// The parsed message (always a JSON object).
    pub value: Value,
    /// What kind of message it is.
    pub kind: MessageKind,
}

impl Message {
    /// The `params` member, or `null`.
    pub fn params(&self) -> &Value {
        self.value.get("params").unwrap_or(&Value::Null)
    }
}

/// Why a line is not a JSON-RPC message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// The line is longer than the frame limit; it was skipped without being buffered.
    #[error("message larger than the {limit}-byte frame limit")]
    Oversize {
        /// The frame limit in bytes.
        limit: usize,
    },
    /// The line is not UTF-8.
    #[error("message is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The line is not JSON.
    #[error("message is not valid JSON: {0}")]
    MalformedJson(String),
    /// The line is JSON but not a JSON-RPC 2.0 message.
    #[error("not a JSON-RPC 2.0 message: {0}")]
    NotJsonRpc(String),
}

impl FrameError {
    /// The JSON-RPC error code that reports this error.
    pub fn code(&self) -> i64 {
        match self {
            FrameError::InvalidUtf8 { .. } | FrameError::MalformedJson(_) => PARSE_ERROR,
            FrameError::Oversize { .. } | FrameError::NotJsonRpc { .. } => INVALID_REQUEST,
        }
    }
}

/// A line that is not a message, and the ids it seems to carry.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidFrame {
    /// Why it is not a message.
    pub error: FrameError,
    /// The ids of the requests or responses it seems to be, read leniently
    /// (several for a batch, none when no id could be told): whom an error
    /// answers. Never a reason to act on the line's contents.
    pub ids: Vec<RequestId>,
}

impl InvalidFrame {
    /// The JSON-RPC error response that reports this error to the peer that
    /// sent the line: under its id when it gave exactly one, else `null`.
    pub fn to_response(&self) -> Vec<u8> {
        let id = match self.ids.as_slice() {
            [id] => id.to_value(),
            _ => Value::Null,
        };
        error_response(
            &id,
            self.error.code(),
            &format!("Portcullis: {}", self.error),
        )
    }
}

impl fmt::Display for InvalidFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// A JSON-RPC error response.
pub fn error_response(id: &Value, code: i64, message: &str) -> Vec<u8> {
    let response = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    });
    serde_json::to_vec(&response).expect("JSON values serialize")
}

/// One line of input.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A well-formed message.
    Message(Message),
    /// A line that is not a message.
    Invalid(InvalidFrame),
}

impl Frame {
    /// One message that came whole, not as a line (an HTTP body): the
    /// proxy forwards a message as one line, so its line breaks, which in
    /// JSON can only be white space between tokens, become spaces, and
    /// white space around it is trimmed. Every other byte is kept.
    pub fn from_body(body: &[u8]) -> Frame {
        let mut in_string = false;
        let mut escaped = false;
        let line = body
            .trim_ascii()
            .iter()
            .map(|&byte| {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' if in_string => escaped = true,
                    b'"' => in_string = !in_string,
                    // Inside a string a raw line break is invalid JSON,
                    // and stays so.
                    b'\n' | b'\r' if !in_string => return b' ',
                    _ => {}
                }
                byte
            })
            .collect();
        parse(line)
    }
}

/// Reads newline-delimited JSON-RPC messages with a bound on the size of one line.
#[derive(Debug)]
pub struct FrameReader<R> {
    input: R,
    max_frame_bytes: usize,
    line: Vec<u8>,
    /// The last bytes of an oversize line (its first ones stay in `line`),
    /// where an id written last is found.
    tail: Vec<u8>,
}

/// How much of the start and of the end of an oversize line is kept, to
/// recover its id.
const KEPT_OF_OVERSIZE: usize = 4096;

impl<R: BufRead> FrameReader<R> {
    /// A reader that refuses lines longer than `max_frame_bytes`.
    pub fn new(input: R, max_frame_bytes: usize) -> FrameReader<R> {
        FrameReader {
            input,
            max_frame_bytes,
            line: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// The next non-blank line, or `None` at the end of the input.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            let Some(oversize) = self.read_line()? else {
                return Ok(None);
            };
            if oversize {
                return Ok(Some(Frame::Invalid(InvalidFrame {
                    error: FrameError::Oversize {
                        limit: self.max_frame_bytes,
                    },
                    ids: recover::truncated_id(&self.line, &self.tail),
                })));
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(parse(std::mem::take(&mut self.line))));
        }
    }

    /// Reads one line into `self.line` (without the `\n`). Returns whether it
    /// was over the limit (then `self.line` holds its first bytes and
    /// `self.tail` its last ones), or `None` at the end.
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.line.clear();
        self.tail.clear();
        let mut oversize = false;
        let mut read_any = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                return Ok(read_any.then_some(oversize));
            }
            read_any = true;
            let newline = available.iter().position(|&byte| byte == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            if !oversize && self.line.len() + chunk.len() > self.max_frame_bytes {
                oversize = true;
                self.line.truncate(KEPT_OF_OVERSIZE);
                self.line.shrink_to(KEPT_OF_OVERSIZE);
            }
            if oversize {
                let head_room = KEPT_OF_OVERSIZE.saturating_sub(self.line.len());
                self.line
                    .extend_from_slice(&chunk[..head_room.min(chunk.len())]);
                self.tail.extend_from_slice(chunk);
                let excess = self.tail.len().saturating_sub(KEPT_OF_OVERSIZE);
                self.tail.drain(..excess);
            } else {
                self.line.extend_from_slice(chunk);
            }
            let consumed = newline.map_or(available.len(), |at| at + 1);
            self.input.consume(consumed);
            if newline.is_some() {
                return Ok(Some(oversize));
            }
        }
    }
}

/// Classifies one line.
fn parse(raw: Vec<u8>) -> Frame {
    let invalid = |error, raw: &[u8]| {
        Frame::Invalid(InvalidFrame {
            error,
            ids: recover::ids(raw),
        })
    };
    if let Err(error) = std::str::from_utf8(&raw) {
        let offset = error.valid_up_to();
        return invalid(FrameError::InvalidUtf8 { offset }, &raw);
    }
    let raw = match strict::mend_lone_surrogates(&raw) {
        std::borrow::Cow::Borrowed(_) => raw,
        std::borrow::Cow::Owned(mended) => mended,
    };
    let value = match strict::parse(&raw) {
        Ok(value) => value,
        Err(error) => return invalid(FrameError::MalformedJson(error.to_string()), &raw),
    };
    match classify(&value) {
        Ok(kind) => Frame::Message(Message { raw, value, kind }),
        Err(error) => invalid(error, &raw),
    }
}

/// The members of a JSON-RPC message.
const ENVELOPE: [&str; 6] = ["jsonrpc", "id", "method", "params", "result", "error"];

/// The members of a request's `params` that the proxy reads, in MCP. Both
/// lists are in lowercase, as [`strict::case_variant`] expects.
const PARAMS: [&str; 6] = [
    "name",
    "arguments",
    "_meta",
    "cursor",
    "uri",
    "capabilities",
];

/// Tells a request, a notification and a response apart.
fn classify(value: &Value) -> Result<MessageKind, FrameError> {
    let invalid = |what: &str| FrameError::NotJsonRpc(what.to_owned());
    let Some(object) = value.as_object() else {
        let what = if value.is_array() {
            "batches are not supported"
        } else {
            "a message must be a JSON object"
        };
        return Err(invalid(what));
    };
    let params = object.get("params").and_then(Value::as_object);
    let variant = strict::case_variant(object, &ENVELOPE)
        .or_else(|| params.and_then(|params| strict::case_variant(params, &PARAMS)));
    if let Some((name, member)) = variant {
        return Err(FrameError::NotJsonRpc(format!(
            "the member {name:?} reads as {member:?} to a case-insensitive parser; names are exact"
        )));
    }
    let id = match object.get("id") {
        None => None,
        Some(id) => Some(
            RequestId::from_value(id)
                .ok_or_else(|| invalid("`id` must be a string or a number"))?,
        ),
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    match (object.get("method"), id) {
        (Some(Value::String(method)), Some(id)) if id.0 != "null" => Ok(MessageKind::Request {
            id,
            method: method.clone(),
        }),
        (Some(Value::String(_)), Some(_)) => Err(invalid("a request id must not be null")),
        (Some(Value::String(method)), None) => Ok(MessageKind::Notification {
            method: method.clone(),
        }),
        (Some(_), _) => Err(invalid("`method` must be a string")),
        (None, Some(id)) if object.contains_key("result") || object.contains_key("error") => {
            if object.contains_key("result") && object.contains_key("error") {
                return Err(invalid(
                    "a response carries a `result` or an `error`, not both",
                ));
            }
            Ok(MessageKind::Response { id })
        }
        (None, _) => Err(invalid(
            "a message needs a `method`, or an `id` with a `result` or an `error`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(json: &str) -> RequestId {
        RequestId::from_value(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn ids_a_client_reads_as_one_alias_each_other() {
        for spelling in ["2.0", "2e0", "20e-1", r#""2""#, r#"" 2 ""#, r#""0x2""#] {
            assert!(id(spelling).aliases(&id("2")), "{spelling}");
            assert!(id("2").aliases(&id(spelling)), "{spelling}");
        }
        assert!(id(r#""""#).aliases(&id("0")));
        assert!(
            !id("2").aliases(&id("2")),
            "the same id is a match, not an alias"
        );
        for other in ["3", r#""two""#, r#""2x""#, "null"] {
            assert!(!id(other).aliases(&id("2")), "{other}");
        }
        assert!(!id(r#""a""#).aliases(&id(r#""b""#)));
    }

    fn frames(input: &[u8], limit: usize) -> Vec<Frame> {
        let mut reader = FrameReader::new(input, limit);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next_frame().unwrap() {
            frames.push(frame);
        }
        frames
    }

    fn message(frame: &Frame) -> &Message {
        match frame {
            Frame::Message(message) => message,
            Frame::Invalid(invalid) => panic!("expected a message, got {invalid}"),
        }
    }

    fn invalid(frame: &Frame) -> &InvalidFrame {
        match frame {
            Frame::Invalid(invalid) => invalid,
            Frame::Message(message) => panic!("expected an error, got {message:?}"),
        }
    }

    #[test]
    fn a_body_becomes_one_line_with_the_same_meaning() {
        let body =
            b"\r\n {\"jsonrpc\": \"2.0\",\r\n  \"id\": 1,\n  \"method\": \"tools/list\"}\n\n";
        let frame = Frame::from_body(body);
        let message = message(&frame);
        assert_eq!(
            message.raw,
            b"{\"jsonrpc\": \"2.0\",    \"id\": 1,   \"method\": \"tools/list\"}"
        );
        assert!(!message.raw.contains(&b'\n'));
        assert_eq!(message.value["method"], "tools/list");
    }

    #[test]
    fn a_body_with_a_raw_line_break_in_a_string_is_refused() {
        // In a string a line break must be escaped: a raw one is invalid
        // JSON, so no body can use it to hide a second line.
        let frame = Frame::from_body(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\nb\"}");
        invalid(&frame);
        invalid(&Frame::from_body(b"  \n "));
    }

    fn error(frame: &Frame) -> &FrameError {
        &invalid(frame).error
    }

    #[test]
    fn keeps_the_exact_bytes_of_each_message() {
        let input = b"{\"jsonrpc\":\"2.0\",  \"id\":1,\"method\":\"ping\"}\r\n\n  \n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}";
        let frames = frames(input, 1024);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            message(&frames[0]).raw,
            b"{\"jsonrpc\":\"2.0\",  \"id\":1,\"method\":\"ping\"}"
        );
        assert_eq!(
            message(&frames[0]).kind,
            MessageKind::Request {
                id: RequestId("1".into()),
                method: "ping".into()
            }
        );
        assert_eq!(
            message(&frames[1]).kind,
            MessageKind::Notification { method: "x".into() }
        );
    }

    #[test]
    fn skips_an_oversize_line_and_reads_the_next() {
        let long = format!(
            "{{\"jsonrpc\":\"2.0\",\"method\":\"{}\"}}\n",
            "a".repeat(100)
        );
        let input = format!("{long}{{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{{}}}}\n");
        let frames = frames(input.as_bytes(), 64);
        assert_eq!(error(&frames[0]), &FrameError::Oversize { limit: 64 });
        assert_eq!(
            message(&frames[1]).kind,
            MessageKind::Response {
                id: RequestId::from_text("a")
            }
        );
    }

    #[test]
    fn reports_invalid_utf8_and_malformed_json_as_parse_errors() {
        let frames = frames(b"{\"a\":\"\xff\"}\n{not json}\n", 1024);
        assert_eq!(error(&frames[0]), &FrameError::InvalidUtf8 { offset: 6 });
        assert_eq!(error(&frames[0]).code(), PARSE_ERROR);
        assert!(matches!(error(&frames[1]), FrameError::MalformedJson(_)));
        assert_eq!(error(&frames[1]).code(), PARSE_ERROR);
    }

    #[test]
    fn answers_a_broken_request_with_its_own_id() {
        let frames = frames(
            b"{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}\n[]\n",
            1024,
        );
        let response: Value = serde_json::from_slice(&invalid(&frames[0]).to_response()).unwrap();
        assert_eq!(response["id"], 7);
        assert_eq!(response["error"]["code"], INVALID_REQUEST);
        let response: Value = serde_json::from_slice(&invalid(&frames[1]).to_response()).unwrap();
        assert_eq!(response["id"], Value::Null);
        assert!(
            response["error"]["message"]
                .as_str()
                .unwrap()
                .contains("batches")
        );
    }

    #[test]
    fn accepts_a_null_id_only_on_a_response() {
        let frames = frames(
            b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1,\"message\":\"m\"}}\n{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}\n",
            1024,
        );
        assert!(matches!(
            message(&frames[0]).kind,
            MessageKind::Response { .. }
        ));
        assert!(matches!(error(&frames[1]), FrameError::NotJsonRpc { .. }));
    }

    #[test]
    fn a_line_that_is_not_a_message_is_answered_under_the_id_it_carries() {
        let lines: [&[u8]; 4] = [
            b"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"t\":\"\xff\"}}\n",
            b"{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\",\"method\":\"tools/call\"}\n",
            b"{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"ping\",\"Method\":\"tools/call\"}\n",
            b"{\"jsonrpc\":\"2.0\",\"id\":14,\"result\":{},\"error\":{\"code\":1,\"message\":\"m\"}}\n",
        ];
        for (line, id) in lines.iter().zip(11..) {
            let frames = frames(line, 1024);
            let response: Value =
                serde_json::from_slice(&invalid(&frames[0]).to_response()).unwrap();
            assert_eq!(response["id"], id, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn an_oversize_line_gives_the_id_at_its_start_or_its_end() {
        let padding = "x".repeat(10_000);
        let first =
            format!("{{\"jsonrpc\":\"2.0\",\"id\":21,\"result\":{{\"t\":\"{padding}\"}}}}\n");
        let last =
            format!("{{\"result\":{{\"t\":\"{padding}\"}},\"jsonrpc\":\"2.0\",\"id\":22}}\n");
        let input = format!("{first}{last}");
        let frames = frames(input.as_bytes(), 1000);
        assert_eq!(invalid(&frames[0]).ids, [RequestId("21".into())]);
        assert_eq!(invalid(&frames[1]).ids, [RequestId("22".into())]);
    }

    #[test]
    fn a_lone_surrogate_is_forwarded_mended_as_it_was_checked() {
        let frames = frames(
            br#"{"jsonrpc":"2.0","id":1,"result":{"t":"a\ud83d"}}"#,
            1024,
        );
        let message = message(&frames[0]);
        assert_eq!(message.value["result"]["t"], "a\u{FFFD}");
        assert_eq!(
            message.raw,
            br#"{"jsonrpc":"2.0","id":1,"result":{"t":"a\ufffd"}}"#
        );
    }

    #[test]
    fn a_case_variant_of_a_call_parameter_is_refused() {
        for line in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fetch","Arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fetch","NAME":"delete_repo"}}"#,
            r#"{"jsonrpc":"2.0","ID":1,"id":2,"method":"ping"}"#,
        ] {
            assert!(
                matches!(error(&frames(line.as_bytes(), 1024)[0]), FrameError::NotJsonRpc(what) if what.contains("case-insensitive")),
                "{line}"
            );
        }
    }
}
