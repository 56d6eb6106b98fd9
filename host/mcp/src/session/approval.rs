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

impl HeldKind {
    /// A refusal of what this kind holds, answering request `id`: a tool
    /// error for a call or its result, a JSON-RPC error for another answer.
    pub(super) fn refusal(self, id: &RequestId, text: &str, modern: bool) -> Vec<u8> {
        match self {
            HeldKind::Call | HeldKind::ToolResult => tool_error(id, text, modern),
            HeldKind::Answer => refusal(id, text),
        }
    }
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

    /// The refusal sent to the client in place of what was held, in the
    /// client's protocol revision (`modern` for 2026-07-28).
    fn refused(&self, text: &str, modern: bool) -> Vec<u8> {
        self.kind.refusal(&self.id, text, modern)
    }

    /// `raw`, answering or asking under `id` instead: a 2026-07-28 client
    /// retries under a new id.
    fn readdress(&mut self, id: &RequestId) {
        if let Ok(mut value) = serde_json::from_slice::<Value>(&self.raw) {
            value["id"] = id.to_value();
            self.raw = to_line(&value);
        }
        self.id = id.clone();
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
        let can_ask = if self.modern() {
            self.modern_elicitation()
        } else {
            self.client_elicitation
        };
        if !can_ask {
            return vec![Outbound::Client(held.refused(
                &format!(
                    "Portcullis requires human approval for {what} (approval id {approval_id}), \
                     and this client cannot be asked: {reasons}"
                ),
                self.modern(),
            ))];
        }
        let arguments = match held.kind {
            HeldKind::Call => format!(
                " with the arguments {}",
                shown_arguments(&held.call.arguments)
            ),
            HeldKind::ToolResult | HeldKind::Answer => String::new(),
        };
        let question = json!({
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
        });
        if self.modern() {
            // 2026-07-28 has no request from the proxy to the client: the
            // question goes back as the request's result, and the client
            // asks again with the answer and the state (multi-round-trip).
            let state = format!("{REQUEST_STATE_PREFIX}{}", random_id());
            let answer = json!({
                "jsonrpc": "2.0",
                "id": held.id.to_value(),
                "result": {
                    "resultType": "input_required",
                    "inputRequests": {
                        APPROVAL_INPUT: { "method": "elicitation/create", "params": question },
                    },
                    "requestState": state,
                },
            });
            self.input_required.insert(state, (approval_id, held));
            return vec![Outbound::Client(to_line(&answer))];
        }
        let request_id = self.next_proxy_id();
        let request = json!({
            "jsonrpc": "2.0",
            "id": request_id.to_value(),
            "method": "elicitation/create",
            "params": question,
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
        let (verdict, message) = human_answer(answer.value.get("result"));
        self.settle(approval_id, held, verdict, "human-approval", message)
    }

    /// A 2026-07-28 client retried a request with `requestState` `state`:
    /// when it is the state of a question the proxy asked, the answer in
    /// `inputResponses` settles what was held. `None` for a state that is
    /// not the proxy's (the server's own multi-round-trip goes on to it).
    pub(super) fn on_input_response(
        &mut self,
        id: &RequestId,
        state: &str,
        retry: &Message,
    ) -> Option<Vec<Outbound>> {
        if !state.starts_with(REQUEST_STATE_PREFIX) {
            return None;
        }
        let Some((approval_id, mut held)) = self.input_required.remove(state) else {
            return Some(vec![Outbound::Client(self.tool_error(
                id,
                "Portcullis: this approval is unknown or has expired; make the call again",
            ))]);
        };
        let params = retry.params();
        let same = held.kind == HeldKind::Answer
            || (params.get("name").and_then(Value::as_str) == Some(held.call.name.as_str())
                && params.get("arguments").unwrap_or(&json!({})) == &held.call.arguments);
        held.readdress(id);
        if !same {
            return Some(self.settle(
                &approval_id,
                held,
                Verdict::Deny,
                "approval-mismatch",
                "the retried call is not the call the human was asked about".to_owned(),
            ));
        }
        let answer = params.pointer(&format!("/inputResponses/{APPROVAL_INPUT}"));
        let (verdict, message) = human_answer(answer);
        Some(self.settle(&approval_id, held, verdict, "human-approval", message))
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
                self.await_answer(held.id, Pending::CallTool(held.call));
                vec![Outbound::Server(held.raw)]
            }
            (HeldKind::ToolResult | HeldKind::Answer, Verdict::Allow) => {
                vec![Outbound::Client(held.raw)]
            }
            _ => vec![Outbound::Client(held.refused(
                &format!(
                    "Portcullis refused {} (approval id {approval_id}): {}",
                    shown_name(&held.call.name),
                    explain(&decision.reasons)
                ),
                self.modern(),
            ))],
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
    /// and withdraws the questions. A 2026-07-28 question that expires is
    /// forgotten: the client's retry then learns that it expired.
    pub(super) fn expire_held(&mut self, now: Instant) -> Vec<Outbound> {
        let expired_states: Vec<String> = self
            .input_required
            .iter()
            .filter(|(_, (_, held))| held.deadline <= now)
            .map(|(state, _)| state.clone())
            .collect();
        for state in expired_states {
            if let Some((approval_id, held)) = self.input_required.remove(&state) {
                let mut decision = self.host_decision(
                    Verdict::Deny,
                    "approval-expired",
                    "no human answered before the approval timed out".to_owned(),
                );
                self.record_approval(&approval_id, &held, &mut decision);
            }
        }
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
        if let Err(error) = self.append_audit(&entry) {
            tracing::error!(%error, "could not write the audit log; refusing what it could not record");
            *decision = self.unrecorded(&error);
        }
    }

    pub(super) fn approval_id_for(&mut self, decision: &Decision) -> Option<String> {
        (decision.verdict == Verdict::Escalate).then(random_id)
    }
}

/// The prefix of the `requestState` of the proxy's own 2026-07-28
/// questions, which tells them from a server's.
const REQUEST_STATE_PREFIX: &str = "portcullis-approval-";

/// The key of the proxy's question in `inputRequests`.
const APPROVAL_INPUT: &str = "portcullis-approval";

/// What a human's answer (an `ElicitResult`, if any) decides, and why.
fn human_answer(answer: Option<&Value>) -> (Verdict, String) {
    let action = answer
        .and_then(|answer| answer.get("action"))
        .and_then(Value::as_str);
    let approved = action == Some("accept")
        && answer.and_then(|answer| answer.pointer("/content/approve")) == Some(&Value::Bool(true));
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
    (verdict, message)
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
