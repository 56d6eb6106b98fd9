//! The audit log: one JSON line per decision, hash-chained so that an edited,
//! removed or reordered line is detected by [`verify`].
//!
//! Each record holds the hash of the record before it (`prev_hash`, 64 zeros
//! for the first) and its own `hash`: the SHA-256 of the record's canonical
//! JSON (object keys sorted, no whitespace) without the `hash` member, or,
//! with an [`AuditKey`], its HMAC-SHA256 under the key, so that whoever can
//! write the file but does not hold the key cannot rewrite the records and
//! recompute the chain.
//!
//! A head file stored apart (`<log>.head` unless the operator puts it
//! elsewhere) holds the last record's number and hash, so that removing
//! records from the end, or every record, is detected too.
//!
//! Records carry digests of tool arguments (keyed with the key), never the
//! arguments, and findings without the matched text; messages are stored
//! with quoted excerpts and secret-looking tokens redacted, so that the log
//! does not become a copy of the secrets the policies caught.
//!
//! One process writes a log at a time: the file is locked, and a second
//! writer is refused. The file is created 0600 and a symbolic link is not
//! followed. A record half-written when the last writer stopped (a full
//! disk, a crash) is reported and cut off, and the chain continues after the
//! last whole record.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::{Context, Decision, Event, Reason, Verdict};
use portcullis_text::digest::{canonical_json, hex, sha256_hex};

/// The `prev_hash` of the first record of a log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `chain` of a log without a key.
const SHA256_CHAIN: &str = "sha256";
/// The `chain` of a log written with an [`AuditKey`].
const HMAC_CHAIN: &str = "hmac-sha256";

/// What an audit operation failed on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The log could not be read or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A line of the log is not what the chain says it must be.
    #[error("audit log {path}, line {line}: {what}")]
    Invalid {
        /// The log file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        what: String,
    },
    /// The log does not end where its head file says it does.
    #[error("audit log {path}: {what}")]
    Truncated {
        /// The log file.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// Another process is writing the log.
    #[error("audit log {path} is being written by another process; give each process its own log")]
    Locked {
        /// The log file.
        path: PathBuf,
    },
    /// The key cannot be used.
    #[error("audit key {path}: {what}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
}

/// The operator's secret that keys the chain (HMAC-SHA256) and the
/// argument digests. Keep it where the process that writes the log can
/// read it, and the people who can edit the log cannot.
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// The shortest key accepted, in bytes: HMAC-SHA256's own strength.
    pub const MIN_BYTES: usize = 32;

    /// Reads a key file: at least [`MIN_BYTES`](Self::MIN_BYTES) bytes,
    /// taken as they are (a trailing line break is dropped).
    ///
    /// # Errors
    /// When the file cannot be read or is too short.
    pub fn from_file(path: &Path) -> Result<AuditKey, AuditError> {
        let mut bytes = std::fs::read(path).map_err(|source| AuditError::Io {
            path: path.to_owned(),
            source,
        })?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        AuditKey::new(bytes).map_err(|what| AuditError::Key {
            path: path.to_owned(),
            what,
        })
    }

    /// A key of `bytes`.
    ///
    /// # Errors
    /// When `bytes` is shorter than [`MIN_BYTES`](Self::MIN_BYTES).
    pub fn new(bytes: Vec<u8>) -> Result<AuditKey, String> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(format!(
                "the key has {} bytes; it needs at least {} (for instance `head -c 32 /dev/urandom > FILE`)",
                bytes.len(),
                Self::MIN_BYTES
            ));
        }
        Ok(AuditKey(bytes))
    }

    fn mac(&self, text: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(text.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditEvent {
    /// A tool definition from `tools/list`.
    Tool,
    /// A `tools/call` request.
    Call,
    /// The result of a tool call.
    Result,
    /// A human's answer to an escalation.
    Approval,
}

/// A finding as the log keeps it: where it matched, not what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditFinding {
    /// The pattern id.
    pub pattern: String,
    /// The field it matched in.
    pub field: String,
    /// Start offset in the normalised field.
    pub start: u32,
    /// End offset in the normalised field.
    pub end: u32,
}

/// A reason as the log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReason {
    /// The policy that gave it.
    pub policy: String,
    /// The rule that fired.
    pub rule: String,
    /// The policy's explanation.
    pub message: String,
    /// Where the supporting findings matched.
    pub findings: Vec<AuditFinding>,
}

