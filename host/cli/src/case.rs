//! One line of a JSONL batch: a tool description, a tool call or a tool
//! result, optionally labelled, in the schema of the evaluation corpus.

use std::io::BufRead;

use anyhow::Context as _;
use portcullis::{
    Context, Decision, Event, PolicySet, SessionState, StateQuota, ToolDefinition, Verdict,
};
use serde::Deserialize;
use serde_json::Value;

/// One case, as read from a line: an event record (see
/// [`Event::from_record`]) and what labels it.
#[derive(Debug, Deserialize)]
pub(crate) struct Case {
    /// The case's identifier, echoed in the output.
    pub(crate) id: Value,
    /// The line itself, read as an event when the case is decided.
    #[serde(skip)]
    record: Value,
    /// The definition the tool had before, for a rug pull: decided first, in the same session.
    pub(crate) previous_tool: Option<Value>,
    /// The server the tool belongs to.
    pub(crate) server: Option<String>,
    /// The tenant the case's session belongs to, for per-tenant settings.
    pub(crate) tenant: Option<String>,
    /// `malicious` or `benign`, when the case is labelled.
    pub(crate) label: Option<String>,
    /// The attack category of a malicious case.
    pub(crate) attack: Option<String>,
    /// Where the case comes from (`github:owner/repo@commit:path#line`).
    pub(crate) source: Option<String>,
    /// The verdict a policy test case expects.
    pub(crate) expect: Option<Verdict>,
    /// A rule that must be among the reasons of a policy test case.
    pub(crate) expect_rule: Option<String>,
}

impl Case {
    /// The id as a person reads it: a string id without its quotes.
    pub(crate) fn display_id(&self) -> String {
        match &self.id {
            Value::String(id) => id.clone(),
            other => other.to_string(),
        }
    }

    /// Decides the case in a session of its own.
    pub(crate) fn decide(&self, policies: &PolicySet) -> anyhow::Result<Decision> {
        let mut context = Context::new(
            format!("case-{}", self.display_id()),
            self.server.as_deref().unwrap_or("unknown"),
        );
        if let Some(tenant) = &self.tenant {
            context = context.with_tenant(tenant);
        }
        let session = SessionState::new(StateQuota::default());
        let event = Event::from_record(&self.record)?;
        if let (Some(previous), Event::Tool(_)) = (&self.previous_tool, &event) {
            let previous = ToolDefinition::from_mcp(previous).context("`previous_tool`")?;
            policies.evaluate(&context, &Event::Tool(previous), &session);
        }
        Ok(policies.evaluate(&context, &event, &session))
    }
}

/// Reads the cases of a JSONL stream, one per non-blank line, with the
/// line's number. A line that is not a case yields an error for that line
/// only.
pub(crate) fn read_cases(
    input: impl BufRead,
) -> impl Iterator<Item = (usize, anyhow::Result<Case>)> {
    input
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| line.as_ref().map_or(true, |line| !line.trim().is_empty()))
        .map(|(number, line)| {
            let case = line.context("reading the line").and_then(|line| {
                let record: Value =
                    serde_json::from_str(&line).context("parsing the line as JSON")?;
                let mut case = Case::deserialize(&record).context("reading the line as a case")?;
                case.record = record;
                Ok(case)
            });
            (number, case)
        })
}
