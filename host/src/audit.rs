//! The audit log: one JSON line per decision, hash-chained so that an edited,
//! removed or reordered line is detected by [`verify`].
//!
//! Each record holds the hash of the record before it (`prev_hash`, 64 zeros
//! for the first) and its own `hash`: the SHA-256 of the record's canonical
//! JSON (object keys sorted, no whitespace) without the `hash` member. Records
//! carry digests of tool arguments, never the arguments, and findings without
//! the matched text, so that the log does not become a copy of the secrets
//! the policies caught.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Context, Decision, Event, Reason, Verdict};
use portcullis_text::digest::{canonical_json, sha256_hex};

/// The `prev_hash` of the first record of a log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audit operation failed on.
#[derive(Debug, thiserror::Error)]
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
            message: reason.message.clone(),
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
    /// The SHA-256 of the call's arguments, for call and result events.
    pub args_digest: Option<String>,
    /// The decision.
    pub decision: &'a Decision,
    /// The approval id of an escalation.
    pub approval_id: Option<&'a str>,
}

impl<'a> AuditEntry<'a> {
    /// The entry for a policy decision on `event`.
    pub fn for_event(context: &'a Context, event: &'a Event, decision: &'a Decision) -> Self {
        let (kind, tool, tool_digest, args_digest) = match event {
            Event::Tool(tool) => (AuditEvent::Tool, &tool.name, Some(tool.digest()), None),
            Event::Call(call) => (
                AuditEvent::Call,
                &call.name,
                None,
                Some(args_digest(&call.arguments)),
            ),
            Event::Result(result) => (
                AuditEvent::Result,
                &result.call.name,
                None,
                Some(args_digest(&result.call.arguments)),
            ),
        };
        AuditEntry {
            context,
            event: kind,
            tool,
            tool_digest,
            args_digest,
            decision,
            approval_id: None,
        }
    }
}

/// An append-only, hash-chained JSONL audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    seq: u64,
    last_hash: String,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`; a new record continues the chain
    /// of the records already there.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let io_error = |source| AuditError::Io {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_error)?;
        let mut log = AuditLog {
            path: path.to_owned(),
            file,
            seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
        };
        let reader = BufReader::new(File::open(path).map_err(io_error)?);
        let mut last = None;
        for (index, line) in reader.lines().enumerate() {
            let line = line.map_err(io_error)?;
            if !line.trim().is_empty() {
                last = Some((index + 1, line));
            }
        }
        if let Some((line, text)) = last {
            let record: ChainLink = serde_json::from_str(&text)
                .map_err(|error| log.invalid(line, error.to_string()))?;
            log.seq = record.seq;
            log.last_hash = record.hash;
        }
        Ok(log)
    }

    /// Appends one record and returns it.
    pub fn append(&mut self, entry: &AuditEntry<'_>) -> Result<AuditRecord, AuditError> {
        let mut record = AuditRecord {
            seq: self.seq + 1,
            time: humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
            session: entry.context.session.clone(),
            server: entry.context.server.clone(),
            event: entry.event,
            tool: entry.tool.to_owned(),
            tool_digest: entry.tool_digest.clone(),
            args_digest: entry.args_digest.clone(),
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
            prev_hash: self.last_hash.clone(),
            hash: String::new(),
        };
        let mut value = serde_json::to_value(&record).expect("audit records serialize");
        record.hash = record_hash(&mut value);
        value["hash"] = Value::from(record.hash.clone());
        let mut line = canonical_json(&value);
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| AuditError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.seq = record.seq;
        self.last_hash = record.hash.clone();
        Ok(record)
    }

    fn invalid(&self, line: usize, what: String) -> AuditError {
        AuditError::Invalid {
            path: self.path.clone(),
            line,
            what,
        }
    }
}

/// Checks every record of the log at `path` against the chain; returns how
/// many records it holds.
pub fn verify(path: &Path) -> Result<u64, AuditError> {
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
    for (index, line) in reader.split(b'\n').enumerate() {
        let number = index + 1;
        let line = line.map_err(io_error)?;
        let mut value: Value = serde_json::from_slice(&line)
            .map_err(|error| invalid(number, format!("not a JSON record: {error}")))?;
        let record = ChainLink::deserialize(&value)
            .map_err(|error| invalid(number, format!("not an audit record: {error}")))?;
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
        if record_hash(&mut value) != record.hash {
            return Err(invalid(
                number,
                "hash does not match the record's content (the record was edited)".into(),
            ));
        }
        previous = record.hash;
        count += 1;
    }
    Ok(count)
}

/// The SHA-256 (lowercase hex) of the canonical JSON of `arguments`.
pub fn args_digest(arguments: &Value) -> String {
    sha256_hex(canonical_json(arguments).as_bytes())
}

/// The hash of a record: its canonical JSON without the `hash` member.
fn record_hash(record: &mut Value) -> String {
    let object = record.as_object_mut().expect("audit records are objects");
    let hash = object.remove("hash");
    let digest = sha256_hex(canonical_json(record).as_bytes());
    if let Some(hash) = hash {
        record["hash"] = hash;
    }
    digest
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
        assert_eq!(verify(&path).unwrap(), 3);
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
        assert_eq!(verify(&path).unwrap(), 4);
    }

    #[test]
    fn an_edited_record_is_detected_on_its_line() {
        let path = temp_log("edited");
        write_log(&path, 3);
        let mut lines = lines(&path);
        lines[1] = lines[1].replace("\"verdict\":\"deny\"", "\"verdict\":\"allow\"");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        match verify(&path) {
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
            verify(&path),
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
}