impl From<&Reason> for AuditReason {
    fn from(reason: &Reason) -> Self {
        AuditReason {
            policy: reason.policy.clone(),
            rule: reason.rule.clone(),
            message: redact(&reason.message),
            findings: reason
                .findings
                .iter()
                .map(|finding| AuditFinding {
                    pattern: finding.pattern.clone(),
                    field: finding.field.clone(),
                    start: finding.start,
                    end: finding.end,
                })
                .collect(),
        }
    }
}

/// One policy's part in a recorded decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditPolicy {
    /// The policy's name.
    pub name: String,
    /// The SHA-256 of its component.
    pub digest: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// How long it took, in microseconds.
    pub micros: u64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When the decision was made (RFC 3339, UTC).
    pub time: String,
    /// The session the event belongs to.
    pub session: String,
    /// The server the tool belongs to.
    pub server: String,
    /// The tenant the session belongs to, in a multi-tenant host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Who authenticated the session (a token's subject, an API key's
    /// name), when the host knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// What was decided on.
    pub event: AuditEvent,
    /// The tool's name.
    pub tool: String,
    /// The SHA-256 of the tool definition, for tool events.
    pub tool_digest: Option<String>,
    /// The SHA-256 of the canonical JSON of the call's arguments, for call and result events.
    pub args_digest: Option<String>,
    /// The verdict that was enforced.
    pub verdict: Verdict,
    /// Why.
    pub reasons: Vec<AuditReason>,
    /// The policies that took part.
    pub policies: Vec<AuditPolicy>,
    /// The policy generation that decided.
    pub generation: u64,
    /// The approval id of an escalation.
    pub approval_id: Option<String>,
    /// How the chain is computed: `sha256`, or `hmac-sha256` under the
    /// operator's key (then the argument digests are keyed too).
    pub chain: String,
    /// The hash of the previous record.
    pub prev_hash: String,
    /// The hash of this record.
    pub hash: String,
}

/// The members of a record that link it into the chain.
#[derive(Debug, Deserialize)]
struct ChainLink {
    seq: u64,
    prev_hash: String,
    hash: String,
    #[serde(default = "unkeyed")]
    chain: String,
}

fn unkeyed() -> String {
    SHA256_CHAIN.to_owned()
}

/// What to record about one decision.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Who and where.
    pub context: &'a Context,
    /// What was decided on.
    pub event: AuditEvent,
    /// The tool's name.
    pub tool: &'a str,
    /// The SHA-256 of the tool definition, for tool events.
    pub tool_digest: Option<String>,
    /// The call's arguments, for call and result events: the log keeps
    /// their digest, never them.
    pub arguments: Option<&'a Value>,
    /// The decision.
    pub decision: &'a Decision,
    /// The approval id of an escalation.
    pub approval_id: Option<&'a str>,
}

impl<'a> AuditEntry<'a> {
    /// The entry for a policy decision on `event`.
    pub fn for_event(context: &'a Context, event: &'a Event, decision: &'a Decision) -> Self {
        let (kind, tool, tool_digest, arguments) = match event {
            Event::Tool(tool) => (AuditEvent::Tool, &tool.name, Some(tool.digest()), None),
            Event::Call(call) => (AuditEvent::Call, &call.name, None, Some(&call.arguments)),
            Event::Result(result) => (
                AuditEvent::Result,
                &result.call.name,
                None,
                Some(&result.call.arguments),
            ),
        };
        AuditEntry {
            context,
            event: kind,
            tool,
            tool_digest,
            arguments,
            decision,
            approval_id: None,
        }
    }
}

