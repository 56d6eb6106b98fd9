//! Every other way a server's text reaches the model or the human, checked
//! as a tool result is.
//!
//! Hosts put a server's `initialize` instructions into the system prompt,
//! show its error messages, resources, prompts and completions to the
//! model, hand its `sampling/createMessage` prompts to their LLM and its
//! `elicitation/create` questions to the human. Each of these is decided as
//! the result of a call named after the method that produced it (the
//! client's request, with its params as the arguments, or the server's own
//! request or notification, with none), so that the policies that read
//! results read them all.
//!
//! What a refusal looks like depends on the channel:
//! - an answer to a client request: a JSON-RPC error in its place, or held
//!   for a human like a tool result when the verdict is escalate;
//! - `initialize` instructions: removed, the rest of the answer goes on, so
//!   that the session still starts;
//! - a server notification: dropped, and the client is told why;
//! - a server request: answered with an error to the server, never shown.
//!
//! A server's `elicitation/create` that names Portcullis is refused: only
//! the proxy asks for Portcullis approvals.

use serde_json::{Value, json};

use super::approval::HeldKind;
use super::wire::{explain, notice, to_line};
use super::{Outbound, Session};
use crate::framing::{INVALID_REQUEST, Message, RequestId, error_response};
use portcullis::{Event, ToolCall, ToolDefinition, Verdict};

impl Session {
    /// The server answered a client request other than `tools/list` and
    /// `tools/call` (`resources/read`, `prompts/get`, `completion/complete`…).
    pub(super) fn on_answer(
        &mut self,
        id: RequestId,
        message: Message,
        request: ToolCall,
    ) -> Vec<Outbound> {
        self.on_checked_answer(HeldKind::Answer, id, message, request)
    }

    /// The server answered `initialize`: its `instructions` go into the
    /// client's system prompt. They are written for the model, as a tool's
    /// description is, so they are decided as the description of a tool
    /// named [`INSTRUCTIONS`]: removed when denied, kept with a warning to
    /// the client when escalated (no human can be asked before the session
    /// starts).
    pub(super) fn on_initialized(&mut self, message: Message) -> Vec<Outbound> {
        let Some(instructions) = message
            .value
            .pointer("/result/instructions")
            .and_then(Value::as_str)
        else {
            return vec![Outbound::Client(message.raw)];
        };
        let event = Event::Tool(ToolDefinition::new(INSTRUCTIONS, instructions));
        let mut decision = self.decider.decide(&self.context, &event, &self.state);
        self.record(&event, &mut decision, None);
        let reasons = explain(&decision.reasons);
        match decision.verdict {
            Verdict::Allow => return vec![Outbound::Client(message.raw)],
            // No human can be asked before the session has started; the
            // instructions stay, and the client hears why they are doubtful.
            Verdict::Escalate => {
                return vec![
                    Outbound::Client(message.raw),
                    Outbound::Client(notice(
                        "warning",
                        &format!(
                            "Portcullis: the server's instructions need a human's review: {reasons}"
                        ),
                    )),
                ];
            }
            Verdict::Deny => {}
        }
        let mut value = message.value;
        if let Some(result) = value.get_mut("result").and_then(Value::as_object_mut) {
            result.remove("instructions");
        }
        tracing::warn!(reasons, "the server's instructions were removed");
        vec![
            Outbound::Client(to_line(&value)),
            Outbound::Client(notice(
                "warning",
                &format!("Portcullis removed the server's instructions: {reasons}"),
            )),
        ]
    }

    /// A notification from the server (`notifications/message`,
    /// `notifications/progress`…): relayed only when every policy allows it.
    pub(super) fn on_server_notification(
        &mut self,
        method: &str,
        message: Message,
    ) -> Vec<Outbound> {
        let decision = self.decide_server_message(method, &message);
        if decision.verdict == Verdict::Allow {
            return vec![Outbound::Client(message.raw)];
        }
        let reasons = explain(&decision.reasons);
        tracing::warn!(method, reasons, "a server notification was withheld");
        vec![Outbound::Client(notice(
            "warning",
            &format!("Portcullis withheld a `{method}` notification from the server: {reasons}"),
        ))]
    }

    /// A request from the server to the client (`sampling/createMessage`,
    /// `elicitation/create`, `roots/list`…): relayed only when every policy
    /// allows it, and never when it poses as Portcullis.
    pub(super) fn on_server_request(
        &mut self,
        id: RequestId,
        method: &str,
        message: Message,
    ) -> Vec<Outbound> {
        let refuse = |text: String| {
            tracing::warn!(%id, method, text, "a server request was refused");
            vec![Outbound::Server(error_response(
                &id.to_value(),
                INVALID_REQUEST,
                &text,
            ))]
        };
        if method == "elicitation/create" && poses_as_proxy(message.params()) {
            return refuse(
                "Portcullis: a server's question may not speak for Portcullis; only the proxy asks for its approvals"
                    .to_owned(),
            );
        }
        let decision = self.decide_server_message(method, &message);
        if decision.verdict != Verdict::Allow {
            return refuse(format!(
                "Portcullis refused the server's `{method}` request: {}",
                explain(&decision.reasons)
            ));
        }
        self.server_requests.insert(id);
        vec![Outbound::Client(message.raw)]
    }
}

/// The name under which a server's `initialize` instructions are decided,
/// as the description of a tool of that name. It has a space, so no tool
/// can be called by it.
pub const INSTRUCTIONS: &str = "server instructions";

impl Session {
    /// Decides a server's own notification or request `method` as the
    /// result of a call of that name, with no arguments: its params are
    /// what the model or the human would read.
    fn decide_server_message(&mut self, method: &str, message: &Message) -> portcullis::Decision {
        let call = ToolCall {
            name: method.to_owned(),
            arguments: json!({}),
            tool: None,
        };
        self.decide_result(call, message.params().clone()).0
    }
}

/// What the policies read of a response: its `result`, or its `error`
/// under `error` (an error's message reaches the model too).
pub(super) fn answer_of(response: &Value) -> Value {
    match (response.get("result"), response.get("error")) {
        (Some(result), _) => result.clone(),
        (None, Some(error)) => json!({ "error": error }),
        (None, None) => Value::Null,
    }
}

/// Whether an elicitation's text names Portcullis, once normalised (so
/// neither case, compatibility forms nor invisible characters hide it).
fn poses_as_proxy(params: &Value) -> bool {
    let text = serde_json::to_string(params).expect("JSON values serialize");
    portcullis_text::normalize::normalize(&text)
        .text
        .to_lowercase()
        .contains("portcullis")
}
