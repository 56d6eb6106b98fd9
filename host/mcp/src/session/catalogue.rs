//! The session's tool catalogue: each listed tool is checked, denied tools
//! are withheld, approved ones are pinned by digest, and a changed
//! definition is a rug pull.

use serde_json::{Value, json};

use super::wire::{explain, to_line};
use super::{Outbound, ProxyRequest, Session};
use crate::framing::{Message, RequestId};
use portcullis::{Event, Reason, ToolCall, ToolDefinition, Verdict};

/// An approved tool.
#[derive(Debug)]
pub(super) struct CatalogueEntry {
    pub(super) definition: ToolDefinition,
    /// The reasons, when the tool was listed with an escalate verdict: every
    /// call to it needs a human.
    pub(super) escalation: Vec<Reason>,
}

impl Session {
    /// The server answered the client's `tools/list`: denied tools are
    /// removed from it, and the calls that waited for a listing go on.
    pub(super) fn on_list(&mut self, id: &RequestId, message: Message) -> Vec<Outbound> {
        let mut out = self.checked_listing(id, message);
        out.extend(self.release_early_calls());
        out
    }

    fn checked_listing(&mut self, id: &RequestId, message: Message) -> Vec<Outbound> {
        let Some(tools) = message
            .value
            .pointer("/result/tools")
            .and_then(Value::as_array)
        else {
            let request = ToolCall {
                name: "tools/list".to_owned(),
                arguments: json!({}),
                tool: None,
            };
            return self.on_answer(id.clone(), message, request);
        };
        if tools.len() > self.max_listed_tools {
            tracing::warn!(%id, tools = tools.len(), "a listing over the limit was refused");
            return vec![Outbound::Client(super::wire::refusal(
                id,
                &format!(
                    "Portcullis: the server listed {} tools, more than the limit of {} (--max-tools); the listing was refused unchecked",
                    tools.len(),
                    self.max_listed_tools
                ),
            ))];
        }
        let keep = self.check_tools(tools);
        if keep.iter().all(|&keep| keep) {
            return vec![Outbound::Client(message.raw)];
        }
        let kept: Vec<Value> = tools
            .iter()
            .zip(&keep)
            .filter(|(_, keep)| **keep)
            .map(|(tool, _)| tool.clone())
            .collect();
        let mut value = message.value;
        value["result"]["tools"] = Value::Array(kept);
        tracing::info!(%id, removed = keep.iter().filter(|keep| !**keep).count(), "tools removed from a listing");
        vec![Outbound::Client(to_line(&value))]
    }

    /// Lists the server's tools on the proxy's own account, from `cursor`
    /// on: after `notifications/tools/list_changed` (then `notification`
    /// goes on to the client once every page is checked), or for calls that
    /// came before any listing.
    pub(super) fn refresh_tools(
        &mut self,
        notification: Option<Vec<u8>>,
        cursor: Option<&str>,
    ) -> Vec<Outbound> {
        let request_id = self.next_proxy_id();
        let mut params = match cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        // A 2026-07-28 server answers only requests that say their version.
        if let Some(meta) = &self.modern_meta {
            params["_meta"] = Value::Object(meta.clone());
        }
        let request = json!({
            "jsonrpc": "2.0",
            "id": request_id.to_value(),
            "method": "tools/list",
            "params": params,
        });
        self.proxy_requests
            .insert(request_id, ProxyRequest::Refresh { notification });
        vec![Outbound::Server(to_line(&request))]
    }

    pub(super) fn on_refresh(
        &mut self,
        notification: Option<Vec<u8>>,
        answer: &Message,
    ) -> Vec<Outbound> {
        if let Some(tools) = answer
            .value
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .filter(|tools| tools.len() <= self.max_listed_tools)
        {
            self.check_tools(tools);
            if let Some(cursor) = answer
                .value
                .pointer("/result/nextCursor")
                .and_then(Value::as_str)
            {
                return self.refresh_tools(notification, Some(cursor));
            }
        } else {
            tracing::warn!(
                "the server did not list its tools when the proxy asked, or listed more than the limit"
            );
        }
        let mut out: Vec<Outbound> = notification.into_iter().map(Outbound::Client).collect();
        out.extend(self.release_early_calls());
        out
    }

    /// Checks each listed tool; returns which ones the client may see.
    fn check_tools(&mut self, tools: &[Value]) -> Vec<bool> {
        tools.iter().map(|tool| self.check_tool(tool)).collect()
    }

    fn check_tool(&mut self, tool: &Value) -> bool {
        let definition = match ToolDefinition::from_mcp(tool) {
            Ok(definition) => definition,
            Err(error) => {
                let name = tool
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let mut decision = self.host_decision(
                    Verdict::Deny,
                    "malformed-tool",
                    format!("the tool definition is malformed: {error}"),
                );
                let event = Event::Tool(ToolDefinition::new(name.clone(), ""));
                self.record(&event, &mut decision, None);
                self.catalogue.remove(&name);
                self.withheld.insert(name, explain(&decision.reasons));
                return false;
            }
        };
        let digest = definition.digest();
        let name = definition.name.clone();
        let event = Event::Tool(definition);
        // A changed definition is checked again like a new one: what it
        // adds decides. Anything the policies find in it denies it; a
        // harmless change still asks the human, since it was not what they
        // approved. The pin stays on the approved digest.
        let mut decision = self.decider.decide(&self.context, &event, &self.state);
        if let Some(pinned) = self.pins.get(&name).filter(|pinned| **pinned != digest) {
            let changed = self.host_decision(
                Verdict::Escalate,
                "rug-pull",
                format!(
                    "the definition changed after it was approved in this session (pinned {}, now {})",
                    &pinned[..12.min(pinned.len())],
                    &digest[..12.min(digest.len())]
                ),
            );
            decision.verdict = decision.verdict.max(Verdict::Escalate);
            decision.reasons.splice(0..0, changed.reasons);
        }
        self.record(&event, &mut decision, None);
        let Event::Tool(definition) = event else {
            unreachable!("the event was built as a tool")
        };
        if decision.verdict == Verdict::Deny {
            self.catalogue.remove(&name);
            self.withheld.insert(name, explain(&decision.reasons));
            return false;
        }
        self.pins.entry(name.clone()).or_insert(digest);
        self.withheld.remove(&name);
        let escalation = match decision.verdict {
            Verdict::Escalate => decision.reasons,
            _ => Vec::new(),
        };
        self.catalogue.insert(
            name,
            CatalogueEntry {
                definition,
                escalation,
            },
        );
        true
    }
}