/// An append-only, hash-chained JSONL audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    head: PathBuf,
    file: File,
    key: Option<AuditKey>,
    seq: u64,
    last_hash: String,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, unkeyed, with its head in
    /// `<path>.head`; a new record continues the chain of the records
    /// already there.
    ///
    /// # Errors
    /// As [`AuditLog::open_with`].
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        AuditLog::open_with(path, None, None)
    }

    /// Opens (or creates) the log at `path`, its chain keyed with `key` when
    /// there is one, its head in `head` (default `<path>.head`).
    ///
    /// # Errors
    /// When the file cannot be opened (or is a symbolic link), another
    /// process holds it, or its last whole record cannot be read.
    pub fn open_with(
        path: &Path,
        key: Option<AuditKey>,
        head: Option<PathBuf>,
    ) -> Result<AuditLog, AuditError> {
        let io_error = |source| AuditError::Io {
            path: path.to_owned(),
            source,
        };
        let mut options = OpenOptions::new();
        options.create(true).read(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(0o600)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
        let file = options.open(path).map_err(io_error)?;
        file.try_lock().map_err(|error| match error {
            std::fs::TryLockError::WouldBlock => AuditError::Locked {
                path: path.to_owned(),
            },
            std::fs::TryLockError::Error(source) => io_error(source),
        })?;
        let mut log = AuditLog {
            path: path.to_owned(),
            head: head.unwrap_or_else(|| head_path(path)),
            file,
            key,
            seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
        };
        let (last, whole) = last_record(&log.file).map_err(io_error)?;
        let length = log.file.metadata().map_err(io_error)?.len();
        if whole < length {
            tracing::warn!(
                log = %path.display(),
                bytes = length - whole,
                "the last record of the audit log was half-written; it is cut off and the chain continues after the last whole record"
            );
            log.file.set_len(whole).map_err(io_error)?;
        }
        if let Some((line, text)) = last {
            let record: ChainLink = serde_json::from_str(&text)
                .map_err(|error| log.invalid(line, error.to_string()))?;
            log.seq = record.seq;
            log.last_hash = record.hash;
        }
        Ok(log)
    }

    /// Appends one record, updates the head file, and returns the record.
    ///
    /// # Errors
    /// When the record or the head cannot be written (a full disk, say).
    /// The caller must then treat the decision as unrecorded: the proxy
    /// refuses what it could not record.
    pub fn append(&mut self, entry: &AuditEntry<'_>) -> Result<AuditRecord, AuditError> {
        let mut record = AuditRecord {
            seq: self.seq + 1,
            time: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            session: entry.context.session.clone(),
            server: entry.context.server.clone(),
            tenant: entry.context.tenant.clone(),
            principal: entry
                .context
                .principal
                .as_ref()
                .map(|principal| principal.subject.clone()),
            event: entry.event,
            tool: entry.tool.to_owned(),
            tool_digest: entry.tool_digest.clone(),
            args_digest: entry.arguments.map(|arguments| self.args_digest(arguments)),
            verdict: entry.decision.verdict,
            reasons: entry
                .decision
                .reasons
                .iter()
                .map(AuditReason::from)
                .collect(),
            policies: entry
                .decision
                .policies
                .iter()
                .map(|policy| AuditPolicy {
                    name: policy.name.clone(),
                    digest: policy.digest.clone(),
                    verdict: policy.verdict,
                    micros: policy.micros,
                })
                .collect(),
            generation: entry.decision.generation,
            approval_id: entry.approval_id.map(str::to_owned),
            chain: if self.key.is_some() {
                HMAC_CHAIN
            } else {
                SHA256_CHAIN
            }
            .to_owned(),
            prev_hash: self.last_hash.clone(),
            hash: String::new(),
        };
        let mut value = serde_json::to_value(&record).expect("audit records serialize");
        record.hash = record_hash(&mut value, self.key.as_ref());
        value["hash"] = Value::from(record.hash.clone());
        let mut line = canonical_json(&value);
        line.push('\n');
        let io_error = |path: &Path, source| AuditError::Io {
            path: path.to_owned(),
            source,
        };
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| io_error(&self.path, source))?;
        write_head(&self.head, record.seq, &record.hash)
            .map_err(|source| io_error(&self.head, source))?;
        self.seq = record.seq;
        self.last_hash = record.hash.clone();
        Ok(record)
    }

    /// The digest of a call's arguments, keyed when the log is.
    fn args_digest(&self, arguments: &Value) -> String {
        match &self.key {
            Some(key) => key.mac(&canonical_json(arguments)),
            None => args_digest(arguments),
        }
    }

    fn invalid(&self, line: usize, what: String) -> AuditError {
        AuditError::Invalid {
            path: self.path.clone(),
            line,
            what,
        }
    }
}

