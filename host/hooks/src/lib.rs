//! Agent hooks: what Claude Code, Cursor, Codex and Gemini CLI hand a hook
//! command, read as Portcullis events, and a decision written back as the
//! answer each runtime acts on.
//!
//! Coding agents run a command before (and after) each tool they use, their
//! own shell, file and web tools as well as MCP tools, pass it the call as
//! JSON on standard input and read allow, deny or ask back. This crate does
//! the reading and the writing and nothing else: no I/O, no policies. A hook
//! process, or the decision server behind it, does the rest:
//!
//! ```
//! use portcullis::{Decider, Engine, EngineConfig, SessionState, Verdict};
//! use portcullis_hooks::{HookRequest, Runtime};
//! use serde_json::json;
//!
//! let engine = Engine::new(EngineConfig::new())?;
//! let policies = engine.load_default_policies()?;
//! let payload = json!({
//!     "session_id": "5f0c", "hook_event_name": "PreToolUse",
//!     "tool_name": "WebFetch",
//!     "tool_input": { "url": "http://169.254.169.254/openstack/latest/meta_data.json" },
//! });
//!
//! let request = HookRequest::read(Runtime::ClaudeCode, &payload)?;
//! let decision = request.decide(&policies, &SessionState::new(Default::default()));
//! assert_eq!(decision.verdict, Verdict::Deny);
//! let answer = request.answer(&decision);
//! assert_eq!(answer.stdout["hookSpecificOutput"]["permissionDecision"], "deny");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Three rules hold for every runtime:
//!
//! - **Portcullis only tightens.** An allowed call gets no decision at all
//!   where the runtime allows that, so its own permission rules still apply;
//!   a hook never approves what the runtime would have asked about.
//! - **Escalate asks a human where the runtime can ask, and refuses where it
//!   cannot.** Codex parses `ask` but runs the tool anyway, and Gemini CLI
//!   has no ask: there an escalation is a refusal that says so.
//! - **A hook that cannot decide refuses** (exit code 2, which every runtime
//!   reads as a block), unless the caller chose another fallback: see
//!   [`failure`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod claude;
mod cursor;
mod gemini;
mod payload;
mod response;
#[cfg(test)]
mod tests;

use std::fmt;

use portcullis::{Client, Context, Decider, Decision, Event, SessionState, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use payload::HookError;

/// An agent runtime whose hooks Portcullis answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Runtime {
    /// Claude Code: `PreToolUse` and `PostToolUse`.
    ClaudeCode,
    /// Cursor: `beforeShellExecution`, `beforeMCPExecution`,
    /// `beforeReadFile`, and the after-hooks it runs without waiting
    /// (`afterMCPExecution`, `afterShellExecution`).
    Cursor,
    /// Codex: `PreToolUse` and `PostToolUse`, in Claude Code's wire format.
    Codex,
    /// Gemini CLI: `BeforeTool` and `AfterTool`.
    Gemini,
}

impl Runtime {
    /// Every runtime, in the order the CLI lists them.
    pub const ALL: [Runtime; 4] = [
        Runtime::ClaudeCode,
        Runtime::Cursor,
        Runtime::Codex,
        Runtime::Gemini,
    ];

    /// The runtime's name on the command line and in decisions
    /// (`claude-code`, `cursor`, `codex`, `gemini`).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::ClaudeCode => "claude-code",
            Runtime::Cursor => "cursor",
            Runtime::Codex => "codex",
            Runtime::Gemini => "gemini",
        }
    }

    /// The runtime a [`name`](Self::name) names.
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL
            .into_iter()
            .find(|runtime| runtime.name() == name)
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where in the tool's life a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// Before the tool runs: the call can be refused.
    BeforeCall,
    /// After the tool ran: its result can be kept from the model, where the
    /// runtime lets a hook do that.
    AfterCall,
}

/// One hook invocation, read: who asks, about which tool, and the events to
/// decide.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRequest {
    /// The runtime that ran the hook.
    pub runtime: Runtime,
    /// The runtime's name for the hook (`PreToolUse`, `beforeReadFile`…),
    /// echoed where its answer must name it.
    pub hook_event: String,
    /// Before or after the tool.
    pub point: HookPoint,
    /// The runtime's session (Cursor: conversation) id; `unknown` when it
    /// sent none. State is kept per runtime and session.
    pub session: String,
    /// The tool as the runtime names it (`Bash`, `mcp__github__create_issue`).
    pub tool: String,
    /// The MCP server the tool belongs to, or the runtime's name for its
    /// built-in tools.
    pub server: String,
    /// The runtime's version, when it sends one.
    pub runtime_version: Option<String>,
    /// What to decide: a call, a result, or (for a file the runtime is
    /// about to read into the conversation) both.
    pub events: Vec<Event>,
    /// Whether the runtime acts on the answer. Cursor's after-hooks are
    /// only observed: they are decided (for the session's state and the
    /// audit log) and answered with nothing.
    pub blocking: bool,
}

