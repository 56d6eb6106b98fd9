//! Human approval: what is held while a human decides, the question asked
//! through `elicitation/create`, and what the answer releases.

use serde_json::{Value, json};

use super::wire::{explain, to_line, tool_error};
use super::{Outbound, Pending, ProxyRequest, Session};
use crate::framing::{Message, RequestId};
use portcullis::audit::{AuditEntry, AuditEvent, args_digest};
use portcullis::{Decision, ToolCall, Verdict};

/// Something held until a human answers.
#[derive(Debug)]
pub(super) enum Held {
    /// A call, forwarded to the server on approval.
    Call {
        id: RequestId,
        raw: Vec<u8>,
        call: ToolCall,
    },
    /// A result, forwarded to the client on approval.
    Result {
        id: RequestId,
        raw: Vec<u8>,
        call: ToolCall,
    },
}

impl Held {
    pub(super) fn call(&self) -> &ToolCall {
        match self {
            Held::Call { call, .. } | Held::Result { call, .. } => call,
        }
    }
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
        let what = match &held {
            Held::Call { call, .. } => format!("the call to `{}`", call.name),
            Held::Result { call, .. } => format!("the result of `{}`", call.name),
        };
        let reasons = explain(&decision.reasons);
        if !self.client_elicitation {
            let id = match &held {
                Held::Call { id, .. } | Held::Result { id, .. } => id,
            };
            return vec![Outbound::Client(tool_error(
                id,
                &format!(
                    "Portcullis requires human approval for {what} (approval id {approval_id}), \
                     and this client cannot be asked: {reasons}"
                ),
            ))];
        }
        let request_id = self.next_proxy_id();
        let request = json!({
            "jsonrpc": "2.0",
            "id": request_id.to_value(),
            "method": "elicitation/create",
            "params": {
                "message": format!(
                    "Portcullis needs your approval for {what} on server `{}` (approval id {approval_id}): {reasons}",
                    self.context.server
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
        let decision = self.host_decision(verdict, "human-approval", message);
        let call = held.call();
        let entry = AuditEntry {
            context: &self.context,
            event: AuditEvent::Approval,
            tool: &call.name,
            tool_digest: None,
            args_digest: Some(args_digest(&call.arguments)),
            decision: &decision,
            approval_id: Some(approval_id),
        };
        if let Some(audit) = &mut self.audit
            && let Err(error) = audit.append(&entry)
        {
            tracing::error!(%error, "could not write the audit log");
        }
        match (held, approved) {
            (Held::Call { id, raw, call }, true) => {
                self.pending.insert(id, Pending::CallTool(call));
                vec![Outbound::Server(raw)]
            }
            (Held::Result { raw, .. }, true) => vec![Outbound::Client(raw)],
            (Held::Call { id, call, .. } | Held::Result { id, call, .. }, false) => {
                vec![Outbound::Client(tool_error(
                    &id,
                    &format!(
                        "Portcullis refused `{}` (approval id {approval_id}): {}",
                        call.name,
                        explain(&decision.reasons)
                    ),
                ))]
            }
        }
    }

    pub(super) fn approval_id_for(&mut self, decision: &Decision) -> Option<String> {
        (decision.verdict == Verdict::Escalate).then(|| {
            self.next_id += 1;
            format!("{}-{}", self.context.session, self.next_id)
        })
    }
}