/// The last whole line of `file` (with its 1-based number), and the byte
/// length up to the end of it: past that is a half-written record.
fn last_record(file: &File) -> io::Result<(Option<(usize, String)>, u64)> {
    let mut reader = BufReader::new(file);
    let mut last = None;
    let mut whole = 0u64;
    let mut buffer = Vec::new();
    let mut number = 0;
    loop {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer)?;
        if read == 0 {
            break;
        }
        if buffer.last() != Some(&b'\n') {
            break;
        }
        number += 1;
        whole += read as u64;
        let text = String::from_utf8_lossy(&buffer);
        if !text.trim().is_empty() {
            last = Some((number, text.trim_end().to_owned()));
        }
    }
    Ok((last, whole))
}

/// `<log>.head`, where the head of `log` is kept by default.
pub fn head_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".head");
    PathBuf::from(name)
}

/// The head file's contents.
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// Replaces the head file whole (a temporary file renamed over it).
fn write_head(path: &Path, seq: u64, hash: &str) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let text = serde_json::to_string(&Head {
        seq,
        hash: hash.to_owned(),
    })
    .expect("heads serialize");
    let mut options = OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(text.as_bytes())?;
    std::fs::rename(&temporary, path)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// How many records the log holds.
    pub records: u64,
    /// Whether the chain is keyed (and was checked with the key).
    pub keyed: bool,
    /// Whether a head file was there to check the end of the log against;
    /// without one, records removed from the end cannot be detected.
    pub head_checked: bool,
}

