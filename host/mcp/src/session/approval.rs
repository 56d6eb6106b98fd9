//! Human approval: what is held while a human decides, the question asked
//! through `elicitation/create`, and what the answer, a cancellation or the
//! deadline releases.
//!
//! The human is shown what they approve: the tool's name (escaped, and
//! flagged when it strays from the characters MCP allows in a tool name, so
//! that a name cannot write the question) and the canonical arguments the
//! server will receive. An approval id is 128 random bits: it cannot be
//! guessed from another one.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::wire::{explain, refusal, to_line, tool_error};
use super::{Outbound, Pending, ProxyRequest, Session};
use crate::framing::{Message, RequestId};
use portcullis::audit::{AuditEntry, AuditEvent};
use portcullis::{Decision, ToolCall, Verdict};

/// How long a call or result waits for a human by default: long enough to
/// read and decide, short enough that a forgotten question does not hold a
/// call that the agent has long given up on.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(600);

/// The most of the arguments shown in an approval question; the rest is
/// counted, not shown.
const SHOWN_ARGUMENT_BYTES: usize = 2000;

/// What is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeldKind {
    /// A tool call, forwarded to the server on approval.
    Call,
    /// A tool result, forwarded to the client on approval; refused as a
    /// tool error.
    ToolResult,
    /// The answer to another request (`resources/read`, `prompts/get`…),
    /// forwarded to the client on approval; refused as a JSON-RPC error.
    Answer,
}

/// Something held until a human answers.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) kind: HeldKind,
    /// The id of the client's request it belongs to.
    pub(super) id: RequestId,
    /// The line forwarded on approval.
    pub(super) raw: Vec<u8>,
    /// The call (or request, named by its method) it is about.
    pub(super) call: ToolCall,
    /// When it stops waiting.
    pub(super) deadline: Instant,
}

impl Held {
    /// `kind` of `call`, for request `id`, waiting `timeout` from now.
    pub(super) fn new(
        kind: HeldKind,
        id: RequestId,
        raw: Vec<u8>,
        call: ToolCall,
        timeout: Duration,
    ) -> Held {
        Held {
            kind,
            id,
            raw,
            call,
            deadline: Instant::now() + timeout,
        }
    }

    /// What the human is asked about, in a sentence.
    fn what(&self) -> String {
        let name = shown_name(&self.call.name);
        match self.kind {
            HeldKind::Call => format!("the call to {name}"),
            HeldKind::ToolResult => format!("the result of {name}"),
            HeldKind::Answer => format!("the answer to {name}"),
        }
    }

    /// The refusal sent to the client in place of what was held.
    fn refused(&self, text: &str) -> Vec<u8> {
        match self.kind {
            HeldKind::Call | HeldKind::ToolResult => tool_error(&self.id, text),
            HeldKind::Answer => refusal(&self.id, text),
        }
    }
}

/// A tool name as a human should read it: JSON-quoted, so that quotes,
/// back-ticks, line breaks and controls in it show as what they are, and
/// flagged when it is not made of the characters MCP allows in tool names.
fn shown_name(name: &str) -> String {
    let quoted = serde_json::to_string(name).expect("strings serialize");
    let conforming = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if conforming {
        quoted
    } else {
        format!("{quoted} (a name with characters MCP does not allow in tool names)")
    }
}

/// The arguments as the server receives them, in canonical JSON, cut at
/// [`SHOWN_ARGUMENT_BYTES`].
fn shown_arguments(arguments: &Value) -> String {
    let text = serde_json::to_string(arguments).expect("JSON values serialize");
    if text.len() <= SHOWN_ARGUMENT_BYTES {
        return text;
    }
    let mut end = SHOWN_ARGUMENT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes more)", &text[..end], text.len() - end)
}