impl HookRequest {
    /// Reads the JSON a runtime passes its hook command.
    ///
    /// # Errors
    /// When the payload is not an object, names a hook event this runtime
    /// has but Portcullis does not answer, or lacks a field the event needs.
    pub fn read(runtime: Runtime, payload: &Value) -> Result<HookRequest, HookError> {
        match runtime {
            Runtime::ClaudeCode | Runtime::Codex => claude::read(runtime, payload),
            Runtime::Cursor => cursor::read(payload),
            Runtime::Gemini => gemini::read(payload),
        }
    }

    /// The context of the request's events: its session, server and runtime.
    pub fn context(&self) -> Context {
        let client = Client::new(
            self.runtime.name(),
            self.runtime_version.clone().unwrap_or_default(),
        );
        Context::new(&self.session, &self.server).with_client(client)
    }

    /// Decides every event of the request in `session`, and combines the
    /// decisions: the strictest verdict, with every reason behind it.
    pub fn decide(&self, decider: &dyn Decider, session: &SessionState) -> Decision {
        combine(self.decide_each(decider, session), decider.generation())
    }

    /// Decides every event of the request in `session`: one decision per
    /// [`event`](Self::events), in order, for an audit log that records
    /// each; [`combine`] makes the one the answer is made of.
    pub fn decide_each(&self, decider: &dyn Decider, session: &SessionState) -> Vec<Decision> {
        let context = self.context();
        self.events
            .iter()
            .map(|event| decider.decide(&context, event, session))
            .collect()
    }

    /// The answer that makes the runtime act on `decision`.
    pub fn answer(&self, decision: &Decision) -> HookAnswer {
        if !self.blocking {
            return HookAnswer::nothing();
        }
        match self.runtime {
            Runtime::ClaudeCode | Runtime::Codex => claude::answer(self, decision),
            Runtime::Cursor => cursor::answer(self, decision),
            Runtime::Gemini => gemini::answer(self, decision),
        }
    }
}

/// What a hook process writes and how it exits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookAnswer {
    /// The JSON for standard output; an empty object leaves the decision to
    /// the runtime.
    pub stdout: Value,
    /// A message for standard error, which the runtimes show (to the model
    /// for exit code 2, else in their logs).
    pub stderr: Option<String>,
    /// The exit code: 0, or 2 to block.
    pub exit_code: u8,
}

impl HookAnswer {
    /// No decision: the runtime goes on as it would without the hook.
    pub fn nothing() -> HookAnswer {
        HookAnswer {
            stdout: json!({}),
            stderr: None,
            exit_code: 0,
        }
    }
}

/// The answer when Portcullis could not decide (an unreadable payload, a
/// decision server that failed): `fallback` decides, and `message` says why.
///
/// A refusal is exit code 2 with the message on standard error, which Claude
/// Code, Codex and Gemini CLI read as a block before and after a tool alike;
/// Cursor gets its `permission` answer, `ask` for an escalate fallback.
/// `Allow` lets the tool run and leaves the message in the runtime's log.
pub fn failure(runtime: Runtime, message: &str, fallback: Verdict) -> HookAnswer {
    let message = format!("Portcullis could not decide: {message}");
    match (runtime, fallback) {
        (Runtime::Cursor, verdict) => HookAnswer {
            stdout: cursor::permission(verdict, &message),
            stderr: Some(message),
            exit_code: 0,
        },
        (_, Verdict::Allow) => HookAnswer {
            stdout: json!({}),
            stderr: Some(message),
            exit_code: 0,
        },
        (_, Verdict::Deny | Verdict::Escalate) => HookAnswer {
            stdout: json!({}),
            stderr: Some(message),
            exit_code: 2,
        },
    }
}

/// One decision for the events of one request: the strictest verdict, the
/// reasons and policy reports of all of them. No decisions make an allow
/// stamped with `generation`.
pub fn combine(decisions: Vec<Decision>, generation: u64) -> Decision {
    let mut combined: Option<Decision> = None;
    for decision in decisions {
        match &mut combined {
            None => combined = Some(decision),
            Some(so_far) => {
                so_far.verdict = so_far.verdict.max(decision.verdict);
                so_far.reasons.extend(decision.reasons);
                so_far.policies.extend(decision.policies);
            }
        }
    }
    combined.unwrap_or_else(|| {
        Decision::new(
            Verdict::Allow,
            portcullis::Reason::new(
                "portcullis",
                "nothing-to-decide",
                "the hook carried no event",
            ),
            generation,
        )
    })
}