/// Checks every record of the log at `path` against the chain, and the
/// end of the log against its head file (`head`, default `<path>.head`).
/// With `key`, every record must be keyed with it; without one, a keyed
/// log cannot be verified.
///
/// # Errors
/// [`AuditError::Invalid`] for the first record that breaks the chain,
/// [`AuditError::Truncated`] when the log ends before its head.
pub fn verify(
    path: &Path,
    key: Option<&AuditKey>,
    head: Option<&Path>,
) -> Result<Verified, AuditError> {
    let invalid = |line, what: String| AuditError::Invalid {
        path: path.to_owned(),
        line,
        what,
    };
    let io_error = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut previous = GENESIS_HASH.to_owned();
    let mut count = 0;
    let mut keyed = key.is_some();
    for (index, line) in reader.split(b'\n').enumerate() {
        let number = index + 1;
        let line = line.map_err(io_error)?;
        let mut value: Value = serde_json::from_slice(&line)
            .map_err(|error| invalid(number, format!("not a JSON record: {error}")))?;
        let record = ChainLink::deserialize(&value)
            .map_err(|error| invalid(number, format!("not an audit record: {error}")))?;
        match (record.chain.as_str(), key) {
            (HMAC_CHAIN, Some(_)) => {}
            (HMAC_CHAIN, None) => {
                return Err(invalid(
                    number,
                    "the record is keyed; verify it with the log's key (--key)".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(invalid(
                    number,
                    format!(
                        "the record's chain is {:?}, not keyed: with a key, every record must be",
                        record.chain
                    ),
                ));
            }
            (_, None) => keyed = false,
        }
        if record.seq != count + 1 {
            return Err(invalid(
                number,
                format!("sequence number {} where {} was due", record.seq, count + 1),
            ));
        }
        if record.prev_hash != previous {
            return Err(invalid(
                number,
                "prev_hash does not match the previous record's hash (a record was removed, inserted or reordered)".into(),
            ));
        }
        if record_hash(&mut value, key) != record.hash {
            return Err(invalid(
                number,
                "hash does not match the record's content (the record was edited)".into(),
            ));
        }
        previous = record.hash;
        count += 1;
    }
    let head = head.map_or_else(|| head_path(path), Path::to_owned);
    let head_checked = match std::fs::read_to_string(&head) {
        Ok(text) => {
            let head: Head =
                serde_json::from_str(&text).map_err(|error| AuditError::Truncated {
                    path: path.to_owned(),
                    what: format!("its head file {} cannot be read: {error}", head.display()),
                })?;
            if head.seq != count || head.hash != previous {
                return Err(AuditError::Truncated {
                    path: path.to_owned(),
                    what: format!(
                        "the log ends at record {count}, but its head says record {} (records were removed from the end, or the head belongs to another log)",
                        head.seq
                    ),
                });
            }
            true
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => false,
        Err(source) => return Err(AuditError::Io { path: head, source }),
    };
    Ok(Verified {
        records: count,
        keyed: keyed && count > 0,
        head_checked,
    })
}

/// The SHA-256 (lowercase hex) of the canonical JSON of `arguments`: how
/// an unkeyed log digests them.
pub fn args_digest(arguments: &Value) -> String {
    sha256_hex(canonical_json(arguments).as_bytes())
}

/// The hash of a record: of its canonical JSON without the `hash` member,
/// keyed with `key` when there is one.
fn record_hash(record: &mut Value, key: Option<&AuditKey>) -> String {
    let object = record.as_object_mut().expect("audit records are objects");
    let hash = object.remove("hash");
    let text = canonical_json(record);
    let digest = match key {
        Some(key) => key.mac(&text),
        None => sha256_hex(text.as_bytes()),
    };
    if let Some(hash) = hash {
        record["hash"] = hash;
    }
    digest
}

/// `message` as the log keeps it: every quoted excerpt (`"…"`, which is how
/// policies cite matched text) withheld, and every token that looks like a
/// secret (16 or more letters, digits and `+=_-.`, with both letters and
/// digits) redacted.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for part in message.split('"') {
        if quoted {
            out.push_str("\"[excerpt withheld]\"");
        } else {
            out.push_str(&redact_tokens(part));
        }
        quoted = !quoted;
    }
    // An odd quote leaves the rest of the message as an excerpt: withheld.
    out
}

fn redact_tokens(text: &str) -> String {
    let secretish = |token: &str| {
        token.chars().count() >= 16
            && token.chars().any(|c| c.is_ascii_digit())
            && token.chars().any(|c| c.is_alphabetic())
    };
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if secretish(token) {
            out.push_str("[redacted]");
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || matches!(c, '+' | '=' | '_' | '-' | '.') {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Finding, PolicyReport, ToolCall};
    use serde_json::json;

    fn context() -> Context {
        Context::new("s1", "files")
    }

    fn deny() -> Decision {
        Decision {
            verdict: Verdict::Deny,
            reasons: vec![Reason {
                policy: "command-injection".into(),
                rule: "chained-command".into(),
                message: "argument chains a command".into(),
                findings: vec![Finding {
                    pattern: "chained-command".into(),
                    field: "/arguments/command".into(),
                    start: 3,
                    end: 9,
                    matched: "; rm -rf".into(),
                }],
            }],
            policies: vec![PolicyReport {
                name: "command-injection".into(),
                version: "0.1.0".into(),
                digest: "ab".repeat(32),
                verdict: Verdict::Deny,
                micros: 42,
                failure: None,
                labels: Vec::new(),
            }],
            generation: 3,
        }
    }

    fn write_log(path: &Path, records: usize) {
        let mut log = AuditLog::open(path).unwrap();
        let context = context();
        let decision = deny();
        for index in 0..records {
            let event = Event::Call(ToolCall {
                name: "run".into(),
                arguments: json!({"command": format!("ls; rm -rf / #{index}")}),
                tool: None,
            });
            log.append(&AuditEntry::for_event(&context, &event, &decision))
                .unwrap();
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn temp_log(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("portcullis-audit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn a_fresh_log_verifies_and_keeps_no_raw_arguments() {
        let path = temp_log("fresh");
        write_log(&path, 3);
        assert_eq!(verify(&path, None, None).unwrap().records, 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("rm -rf"), "raw arguments leaked: {text}");
        let first: Value = serde_json::from_str(&lines(&path)[0]).unwrap();
        assert_eq!(first["prev_hash"], GENESIS_HASH);
        assert_eq!(first["verdict"], "deny");
        assert_eq!(first["policies"][0]["micros"], 42);
        assert_eq!(
            first["reasons"][0]["findings"][0]["field"],
            "/arguments/command"
        );
    }

    #[test]
    fn reopening_continues_the_chain() {
        let path = temp_log("reopen");
        write_log(&path, 2);
        write_log(&path, 2);
        assert_eq!(verify(&path, None, None).unwrap().records, 4);
    }

    #[test]
    fn an_edited_record_is_detected_on_its_line() {
        let path = temp_log("edited");
        write_log(&path, 3);
        let mut lines = lines(&path);
        lines[1] = lines[1].replace("\"verdict\":\"deny\"", "\"verdict\":\"allow\"");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        match verify(&path, None, None) {
            Err(AuditError::Invalid { line, what, .. }) => {
                assert_eq!(line, 2);
                assert!(what.contains("edited"), "{what}");
            }
            other => panic!("tampering not detected: {other:?}"),
        }
    }

    #[test]
    fn a_removed_record_is_detected() {
        let path = temp_log("removed");
        write_log(&path, 3);
        let mut lines = lines(&path);
        lines.remove(1);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        assert!(matches!(
            verify(&path, None, None),
            Err(AuditError::Invalid { line: 2, .. })
        ));
    }

    #[test]
    fn argument_digests_ignore_key_order() {
        assert_eq!(
            args_digest(&json!({"x": 1, "y": 2})),
            args_digest(&json!({"y": 2, "x": 1}))
        );
    }

    fn key() -> AuditKey {
        AuditKey::new(b"an operator key of thirty-two bytes or more".to_vec()).unwrap()
    }

    fn write_keyed(path: &Path, records: usize) {
        let mut log = AuditLog::open_with(path, Some(key()), None).unwrap();
        let context = context();
        let decision = deny();
        for _ in 0..records {
            let event = Event::Tool(crate::ToolDefinition::new("t", "d"));
            log.append(&AuditEntry::for_event(&context, &event, &decision))
                .unwrap();
        }
    }

    /// Red-team finding 12: without the key, a rewritten chain does not
    /// verify, even with every hash recomputed.
    #[test]
    fn a_keyed_chain_cannot_be_rewritten_without_the_key() {
        let path = temp_log("keyed");
        write_keyed(&path, 3);
        let verified = verify(&path, Some(&key()), None).unwrap();
        assert_eq!(
            (verified.records, verified.keyed, verified.head_checked),
            (3, true, true)
        );
        // Rewrite every deny as allow and recompute an unkeyed chain.
        let mut previous = GENESIS_HASH.to_owned();
        let mut rewritten = Vec::new();
        for line in lines(&path) {
            let mut value: Value = serde_json::from_str(&line).unwrap();
            value["verdict"] = json!("allow");
            value["prev_hash"] = json!(previous);
            let hash = record_hash(&mut value, None);
            value["hash"] = json!(hash);
            previous = hash;
            rewritten.push(canonical_json(&value));
        }
        std::fs::write(&path, rewritten.join("\n") + "\n").unwrap();
        assert!(matches!(
            verify(&path, Some(&key()), None),
            Err(AuditError::Invalid { line: 1, .. })
        ));
        assert!(AuditKey::new(b"short".to_vec()).is_err());
    }

    #[test]
    fn records_removed_from_the_end_are_detected_by_the_head() {
        let path = temp_log("tail");
        write_log(&path, 3);
        let kept = lines(&path)[..2].join("\n") + "\n";
        std::fs::write(&path, kept).unwrap();
        assert!(matches!(
            verify(&path, None, None),
            Err(AuditError::Truncated { .. })
        ));
        std::fs::write(&path, "").unwrap();
        assert!(matches!(
            verify(&path, None, None),
            Err(AuditError::Truncated { .. })
        ));
    }

    #[test]
    fn a_second_writer_is_refused() {
        let path = temp_log("locked");
        let _first = AuditLog::open(&path).unwrap();
        assert!(matches!(
            AuditLog::open(&path),
            Err(AuditError::Locked { .. })
        ));
    }

    #[test]
    fn a_half_written_record_is_cut_off_and_the_chain_goes_on() {
        let path = temp_log("half");
        write_log(&path, 2);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"seq":3,"time":"20"#).unwrap();
        drop(file);
        write_log(&path, 1);
        assert_eq!(verify(&path, None, None).unwrap().records, 3);
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_private_and_a_symbolic_link_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_log("private");
        write_log(&path, 1);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let link = path.with_file_name("link.jsonl");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(path.with_file_name("elsewhere.jsonl"), &link).unwrap();
        assert!(AuditLog::open(&link).is_err());
        assert!(!path.with_file_name("elsewhere.jsonl").exists());
    }

    #[test]
    fn stored_messages_cite_no_excerpt_and_no_secret_looking_token() {
        let stored = redact(
            r#"/arguments/body tells the model to drop its instructions: "ignore all previous""#,
        );
        assert_eq!(
            stored,
            r#"/arguments/body tells the model to drop its instructions: "[excerpt withheld]""#
        );
        let stored = redact("description carries the AWS key akiaz7qk3lbx4npr2wjd at bytes 4..24");
        assert_eq!(
            stored,
            "description carries the AWS key [redacted] at bytes 4..24"
        );
        assert_eq!(
            redact("host 169.254.169.254 is link-local"),
            "host 169.254.169.254 is link-local"
        );
    }
}