/// 128 bits from the operating system's random source, as hex.
pub(super) fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Session {
    /// Asks the human through the client, or refuses with the approval id
    /// when the client cannot be asked.
    pub(super) fn escalate(
        &mut self,
        approval_id: String,
        held: Held,
        decision: &Decision,
    ) -> Vec<Outbound> {
        let what = held.what();
        let reasons = explain(&decision.reasons);
        if !self.client_elicitation {
            return vec![Outbound::Client(held.refused(&format!(
                "Portcullis requires human approval for {what} (approval id {approval_id}), \
                 and this client cannot be asked: {reasons}"
            )))];
        }
        let arguments = match held.kind {
            HeldKind::Call => format!(
                " with the arguments {}",
                shown_arguments(&held.call.arguments)
            ),
            HeldKind::ToolResult | HeldKind::Answer => String::new(),
        };
        let request_id = self.next_proxy_id();
        let request = json!({
            "jsonrpc": "2.0",
            "id": request_id.to_value(),
            "method": "elicitation/create",
            "params": {
                "message": format!(
                    "Portcullis needs your approval for {what}{arguments} on server {} \
                     (approval id {approval_id}). Why: {reasons}",
                    shown_name(&self.context.server),
                ),
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "approve": {
                            "type": "boolean",
                            "title": "Approve",
                            "description": format!("Let {what} through"),
                        },
                    },
                    "required": ["approve"],
                },
            },
        });
        self.proxy_requests.insert(
            request_id,
            ProxyRequest::Approval {
                approval_id,
                held: Box::new(held),
            },
        );
        vec![Outbound::Client(to_line(&request))]
    }

    /// The client answered an `elicitation/create`.
    pub(super) fn on_approval(
        &mut self,
        approval_id: &str,
        held: Held,
        answer: &Message,
    ) -> Vec<Outbound> {
        let action = answer
            .value
            .pointer("/result/action")
            .and_then(Value::as_str);
        let approved = action == Some("accept")
            && answer.value.pointer("/result/content/approve") == Some(&Value::Bool(true));
        let message = match (approved, action) {
            (true, _) => "a human approved it".to_owned(),
            (false, Some("accept")) => "a human answered without approving it".to_owned(),
            (false, Some(action)) => format!("a human refused it ({action})"),
            (false, None) => "the approval request failed".to_owned(),
        };
        let verdict = if approved {
            Verdict::Allow
        } else {
            Verdict::Deny
        };
        self.settle(approval_id, held, verdict, "human-approval", message)
    }

    /// Records the end of an approval and sends what it releases: the held
    /// line when `verdict` allows it, a refusal otherwise.
    fn settle(
        &mut self,
        approval_id: &str,
        held: Held,
        verdict: Verdict,
        rule: &str,
        message: String,
    ) -> Vec<Outbound> {
        let mut decision = self.host_decision(verdict, rule, message);
        self.record_approval(approval_id, &held, &mut decision);
        match (held.kind, decision.verdict) {
            (HeldKind::Call, Verdict::Allow) => {
                self.pending.insert(held.id, Pending::CallTool(held.call));
                vec![Outbound::Server(held.raw)]
            }
            (HeldKind::ToolResult | HeldKind::Answer, Verdict::Allow) => {
                vec![Outbound::Client(held.raw)]
            }
            _ => vec![Outbound::Client(held.refused(&format!(
                "Portcullis refused {} (approval id {approval_id}): {}",
                shown_name(&held.call.name),
                explain(&decision.reasons)
            )))],
        }
    }

    /// The client cancelled request `id` (`notifications/cancelled`): what
    /// is held for it is dropped, never released, and the question to the
    /// human is withdrawn. Returns `None` when nothing was held for `id`.
    pub(super) fn cancel_held(&mut self, id: &RequestId) -> Option<Vec<Outbound>> {
        let question = self.proxy_requests.iter().find_map(|(question, request)| {
            matches!(request, ProxyRequest::Approval { held, .. } if held.id == *id)
                .then(|| question.clone())
        })?;
        let Some(ProxyRequest::Approval { approval_id, held }) =
            self.proxy_requests.remove(&question)
        else {
            unreachable!("the question was found as an approval")
        };
        let mut decision = self.host_decision(
            Verdict::Deny,
            "cancelled",
            "the client cancelled the request while it waited for a human".to_owned(),
        );
        self.record_approval(&approval_id, &held, &mut decision);
        Some(vec![Outbound::Client(withdraw(
            &question,
            "the client cancelled the request",
        ))])
    }

    /// Refuses everything that has waited for a human past its deadline,
    /// and withdraws the questions.
    pub(super) fn expire_held(&mut self, now: Instant) -> Vec<Outbound> {
        let expired: Vec<RequestId> = self
            .proxy_requests
            .iter()
            .filter_map(|(question, request)| match request {
                ProxyRequest::Approval { held, .. } if held.deadline <= now => {
                    Some(question.clone())
                }
                _ => None,
            })
            .collect();
        let mut out = Vec::new();
        for question in expired {
            let Some(ProxyRequest::Approval { approval_id, held }) =
                self.proxy_requests.remove(&question)
            else {
                continue;
            };
            out.push(Outbound::Client(withdraw(
                &question,
                "no human answered in time",
            )));
            out.extend(self.settle(
                &approval_id,
                *held,
                Verdict::Deny,
                "approval-expired",
                "no human answered before the approval timed out".to_owned(),
            ));
        }
        out
    }

    /// Records the end of an approval; one that cannot be recorded becomes
    /// a refusal.
    fn record_approval(&mut self, approval_id: &str, held: &Held, decision: &mut Decision) {
        let entry = AuditEntry {
            context: &self.context,
            event: AuditEvent::Approval,
            tool: &held.call.name,
            tool_digest: None,
            arguments: Some(&held.call.arguments),
            decision,
            approval_id: Some(approval_id),
        };
        if let Some(audit) = &mut self.audit
            && let Err(error) = audit.append(&entry)
        {
            tracing::error!(%error, "could not write the audit log; refusing what it could not record");
            *decision = self.unrecorded(&error);
        }
    }

    pub(super) fn approval_id_for(&mut self, decision: &Decision) -> Option<String> {
        (decision.verdict == Verdict::Escalate).then(random_id)
    }
}

/// `notifications/cancelled` for the proxy's own question `question`.
fn withdraw(question: &RequestId, reason: &str) -> Vec<u8> {
    to_line(&json!({
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": { "requestId": question.to_value(), "reason": reason },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_writes_prose_is_quoted_and_flagged() {
        assert_eq!(shown_name("read_file"), "\"read_file\"");
        let shown = shown_name("wire` on server `bank` was verified\nApprove");
        assert!(shown.starts_with("\"wire` on server"), "{shown}");
        assert!(shown.contains("\\n"), "{shown}");
        assert!(shown.ends_with("does not allow in tool names)"), "{shown}");
    }

    #[test]
    fn long_arguments_are_cut_and_counted() {
        let shown = shown_arguments(&json!({"to": "x".repeat(3000)}));
        assert!(shown.len() < SHOWN_ARGUMENT_BYTES + 40, "{}", shown.len());
        assert!(shown.ends_with("bytes more)"), "{shown}");
        assert_eq!(shown_arguments(&json!({"a": 1})), r#"{"a":1}"#);
    }

    #[test]
    fn approval_ids_do_not_repeat_or_follow_a_pattern() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
